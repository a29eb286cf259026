"""A set of watchers indexed by key (etcd's ``mvcc/watcher_group.go``), and the per-watcher event
batches built from a list of events."""

from __future__ import annotations

from etcd.mvcc.mvccpb.kv_pb2 import Event
from etcd.mvcc.watcher import Watcher, WatchResponse

# etcd's watchBatchMaxRevs: the most revisions sent to one watcher in one response while catching up.
WATCH_BATCH_MAX_REVS = 1000


class WatcherGroup:
    """Watchers by exact key, plus range watchers scanned per key. Guarded by the store's lock."""

    def __init__(self) -> None:
        self.key_watchers: dict[bytes, set[Watcher]] = {}
        self.ranges: set[Watcher] = set()
        self.watchers: set[Watcher] = set()

    def add(self, w: Watcher) -> None:
        self.watchers.add(w)
        if w.end is None:
            self.key_watchers.setdefault(w.key, set()).add(w)
        else:
            self.ranges.add(w)

    def delete(self, w: Watcher) -> bool:
        if w not in self.watchers:
            return False
        self.watchers.discard(w)
        if w.end is None:
            ws = self.key_watchers.get(w.key)
            if ws is not None:
                ws.discard(w)
                if not ws:
                    del self.key_watchers[w.key]
        else:
            self.ranges.discard(w)
        return True

    def __len__(self) -> int:
        return len(self.watchers)

    def __contains__(self, w: Watcher) -> bool:
        return w in self.watchers

    def contains_key(self, key: bytes) -> bool:
        """Whether some watcher of the group watches ``key``."""
        if key in self.key_watchers:
            return True
        return any(w.contains(key) for w in self.ranges)

    def watcher_set_by_key(self, key: bytes) -> list[Watcher]:
        out = list(self.key_watchers.get(key, ()))
        out.extend(w for w in self.ranges if w.contains(key))
        return out

    def choose(self, max_watchers: int, cur_rev: int, compact_rev: int) -> tuple[WatcherGroup, int]:
        """Up to ``max_watchers`` watchers and the smallest revision they need (etcd's ``choose``).

        Watchers whose ``min_rev`` was compacted get a response with ``compact_revision`` and leave the
        group (and their stream); if their buffer is full they are retried next time.
        """
        if len(self.watchers) <= max_watchers:
            return self, self._choose_all(cur_rev, compact_rev)
        ret = WatcherGroup()
        for w in list(self.watchers):
            if len(ret) >= max_watchers:
                break
            ret.add(w)
        return ret, ret._choose_all(cur_rev, compact_rev, parent=self)

    def _choose_all(self, cur_rev: int, compact_rev: int, parent: WatcherGroup | None = None) -> int:
        min_rev = 1 << 62
        for w in list(self.watchers):
            if w.min_rev > cur_rev:
                # A watcher moved from synced by a restore may wait for a future revision.
                w.restore = False
            if w.min_rev < compact_rev:
                if w.stream._push(WatchResponse(w.id, [], 0, compact_revision=compact_rev)):
                    w.compacted = True
                    self.delete(w)
                    if parent is not None:
                        parent.delete(w)
                    w.stream._forget(w)
                continue
            min_rev = min(min_rev, w.min_rev)
        return min_rev


class EventBatch:
    """Events for one watcher, whole revisions only, at most ``WATCH_BATCH_MAX_REVS`` of them;
    ``more_rev`` is the first revision left out (0: none)."""

    __slots__ = ("evs", "more_rev", "revs")

    def __init__(self) -> None:
        self.evs: list[Event] = []
        self.revs = 0
        self.more_rev = 0

    def add(self, ev: Event) -> None:
        if self.revs > WATCH_BATCH_MAX_REVS:
            return
        if not self.evs:
            self.revs = 1
            self.evs.append(ev)
            return
        if ev.kv.mod_revision > self.evs[-1].kv.mod_revision:
            self.revs += 1
            if self.revs > WATCH_BATCH_MAX_REVS:
                self.more_rev = ev.kv.mod_revision
                return
        self.evs.append(ev)


def new_watcher_batch(wg: WatcherGroup, evs: list[Event]) -> dict[Watcher, EventBatch]:
    """The events each watcher of ``wg`` has not seen yet (mod revision >= its ``min_rev``)."""
    wb: dict[Watcher, EventBatch] = {}
    if not wg.watchers:
        return wb
    for ev in evs:
        for w in wg.watcher_set_by_key(ev.kv.key):
            if ev.kv.mod_revision >= w.min_rev:
                eb = wb.get(w)
                if eb is None:
                    eb = wb[w] = EventBatch()
                eb.add(ev)
    return wb
