"""Snapshot transfer (etcd's ``rafthttp/snapshot_sender.go`` and the receiving half of ``http.go``).

``POST /raft/snapshot`` carries the raft ``MsgSnap`` (length-prefixed, as on a stream) followed by the
backend's data, streamed: the sender pulls chunks from the embedder's ``SnapshotSource`` as the socket takes
them, and the receiver writes them to a temporary file as they arrive; neither holds the data in memory.
The receiver answers 204 only after the embedder has taken the file and raft has been given the message,
so the sender can tell raft the snapshot was delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import aiohttp

from etcd.raft.raftpb.raft_pb2 import Message
from etcd.rafthttp import codec, compat, metrics
from etcd.rafthttp.errors import ErrMemberRemoved

if TYPE_CHECKING:
    from etcd.rafthttp.peer import Peer
    from etcd.rafthttp.transport import Transport

logger = logging.getLogger("etcd.rafthttp")

SNAPSHOT_PATH = "/raft/snapshot"
SOURCE = "snapshot"

# The backend data to send after a MsgSnap, as chunks: given the message (its snapshot's index says which).
SnapshotSource = Callable[[Message], AsyncIterator[bytes]]
# Takes a received snapshot: the message and the path of a temporary file holding the backend data (fsynced,
# in the transport's snapshot_dir). It may move the file; whatever is left at the path is removed after.
SnapshotSink = Callable[[Message, str], Awaitable[None]]

_WRITE_CHUNK = 1 << 20  # gather this much before a write in the I/O pool


async def file_chunks(path: str, chunk_size: int = 1 << 20) -> AsyncIterator[bytes]:
    """A ``SnapshotSource`` helper: the bytes of ``path``, read in the default executor chunk by chunk."""
    loop = asyncio.get_running_loop()
    f = await loop.run_in_executor(None, open, path, "rb")
    try:
        while True:
            chunk = await loop.run_in_executor(None, f.read, chunk_size)
            if not chunk:
                return
            yield chunk
    finally:
        f.close()


class SnapshotSender:
    """Sends merged snapshots to one peer, each in its own task."""

    def __init__(self, tr: Transport, peer: Peer) -> None:
        self._tr = tr
        self._peer = peer
        self._to = compat.id_str(peer.id)
        self.sent = 0  # snapshots the peer took (tests)

    def send(self, m: Message) -> None:
        self._peer.spawn(self._send(m), f"rafthttp-snapshot-{self._peer.id:x}")

    async def _send(self, m: Message) -> None:
        tr, peer = self._tr, self._peer
        source = tr.snapshot_source
        assert source is not None
        url = peer.picker.pick()
        headers = compat.request_headers(tr.id, tr.cluster_id, tr.urls)
        headers["Content-Type"] = compat.CT_OCTET
        sent = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal sent
            head = codec.encode(m)
            sent += len(head)
            yield head
            async for chunk in source(m):
                sent += len(chunk)
                yield chunk

        start = time.monotonic()
        metrics.snapshot_send_inflights.labels(self._to).inc()
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=tr.dial_timeout, sock_read=tr.snapshot_timeout
        )
        err: BaseException | None
        try:
            async with tr.session.post(
                url + SNAPSHOT_PATH, data=body(), headers=headers, timeout=timeout
            ) as resp:
                text = await resp.text()
            err = compat.check_post_response(resp.status, text, url + SNAPSHOT_PATH)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as e:
            err = e
        finally:
            metrics.snapshot_send_inflights.labels(self._to).dec()
        if err is None:
            logger.info("sent database snapshot to %x (%d bytes)", peer.id, sent)
            peer.status.activate()
            metrics.sent_bytes.labels(self._to).inc(sent)
            metrics.snapshot_send_success.inc(self._to)
            metrics.snapshot_send_seconds.labels(self._to).observe(time.monotonic() - start)
            self.sent += 1
            tr.report_snapshot(peer.id, True)
            return
        logger.warning("failed to send database snapshot to %x: %s", peer.id, err)
        peer.picker.unreachable(url)
        if isinstance(err, ErrMemberRemoved):
            tr.report_critical(err)
        peer.status.deactivate(SOURCE, "post", str(err) or type(err).__name__)
        metrics.sent_failures.labels(self._to).inc()
        metrics.snapshot_send_failures.inc(self._to)
        tr.report_unreachable(peer.id)
        tr.report_snapshot(peer.id, False)


class SnapshotFile:
    """The receiving end's temporary file in ``directory``: ``write`` chunks, ``finish`` (fsync), and
    ``discard`` whatever is left; writes go to the default executor in chunks of at least 1 MiB."""

    def __init__(self, directory: str) -> None:
        fd, self.path = tempfile.mkstemp(prefix="tmp-rafthttp-", suffix=".snap.db", dir=directory)
        self._f = os.fdopen(fd, "wb")
        self._pending: list[bytes] = []
        self._pending_len = 0
        self.size = 0

    async def write(self, chunk: bytes) -> None:
        self._pending.append(chunk)
        self._pending_len += len(chunk)
        self.size += len(chunk)
        if self._pending_len >= _WRITE_CHUNK:
            await self._flush()

    async def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._pending_len = 0
            await asyncio.get_running_loop().run_in_executor(None, self._f.write, data)

    async def finish(self) -> None:
        await self._flush()

        def sync() -> None:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()

        await asyncio.get_running_loop().run_in_executor(None, sync)

    def discard(self) -> None:
        if not self._f.closed:
            self._f.close()
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)
