"""Linearizable reads without log writes: the ReadIndex protocol (etcd's ``read_only.go``, thesis §6.4)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from etcd.raft.raftpb.raft_pb2 import Message


class ReadOnlyOption(enum.Enum):
    """How a leader confirms it is still the leader before answering a read."""

    # A heartbeat round acknowledged by a quorum, carrying the request context (thesis §6.4).
    SAFE = 0
    # Trust the leader lease kept by CheckQuorum; unsafe if clocks drift without bound (thesis §6.4.1).
    LEASE_BASED = 1


@dataclass(frozen=True, slots=True)
class ReadState:
    """A read request's answer: reads under ``request_ctx`` may be served once ``index`` is applied."""

    index: int
    request_ctx: bytes


@dataclass(slots=True)
class ReadIndexStatus:
    """A pending read request at the leader: the request, the commit index it saw, who has acked."""

    req: Message
    index: int
    acks: dict[int, bool] = field(default_factory=dict)


class ReadOnly:
    """The leader's queue of ReadIndex requests awaiting a quorum of heartbeat acks, oldest first."""

    def __init__(self, option: ReadOnlyOption) -> None:
        self.option = option
        self.pending_read_index: dict[bytes, ReadIndexStatus] = {}
        self.read_index_queue: list[bytes] = []

    def add_request(self, index: int, m: Message) -> None:
        """Queue read request ``m`` (its context is ``m.entries[0].data``) at commit index ``index``."""
        ctx = m.entries[0].data
        if ctx in self.pending_read_index:
            return
        self.pending_read_index[ctx] = ReadIndexStatus(req=m, index=index)
        self.read_index_queue.append(ctx)

    def recv_ack(self, id_: int, context: bytes) -> dict[int, bool] | None:
        """Record ``id_``'s heartbeat ack for the request ``context``; returns that request's acks."""
        rs = self.pending_read_index.get(context)
        if rs is None:
            return None
        rs.acks[id_] = True
        return rs.acks

    def advance(self, m: Message) -> list[ReadIndexStatus]:
        """Release the request acked by ``m`` and every request queued before it.

        An ack for a later request confirms leadership for the earlier ones too.
        """
        ctx = m.context
        for i, okctx in enumerate(self.read_index_queue):
            if okctx == ctx:
                done = self.read_index_queue[: i + 1]
                del self.read_index_queue[: i + 1]
                return [self.pending_read_index.pop(c) for c in done]
        return []

    def last_pending_request_ctx(self) -> bytes:
        """The context of the newest pending request, or b"" if none."""
        return self.read_index_queue[-1] if self.read_index_queue else b""
