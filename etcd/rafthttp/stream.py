"""The long-lived message stream between two members (etcd's ``rafthttp/stream.go``, "message" type).

Each member dials every peer with ``GET /raft/stream/message/<own id>``; the peer answers 200 and keeps the
response open, and writes its messages for the dialer into that response body. So a member *receives* on
the stream it dialed (``StreamReader``) and *sends* on the stream its peer dialed (``StreamWriter``).

``StreamWriter`` owns a bounded queue (4096 frames, etcd's ``streamBufSize``) and one task that writes
everything queued in one write (the batching etcd gets from flushing only when its channel is empty), and a
link heartbeat when the stream has been idle for a third of the read timeout. A write that fails or times
out closes the stream: what was queued is dropped and the peer reported unreachable, so raft resends (over
the pipeline until the peer dials again).

``StreamReader`` dials, decodes frames and steps each message into raft; after a failure it waits (a
backoff doubling from ``reconnect_min`` to ``reconnect_max``) and dials again, moving to the peer's next
URL. A 410 (this member was removed) is a critical error and ends the reader.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web
from google.protobuf.message import DecodeError

from etcd.raft.raftpb.raft_pb2 import Message
from etcd.rafthttp import codec, compat, metrics
from etcd.rafthttp.errors import ErrMemberRemoved, ErrUnexpectedStatus, TransportError

if TYPE_CHECKING:
    from etcd.rafthttp.peer import Peer
    from etcd.rafthttp.transport import Transport

logger = logging.getLogger("etcd.rafthttp")

# etcd 3.4 compat: rafthttp/stream.go streamBufSize.
STREAM_BUF_SIZE = 4096
# One write takes what is queued, up to about this much (appends may be up to 1 MiB each).
MAX_BATCH_BYTES = 4 << 20
STREAM_MESSAGE_PATH = "/raft/stream/message"
STREAM_MSGAPP_PATH = "/raft/stream/msgapp"
# etcd 3.4 compat: msgappv2_codec.go msgTypeLinkHeartbeat, a frame of one byte.
MSGAPP_V2_LINK_HEARTBEAT = b"\x00"
SOURCE = "stream Message"  # etcd's streamTypeMessage.String(), in failure texts


class OutgoingConn:
    """A peer's stream request we answer: the open response, and the future its handler waits on."""

    __slots__ = ("done", "resp")

    def __init__(self, resp: web.StreamResponse) -> None:
        self.resp = resp
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def close(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def serve_msgapp_heartbeats(tr: Transport, peer: Peer, resp: web.StreamResponse) -> None:
    """Answer etcd's other stream, ``/raft/stream/msgapp/<id>`` ("msgappv2"), with link heartbeats only.

    A real etcd 3.4 peer dials it beside the message stream; refused, it marks us inactive on every retry.
    Kept open and fed heartbeats, it is content; we never send on it (our appends go by the message
    stream, which etcd reads as well), and we never dial it, so etcd sends us everything on the message
    stream. Returns when the peer goes, the peer is removed, or the transport closes.
    """
    conn = OutgoingConn(resp)
    peer.msgapp_conns.add(conn)
    try:
        while not conn.done.done():
            await asyncio.wait({conn.done}, timeout=tr.read_timeout / 3)
            if conn.done.done():
                return
            async with asyncio.timeout(tr.write_timeout):
                await resp.write(MSGAPP_V2_LINK_HEARTBEAT)
    except (OSError, TimeoutError, RuntimeError, aiohttp.ClientError):
        return
    finally:
        peer.msgapp_conns.discard(conn)


class StreamWriter:
    """Sends to one peer over the stream the peer dialed. ``working`` while such a stream is attached."""

    def __init__(self, tr: Transport, peer: Peer) -> None:
        self._tr = tr
        self._peer = peer
        self._queue: collections.deque[bytes] = collections.deque()
        self._conn: OutgoingConn | None = None
        self._wake = asyncio.Event()
        self._sent_bytes = metrics.sent_bytes.labels(compat.id_str(peer.id))
        self.batches = 0  # writes made (tests: batching happened)
        self.frames = 0

    @property
    def working(self) -> bool:
        return self._conn is not None

    def start(self) -> None:
        self._peer.spawn(self._run(), f"rafthttp-stream-writer-{self._peer.id:x}")

    def enqueue(self, frame: bytes) -> bool:
        """Queue a framed message; False (nothing queued) if the queue is full or no stream is attached."""
        if self._conn is None or len(self._queue) >= STREAM_BUF_SIZE:
            return False
        self._queue.append(frame)
        self._wake.set()
        return True

    def attach(self, resp: web.StreamResponse) -> asyncio.Future[None]:
        """Adopt a newly dialed stream (closing the previous one); its handler awaits the returned future,
        which resolves when the stream is closed here."""
        self._close_conn()
        conn = OutgoingConn(resp)
        self._conn = conn
        self._peer.status.activate()
        self._wake.set()
        return conn.done

    def detach(self, done: asyncio.Future[None], reason: str) -> None:
        """The handler's request ended (the peer went away): stop writing to it, if it is still ours."""
        if self._conn is not None and self._conn.done is done:
            self._peer.status.deactivate(SOURCE, "write", reason)
            self._close_conn()

    def close(self) -> None:
        self._close_conn()

    def _close_conn(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        conn.close()
        if self._queue:
            # etcd 3.4 compat: stream.go closeUnlocked: queued messages are lost, raft must resend.
            self._queue.clear()
            self._tr.report_unreachable(self._peer.id)

    async def _run(self) -> None:
        idle_limit = self._tr.read_timeout / 3  # etcd: ConnReadTimeout / 3
        last_write = time.monotonic()
        while True:
            if not self._queue:
                self._wake.clear()
                timeout = max(0.0, idle_limit - (time.monotonic() - last_write))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
            conn = self._conn
            if conn is None:
                self._queue.clear()
                last_write = time.monotonic()
                continue
            if self._queue:
                q = self._queue
                frames = [q.popleft()]
                size = len(frames[0])
                while q and size < MAX_BATCH_BYTES:
                    frames.append(q.popleft())
                    size += len(frames[-1])
                n = len(frames)
                data = b"".join(frames) if n > 1 else frames[0]
            elif time.monotonic() - last_write >= idle_limit:
                data, n = codec.LINK_HEARTBEAT, 0
            else:
                continue
            try:
                async with asyncio.timeout(self._tr.write_timeout):
                    await conn.resp.write(data)
            except (OSError, TimeoutError, RuntimeError, aiohttp.ClientError) as e:
                if conn is self._conn:
                    self._peer.status.deactivate(SOURCE, "write", str(e) or type(e).__name__)
                    self._tr.report_unreachable(self._peer.id)
                    self._close_conn()
                continue
            last_write = time.monotonic()
            if n:
                self._sent_bytes.inc(len(data))
                self.batches += 1
                self.frames += n


class StreamReader:
    """Dials the peer's stream and steps what arrives into raft, reconnecting after failures."""

    def __init__(self, tr: Transport, peer: Peer) -> None:
        self._tr = tr
        self._peer = peer
        self._from = compat.id_str(peer.id)
        self._received = metrics.received_bytes.labels(self._from)
        self.connects = 0  # successful dials (tests: reconnection happened)
        self.last_error: BaseException | None = None

    def start(self) -> None:
        self._peer.spawn(self._run(), f"rafthttp-stream-reader-{self._peer.id:x}")

    async def _run(self) -> None:
        backoff = self._tr.reconnect_min
        while True:
            url = self._peer.picker.pick()
            try:
                await self._dial_and_read(url)
                backoff = self._tr.reconnect_min  # it worked for a while: dial again soon
            except ErrMemberRemoved as e:
                self._peer.picker.unreachable(url)
                self._tr.report_critical(e)
                return
            except (TransportError, aiohttp.ClientError, OSError, TimeoutError, ValueError, DecodeError) as e:
                self.last_error = e
                self._peer.picker.unreachable(url)
                self._peer.status.deactivate(SOURCE, "dial", str(e) or type(e).__name__)
                logger.debug("stream from %x: %s", self._peer.id, e)
            except Exception as e:  # raft refused a message in a way it should not: say so, keep reading
                self.last_error = e
                logger.exception("stream from %x failed", self._peer.id)
                self._peer.status.deactivate(SOURCE, "read", str(e) or type(e).__name__)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._tr.reconnect_max)

    async def _dial_and_read(self, url: str) -> None:
        tr = self._tr
        headers = compat.request_headers(tr.id, tr.cluster_id, tr.urls, to=self._peer.id)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=tr.dial_timeout, sock_read=tr.read_timeout)
        target = f"{url}{STREAM_MESSAGE_PATH}/{compat.id_str(tr.id)}"
        async with tr.session.get(target, headers=headers, timeout=timeout) as resp:
            if resp.status == 410:
                raise ErrMemberRemoved()
            if resp.status == 404:
                raise ErrUnexpectedStatus(
                    f"peer {self._from} failed to find local node {compat.id_str(tr.id)}"
                )
            if resp.status == 412:
                raise compat.precondition_error(await resp.text())
            if resp.status != 200:
                raise ErrUnexpectedStatus(f"unhandled http status {resp.status}")
            self.connects += 1
            self._peer.status.activate()
            try:
                await self._read(resp)
            except (TransportError, aiohttp.ClientError, OSError, TimeoutError, DecodeError):
                metrics.received_failures.labels(self._from).inc()
                raise

    async def _read(self, resp: aiohttp.ClientResponse) -> None:
        decoder = codec.Decoder()
        deliver = self._tr.deliver
        while True:
            data = await resp.content.readany()
            if not data:
                return  # closed by the peer
            size = 0
            for payload in decoder.feed(data):
                if payload:
                    size += len(payload)
                    m = Message.FromString(payload)
                    if m.from_ or not codec.is_link_heartbeat(m):
                        deliver(m)
            if size:
                self._received.inc(size)
