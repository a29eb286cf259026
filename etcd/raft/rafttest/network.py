"""A message pump between raft state machines, like ``network`` in etcd's ``raft_test.go``.

Messages are delivered synchronously in FIFO order until none are left, through filters that drop
(by link or at random), cut links, isolate nodes or ignore message types. Nothing is persisted: the
state machines keep their logs in their unstable part, as etcd's tests do.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from etcd.raft.raft import Config, ErrProposalDropped, Raft
from etcd.raft.raftpb import raft_pb2 as pb
from etcd.raft.raftpb.raft_pb2 import ConfState, Message
from etcd.raft.storage import MemoryStorage


def new_test_config(
    id_: int, election: int, heartbeat: int, storage: MemoryStorage, *, seed: int | None = None
) -> Config:
    """A Config with a seeded RNG (seeded by ``id_`` unless ``seed`` is given) and etcd's test defaults."""
    return Config(
        id=id_,
        election_tick=election,
        heartbeat_tick=heartbeat,
        storage=storage,
        rand=random.Random(id_ if seed is None else seed),
        max_size_per_msg=2**64 - 1,
        max_inflight_msgs=256,
    )


def new_test_raft(
    id_: int,
    election: int = 10,
    heartbeat: int = 1,
    storage: MemoryStorage | None = None,
    *,
    voters: Sequence[int] = (),
    learners: Sequence[int] = (),
    **config: Any,
) -> Raft:
    """A Raft over ``storage`` (or a fresh MemoryStorage of ``voters`` and ``learners``).

    Extra keyword arguments set Config fields (``pre_vote=True``, ``check_quorum=True``...).
    """
    if storage is None:
        storage = MemoryStorage(ConfState(voters=voters, learners=learners))
    c = new_test_config(id_, election, heartbeat, storage)
    for k, v in config.items():
        if not hasattr(c, k):
            raise TypeError(f"Config has no field {k!r}")
        setattr(c, k, v)
    return Raft(c)


class _BlackHole:
    """A peer that swallows every message."""


BLACK_HOLE = _BlackHole()


@dataclass(frozen=True)
class _Link:
    from_: int
    to: int


class Network:
    """Raft peers 1..n wired together in memory.

    ``peers[i]`` is a ``Raft`` (its ID must be i+1), ``BLACK_HOLE``, or None for a fresh voter in
    a cluster of all n IDs, built with ``config`` keyword arguments as ``new_test_raft`` takes them.
    """

    def __init__(
        self,
        peers: Sequence[Raft | _BlackHole | None],
        *,
        seed: int = 0,
        election: int = 10,
        **config: Any,
    ) -> None:
        ids = list(range(1, len(peers) + 1))
        self.peers: dict[int, Raft | _BlackHole] = {}
        self.storage: dict[int, MemoryStorage] = {}
        for id_, p in zip(ids, peers, strict=True):
            if p is None:
                st = MemoryStorage(ConfState(voters=ids))
                self.storage[id_] = st
                self.peers[id_] = new_test_raft(id_, election, 1, st, **config)
            elif isinstance(p, Raft):
                if p.id != id_:
                    raise ValueError(f"peer {id_} has id {p.id}")
                self.peers[id_] = p
            else:
                self.peers[id_] = p
        self.dropm: dict[_Link, float] = {}
        self.ignorem: set[int] = set()
        self.rand = random.Random(seed)
        # Every message delivered, in order, for tests that inspect traffic.
        self.delivered: list[Message] = []

    def raft(self, id_: int) -> Raft:
        p = self.peers[id_]
        if not isinstance(p, Raft):
            raise TypeError(f"peer {id_} is not a Raft")
        return p

    def send(self, *msgs: Message, max_steps: int = 100_000) -> None:
        """Deliver ``msgs`` and everything they cause until no message is left."""
        queue = list(msgs)
        steps = 0
        while queue:
            steps += 1
            if steps > max_steps:
                raise AssertionError("network did not quiesce")
            m = queue.pop(0)
            p = self.peers.get(m.to)
            if not isinstance(p, Raft):
                continue
            self.delivered.append(m)
            try:
                p.step(m)
            except ErrProposalDropped:
                pass
            # Nothing is written to storage here, but the log counts as saved at once: a leader
            # acknowledges its own entries immediately, as if its disk were infinitely fast.
            p.ack_persisted(p.raft_log.last_index(), p.raft_log.last_term())
            queue.extend(self.filter(self.read_messages(p)))

    @staticmethod
    def read_messages(r: Raft) -> list[Message]:
        msgs, r.msgs = r.msgs, []
        return msgs

    def drop(self, from_: int, to: int, perc: float) -> None:
        """Drop messages from ``from_`` to ``to`` with probability ``perc`` (1.0: all)."""
        self.dropm[_Link(from_, to)] = perc

    def cut(self, one: int, other: int) -> None:
        self.drop(one, other, 2.0)  # 2.0 > any random draw: always dropped
        self.drop(other, one, 2.0)

    def isolate(self, id_: int) -> None:
        for nid in self.peers:
            if nid != id_:
                self.drop(id_, nid, 1.0)
                self.drop(nid, id_, 1.0)

    def ignore(self, t: int) -> None:
        self.ignorem.add(t)

    def recover(self) -> None:
        self.dropm = {}
        self.ignorem = set()

    def filter(self, msgs: Iterable[Message]) -> list[Message]:
        out = []
        for m in msgs:
            if m.type in self.ignorem:
                continue
            if m.type == pb.MsgHup:
                # A MsgHup never leaves the node (etcd's network panics on it).
                raise AssertionError("unexpected MsgHup on the network")
            perc = self.dropm.get(_Link(m.from_, m.to), 0.0)
            if perc > 0 and self.rand.random() < perc:
                continue
            out.append(m)
        return out
