"""An in-memory asyncio transport wiring several RaftNodes in one process (tests only).

Each message is serialised and delivered on a later loop iteration, as a network would, to whichever node
currently holds the id; messages to a stopped or unknown member are lost. Snapshot messages are reported
delivered or failed to their sender, as etcd's rafthttp does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from etcd.raft.raftpb import raft_pb2 as pb
from etcd.raft.raftpb.raft_pb2 import Message
from etcd.server import RaftNode


class LocalNetwork:
    def __init__(self) -> None:
        self.nodes: dict[int, RaftNode] = {}
        self.delivered = 0

    def transport(self, node_id: int) -> LocalTransport:
        return LocalTransport(self, node_id)

    def deliver(self, frm: int, m: Message) -> None:
        target = self.nodes.get(m.to)
        sender = self.nodes.get(frm)
        ok = target is not None and not target.stopped
        if ok:
            assert target is not None
            target.step(m)
            self.delivered += 1
        if m.type == pb.MsgSnap and sender is not None:
            sender.report_snapshot(m.to, ok)


class LocalTransport:
    def __init__(self, net: LocalNetwork, node_id: int) -> None:
        self._net = net
        self._id = node_id

    def send(self, messages: Sequence[Message]) -> None:
        loop = asyncio.get_running_loop()
        for m in messages:
            loop.call_soon(self._net.deliver, self._id, Message.FromString(m.SerializeToString()))
