"""The membership and every member's progress, as the leader sees them (etcd's ``tracker/tracker.go``)."""

from __future__ import annotations

from collections.abc import Callable

from etcd.raft.quorum.majority import MajorityConfig
from etcd.raft.quorum.quorum import VoteResult
from etcd.raft.raftpb.raft_pb2 import ConfState
from etcd.raft.tracker.inflights import Inflights
from etcd.raft.tracker.progress import Progress


class ProgressTracker:
    """Voters, learners, a ``Progress`` per member, and the votes of the current election.

    Invariants: ``voters`` and ``learners`` are disjoint; ``progress`` has exactly their union as
    keys and ``progress[i].is_learner`` is true exactly for learners.
    """

    def __init__(self, max_inflight: int) -> None:
        self.max_inflight = max_inflight
        self.voters = MajorityConfig()
        self.learners: frozenset[int] = frozenset()
        self.progress: dict[int, Progress] = {}
        self.votes: dict[int, bool] = {}

    def conf_state(self) -> ConfState:
        """The membership as the ConfState persisted in snapshots."""
        return ConfState(voters=sorted(self.voters), learners=sorted(self.learners))

    def is_singleton(self) -> bool:
        """True if there is exactly one voter (reads and commits need no round trip)."""
        return len(self.voters) == 1

    def committed(self) -> int:
        """The largest log index acknowledged by a majority of voters."""
        return self.voters.committed_index({i: pr.match for i, pr in self.progress.items()})

    def visit(self, f: Callable[[int, Progress], None]) -> None:
        """Call ``f`` on every member in ascending ID order (deterministic message order)."""
        for i in sorted(self.progress):
            f(i, self.progress[i])

    def quorum_active(self) -> bool:
        """Whether a majority of voters has been heard from since the last CheckQuorum round."""
        votes = {i: pr.recent_active for i, pr in self.progress.items() if not pr.is_learner}
        return self.voters.vote_result(votes) == VoteResult.VOTE_WON

    def voter_nodes(self) -> list[int]:
        return sorted(self.voters)

    def learner_nodes(self) -> list[int]:
        return sorted(self.learners)

    def reset_votes(self) -> None:
        self.votes = {}

    def record_vote(self, id_: int, granted: bool) -> None:
        """Record ``id_``'s answer; only its first answer in an election counts."""
        if id_ not in self.votes:
            self.votes[id_] = granted

    def tally_votes(self) -> tuple[int, int, VoteResult]:
        """(granted, rejected, result) over the voters' recorded answers."""
        granted = rejected = 0
        for i, pr in self.progress.items():
            if pr.is_learner:
                continue
            v = self.votes.get(i)
            if v is None:
                continue
            if v:
                granted += 1
            else:
                rejected += 1
        return granted, rejected, self.voters.vote_result(self.votes)

    # Membership changes, one node at a time (etcd's confchange.Changer.Simple for v1 ConfChange).

    def _new_progress(self, next_index: int, *, is_learner: bool) -> Progress:
        # Start in probe with recent_active set: a node just added must get a chance to catch up
        # before CheckQuorum counts it as gone.
        pr = Progress(0, next_index, Inflights(self.max_inflight), is_learner=is_learner)
        pr.recent_active = True
        return pr

    def add_voter(self, id_: int, next_index: int) -> None:
        """Make ``id_`` a voter; a learner is promoted keeping its progress."""
        pr = self.progress.get(id_)
        if pr is None:
            self.progress[id_] = self._new_progress(next_index, is_learner=False)
        else:
            pr.is_learner = False
        self.learners = self.learners - {id_}
        self.voters = MajorityConfig(self.voters | {id_})

    def add_learner(self, id_: int, next_index: int) -> None:
        """Make a new node ``id_`` a learner; a voter is never demoted (returns unchanged)."""
        if id_ in self.voters:
            return
        if id_ not in self.progress:
            self.progress[id_] = self._new_progress(next_index, is_learner=True)
        self.learners = self.learners | {id_}

    def remove(self, id_: int) -> None:
        """Forget ``id_`` entirely (no-op if unknown)."""
        self.progress.pop(id_, None)
        self.votes.pop(id_, None)
        self.voters = MajorityConfig(self.voters - {id_})
        self.learners = self.learners - {id_}
