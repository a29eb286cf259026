"""One remote member as the transport sees it (etcd's ``rafthttp/peer.go`` and ``remote.go``).

A ``Peer`` has a stream writer, a stream reader, a pipeline, a snapshot sender and a prober; ``send``
picks the channel for each message as etcd's ``peer.pick`` does: a snapshot goes by ``POST /raft/snapshot``
(or the pipeline when the embedder gave no snapshot source), everything else by the stream while one is
up, else by the pipeline. When the chosen queue is full the message is dropped and raft told the peer is
unreachable (and, for a snapshot, that it failed).

A *remote* (``stream=False``) is a member we only answer, known from the ``X-PeerURLs`` of its requests
before this member's membership has caught up: it gets the pipeline only (etcd's ``remote``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from etcd.raft.raftpb import raft_pb2 as pb
from etcd.raft.raftpb.raft_pb2 import Message
from etcd.rafthttp import codec, compat, metrics
from etcd.rafthttp.pipeline import Pipeline
from etcd.rafthttp.probing import Prober
from etcd.rafthttp.snapshot import SnapshotSender
from etcd.rafthttp.status import PeerStatus, URLPicker
from etcd.rafthttp.stream import OutgoingConn, StreamReader, StreamWriter

if TYPE_CHECKING:
    from etcd.rafthttp.transport import Transport

logger = logging.getLogger("etcd.rafthttp")


class Peer:
    def __init__(self, tr: Transport, id_: int, urls: Sequence[str], *, stream: bool = True) -> None:
        self.id = id_
        self._tr = tr
        self.status = PeerStatus(tr.id, id_)
        self.picker = URLPicker(urls)
        self.has_stream = stream
        self.writer = StreamWriter(tr, self)
        self.reader = StreamReader(tr, self)
        self.pipeline = Pipeline(tr, self)
        self.snapshots = SnapshotSender(tr, self)
        self.prober = Prober(tr, self)
        self._sent_failures = metrics.sent_failures.labels(compat.id_str(id_))
        self.started = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.msgapp_conns: set[OutgoingConn] = set()  # etcd's msgappv2 streams, answered with heartbeats

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``coro`` as one of this peer's tasks (cancelled by ``stop``)."""
        task = self._tr.spawn(coro, name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def start(self) -> None:
        """Start the peer's tasks (the transport's loop must be running)."""
        if self.started:
            return
        self.started = True
        self.pipeline.start()
        if self.has_stream:
            self.writer.start()
            self.reader.start()
            self.prober.start()

    def send(self, m: Message) -> None:
        if m.type == pb.MsgSnap:
            if self._tr.snapshot_source is not None:
                self.snapshots.send(Message.FromString(m.SerializeToString()))
                return
            if not self.pipeline.enqueue(m.SerializeToString(), True):
                self._fail(m)
            return
        if self.writer.working and self.writer.enqueue(codec.encode(m)):
            return
        if not self.writer.working and self.pipeline.enqueue(m.SerializeToString(), False):
            return
        self._fail(m)

    def _fail(self, m: Message) -> None:
        # etcd 3.4 compat: peer.go send: a full buffer drops the message and reports the peer unreachable.
        logger.debug("dropped %s to %x: sending buffer is full", pb.MessageType.Name(m.type), self.id)
        self._tr.report_unreachable(m.to)
        if m.type == pb.MsgSnap:
            self._tr.report_snapshot(m.to, False)
        self._sent_failures.inc()

    def update(self, urls: Sequence[str]) -> None:
        self.picker.update(urls)

    def stop(self) -> list[asyncio.Task[None]]:
        """Close the stream we send on and cancel the peer's tasks; returns them, to be awaited."""
        self.writer.close()
        for conn in list(self.msgapp_conns):
            conn.close()
        self.status.close()
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        return tasks
