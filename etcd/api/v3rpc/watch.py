"""The Watch service (etcd's ``v3rpc/watch.go``): one bidirectional stream carrying many watchers.

Per gRPC stream, a :class:`ServerWatchStream` owns one mvcc ``WatchStream``. A receiving task turns
each request into watcher operations and control replies; the sending side (the servicer's async
generator) wakes when the store pushes responses (``on_ready`` -> ``loop.call_soon_threadsafe``), when
a control reply is queued, or when the progress ticker fires, and sends, as etcd does:

- create: the ``created`` reply (header at the store revision when the watch was made; on failure
  ``watch_id`` -1, ``canceled`` and the error text in ``cancel_reason``). Events that race ahead of it
  wait until it has been sent. An empty key watches ``"\\0"``; ``start_revision`` 0 means the next one.
- cancel: a ``canceled`` reply, only if the watcher existed.
- progress request: one reply with ``watch_id`` -1 at the current revision (etcd 3.4; not per watcher).
- events: header at the revision the watcher has seen; ``compact_revision`` set means the start
  revision was compacted and the watcher is gone (``canceled``). With ``fragment``, a reply larger than
  ``--max-request-bytes`` is split, every piece but the last flagged ``fragment``.
- progress notify: every ``--experimental-watch-progress-notify-interval``, watchers that asked for it
  and got no events since the last tick get an empty reply at the current revision.

The client closing its sending side does not end the stream (etcd's recvLoop returns quietly); the
client cancelling it does, and every watcher of the stream goes with it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Iterator

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb import rpc_pb2_grpc
from etcd.api.v3rpc import metrics
from etcd.api.v3rpc.header import Header
from etcd.api.v3rpc.server_api import Context, V3Server
from etcd.mvcc import watcher as mvcc_watcher
from etcd.mvcc.errors import ErrWatcherNotExist, MVCCError

# etcd's v3rpc: a progress reply not tied to one watcher (a progress request's answer).
PROGRESS_WATCH_ID = -1
# The watch_id of a created reply whose watch failed (mvcc's Watch returns -1 with the error).
FAILED_WATCH_ID = -1


def fragments(wr: pb.WatchResponse, max_request_bytes: int) -> Iterator[pb.WatchResponse]:
    """``wr`` split so each piece stays under ``max_request_bytes`` where it can (etcd's ``sendFragments``):
    a piece holds at least one event; all pieces but the last carry ``fragment``."""
    if wr.ByteSize() < max_request_bytes or len(wr.events) < 2:
        yield wr
        return
    events = list(wr.events)
    idx = 0
    while True:
        cur = pb.WatchResponse()
        cur.CopyFrom(wr)
        del cur.events[:]
        cur.fragment = True
        for ev in events[idx:]:
            cur.events.append(ev)
            if len(cur.events) > 1 and cur.ByteSize() >= max_request_bytes:
                del cur.events[-1]
                break
            idx += 1
        if idx == len(events):
            cur.fragment = False
        yield cur
        if not cur.fragment:
            return


class ServerWatchStream:
    """The state of one Watch call; see the module docstring. Lives on the event loop."""

    def __init__(self, server: V3Server, hdr: Header) -> None:
        self._server = server
        self._hdr = hdr
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._wake_scheduled = False
        self._ctrl: collections.deque[pb.WatchResponse] = collections.deque()
        # Watchers that asked for progress notifications: True when no events went out since the last tick.
        self._progress: dict[int, bool] = {}
        self._fragment: set[int] = set()
        self._announced: set[int] = set()  # ids whose created reply has been sent
        self._pending: dict[int, list[pb.WatchResponse]] = {}
        self._recv_error: BaseException | None = None
        self._max_request_bytes = server.cfg.max_request_bytes
        self._ws = server.kv.new_watch_stream(on_ready=self._on_ready)

    # -- wake-ups ------------------------------------------------------------------------------------------

    def _on_ready(self) -> None:
        """Called by the store, from whichever thread wrote, under its lock: must not block."""
        if self._wake_scheduled:
            return
        self._wake_scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._do_wake)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            pass

    def _do_wake(self) -> None:
        self._wake_scheduled = False
        self._wake.set()

    # -- receiving -----------------------------------------------------------------------------------------

    async def _recv_loop(self, requests: AsyncIterator[pb.WatchRequest]) -> None:
        try:
            async for req in requests:
                which = req.WhichOneof("request_union")
                if which == "create_request":
                    self._create(req.create_request)
                elif which == "cancel_request":
                    self._cancel(req.cancel_request.watch_id)
                elif which == "progress_request":
                    self._ctrl.append(pb.WatchResponse(header=self._hdr.new(), watch_id=PROGRESS_WATCH_ID))
                # etcd: an unknown request is ignored rather than ending the whole stream.
                self._wake.set()
        except Exception as exc:
            metrics.stream_failures.labels("receive", "watch").inc()
            self._recv_error = exc
            self._wake.set()

    def _create(self, creq: pb.WatchCreateRequest) -> None:
        # etcd: an empty key watches "\0"; an empty range end is the single key.
        key = creq.key or b"\0"
        end = creq.range_end or None
        wsrev = self._server.kv.rev()
        rev = creq.start_revision or wsrev + 1
        try:
            wid = self._ws.watch(
                key,
                end,
                rev,
                id=creq.watch_id,
                filters=[int(f) for f in creq.filters],
                prev_kv=creq.prev_kv,
            )
        except MVCCError as exc:
            wr = pb.WatchResponse(
                header=self._hdr.new(wsrev),
                watch_id=FAILED_WATCH_ID,
                created=True,
                canceled=True,
                cancel_reason=str(exc),
            )
        else:
            if creq.progress_notify:
                self._progress[wid] = True
            if creq.fragment:
                self._fragment.add(wid)
            wr = pb.WatchResponse(header=self._hdr.new(wsrev), watch_id=wid, created=True)
        self._ctrl.append(wr)

    def _cancel(self, wid: int) -> None:
        try:
            self._ws.cancel(wid)
        except ErrWatcherNotExist:
            return
        self._progress.pop(wid, None)
        self._fragment.discard(wid)
        self._ctrl.append(pb.WatchResponse(header=self._hdr.new(), watch_id=wid, canceled=True))

    # -- progress ------------------------------------------------------------------------------------------

    async def _progress_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            for wid, idle in self._progress.items():
                if idle:
                    self._ws.request_progress(wid)
                self._progress[wid] = True

    # -- sending -------------------------------------------------------------------------------------------

    def _to_pb(self, wresp: mvcc_watcher.WatchResponse) -> pb.WatchResponse:
        return pb.WatchResponse(
            header=self._hdr.exact(wresp.revision),
            watch_id=wresp.watch_id,
            events=wresp.events,
            compact_revision=wresp.compact_revision,
            canceled=wresp.compact_revision != 0,
        )

    def _framed(self, wr: pb.WatchResponse) -> Iterator[pb.WatchResponse]:
        if wr.watch_id in self._fragment:
            return fragments(wr, self._max_request_bytes)
        return iter((wr,))

    async def run(self, requests: AsyncIterator[pb.WatchRequest]) -> AsyncGenerator[pb.WatchResponse, None]:
        """Serves the stream until the client cancels it (or its request stream fails)."""
        tasks = [asyncio.create_task(self._recv_loop(requests))]
        interval = self._server.cfg.experimental_watch_progress_notify_interval
        if interval > 0:
            tasks.append(asyncio.create_task(self._progress_loop(interval)))
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                if self._recv_error is not None:
                    raise self._recv_error
                while self._ctrl:
                    c = self._ctrl.popleft()
                    yield c
                    if c.canceled:
                        self._announced.discard(c.watch_id)
                        self._pending.pop(c.watch_id, None)
                    elif c.created:
                        self._announced.add(c.watch_id)
                        for wr in self._pending.pop(c.watch_id, ()):
                            for piece in self._framed(wr):
                                yield piece
                for wresp in self._ws.poll():
                    wr = self._to_pb(wresp)
                    wid = wresp.watch_id
                    if wid not in self._announced:
                        self._pending.setdefault(wid, []).append(wr)
                        continue
                    for piece in self._framed(wr):
                        yield piece
                    if wr.events and self._progress.get(wid):
                        self._progress[wid] = False  # events went out: skip the next progress notify
                    if wr.canceled:
                        self._progress.pop(wid, None)
                        self._fragment.discard(wid)
                        self._announced.discard(wid)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._ws.close()


class WatchServer(rpc_pb2_grpc.WatchServicer):
    def __init__(self, server: V3Server) -> None:
        self._server = server
        self._hdr = Header(server)

    async def Watch(
        self, request_iterator: AsyncIterator[pb.WatchRequest], context: Context
    ) -> AsyncIterator[pb.WatchResponse]:
        stream = ServerWatchStream(self._server, self._hdr)
        async with contextlib.aclosing(stream.run(request_iterator)) as responses:
            async for resp in responses:
                yield resp
