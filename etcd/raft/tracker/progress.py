"""The leader's view of one follower's log (etcd's ``tracker/progress.go``)."""

from __future__ import annotations

from etcd.raft.tracker.inflights import Inflights
from etcd.raft.tracker.state import StateType


class Progress:
    """How far a follower's log is known to match the leader's, and how to send it more.

    Invariants: ``match < next``; in ``SNAPSHOT`` state ``pending_snapshot`` is the index of the
    snapshot being sent. ``recent_active`` is set by any message from the follower and cleared by
    the leader at each CheckQuorum round.
    """

    __slots__ = (
        "inflights",
        "is_learner",
        "match",
        "next",
        "pending_snapshot",
        "probe_sent",
        "recent_active",
        "state",
    )

    def __init__(self, match: int, next_: int, inflights: Inflights, *, is_learner: bool = False) -> None:
        self.match = match
        self.next = next_
        self.state = StateType.PROBE
        self.pending_snapshot = 0
        self.recent_active = False
        self.probe_sent = False
        self.inflights = inflights
        self.is_learner = is_learner

    def clone(self) -> Progress:
        """An independent copy, for ``Status``."""
        c = Progress(self.match, self.next, self.inflights.clone(), is_learner=self.is_learner)
        c.state = self.state
        c.pending_snapshot = self.pending_snapshot
        c.recent_active = self.recent_active
        c.probe_sent = self.probe_sent
        return c

    def _reset_state(self, state: StateType) -> None:
        self.probe_sent = False
        self.pending_snapshot = 0
        self.state = state
        self.inflights.reset()

    def become_probe(self) -> None:
        """Fall back to probing, one append at a time, from just after the known match.

        Coming out of SNAPSHOT, probing starts after the snapshot (or the match, if higher).
        """
        if self.state == StateType.SNAPSHOT:
            pending = self.pending_snapshot
            self._reset_state(StateType.PROBE)
            self.next = max(self.match + 1, pending + 1)
        else:
            self._reset_state(StateType.PROBE)
            self.next = self.match + 1

    def become_replicate(self) -> None:
        """Start pipelining appends right after the match."""
        self._reset_state(StateType.REPLICATE)
        self.next = self.match + 1

    def become_snapshot(self, snapshot_index: int) -> None:
        """Stop appends while the snapshot at ``snapshot_index`` is sent."""
        self._reset_state(StateType.SNAPSHOT)
        self.pending_snapshot = snapshot_index

    def maybe_update(self, n: int) -> bool:
        """Record that the follower holds the leader's log up to ``n``; False if that is stale news."""
        updated = False
        if self.match < n:
            self.match = n
            updated = True
            self.probe_sent = False
        self.next = max(self.next, n + 1)
        return updated

    def optimistic_update(self, n: int) -> None:
        """Assume the append ending at ``n`` will succeed (REPLICATE state only)."""
        self.next = n + 1

    def maybe_decr_to(self, rejected: int, match_hint: int) -> bool:
        """Handle a rejected append at index ``rejected``; False if the rejection is stale.

        ``match_hint`` is where the follower suggests probing next (the fast back-off of thesis
        §3.5: the follower names the last index that may match, so one round trip skips a term).
        """
        if self.state == StateType.REPLICATE:
            # In REPLICATE a rejection at or below match is stale: the follower has already acked more.
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        # In PROBE only a rejection of the probe we sent (at next-1) counts.
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, match_hint + 1), 1)
        self.probe_sent = False
        return True

    def is_paused(self) -> bool:
        """Whether the leader must hold back appends to this follower for now."""
        if self.state == StateType.PROBE:
            return self.probe_sent
        if self.state == StateType.REPLICATE:
            return self.inflights.full()
        return True

    def __repr__(self) -> str:
        s = f"{self.state} match={self.match} next={self.next}"
        if self.is_learner:
            s += " learner"
        if self.probe_sent:
            s += " probe_sent"
        if self.pending_snapshot:
            s += f" pending_snap={self.pending_snapshot}"
        if not self.recent_active:
            s += " inactive"
        if self.inflights.count():
            s += f" inflight={self.inflights.count()}"
            if self.inflights.full():
                s += "[full]"
        return s
