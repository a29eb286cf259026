"""Watchers and watch streams (etcd's ``mvcc/watcher.go`` and the ``watcher`` of ``watchable_store.go``).

A ``WatchStream`` owns several watchers and one bounded buffer of ``WatchResponse``s. The store pushes
responses into it from whichever thread writes or syncs; the server drains it with ``poll()`` (never
blocks) or ``get(timeout)`` (blocks, for threads). ``on_ready`` is called after each push so an asyncio
server can wake up with ``loop.call_soon_threadsafe``; it runs under the store's lock and must not block.
When the buffer is full the push fails and the watcher becomes a victim: the store keeps its events and
retries later, so a slow reader delays its events but never loses them.
"""

from __future__ import annotations

import collections
import enum
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from etcd.mvcc import metrics
from etcd.mvcc.errors import ErrEmptyWatcherRange, ErrWatcherDuplicateID, ErrWatcherNotExist
from etcd.mvcc.index import FROM_KEY
from etcd.mvcc.mvccpb.kv_pb2 import Event

if TYPE_CHECKING:
    from etcd.mvcc.watchable_store import WatchableStore

AUTO_WATCH_ID = 0  # etcd's AutoWatchID: the stream picks the id
CHAN_BUF_LEN = 128  # etcd's chanBufLen: responses buffered per stream before watchers become victims


class FilterType(enum.IntEnum):
    """etcd's ``WatchCreateRequest.FilterType``."""

    NOPUT = 0
    NODELETE = 1


@dataclass
class WatchResponse:
    """Events of one or more whole revisions for one watcher.

    ``revision`` is the store revision the watcher has seen up to. An empty ``events`` with
    ``compact_revision`` 0 is a progress notification. ``compact_revision`` > 0 means the watcher's
    start revision was compacted: the watcher is gone and the API layer reports it canceled.
    """

    watch_id: int
    events: list[Event] = field(default_factory=list)
    revision: int = 0
    compact_revision: int = 0


class Watcher:
    """One watch: ``key`` alone (``end`` None), [key, end), or every key >= key (``end`` b"\\0").

    ``min_rev`` is the next revision it has to see. Owned by the store; guarded by the store's lock.
    """

    __slots__ = (
        "compacted",
        "end",
        "filters",
        "id",
        "key",
        "min_rev",
        "prev_kv",
        "restore",
        "stream",
        "victim",
    )

    def __init__(
        self,
        stream: WatchStream,
        id: int,
        key: bytes,
        end: bytes | None,
        min_rev: int,
        filters: frozenset[int],
        prev_kv: bool,
    ) -> None:
        self.stream = stream
        self.id = id
        self.key = key
        self.end = end
        self.min_rev = min_rev
        self.filters = filters
        self.prev_kv = prev_kv
        self.victim = False
        self.compacted = False
        self.restore = False

    def contains(self, key: bytes) -> bool:
        if self.end is None:
            return key == self.key
        if self.end == FROM_KEY:
            return key >= self.key
        return self.key <= key < self.end

    def send(self, resp: WatchResponse) -> bool:
        """Filters and pushes ``resp``; False when the stream's buffer is full (nothing was pushed).

        A response whose events are all filtered out is dropped and counts as sent.
        """
        progress = not resp.events
        if self.filters:
            drop_put = FilterType.NOPUT in self.filters
            drop_delete = FilterType.NODELETE in self.filters
            resp.events = [
                ev
                for ev in resp.events
                if not (ev.type == Event.PUT and drop_put) and not (ev.type == Event.DELETE and drop_delete)
            ]
        if not progress and not resp.events:
            return True
        if self.prev_kv and resp.events:
            resp.events = self.stream.store._with_prev_kvs(resp.events)
        return self.stream._push(resp)


class WatchStream:
    """Watchers sharing one response buffer (etcd's ``watchStream``); made by
    ``WatchableStore.new_watch_stream``. Thread-safe."""

    def __init__(
        self, store: WatchableStore, buf_len: int = CHAN_BUF_LEN, on_ready: Callable[[], None] | None = None
    ) -> None:
        self.store = store
        self.buf_len = buf_len
        self.on_ready = on_ready
        self._buf: collections.deque[WatchResponse] = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._watchers: dict[int, Watcher] = {}
        self._next_id = 0
        self._closed = False
        metrics.watch_stream_gauge.inc()

    def watch(
        self,
        key: bytes,
        end: bytes | None = None,
        start_rev: int = 0,
        *,
        id: int = AUTO_WATCH_ID,
        filters: Collection[int] = (),
        prev_kv: bool = False,
    ) -> int:
        """Starts a watcher; returns its id. ``start_rev`` 0 means from the next revision.

        Raises:
            ErrEmptyWatcherRange: ``end`` is not after ``key`` (or the stream is closed).
            ErrWatcherDuplicateID: ``id`` is already used on this stream.
        """
        if end == b"":
            end = None  # an empty range end is the single key, as in a request
        if end is not None and end != FROM_KEY and key >= end:
            raise ErrEmptyWatcherRange()
        with self.store.backend.read_tx():
            if self._closed:
                raise ErrEmptyWatcherRange()
            if id == AUTO_WATCH_ID:
                while self._next_id in self._watchers:
                    self._next_id += 1
                id = self._next_id
                self._next_id += 1
            elif id in self._watchers:
                raise ErrWatcherDuplicateID()
            w = Watcher(self, id, key, end, start_rev, frozenset(filters), prev_kv)
            self._watchers[id] = w
            self.store._add_watcher(w, start_rev)
            metrics.watcher_gauge.inc()
        return id

    def cancel(self, id: int) -> None:
        """Stops watcher ``id``; responses already buffered for it stay. Raises ErrWatcherNotExist."""
        with self.store.backend.read_tx():
            w = self._watchers.pop(id, None)
            if w is None:
                raise ErrWatcherNotExist()
            self.store._cancel_watcher(w)
            metrics.watcher_gauge.dec()

    def request_progress(self, id: int) -> None:
        """Sends an empty response at the current revision if watcher ``id`` is synced (etcd's
        RequestProgress); a watcher still catching up gets nothing, as its events will tell."""
        with self.store.backend.read_tx():
            w = self._watchers.get(id)
            if w is not None:
                self.store._progress(w)

    def watcher_ids(self) -> list[int]:
        with self.store.backend.read_tx():
            return sorted(self._watchers)

    def close(self) -> None:
        """Cancels every watcher; buffered responses can still be drained."""
        with self.store.backend.read_tx():
            if self._closed:
                return
            self._closed = True
            for w in self._watchers.values():
                self.store._cancel_watcher(w)
            metrics.watcher_gauge.dec(len(self._watchers))
            metrics.watch_stream_gauge.dec()
            self._watchers.clear()

    def _forget(self, w: Watcher) -> None:
        """Called by the store when it drops a compacted watcher."""
        if self._watchers.get(w.id) is w:
            del self._watchers[w.id]
            metrics.watcher_gauge.dec()

    # -- delivery ----------------------------------------------------------------------------------------

    def _push(self, resp: WatchResponse) -> bool:
        with self._cond:
            if len(self._buf) >= self.buf_len:
                return False
            self._buf.append(resp)
            self._cond.notify()
        if self.on_ready is not None:
            self.on_ready()
        return True

    def poll(self, max_items: int = 0) -> list[WatchResponse]:
        """Takes the buffered responses (at most ``max_items``, 0: all) without blocking."""
        with self._cond:
            n = len(self._buf) if max_items <= 0 else min(max_items, len(self._buf))
            return [self._buf.popleft() for _ in range(n)]

    def get(self, timeout: float | None = None) -> WatchResponse | None:
        """Takes the next response, waiting up to ``timeout`` seconds; None if none came."""
        with self._cond:
            if not self._buf and not self._cond.wait_for(lambda: bool(self._buf), timeout):
                return None
            return self._buf.popleft()

    def pending(self) -> int:
        with self._cond:
            return len(self._buf)
