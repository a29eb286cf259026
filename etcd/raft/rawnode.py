"""The application's handle on raft (etcd's ``rawnode.go``): inputs by call, outputs by ``Ready``.

The loop every driver runs (etcd's ``doc.go``)::

    while node.has_ready():
        rd = node.ready()
        (optionally) send the first half of rd.split_messages(), to overlap the save
        persist rd.snapshot, rd.entries and rd.hard_state (fsync if rd.must_sync)
        feed them to the Storage raft reads (e.g. MemoryStorage.apply_snapshot/append/set_hard_state)
        send rd.messages (or the rest of them)
        apply rd.snapshot, then rd.committed_entries in order
            (a ConfChange entry: decode it and call node.apply_conf_change)
        node.advance(rd)

A RawNode is not thread-safe; call it from one thread (or one event loop) only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from etcd.raft.message import is_empty_hard_state, is_local_msg, is_response_msg
from etcd.raft.raft import NONE, Config, Raft, SoftState
from etcd.raft.raftpb import raft_pb2 as pb
from etcd.raft.raftpb.raft_pb2 import ConfChange, ConfState, Entry, HardState, Message, Snapshot
from etcd.raft.read_only import ReadState
from etcd.raft.status import Status, get_status


class ErrStepLocalMsg(Exception):
    """A local message type (MsgHup, MsgBeat, ...) was handed to ``step``."""

    def __init__(self) -> None:
        super().__init__("raft: cannot step raft local message")


class ErrStepPeerNotFound(Exception):
    """A response arrived from a node that is not a member."""

    def __init__(self) -> None:
        super().__init__("raft: cannot step as peer not found")


@dataclass(frozen=True, slots=True)
class Peer:
    """A member named at bootstrap; ``context`` is stored in its ConfChange (etcd: the member JSON)."""

    id: int
    context: bytes = b""


# Messages whose meaning depends on our own save having completed.
_AFTER_SAVE = frozenset({pb.MsgAppResp, pb.MsgVote, pb.MsgVoteResp})


@dataclass(frozen=True, slots=True)
class Ready:
    """What the caller must do, in this order, before calling ``RawNode.advance``.

    Votes and append acknowledgements promise that ``hard_state`` and ``entries`` are on disk:
    send them only after the save has returned (thesis §3.8). The other messages may be sent while
    the save runs (``split_messages``): a leader counts its own new entries toward commit only
    once ``advance`` reports them saved, so a commit always rests on a majority of durable copies
    (thesis §10.2.1). Sending everything after the save is always correct.
    """

    soft_state: SoftState | None  # leader and role, if changed: observe, never persist
    hard_state: HardState | None  # if changed: persist before sending messages
    entries: tuple[Entry, ...]  # persist before sending messages
    snapshot: Snapshot | None  # persist, then apply to the state machine
    committed_entries: tuple[Entry, ...]  # apply in order (already persisted, or in this Ready)
    messages: tuple[Message, ...]  # send once the save has returned (or see split_messages)
    read_states: tuple[ReadState, ...]  # hand to the linearizable read loop
    must_sync: bool  # the save must be fsynced (the term, vote or log changed)
    # The hard state changes our term or vote: then every message waits for the save.
    saves_vote: bool = False

    def split_messages(self) -> tuple[tuple[Message, ...], tuple[Message, ...]]:
        """(messages that may be sent while the save runs, messages that must wait for it).

        Appends, heartbeats, snapshots and the like promise nothing about our disk and may leave
        at once (thesis §10.2.1: the leader writes in parallel with replication). Vote requests,
        vote grants and append acknowledgements promise that our term, vote or entries are saved
        (thesis §3.8), so they wait.
        """
        if self.saves_vote:
            # Even an append carries our term: a leader that won alone (single voter, learners
            # listening) must not speak for a term it could lose in a crash and win again.
            return (), self.messages
        early = tuple(m for m in self.messages if m.type not in _AFTER_SAVE)
        late = tuple(m for m in self.messages if m.type in _AFTER_SAVE)
        return early, late

    def contains_updates(self) -> bool:
        return bool(
            self.soft_state is not None
            or self.hard_state is not None
            or self.snapshot is not None
            or self.entries
            or self.committed_entries
            or self.messages
            or self.read_states
        )

    def applied_cursor(self) -> int:
        """The index applied once this Ready is processed, or 0 if it applies nothing."""
        if self.committed_entries:
            return self.committed_entries[-1].index
        if self.snapshot is not None:
            return self.snapshot.metadata.index
        return 0


def must_sync(st: HardState, prev: HardState, entsnum: int) -> bool:
    """Whether persisting needs an fsync: new entries, or a changed term or vote (thesis §3.8).

    A commit index alone may be lost in a crash and relearned, so it needs no sync.
    """
    return entsnum != 0 or st.vote != prev.vote or st.term != prev.term


class RawNode:
    """A raft member driven synchronously by the caller (etcd's ``RawNode``)."""

    def __init__(self, config: Config) -> None:
        """A node from ``config``; its storage holds the state to restart from (empty for a new node)."""
        self.raft = Raft(config)
        self._prev_soft_st = self.raft.soft_state()
        self._prev_hard_st = self.raft.hard_state()

    def bootstrap(self, peers: Sequence[Peer]) -> None:
        """Start a brand-new cluster of ``peers``: one ConfChangeAddNode entry per peer, committed
        at term 1, handed out in the next Ready for persisting and applying (etcd's ``Bootstrap``).

        Raises ValueError if ``peers`` is empty or the storage is not empty.
        """
        if not peers:
            raise ValueError("must provide at least one peer to Bootstrap")
        if self.raft.raft_log.storage.last_index() != 0:
            raise ValueError("can't bootstrap a nonempty Storage")
        self._prev_hard_st = HardState()
        self.raft.become_follower(1, NONE)
        ents = [
            Entry(
                type=pb.EntryConfChange,
                term=1,
                index=i + 1,
                data=ConfChange(
                    type=pb.ConfChangeAddNode, node_id=p.id, context=p.context
                ).SerializeToString(),
            )
            for i, p in enumerate(peers)
        ]
        self.raft.raft_log.append(ents)
        # Committed by fiat: every member bootstraps with the same entries.
        self.raft.raft_log.committed = len(ents)
        for p in peers:
            self.raft.apply_conf_change(ConfChange(type=pb.ConfChangeAddNode, node_id=p.id))

    # ----- inputs

    def tick(self) -> None:
        """Advance the logical clock by one tick (election and heartbeat timeouts count these)."""
        self.raft.tick()

    def tick_quiesced(self) -> None:
        """Advance only the election clock, sending no heartbeats (for an idle leader)."""
        self.raft.election_elapsed += 1

    def campaign(self) -> None:
        """Start an election now (a pre-vote first, if configured)."""
        self.raft.step(Message(type=pb.MsgHup))

    def propose(self, data: bytes) -> None:
        """Propose ``data`` for the log. Raises ErrProposalDropped if it cannot be handled now.

        Accepted is not committed: watch committed entries to learn the outcome.
        """
        self.raft.step(Message(type=pb.MsgProp, from_=self.raft.id, entries=[Entry(data=data)]))

    def propose_batch(self, datas: Sequence[bytes]) -> None:
        """Propose several entries as one MsgProp: one append, one MsgApp per follower, one commit.

        All or none are accepted (ErrProposalDropped). The server uses it for the proposals that
        arrive while the previous Ready is being saved.
        """
        if not datas:
            return
        self.raft.step(Message(type=pb.MsgProp, from_=self.raft.id, entries=[Entry(data=d) for d in datas]))

    def propose_conf_change(self, cc: ConfChange) -> None:
        """Propose a membership change; once committed, apply it with ``apply_conf_change``.

        A change proposed while another is not yet applied is replaced by an empty entry.
        """
        data = cc.SerializeToString()
        self.raft.step(
            Message(type=pb.MsgProp, from_=self.raft.id, entries=[Entry(type=pb.EntryConfChange, data=data)])
        )

    def apply_conf_change(self, cc: ConfChange) -> ConfState:
        """Apply a committed membership change; returns the new membership (to store in snapshots)."""
        return self.raft.apply_conf_change(cc)

    def step(self, m: Message) -> None:
        """Deliver message ``m`` from a peer.

        Raises ErrStepLocalMsg for a local type, ErrStepPeerNotFound for a response from a
        non-member, ErrProposalDropped for a forwarded proposal that cannot be handled.
        """
        if is_local_msg(m.type):
            raise ErrStepLocalMsg()
        if m.from_ not in self.raft.prs.progress and is_response_msg(m.type):
            raise ErrStepPeerNotFound()
        self.raft.step(m)

    def read_index(self, rctx: bytes) -> None:
        """Ask for a linearizable read point; a ``ReadState`` with ``rctx`` appears in a later Ready."""
        self.raft.step(Message(type=pb.MsgReadIndex, entries=[Entry(data=rctx)]))

    def transfer_leader(self, transferee: int) -> None:
        """Ask the leader to hand leadership to ``transferee`` (MsgTimeoutNow once it is caught up)."""
        self.raft.step(Message(type=pb.MsgTransferLeader, from_=transferee))

    def report_unreachable(self, id_: int) -> None:
        """The transport failed to reach ``id_``: stop pipelining to it."""
        self.raft.step(Message(type=pb.MsgUnreachable, from_=id_))

    def report_snapshot(self, id_: int, ok: bool) -> None:
        """The snapshot sent to ``id_`` arrived (``ok``) or failed; appends to it resume."""
        self.raft.step(Message(type=pb.MsgSnapStatus, from_=id_, reject=not ok))

    # ----- outputs

    def has_ready(self) -> bool:
        """Whether ``ready()`` has anything to hand out."""
        r = self.raft
        # Compared field by field: this runs after every input, and building the states costs more.
        ps = self._prev_soft_st
        if r.lead != ps.lead or r.state != ps.raft_state:
            return True
        ph = self._prev_hard_st
        commit = r.raft_log.committed
        changed = r.term != ph.term or r.vote != ph.vote or commit != ph.commit
        if changed and (r.term or r.vote or commit):
            return True
        if r.raft_log.has_pending_snapshot():
            return True
        if r.msgs or r.raft_log.unstable.entries or r.raft_log.has_next_ents():
            return True
        return bool(r.read_states)

    def ready(self) -> Ready:
        """Everything to persist, send and apply since the last ``advance``.

        Call ``advance(rd)`` before the next ``ready()``: until then the same entries and committed
        entries are handed out again (messages and read states are handed out only once). Inputs
        (``step``, ``tick``, ``propose``...) may be given in between.
        """
        r = self.raft
        soft = r.soft_state()
        hs = r.hard_state()
        entries = tuple(r.raft_log.unstable_entries())
        snap = r.raft_log.unstable.snapshot
        rd = Ready(
            soft_state=soft if soft != self._prev_soft_st else None,
            hard_state=hs if hs != self._prev_hard_st else None,
            entries=entries,
            snapshot=snap if snap is not None and snap.metadata.index else None,
            committed_entries=tuple(r.raft_log.next_ents()),
            messages=tuple(r.msgs),
            read_states=tuple(r.read_states),
            must_sync=must_sync(hs, self._prev_hard_st, len(entries)),
            saves_vote=hs.term != self._prev_hard_st.term or hs.vote != self._prev_hard_st.vote,
        )
        if rd.soft_state is not None:
            self._prev_soft_st = soft
        r.msgs = []
        r.read_states = []
        return rd

    def advance(self, rd: Ready) -> None:
        """Everything in ``rd`` has been persisted, sent and applied."""
        if rd.hard_state is not None and not is_empty_hard_state(rd.hard_state):
            self._prev_hard_st = rd.hard_state
        self.raft.advance(rd.committed_entries, rd.entries, rd.snapshot)

    def status(self) -> Status:
        return get_status(self.raft)
