"""A cluster of ``RawNode``s that persist to ``MemoryStorage`` and apply to a hash-chain state machine.

Each node runs the loop of ``rawnode.py``'s docstring in ``process_ready``: persist to its
MemoryStorage, collect messages, apply, advance. The caller decides when and whether messages are
delivered, so the same cluster serves a benchmark (deliver everything at once) and a simulation
(drop, delay, reorder, duplicate, partition). ``crash`` throws away everything but the storage;
``restart`` builds a new RawNode from it, as a real member restarts from its WAL.
"""

from __future__ import annotations

import hashlib
import random
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from etcd.raft.raft import Config, ErrProposalDropped, StateType
from etcd.raft.raftpb import raft_pb2 as pb
from etcd.raft.raftpb.raft_pb2 import ConfChange, ConfState, Entry, Message, Snapshot
from etcd.raft.rawnode import ErrStepPeerNotFound, Peer, RawNode, Ready
from etcd.raft.read_only import ReadOnlyOption
from etcd.raft.storage import MemoryStorage

_SNAP = struct.Struct(">Q16s")


def chain(state: bytes, e: Entry) -> bytes:
    """The state after applying ``e`` to ``state``: a hash over every entry applied so far."""
    h = hashlib.blake2b(state, digest_size=16)
    h.update(struct.pack(">QQI", e.index, e.term, e.type))
    h.update(e.data)
    return h.digest()


@dataclass
class ClusterNode:
    """One member: its durable storage, its RawNode (None while crashed) and its applied state."""

    id: int
    storage: MemoryStorage
    node: RawNode | None
    applied_index: int = 0
    state: bytes = bytes(16)
    conf_state: ConfState = field(default_factory=ConfState)
    restarts: int = 0
    # Set once the node has applied its own removal; a removed node is stopped for good.
    removed: bool = False

    @property
    def alive(self) -> bool:
        return self.node is not None

    def rawnode(self) -> RawNode:
        if self.node is None:
            raise AssertionError(f"node {self.id} is down")
        return self.node


@dataclass
class ClusterConfig:
    election_tick: int = 10
    heartbeat_tick: int = 1
    pre_vote: bool = False
    check_quorum: bool = False
    max_size_per_msg: int = 1024 * 1024
    max_inflight_msgs: int = 256
    max_uncommitted_entries_size: int = 0
    read_only_option: ReadOnlyOption = ReadOnlyOption.SAFE
    # Save asynchronously, sending the messages that do not depend on the save at once
    # (Ready.split_messages); see Cluster.process_ready.
    send_before_save: bool = False


class Cluster:
    """Members ``ids`` of a fresh cluster, randomness drawn from ``seed``."""

    def __init__(self, ids: Iterable[int], *, seed: int = 0, config: ClusterConfig | None = None) -> None:
        self.ids = sorted(ids)
        self.cfg = config or ClusterConfig()
        self.rand = random.Random(seed)
        self.nodes: dict[int, ClusterNode] = {}
        # Members whose removal some node has applied; the transport refuses their messages, as
        # etcd's rafthttp refuses a removed member's streams.
        self.removed_ids: set[int] = set()
        # With cfg.send_before_save: the Ready each node is saving (at most one per node).
        self.saving: dict[int, Ready] = {}
        # Called with each Ready after it is persisted and applied, before advance (for checkers).
        self.on_ready: Callable[[ClusterNode, Ready], None] | None = None
        for i in self.ids:
            # Bootstrapped as etcd does: the initial membership is in the log (entries 1..n), so a
            # member added later learns it by replaying the log, as it would in a real cluster.
            st = MemoryStorage()
            node = RawNode(self._config(i, st, 0))
            node.bootstrap([Peer(p) for p in self.ids])
            self.nodes[i] = ClusterNode(id=i, storage=st, node=node)

    def _config(self, id_: int, storage: MemoryStorage, applied: int) -> Config:
        c = self.cfg
        return Config(
            id=id_,
            election_tick=c.election_tick,
            heartbeat_tick=c.heartbeat_tick,
            storage=storage,
            rand=random.Random(self.rand.getrandbits(64)),
            applied=applied,
            max_size_per_msg=c.max_size_per_msg,
            max_inflight_msgs=c.max_inflight_msgs,
            max_uncommitted_entries_size=c.max_uncommitted_entries_size,
            check_quorum=c.check_quorum,
            pre_vote=c.pre_vote,
            read_only_option=c.read_only_option,
        )

    # ----- driving

    def process_ready(self, id_: int) -> tuple[list[Message], list[Ready]]:
        """Run node ``id_``'s Ready loop; returns the messages to send and the Readies finished.

        Synchronously to quiescence by default. With ``cfg.send_before_save`` the save is
        asynchronous, as a server does it on its I/O pool: the Ready's early messages (see
        ``Ready.split_messages``) are returned at once and the rest waits for ``finish_save``;
        the node keeps taking input meanwhile, and a crash before then loses the save.
        """
        cn = self.nodes[id_]
        node = cn.node
        if node is None:
            return [], []
        msgs: list[Message] = []
        readies: list[Ready] = []
        while node.has_ready():
            if self.cfg.send_before_save:
                if id_ in self.saving:
                    break
                rd = node.ready()
                early, _ = rd.split_messages()
                msgs.extend(early)
                self.saving[id_] = rd
                break
            rd = node.ready()
            msgs.extend(self._complete(cn, node, rd, rd.messages))
            readies.append(rd)
            if cn.node is None:
                break
        return msgs, readies

    def finish_save(self, id_: int) -> tuple[list[Message], list[Ready]]:
        """Complete node ``id_``'s pending save (``send_before_save`` mode), then start the next."""
        rd = self.saving.pop(id_, None)
        cn = self.nodes[id_]
        if rd is None or cn.node is None:
            return [], []
        _, late = rd.split_messages()
        msgs = self._complete(cn, cn.node, rd, late)
        more, readies = self.process_ready(id_)
        return msgs + more, [rd, *readies]

    def _complete(
        self, cn: ClusterNode, node: RawNode, rd: Ready, to_send: tuple[Message, ...]
    ) -> list[Message]:
        """Persist ``rd``, release ``to_send``, apply, advance; returns the messages released."""
        st = cn.storage
        # Persist (snapshot, entries, hard state) before the messages that promise it is durable.
        if rd.snapshot is not None:
            st.apply_snapshot(rd.snapshot)
        st.append(rd.entries)
        if rd.hard_state is not None:
            st.set_hard_state(rd.hard_state)
        if rd.snapshot is not None:
            self._restore(cn, rd.snapshot)
        for e in rd.committed_entries:
            self._apply(cn, node, e)
        if self.on_ready is not None:
            self.on_ready(cn, rd)
        node.advance(rd)
        if cn.removed:
            # etcd stops a member once it applies its own removal.
            cn.node = None
        return list(to_send)

    @staticmethod
    def _restore(cn: ClusterNode, snap: Snapshot) -> None:
        index, state = _SNAP.unpack(snap.data)
        if index != snap.metadata.index:
            raise AssertionError(f"snapshot data for {index} at index {snap.metadata.index}")
        cn.applied_index = index
        cn.state = state
        cn.conf_state = ConfState()
        cn.conf_state.CopyFrom(snap.metadata.conf_state)

    def _apply(self, cn: ClusterNode, node: RawNode, e: Entry) -> None:
        """Apply ``e``: membership changes to raft, every entry to the hash chain."""
        if e.index <= cn.applied_index:
            raise AssertionError(f"node {cn.id} applies {e.index} after {cn.applied_index}")
        if e.index != cn.applied_index + 1:
            raise AssertionError(f"node {cn.id} skips from {cn.applied_index} to {e.index}")
        if e.type == pb.EntryConfChange:
            cc = ConfChange()
            cc.ParseFromString(e.data)
            cn.conf_state = node.apply_conf_change(cc)
            if cc.type == pb.ConfChangeRemoveNode:
                self.removed_ids.add(cc.node_id)
                if cc.node_id == cn.id:
                    cn.removed = True
        cn.state = chain(cn.state, e)
        cn.applied_index = e.index

    def step(self, m: Message) -> bool:
        """Deliver ``m`` to its recipient; False if it is down or refused it."""
        cn = self.nodes.get(m.to)
        if cn is None or cn.node is None or m.from_ in self.removed_ids:
            return False
        try:
            cn.node.step(m)
        except (ErrProposalDropped, ErrStepPeerNotFound):
            return False
        return True

    def tick(self, id_: int) -> None:
        node = self.nodes[id_].node
        if node is not None:
            node.tick()

    def propose(self, id_: int, data: bytes) -> bool:
        """Propose ``data`` at ``id_``; False if the node is down or dropped it."""
        node = self.nodes[id_].node
        if node is None:
            return False
        try:
            node.propose(data)
        except ErrProposalDropped:
            return False
        return True

    def propose_batch(self, id_: int, datas: list[bytes]) -> bool:
        """Propose ``datas`` as one MsgProp at ``id_``; False if the node is down or dropped them."""
        node = self.nodes[id_].node
        if node is None:
            return False
        try:
            node.propose_batch(datas)
        except ErrProposalDropped:
            return False
        return True

    def leader(self) -> int | None:
        """The ID of a live node that believes it is leader with the highest term, if any."""
        best: tuple[int, int] | None = None
        for i, cn in self.nodes.items():
            if cn.node is not None and cn.node.raft.state == StateType.LEADER:
                t = cn.node.raft.term
                if best is None or t > best[0]:
                    best = (t, i)
        return None if best is None else best[1]

    # ----- faults and maintenance

    def crash(self, id_: int) -> None:
        """Lose everything of ``id_`` but its storage (entries, hard state, snapshot); a save under
        way is lost too."""
        self.nodes[id_].node = None
        self.saving.pop(id_, None)

    def add_node(self, id_: int) -> None:
        """Start a new, empty member ``id_`` that learns the log (and its membership) from the leader.

        Propose its addition (``ConfChangeAddLearnerNode`` or ``ConfChangeAddNode``) separately.
        """
        if id_ in self.nodes:
            raise AssertionError(f"node {id_} exists")
        st = MemoryStorage()
        self.nodes[id_] = ClusterNode(id=id_, storage=st, node=RawNode(self._config(id_, st, 0)))
        self.ids = sorted(self.nodes)

    def members(self) -> list[int]:
        """IDs of the nodes not removed (running or crashed)."""
        return [i for i in self.ids if not self.nodes[i].removed]

    def restart(self, id_: int) -> None:
        """Start ``id_`` again from its storage, its state machine rebuilt from the snapshot."""
        cn = self.nodes[id_]
        if cn.node is not None:
            raise AssertionError(f"node {id_} is running")
        if cn.removed:
            raise AssertionError(f"node {id_} was removed")
        snap = cn.storage.snapshot()
        if snap.metadata.index:
            self._restore(cn, snap)
        else:
            cn.applied_index = 0
            cn.state = bytes(16)
            cn.conf_state = ConfState()
            cn.conf_state.CopyFrom(snap.metadata.conf_state)
        cn.restarts += 1
        cn.node = RawNode(self._config(id_, cn.storage, cn.applied_index))

    def compact(self, id_: int, keep: int) -> bool:
        """Snapshot ``id_``'s state at its applied index and drop all but ``keep`` entries before it."""
        cn = self.nodes[id_]
        st = cn.storage
        if cn.applied_index <= st.snapshot().metadata.index:
            return False
        st.create_snapshot(cn.applied_index, cn.conf_state, _SNAP.pack(cn.applied_index, cn.state))
        upto = cn.applied_index - keep
        if upto > st.first_index():
            st.compact(upto)
        return True
