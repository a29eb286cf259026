"""The store with watchers (etcd's ``mvcc/watchable_store.go`` and ``watchable_store_txn.go``).

Watchers live in one of three places. ``synced`` watchers are current: every write transaction hands
them its events at once, one response per watcher per revision, so a revision is never split.
``unsynced`` watchers started in the past (or were restored) and catch up from the key bucket in
batches of whole revisions. ``victims`` are watchers whose stream buffer was full: their pending batch
is kept and retried, then they rejoin unsynced or synced. Events are thus ordered, never repeated,
never lost while history lasts, and a watcher can resume from any revision not yet compacted.

The catch-up work is done by ``sync_watchers()`` and ``sync_victims()``; call them yourself (tests do,
deterministically) or ``start()`` a daemon thread that runs them every ``sync_interval`` seconds
(victims every 10 ms), as etcd's ``syncWatchersLoop``/``syncVictimsLoop`` goroutines do.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from etcd.backend import buckets
from etcd.backend.backend import Backend
from etcd.mvcc import metrics
from etcd.mvcc.errors import ErrCompacted
from etcd.mvcc.kvstore import COMPACTION_PAUSE, DEFAULT_COMPACTION_BATCH_LIMIT, KVStore, LeaseAttacher
from etcd.mvcc.kvstore_txn import RangeOptions
from etcd.mvcc.mvccpb.kv_pb2 import Event, KeyValue
from etcd.mvcc.revision import Revision, bytes_to_rev, is_tombstone, rev_to_bytes
from etcd.mvcc.watcher import CHAN_BUF_LEN, Watcher, WatchResponse, WatchStream
from etcd.mvcc.watcher_group import WATCH_BATCH_MAX_REVS, EventBatch, WatcherGroup, new_watcher_batch

MAX_WATCHERS_PER_SYNC = 512  # etcd's maxWatchersPerSync
# The most revisions read from the backend by one sync pass; a longer backlog takes several passes.
SYNC_MAX_REVS = 10 * WATCH_BATCH_MAX_REVS
DEFAULT_SYNC_INTERVAL = 0.1  # seconds, etcd's syncWatchersLoop period
VICTIM_INTERVAL = 0.01  # seconds, etcd's syncVictimsLoop period


class WatchableStore(KVStore):
    """A ``KVStore`` whose writes are delivered to watchers; see the module docstring.

    All watcher state is guarded by the backend lock, the one every transaction holds.
    """

    def __init__(
        self,
        backend: Backend,
        lease_attacher: LeaseAttacher | None = None,
        consistent_index: Callable[[], int] | None = None,
        *,
        compaction_batch_limit: int = DEFAULT_COMPACTION_BATCH_LIMIT,
        compaction_pause: float = COMPACTION_PAUSE,
        sync_interval: float = DEFAULT_SYNC_INTERVAL,
    ) -> None:
        self.synced = WatcherGroup()
        self.unsynced = WatcherGroup()
        self.victims: list[dict[Watcher, EventBatch]] = []
        self.sync_interval = sync_interval
        self._loop_stop = threading.Event()
        self._loop: threading.Thread | None = None
        super().__init__(
            backend,
            lease_attacher,
            consistent_index,
            compaction_batch_limit=compaction_batch_limit,
            compaction_pause=compaction_pause,
        )

    def new_watch_stream(
        self, buf_len: int = CHAN_BUF_LEN, on_ready: Callable[[], None] | None = None
    ) -> WatchStream:
        return WatchStream(self, buf_len, on_ready)

    # -- watcher bookkeeping (called by WatchStream under the lock) --------------------------------------

    def _add_watcher(self, w: Watcher, start_rev: int) -> None:
        if start_rev == 0 or start_rev > self.current_rev:
            w.min_rev = max(self.current_rev + 1, start_rev)
            self.synced.add(w)
        else:
            self.unsynced.add(w)

    def _cancel_watcher(self, w: Watcher) -> None:
        if self.synced.delete(w) or self.unsynced.delete(w):
            return
        for batch in self.victims:
            if batch.pop(w, None) is not None:
                return

    def _progress(self, w: Watcher) -> None:
        if w in self.synced:
            # If the buffer is full the watcher is receiving events; no progress needed.
            w.send(WatchResponse(w.id, [], self.current_rev))

    def watcher_count(self) -> int:
        with self.backend.read_tx():
            return len(self.synced) + len(self.unsynced) + sum(len(v) for v in self.victims)

    # -- delivery ----------------------------------------------------------------------------------------

    def _notify(self, rev: int, changes: list[KeyValue]) -> None:
        if not self.synced.watchers:
            return
        evs = []
        for kv in changes:
            if kv.create_revision == 0:
                kv.mod_revision = rev
                evs.append(Event(type=Event.DELETE, kv=kv))
            else:
                evs.append(Event(type=Event.PUT, kv=kv))
        victim: dict[Watcher, EventBatch] = {}
        sent = 0
        for w, eb in new_watcher_batch(self.synced, evs).items():
            resp = WatchResponse(w.id, list(eb.evs), rev)
            if w.send(resp):
                sent += len(resp.events)
            else:
                # Slow watcher: keep its events and move it out of synced until they are delivered.
                w.min_rev = rev + 1
                w.victim = True
                victim[w] = eb
                self.synced.delete(w)
        metrics.events_counter.inc(sent)
        if victim:
            self.victims.append(victim)
            self._report_slow()

    def _report_slow(self) -> None:
        metrics.slow_watcher_gauge.set(len(self.unsynced) + sum(len(v) for v in self.victims))

    def _with_prev_kvs(self, evs: list[Event]) -> list[Event]:
        """Copies of ``evs`` with ``prev_kv`` set to each key's value just before its event."""
        out = []
        for ev in evs:
            e = Event()
            e.CopyFrom(ev)
            try:
                rr = self.range(ev.kv.key, None, RangeOptions(rev=ev.kv.mod_revision - 1))
            except ErrCompacted:
                rr = None
            if rr is not None and rr.kvs:
                e.prev_kv.CopyFrom(rr.kvs[0])
            out.append(e)
        return out

    def sync_watchers(self) -> int:
        """Catches unsynced watchers up by one batch from the key bucket; returns how many remain."""
        with self.backend.read_tx() as tx:
            if not self.unsynced.watchers:
                return 0
            cur_rev = self.current_rev
            wg, min_rev = self.unsynced.choose(MAX_WATCHERS_PER_SYNC, cur_rev, self.compact_main_rev)
            if not wg.watchers or min_rev > cur_rev:
                for w in list(wg.watchers):
                    if w.min_rev > cur_rev:  # restored watchers waiting for a future revision
                        self.unsynced.delete(w)
                        self.synced.add(w)
                return len(self.unsynced)
            upto = min(cur_rev, min_rev + SYNC_MAX_REVS - 1)
            evs = []
            start, end = rev_to_bytes(Revision(min_rev, 0)), rev_to_bytes(Revision(upto + 1, 0))
            for k, v in tx.unsafe_iter(buckets.KEY, start, end):
                kv = KeyValue.FromString(v)
                if not wg.contains_key(kv.key):
                    continue
                if is_tombstone(k):
                    kv.mod_revision = bytes_to_rev(k).main
                    evs.append(Event(type=Event.DELETE, kv=kv))
                else:
                    evs.append(Event(type=Event.PUT, kv=kv))
            wb = new_watcher_batch(wg, evs)
            victims: dict[Watcher, EventBatch] = {}
            for w in list(wg.watchers):
                if w.min_rev < self.compact_main_rev:
                    continue  # its compacted response did not fit; choose() retries it
                if w.min_rev > upto:
                    continue  # nothing of its range was read this pass
                eb = wb.get(w)
                seen = upto
                if eb is not None and eb.more_rev:
                    seen = eb.more_rev - 1
                w.min_rev = seen + 1
                if eb is not None:
                    resp = WatchResponse(w.id, list(eb.evs), seen)
                    if not w.send(resp):
                        w.victim = True
                        victims[w] = eb
                        self.unsynced.delete(w)
                        continue
                    metrics.events_counter.inc(len(resp.events))
                if w.min_rev > cur_rev:
                    self.unsynced.delete(w)
                    self.synced.add(w)
            if victims:
                self.victims.append(victims)
            self._report_slow()
            return len(self.unsynced)

    def sync_victims(self) -> int:
        """Retries the victims' pending batches; returns how many watchers are still victims."""
        with self.backend.read_tx():
            victims, self.victims = self.victims, []
            still: dict[Watcher, EventBatch] = {}
            cur_rev = self.current_rev
            for batch in victims:
                for w, eb in batch.items():
                    # The watcher has seen the store up to, not including, min_rev.
                    resp = WatchResponse(w.id, list(eb.evs), w.min_rev - 1)
                    if not w.send(resp):
                        still[w] = eb
                        continue
                    metrics.events_counter.inc(len(resp.events))
                    w.victim = False
                    if eb.more_rev:
                        w.min_rev = eb.more_rev
                    if w.min_rev <= cur_rev:
                        self.unsynced.add(w)
                    else:
                        self.synced.add(w)
            if still:
                self.victims.append(still)
            if victims:
                self._report_slow()
            return len(still)

    # -- the background loop -----------------------------------------------------------------------------

    def start(self) -> None:
        """Starts the daemon thread running ``sync_victims`` and ``sync_watchers``."""
        if self._loop is None:
            self._loop_stop.clear()
            self._loop = threading.Thread(target=self._run, name="mvcc-watch-sync", daemon=True)
            self._loop.start()

    def _run(self) -> None:
        next_sync = 0.0
        while not self._loop_stop.is_set():
            self.sync_victims()
            now = time.monotonic()
            if now >= next_sync:
                deadline = now + self.sync_interval
                # keep catching up while there is a backlog, within one interval's budget
                while self.sync_watchers() and time.monotonic() < deadline and not self._loop_stop.is_set():
                    pass
                next_sync = time.monotonic() + self.sync_interval
            self._loop_stop.wait(VICTIM_INTERVAL if self.victims else min(self.sync_interval, 0.05))

    def restore(self, backend: Backend) -> None:
        """As ``KVStore.restore``; every synced watcher catches up from the new data."""
        with self.backend.read_tx():
            moved = list(self.synced.watchers)
            for w in moved:
                self.synced.delete(w)
        super().restore(backend)
        with self.backend.read_tx():
            for w in moved:
                w.restore = True
                self.unsynced.add(w)

    def close(self) -> None:
        self._loop_stop.set()
        if self._loop is not None and self._loop is not threading.current_thread():
            self._loop.join()
        self._loop = None
        super().close()
