"""The raft state machine (etcd's ``raft.go``): roles, elections, replication, membership.

Inputs are ``step(message)`` and ``tick()``; outputs accumulate in ``msgs``, ``read_states`` and the
log's unstable part until ``RawNode`` hands them out in a ``Ready``. Nothing here touches a clock,
a disk, a socket or a thread; randomness comes from ``Config.rand``.

A role is a pair of functions swapped on each transition: ``_step_leader``/``_step_candidate``/
``_step_follower`` and ``_tick_election``/``_tick_heartbeat``. ``step`` applies the term rules shared
by all roles (Raft §5.1) and then delegates. Impossible transitions raise ``AssertionError``.

A leader counts its own entries toward commit only once the application reports them saved
(``ack_persisted``, called from ``advance``), as newer etcd raft does; etcd 3.4 counted them at append.
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from etcd.raft.log import RaftLog
from etcd.raft.message import describe, is_empty_snap, vote_resp_msg_type
from etcd.raft.quorum.quorum import VoteResult
from etcd.raft.raftpb import raft_pb2 as pb
from etcd.raft.raftpb.raft_pb2 import ConfChange, ConfState, Entry, HardState, Message, Snapshot
from etcd.raft.read_only import ReadOnly, ReadOnlyOption, ReadState
from etcd.raft.size import NO_LIMIT, payload_size
from etcd.raft.storage import ErrCompacted, ErrSnapshotTemporarilyUnavailable, ErrUnavailable, Storage
from etcd.raft.tracker.inflights import Inflights
from etcd.raft.tracker.progress import Progress
from etcd.raft.tracker.state import StateType as ProgressState
from etcd.raft.tracker.tracker import ProgressTracker

NONE = 0  # the node ID meaning "no node" (no leader, no vote)

# Context of a vote request sent on a leader transfer: voters grant it even while in a leader lease.
CAMPAIGN_TRANSFER = b"CampaignTransfer"


class ErrProposalDropped(Exception):
    """A proposal was ignored: no leader is known, forwarding is off, or a transfer is in progress."""

    def __init__(self) -> None:
        super().__init__("raft proposal dropped")


class ConfigError(ValueError):
    """A ``Config`` that cannot work."""


class StateType(enum.Enum):
    """The role of a node."""

    FOLLOWER = 0
    CANDIDATE = 1
    LEADER = 2
    PRE_CANDIDATE = 3

    def __str__(self) -> str:
        return {0: "StateFollower", 1: "StateCandidate", 2: "StateLeader", 3: "StatePreCandidate"}[self.value]


class CampaignType(enum.Enum):
    PRE_ELECTION = b"CampaignPreElection"
    ELECTION = b"CampaignElection"
    TRANSFER = CAMPAIGN_TRANSFER


@dataclass(frozen=True, slots=True)
class SoftState:
    """Volatile state worth observing but never persisting: who leads, and our role."""

    lead: int
    raft_state: StateType


@dataclass
class Config:
    """How to start a raft node. Times are in ticks; sizes in bytes.

    ``storage`` holds the persisted log; ``applied`` is the last index the application has applied
    (entries up to it are not handed out again). ``rand`` draws randomized election timeouts: pass a
    seeded ``random.Random`` for reproducible runs.
    """

    id: int
    election_tick: int
    heartbeat_tick: int
    storage: Storage
    rand: random.Random
    applied: int = 0
    # Bytes per MsgApp (at least one entry is always sent); 0 means one entry per message.
    max_size_per_msg: int = 1024 * 1024
    # Bytes of committed entries per Ready; NO_LIMIT for no limit.
    max_committed_size_per_ready: int = NO_LIMIT
    # Appends in flight to one follower in replicate state.
    max_inflight_msgs: int = 256
    # Bytes of entry data appended by the leader but not yet committed; 0 for no limit.
    max_uncommitted_entries_size: int = 0
    check_quorum: bool = False
    pre_vote: bool = False
    read_only_option: ReadOnlyOption = ReadOnlyOption.SAFE
    disable_proposal_forwarding: bool = False
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("etcd.raft"))

    def validate(self) -> None:
        """Raises ConfigError for a configuration etcd's ``Config.validate`` would refuse."""
        if self.id == NONE:
            raise ConfigError("cannot use none as id")
        if self.heartbeat_tick <= 0:
            raise ConfigError("heartbeat tick must be greater than 0")
        if self.election_tick <= self.heartbeat_tick:
            raise ConfigError("election tick must be greater than heartbeat tick")
        if self.storage is None:
            raise ConfigError("storage cannot be nil")
        if self.max_inflight_msgs <= 0:
            raise ConfigError("max inflight messages must be greater than 0")
        if self.read_only_option == ReadOnlyOption.LEASE_BASED and not self.check_quorum:
            raise ConfigError("CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased")


class Raft:
    """One member's raft state. Not thread-safe; driven by ``RawNode``.

    Persistent state (``term``, ``vote``, the log) leaves through ``hard_state()`` and the log's
    unstable part; outgoing messages collect in ``msgs`` and read answers in ``read_states``.
    """

    def __init__(self, c: Config) -> None:
        c.validate()
        self.id = c.id
        self.logger = c.logger
        self.rand = c.rand
        self.raft_log = RaftLog(c.storage, c.max_committed_size_per_ready)
        hs, cs = c.storage.initial_state()
        self.term = 0
        self.vote = NONE
        self.max_msg_size = c.max_size_per_msg
        self.max_uncommitted_size = c.max_uncommitted_entries_size or NO_LIMIT
        self.prs = ProgressTracker(c.max_inflight_msgs)
        self.state = StateType.FOLLOWER
        self.is_learner = False
        self.msgs: list[Message] = []
        self.read_states: list[ReadState] = []
        self.lead = NONE
        # The member leadership is being handed to (leader only); proposals are refused meanwhile.
        self.lead_transferee = NONE
        # Index of the latest conf change proposed; a new one is refused while it is above applied.
        self.pending_conf_index = 0
        self.uncommitted_size = 0
        self.read_only = ReadOnly(c.read_only_option)
        # ReadIndex requests that arrived before this leader committed an entry of its term.
        self.pending_read_index_messages: list[Message] = []
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.check_quorum = c.check_quorum
        self.pre_vote = c.pre_vote
        self.heartbeat_timeout = c.heartbeat_tick
        self.election_timeout = c.election_tick
        self.randomized_election_timeout = 0
        self.disable_proposal_forwarding = c.disable_proposal_forwarding
        self.tick: Callable[[], None] = self._tick_election
        self._step: Callable[[Message], None] = self._step_follower

        self._restore_conf_state(cs)
        if hs.term or hs.vote or hs.commit:
            self.load_state(hs)
        if c.applied > 0:
            self.raft_log.applied_to(c.applied)
        self.become_follower(self.term, NONE)
        self.logger.debug(
            "newRaft %x [peers: %s, term: %d, commit: %d, applied: %d, lastindex: %d, lastterm: %d]",
            self.id,
            self.prs.voter_nodes(),
            self.term,
            self.raft_log.committed,
            self.raft_log.applied,
            self.raft_log.last_index(),
            self.raft_log.last_term(),
        )

    # ----- observation

    def has_leader(self) -> bool:
        return self.lead != NONE

    def soft_state(self) -> SoftState:
        return SoftState(lead=self.lead, raft_state=self.state)

    def hard_state(self) -> HardState:
        return HardState(term=self.term, vote=self.vote, commit=self.raft_log.committed)

    def promotable(self) -> bool:
        """Whether this node may campaign: a voter with no snapshot waiting to be persisted."""
        pr = self.prs.progress.get(self.id)
        return pr is not None and not pr.is_learner and not self.raft_log.has_pending_snapshot()

    def past_election_timeout(self) -> bool:
        return self.election_elapsed >= self.randomized_election_timeout

    # ----- sending

    def send(self, m: Message) -> None:
        """Queue ``m`` for the application to deliver, stamping our ID and (usually) our term."""
        if m.from_ == NONE:
            m.from_ = self.id
        if m.type in (pb.MsgVote, pb.MsgVoteResp, pb.MsgPreVote, pb.MsgPreVoteResp):
            # Vote messages carry the term they are about: a pre-vote asks for term+1 without
            # adopting it, and a pre-vote grant echoes the asked term.
            if m.term == 0:
                raise AssertionError(f"term should be set when sending {pb.MessageType.Name(m.type)}")
        else:
            if m.term != 0:
                raise AssertionError(f"term should not be set when sending {pb.MessageType.Name(m.type)}")
            # Proposals and read requests travel term-less: they are forwarded, not part of the protocol.
            if m.type not in (pb.MsgProp, pb.MsgReadIndex):
                m.term = self.term
        self.msgs.append(m)

    def send_append(self, to: int) -> None:
        """Send ``to`` the entries it lacks (or an empty probe/commit update)."""
        self.maybe_send_append(to, True)

    def maybe_send_append(self, to: int, send_if_empty: bool) -> bool:
        """Send ``to`` an append (or a snapshot if it needs compacted entries). False if nothing sent."""
        pr = self.prs.progress[to]
        if pr.is_paused():
            return False
        m = Message(to=to)
        try:
            term = self.raft_log.term(pr.next - 1)
            ents = self.raft_log.entries(pr.next, self.max_msg_size)
        except (ErrCompacted, ErrUnavailable):
            # The entries this follower needs are gone: send the snapshot instead.
            if not pr.recent_active:
                self.logger.debug("ignore sending snapshot to %x since it is not recently active", to)
                return False
            try:
                snapshot = self.raft_log.snapshot()
            except ErrSnapshotTemporarilyUnavailable:
                self.logger.debug(
                    "%x failed to send snapshot to %x because snapshot is unavailable", self.id, to
                )
                return False
            if is_empty_snap(snapshot):
                raise AssertionError("need non-empty snapshot") from None
            m.type = pb.MsgSnap
            m.snapshot.CopyFrom(snapshot)
            pr.become_snapshot(snapshot.metadata.index)
            self.logger.debug(
                "%x sent snapshot[index: %d, term: %d] to %x [%s]",
                self.id,
                snapshot.metadata.index,
                snapshot.metadata.term,
                to,
                pr,
            )
            self.send(m)
            return True
        if not ents and not send_if_empty:
            return False
        m.type = pb.MsgApp
        m.index = pr.next - 1
        m.log_term = term
        m.entries.extend(ents)
        m.commit = self.raft_log.committed
        if ents:
            if pr.state == ProgressState.REPLICATE:
                last = ents[-1].index
                pr.optimistic_update(last)
                pr.inflights.add(last)
            elif pr.state == ProgressState.PROBE:
                pr.probe_sent = True
            else:
                raise AssertionError(f"{self.id:x} is sending append in unhandled state {pr.state}")
        self.send(m)
        return True

    def send_heartbeat(self, to: int, ctx: bytes) -> None:
        # Never tell a follower to commit beyond what it is known to hold: its log may be behind
        # or divergent, and commit_to would then point past its last index.
        commit = min(self.prs.progress[to].match, self.raft_log.committed)
        self.send(Message(to=to, type=pb.MsgHeartbeat, commit=commit, context=ctx))

    def bcast_append(self) -> None:
        for i in sorted(self.prs.progress):
            if i != self.id:
                self.send_append(i)

    def bcast_heartbeat(self) -> None:
        self.bcast_heartbeat_with_ctx(self.read_only.last_pending_request_ctx())

    def bcast_heartbeat_with_ctx(self, ctx: bytes) -> None:
        for i in sorted(self.prs.progress):
            if i != self.id:
                self.send_heartbeat(i, ctx)

    def send_timeout_now(self, to: int) -> None:
        self.send(Message(to=to, type=pb.MsgTimeoutNow))

    # ----- Ready bookkeeping

    def advance(
        self, committed_entries: Sequence[Entry], entries: Sequence[Entry], snapshot: Snapshot | None
    ) -> None:
        """The application has persisted ``entries``/``snapshot`` and applied ``committed_entries``."""
        self.reduce_uncommitted_size(committed_entries)
        if committed_entries:
            self.raft_log.applied_to(committed_entries[-1].index)
        elif snapshot is not None and snapshot.metadata.index:
            self.raft_log.applied_to(snapshot.metadata.index)
        if snapshot is not None and snapshot.metadata.index:
            self.raft_log.stable_snap_to(snapshot.metadata.index)
        if entries:
            e = entries[-1]
            self.raft_log.stable_to(e.index, e.term)
            self.ack_persisted(e.index, e.term)

    def maybe_commit(self) -> bool:
        """Advance the commit index to what a quorum holds, if that entry is of our term."""
        return self.raft_log.maybe_commit(self.prs.committed(), self.term)

    # ----- role transitions

    def reset(self, term: int) -> None:
        if self.term != term:
            self.term = term
            self.vote = NONE
        self.lead = NONE
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.reset_randomized_election_timeout()
        self.abort_leader_transfer()
        self.prs.reset_votes()
        last = self.raft_log.last_index()
        # Only the saved part of our own log counts as acknowledged (see ack_persisted).
        persisted = min(last, self.raft_log.unstable.offset - 1)
        for i, pr in self.prs.progress.items():
            learner = pr.is_learner
            npr = Progress(0, last + 1, Inflights(self.prs.max_inflight), is_learner=learner)
            if i == self.id:
                npr.match = persisted
            self.prs.progress[i] = npr
        self.pending_conf_index = 0
        self.uncommitted_size = 0
        self.read_only = ReadOnly(self.read_only.option)
        self.pending_read_index_messages = []

    def append_entry(self, es: list[Entry]) -> bool:
        """Append proposals ``es`` to the leader's log; False if the uncommitted budget is spent."""
        li = self.raft_log.last_index()
        for i, e in enumerate(es):
            e.term = self.term
            e.index = li + 1 + i
        if not self.increase_uncommitted_size(es):
            self.logger.debug(
                "%x appending new entries would exceed the uncommitted entry size limit; dropping proposal",
                self.id,
            )
            return False
        self.raft_log.append(es)
        # The leader acknowledges its own entries only once they are saved (``ack_persisted``, called
        # by ``advance``), so a commit always rests on a majority of durable copies and the leader
        # may send its appends while it saves them (thesis §10.2.1).
        return True

    def ack_persisted(self, index: int, term: int) -> None:
        """Our log up to entry (``index``, ``term``) is durable: a leader counts it toward commit.

        Ignored if that entry has since been replaced or we are not the leader.
        """
        if self.state != StateType.LEADER:
            return
        pr = self.prs.progress.get(self.id)
        if pr is None or not self.raft_log.match_term(index, term):
            return
        if pr.maybe_update(index) and self.maybe_commit():
            self._release_pending_read_index_messages()
            self.bcast_append()

    def _tick_election(self) -> None:
        """The tick of followers and candidates: campaign when the election timeout passes."""
        self.election_elapsed += 1
        if self.promotable() and self.past_election_timeout():
            self.election_elapsed = 0
            self.step(Message(from_=self.id, type=pb.MsgHup))

    def _tick_heartbeat(self) -> None:
        """The tick of leaders: heartbeats, and CheckQuorum once per election timeout."""
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self.election_timeout:
            self.election_elapsed = 0
            if self.check_quorum:
                self.step(Message(from_=self.id, type=pb.MsgCheckQuorum))
            # A transfer that did not finish within an election timeout is abandoned.
            if self.state == StateType.LEADER and self.lead_transferee != NONE:
                self.abort_leader_transfer()
        if self.state != StateType.LEADER:
            return
        if self.heartbeat_elapsed >= self.heartbeat_timeout:
            self.heartbeat_elapsed = 0
            self.step(Message(from_=self.id, type=pb.MsgBeat))

    def become_follower(self, term: int, lead: int) -> None:
        self._step = self._step_follower
        self.reset(term)
        self.tick = self._tick_election
        self.lead = lead
        self.state = StateType.FOLLOWER
        self.logger.debug("%x became follower at term %d", self.id, self.term)

    def become_candidate(self) -> None:
        if self.state == StateType.LEADER:
            raise AssertionError("invalid transition [leader -> candidate]")
        self._step = self._step_candidate
        self.reset(self.term + 1)
        self.tick = self._tick_election
        self.vote = self.id
        self.state = StateType.CANDIDATE
        self.logger.debug("%x became candidate at term %d", self.id, self.term)

    def become_pre_candidate(self) -> None:
        if self.state == StateType.LEADER:
            raise AssertionError("invalid transition [leader -> pre-candidate]")
        # A pre-candidate keeps its term and vote (thesis §9.6): only a real election changes them.
        self._step = self._step_candidate
        self.prs.reset_votes()
        self.tick = self._tick_election
        self.lead = NONE
        self.state = StateType.PRE_CANDIDATE
        self.logger.debug("%x became pre-candidate at term %d", self.id, self.term)

    def become_leader(self) -> None:
        if self.state == StateType.FOLLOWER:
            raise AssertionError("invalid transition [follower -> leader]")
        self._step = self._step_leader
        self.reset(self.term)
        self.tick = self._tick_heartbeat
        self.lead = self.id
        self.state = StateType.LEADER
        pr = self.prs.progress[self.id]
        pr.become_replicate()
        pr.recent_active = True
        # Any conf change in the uncommitted tail may be pending; treat the whole tail as such.
        self.pending_conf_index = self.raft_log.last_index()
        # An empty entry of the new term lets the leader commit (and learn the commit index of)
        # entries of earlier terms (§5.4.2, thesis §6.4).
        if not self.append_entry([Entry()]):
            raise AssertionError("empty entry was dropped")
        self.logger.debug("%x became leader at term %d", self.id, self.term)

    def hup(self, t: CampaignType) -> None:
        """Start an election of type ``t`` unless leader, unpromotable, or a conf change is pending."""
        if self.state == StateType.LEADER:
            self.logger.debug("%x ignoring MsgHup because already leader", self.id)
            return
        if not self.promotable():
            self.logger.debug("%x is unpromotable and can not campaign", self.id)
            return
        # A conf change committed but not applied may change who votes; wait for it (etcd raft.go hup).
        if self.raft_log.committed > self.raft_log.applied:
            ents = self.raft_log.slice(self.raft_log.applied + 1, self.raft_log.committed + 1, NO_LIMIT)
            if any(e.type == pb.EntryConfChange for e in ents):
                self.logger.debug(
                    "%x cannot campaign at term %d since there are pending conf changes", self.id, self.term
                )
                return
        self.campaign(t)

    def campaign(self, t: CampaignType) -> None:
        if not self.promotable():
            self.logger.warning("%x is unpromotable; campaign() should have been called", self.id)
        if t == CampaignType.PRE_ELECTION:
            self.become_pre_candidate()
            vote_msg = pb.MsgPreVote
            # A pre-vote asks about the next term without entering it.
            term = self.term + 1
        else:
            self.become_candidate()
            vote_msg = pb.MsgVote
            term = self.term
        _, _, res = self.poll(self.id, vote_resp_msg_type(vote_msg), True)
        if res == VoteResult.VOTE_WON:
            # Single-voter cluster: won at once.
            if t == CampaignType.PRE_ELECTION:
                self.campaign(CampaignType.ELECTION)
            else:
                self.become_leader()
            return
        ctx = CAMPAIGN_TRANSFER if t == CampaignType.TRANSFER else b""
        li = self.raft_log.last_index()
        lt = self.raft_log.last_term()
        for i in self.prs.voter_nodes():
            if i == self.id:
                continue
            self.send(Message(term=term, to=i, type=vote_msg, index=li, log_term=lt, context=ctx))

    def poll(self, id_: int, t: int, granted: bool) -> tuple[int, int, VoteResult]:
        self.prs.record_vote(id_, granted)
        return self.prs.tally_votes()

    # ----- stepping

    def step(self, m: Message) -> None:
        """Handle message ``m`` (from the network or local). ``m`` is never modified.

        Raises ErrProposalDropped for a proposal that cannot be handled.
        """
        if m.term == 0:
            pass  # local message (or a term-less proposal / read request)
        elif m.term > self.term:
            if m.type in (pb.MsgVote, pb.MsgPreVote):
                force = m.context == CAMPAIGN_TRANSFER
                in_lease = (
                    self.check_quorum and self.lead != NONE and self.election_elapsed < self.election_timeout
                )
                if not force and in_lease:
                    # We heard from a leader within the election timeout: ignore the vote so a node
                    # that was partitioned away cannot depose it (thesis §4.2.3).
                    self.logger.debug(
                        "%x [term: %d] ignored %s from %x at term %d: lease is not expired",
                        self.id,
                        self.term,
                        pb.MessageType.Name(m.type),
                        m.from_,
                        m.term,
                    )
                    return
            if m.type == pb.MsgPreVote:
                pass  # never change our term in response to a pre-vote
            elif m.type == pb.MsgPreVoteResp and not m.reject:
                # A granted pre-vote carries the term we asked about; we adopt it only once we win.
                pass
            else:
                if m.type in (pb.MsgApp, pb.MsgHeartbeat, pb.MsgSnap):
                    self.become_follower(m.term, m.from_)
                else:
                    self.become_follower(m.term, NONE)
        elif m.term < self.term:
            if (self.check_quorum or self.pre_vote) and m.type in (pb.MsgHeartbeat, pb.MsgApp):
                # A leader cut off by a partition would otherwise never learn of the newer term: with
                # CheckQuorum or PreVote we do not bump our term on its messages, so tell it (thesis §9.6).
                self.send(Message(to=m.from_, type=pb.MsgAppResp))
            elif m.type == pb.MsgPreVote:
                # Reject so the pre-candidate learns of the newer term and does not wait forever.
                self.send(Message(to=m.from_, term=self.term, type=pb.MsgPreVoteResp, reject=True))
            return

        t = m.type
        if t == pb.MsgHup:
            self.hup(CampaignType.PRE_ELECTION if self.pre_vote else CampaignType.ELECTION)
        elif t in (pb.MsgVote, pb.MsgPreVote):
            can_vote = (
                self.vote == m.from_
                # We have not voted in this term and know no leader.
                or (self.vote == NONE and self.lead == NONE)
                # A pre-vote for a future term.
                or (t == pb.MsgPreVote and m.term > self.term)
            )
            if can_vote and self.raft_log.is_up_to_date(m.index, m.log_term):
                # A granted vote carries the term asked about (a pre-vote's is term+1, not ours).
                self.send(Message(to=m.from_, term=m.term, type=vote_resp_msg_type(t)))
                if t == pb.MsgVote:
                    # Only a real vote is recorded, and it resets our election timer (§5.2).
                    self.election_elapsed = 0
                    self.vote = m.from_
            else:
                self.send(Message(to=m.from_, term=self.term, type=vote_resp_msg_type(t), reject=True))
        else:
            self._step(m)

    def _step_leader(self, m: Message) -> None:
        t = m.type
        if t == pb.MsgBeat:
            self.bcast_heartbeat()
            return
        if t == pb.MsgCheckQuorum:
            pr = self.prs.progress.get(self.id)
            if pr is not None:
                pr.recent_active = True
            if not self.prs.quorum_active():
                self.logger.warning("%x stepped down to follower since quorum is not active", self.id)
                self.become_follower(self.term, NONE)
            for i, p in self.prs.progress.items():
                if i != self.id:
                    p.recent_active = False
            return
        if t == pb.MsgProp:
            self._propose(m)
            return
        if t == pb.MsgReadIndex:
            if self.prs.is_singleton():
                self._answer_read_index(m, self.raft_log.committed)
                return
            # A new leader does not know the commit index until it commits an entry of its own
            # term (thesis §6.4): hold the request until then.
            if not self.committed_entry_in_current_term():
                self.pending_read_index_messages.append(m)
                return
            self._send_msg_read_index_response(m)
            return

        pr = self.prs.progress.get(m.from_)
        if pr is None:
            self.logger.debug("%x no progress available for %x", self.id, m.from_)
            return
        if t == pb.MsgAppResp:
            self._handle_app_resp(m, pr)
        elif t == pb.MsgHeartbeatResp:
            pr.recent_active = True
            pr.probe_sent = False
            # The follower is alive: free a slot so a full window cannot stall it forever.
            if pr.state == ProgressState.REPLICATE and pr.inflights.full():
                pr.inflights.free_first_one()
            if pr.match < self.raft_log.last_index():
                self.send_append(m.from_)
            if self.read_only.option != ReadOnlyOption.SAFE or not m.context:
                return
            acks = self.read_only.recv_ack(m.from_, m.context)
            if acks is None or self.prs.voters.vote_result(acks) != VoteResult.VOTE_WON:
                return
            for rs in self.read_only.advance(m):
                self._answer_read_index(rs.req, rs.index)
        elif t == pb.MsgSnapStatus:
            if pr.state != ProgressState.SNAPSHOT:
                return
            if m.reject:
                # The snapshot did not arrive: probe again from the match.
                pr.pending_snapshot = 0
            pr.become_probe()
            # Wait for a MsgAppResp or heartbeat response before sending more.
            pr.probe_sent = True
        elif t == pb.MsgUnreachable:
            # Optimistic pipelining to an unreachable peer wastes messages: probe instead.
            if pr.state == ProgressState.REPLICATE:
                pr.become_probe()
        elif t == pb.MsgTransferLeader:
            self._handle_transfer_leader(m, pr)

    def _propose(self, m: Message) -> None:
        if not m.entries:
            raise AssertionError(f"{self.id:x} stepped empty MsgProp")
        if self.id not in self.prs.progress:
            # We were removed from the configuration while leader (etcd raft.go stepLeader).
            raise ErrProposalDropped()
        if self.lead_transferee != NONE:
            self.logger.debug(
                "%x [term %d] transfer leadership to %x is in progress; dropping proposal",
                self.id,
                self.term,
                self.lead_transferee,
            )
            raise ErrProposalDropped()
        # Copy the entries: we set their term and index and keep them in the log.
        es = [Entry(type=e.type, data=e.data) for e in m.entries]
        for i, e in enumerate(es):
            if e.type == pb.EntryConfChange:
                if self.pending_conf_index > self.raft_log.applied:
                    # One membership change at a time (thesis §4.1): the earlier one is not applied yet.
                    self.logger.info(
                        "%x propose conf change ignored since pending unapplied configuration "
                        "[index %d, applied %d]",
                        self.id,
                        self.pending_conf_index,
                        self.raft_log.applied,
                    )
                    es[i] = Entry(type=pb.EntryNormal)
                else:
                    self.pending_conf_index = self.raft_log.last_index() + i + 1
        if not self.append_entry(es):
            raise ErrProposalDropped()
        self.bcast_append()

    def _handle_app_resp(self, m: Message, pr: Progress) -> None:
        pr.recent_active = True
        if m.reject:
            self.logger.debug(
                "%x received MsgAppResp(rejected, hint: (index %d, term %d)) from %x for index %d",
                self.id,
                m.reject_hint,
                m.log_term,
                m.from_,
                m.index,
            )
            next_probe_idx = m.reject_hint
            if m.log_term > 0:
                # Fast back-off (thesis §3.5 and etcd raft.go): skip past every entry of ours whose
                # term is above the follower's term at the hint; none of them can match.
                next_probe_idx = self.raft_log.find_conflict_by_term(m.reject_hint, m.log_term)
            if pr.maybe_decr_to(m.index, next_probe_idx):
                if pr.state == ProgressState.REPLICATE:
                    pr.become_probe()
                self.send_append(m.from_)
            return
        old_paused = pr.is_paused()
        if not pr.maybe_update(m.index):
            return
        if pr.state == ProgressState.PROBE:
            pr.become_replicate()
        elif pr.state == ProgressState.SNAPSHOT and pr.match + 1 >= self.raft_log.first_index():
            # The follower caught up past the log's start (by the snapshot or otherwise): replicate.
            pr.become_probe()
            pr.become_replicate()
        elif pr.state == ProgressState.REPLICATE:
            pr.inflights.free_le(m.index)
        if self.maybe_commit():
            self._release_pending_read_index_messages()
            self.bcast_append()
        elif old_paused:
            # The follower was paused and now may get more.
            self.send_append(m.from_)
        # The window may now allow several size-limited appends in a row.
        while self.maybe_send_append(m.from_, False):
            pass
        if m.from_ == self.lead_transferee and pr.match == self.raft_log.last_index():
            self.logger.info("%x sent MsgTimeoutNow to %x after received MsgAppResp", self.id, m.from_)
            self.send_timeout_now(m.from_)

    def _handle_transfer_leader(self, m: Message, pr: Progress) -> None:
        if pr.is_learner:
            self.logger.debug("%x is learner. Ignored transferring leadership", self.id)
            return
        lead_transferee = m.from_
        last = self.lead_transferee
        if last != NONE:
            if last == lead_transferee:
                return  # the same transfer is already under way
            self.abort_leader_transfer()
        if lead_transferee == self.id:
            return  # already leader
        # The transfer must finish within an election timeout.
        self.election_elapsed = 0
        self.lead_transferee = lead_transferee
        if pr.match == self.raft_log.last_index():
            self.send_timeout_now(lead_transferee)
        else:
            self.send_append(lead_transferee)

    def _step_candidate(self, m: Message) -> None:
        """The step function of candidates and pre-candidates."""
        my_vote_resp = pb.MsgPreVoteResp if self.state == StateType.PRE_CANDIDATE else pb.MsgVoteResp
        t = m.type
        if t == pb.MsgProp:
            raise ErrProposalDropped()
        if t == pb.MsgApp:
            self.become_follower(m.term, m.from_)  # always m.term == self.term here
            self.handle_append_entries(m)
        elif t == pb.MsgHeartbeat:
            self.become_follower(m.term, m.from_)
            self.handle_heartbeat(m)
        elif t == pb.MsgSnap:
            self.become_follower(m.term, m.from_)
            self.handle_snapshot(m)
        elif t == my_vote_resp:
            gr, rj, res = self.poll(m.from_, t, not m.reject)
            self.logger.debug(
                "%x has received %d %s votes and %d vote rejections", self.id, gr, pb.MessageType.Name(t), rj
            )
            if res == VoteResult.VOTE_WON:
                if self.state == StateType.PRE_CANDIDATE:
                    self.campaign(CampaignType.ELECTION)
                else:
                    self.become_leader()
                    self.bcast_append()
            elif res == VoteResult.VOTE_LOST:
                # A pre-candidate that lost returns to follower at its unchanged term.
                self.become_follower(self.term, NONE)
        elif t == pb.MsgTimeoutNow:
            self.logger.debug(
                "%x [term %d state %s] ignored MsgTimeoutNow from %x", self.id, self.term, self.state, m.from_
            )

    def _step_follower(self, m: Message) -> None:
        t = m.type
        if t == pb.MsgProp:
            if self.lead == NONE:
                self.logger.debug("%x no leader at term %d; dropping proposal", self.id, self.term)
                raise ErrProposalDropped()
            if self.disable_proposal_forwarding:
                self.logger.debug(
                    "%x not forwarding to leader %x at term %d; dropping proposal",
                    self.id,
                    self.lead,
                    self.term,
                )
                raise ErrProposalDropped()
            self.send(self._forward(m))
        elif t == pb.MsgApp:
            self.election_elapsed = 0
            self.lead = m.from_
            self.handle_append_entries(m)
        elif t == pb.MsgHeartbeat:
            self.election_elapsed = 0
            self.lead = m.from_
            self.handle_heartbeat(m)
        elif t == pb.MsgSnap:
            self.election_elapsed = 0
            self.lead = m.from_
            self.handle_snapshot(m)
        elif t == pb.MsgTransferLeader:
            if self.lead == NONE:
                self.logger.debug("%x no leader at term %d; dropping leader transfer msg", self.id, self.term)
                return
            self.send(self._forward(m))
        elif t == pb.MsgTimeoutNow:
            self.logger.info(
                "%x [term %d] received MsgTimeoutNow from %x and starts an election to get leadership.",
                self.id,
                self.term,
                m.from_,
            )
            # Leader transfer skips the pre-vote: the old leader asked for it (thesis §3.10).
            self.hup(CampaignType.TRANSFER)
        elif t == pb.MsgReadIndex:
            if self.lead == NONE:
                self.logger.debug("%x no leader at term %d; dropping index reading msg", self.id, self.term)
                return
            self.send(self._forward(m))
        elif t == pb.MsgReadIndexResp:
            if len(m.entries) != 1:
                self.logger.error(
                    "%x invalid format of MsgReadIndexResp from %x, entries count: %d",
                    self.id,
                    m.from_,
                    len(m.entries),
                )
                return
            self.read_states.append(ReadState(index=m.index, request_ctx=m.entries[0].data))

    def _forward(self, m: Message) -> Message:
        fwd = Message()
        fwd.CopyFrom(m)
        fwd.to = self.lead
        return fwd

    def handle_append_entries(self, m: Message) -> None:
        if m.index < self.raft_log.committed:
            # Already committed here: tell the leader how far we are.
            self.send(Message(to=m.from_, type=pb.MsgAppResp, index=self.raft_log.committed))
            return
        mlast = self.raft_log.maybe_append(m.index, m.log_term, m.commit, m.entries)
        if mlast is not None:
            self.send(Message(to=m.from_, type=pb.MsgAppResp, index=mlast))
            return
        # Reject with a hint: the largest index at or below the probe whose term is at most the
        # probe's term, and that term. The leader then skips whole terms at once.
        hint_index = min(m.index, self.raft_log.last_index())
        hint_index = self.raft_log.find_conflict_by_term(hint_index, m.log_term)
        hint_term = self.raft_log.zero_term_on_err_compacted(hint_index)
        self.logger.debug(
            "%x [logterm: %d, index: %d] rejected MsgApp [logterm: %d, index: %d] from %x",
            self.id,
            self.raft_log.zero_term_on_err_compacted(m.index),
            m.index,
            m.log_term,
            m.index,
            m.from_,
        )
        self.send(
            Message(
                to=m.from_,
                type=pb.MsgAppResp,
                index=m.index,
                reject=True,
                reject_hint=hint_index,
                log_term=hint_term,
            )
        )

    def handle_heartbeat(self, m: Message) -> None:
        self.raft_log.commit_to(m.commit)
        self.send(Message(to=m.from_, type=pb.MsgHeartbeatResp, context=m.context))

    def handle_snapshot(self, m: Message) -> None:
        s = m.snapshot
        if self.restore(s):
            self.logger.info(
                "%x [commit: %d] restored snapshot [index: %d, term: %d]",
                self.id,
                self.raft_log.committed,
                s.metadata.index,
                s.metadata.term,
            )
            self.send(Message(to=m.from_, type=pb.MsgAppResp, index=self.raft_log.last_index()))
        else:
            self.logger.info(
                "%x [commit: %d] ignored snapshot [index: %d, term: %d]",
                self.id,
                self.raft_log.committed,
                s.metadata.index,
                s.metadata.term,
            )
            self.send(Message(to=m.from_, type=pb.MsgAppResp, index=self.raft_log.committed))

    def restore(self, s: Snapshot) -> bool:
        """Replace our log and membership by snapshot ``s`` unless we already have what it covers.

        Returns True if the snapshot was taken (it then shows in the next Ready).
        """
        if s.metadata.index <= self.raft_log.committed:
            return False
        if self.state != StateType.FOLLOWER:
            # Only followers take snapshots; a leader never gets one from a valid leader of its term.
            self.logger.warning("%x attempted to restore snapshot as leader; should never happen", self.id)
            self.become_follower(self.term + 1, NONE)
            return False
        cs = s.metadata.conf_state
        if self.id not in cs.voters and self.id not in cs.learners:
            # A snapshot from before we were added, or after we were removed: not for us.
            self.logger.warning(
                "%x attempted to restore snapshot but it is not in the ConfState %s; should never happen",
                self.id,
                cs,
            )
            return False
        if self.raft_log.match_term(s.metadata.index, s.metadata.term):
            # We already have the entry at the snapshot's index: just commit up to it.
            self.raft_log.commit_to(s.metadata.index)
            return False
        snap = Snapshot()
        snap.CopyFrom(s)
        self.raft_log.restore(snap)
        self.prs = ProgressTracker(self.prs.max_inflight)
        self._restore_conf_state(cs)
        pr = self.prs.progress[self.id]
        pr.maybe_update(pr.next - 1)
        return True

    # ----- membership

    def _restore_conf_state(self, cs: ConfState) -> None:
        nxt = self.raft_log.last_index() + 1
        for i in cs.voters:
            self.prs.add_voter(i, nxt)
        for i in cs.learners:
            self.prs.add_learner(i, nxt)
        pr = self.prs.progress.get(self.id)
        self.is_learner = pr is not None and pr.is_learner
        if cs.voters_outgoing or cs.learners_outgoing:
            raise AssertionError("joint configurations are not supported")

    def apply_conf_change(self, cc: ConfChange) -> ConfState:
        """Apply a committed single-node membership change; returns the new membership."""
        nxt = self.raft_log.last_index() + 1
        if cc.type == pb.ConfChangeAddNode:
            self.prs.add_voter(cc.node_id, nxt)
        elif cc.type == pb.ConfChangeAddLearnerNode:
            if cc.node_id in self.prs.voters:
                self.logger.warning("%x ignored demotion of voter %x to learner", self.id, cc.node_id)
            else:
                self.prs.add_learner(cc.node_id, nxt)
        elif cc.type == pb.ConfChangeRemoveNode:
            self.prs.remove(cc.node_id)
        elif cc.type != pb.ConfChangeUpdateNode:
            raise AssertionError(f"unexpected conf type {cc.type}")
        return self._switch_to_config()

    def _switch_to_config(self) -> ConfState:
        cs = self.prs.conf_state()
        pr = self.prs.progress.get(self.id)
        self.is_learner = pr is not None and pr.is_learner
        if (pr is None or self.is_learner) and self.state == StateType.LEADER:
            # A removed leader keeps leading until the application stops it (etcd keeps it so
            # that the removal entry itself gets replicated); it no longer counts in quorums.
            return cs
        if self.state != StateType.LEADER or not cs.voters:
            return cs
        if self.maybe_commit():
            # The configuration shrank: entries may now be committed.
            self.bcast_append()
        else:
            for i in sorted(self.prs.progress):
                if i != self.id:
                    self.maybe_send_append(i, False)
        if self.lead_transferee != NONE and self.lead_transferee not in self.prs.voters:
            self.abort_leader_transfer()
        return cs

    # ----- leader helpers

    def load_state(self, state: HardState) -> None:
        if state.commit < self.raft_log.committed or state.commit > self.raft_log.last_index():
            raise AssertionError(
                f"{self.id:x} state.commit {state.commit} is out of range "
                f"[{self.raft_log.committed}, {self.raft_log.last_index()}]"
            )
        self.raft_log.committed = state.commit
        self.term = state.term
        self.vote = state.vote

    def reset_randomized_election_timeout(self) -> None:
        # Uniform in [election_timeout, 2*election_timeout) so that split votes are rare (§5.2).
        self.randomized_election_timeout = self.election_timeout + self.rand.randrange(self.election_timeout)

    def transfer_leader_in_progress(self) -> bool:
        return self.lead_transferee != NONE

    def abort_leader_transfer(self) -> None:
        self.lead_transferee = NONE

    def committed_entry_in_current_term(self) -> bool:
        return self.raft_log.zero_term_on_err_compacted(self.raft_log.committed) == self.term

    def _send_msg_read_index_response(self, m: Message) -> None:
        if self.read_only.option == ReadOnlyOption.SAFE:
            ctx = m.entries[0].data
            self.read_only.add_request(self.raft_log.committed, m)
            # The leader acks its own request; a quorum of heartbeat acks completes it.
            self.read_only.recv_ack(self.id, ctx)
            self.bcast_heartbeat_with_ctx(ctx)
        else:
            self._answer_read_index(m, self.raft_log.committed)

    def _answer_read_index(self, req: Message, read_index: int) -> None:
        """Answer read request ``req`` with ``read_index``: locally, or to the follower that asked."""
        if req.from_ == NONE or req.from_ == self.id:
            self.read_states.append(ReadState(index=read_index, request_ctx=req.entries[0].data))
            return
        resp = Message(type=pb.MsgReadIndexResp, to=req.from_, index=read_index)
        resp.entries.extend(req.entries)
        self.send(resp)

    def _release_pending_read_index_messages(self) -> None:
        if not self.pending_read_index_messages or not self.committed_entry_in_current_term():
            return
        msgs, self.pending_read_index_messages = self.pending_read_index_messages, []
        for m in msgs:
            self._send_msg_read_index_response(m)

    def increase_uncommitted_size(self, ents: Sequence[Entry]) -> bool:
        """Account for ``ents`` in the uncommitted budget; False (and no change) if it would overflow.

        An empty budget always admits one proposal, however large, so progress is never blocked.
        """
        s = payload_size(ents)
        if self.uncommitted_size > 0 and s > 0 and self.uncommitted_size + s > self.max_uncommitted_size:
            return False
        self.uncommitted_size += s
        return True

    def reduce_uncommitted_size(self, ents: Sequence[Entry]) -> None:
        if self.state != StateType.LEADER:
            return
        s = payload_size(ents)
        # The budget is reset on term change, so committed entries of older terms may overshoot.
        self.uncommitted_size = max(0, self.uncommitted_size - s)

    def __repr__(self) -> str:
        return f"Raft(id={self.id:x}, term={self.term}, {self.state}, lead={self.lead:x}, {self.raft_log})"


def describe_messages(msgs: Sequence[Message]) -> str:
    """Render ``msgs`` one per line (for test failures)."""
    return "\n".join(describe(m) for m in msgs)
