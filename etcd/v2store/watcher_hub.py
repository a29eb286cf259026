"""``WatcherHub``: watchers by path and the event history they start from (``v2store/watcher_hub.go``)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from etcd.api import v2error
from etcd.v2store import metrics
from etcd.v2store.event import Event
from etcd.v2store.event_history import EventHistory
from etcd.v2store.watcher import Watcher


def _join(parent: str, name: str) -> str:
    if not name:
        return parent
    return parent + name if parent.endswith("/") else parent + "/" + name


def is_hidden(watch_path: str, key_path: str) -> bool:
    """Whether ``key_path`` is hidden from a watcher at ``watch_path``: some element after the
    watched path starts with ``_``."""
    # Deleting a directory notifies watchers deeper than the deleted key; those are never hidden.
    if len(watch_path) > len(key_path):
        return False
    after = "/" + key_path[len(watch_path) :]
    return "/_" in after


class WatcherHub:
    """Watchers grouped by watched path, plus the history of the last ``capacity`` events.

    ``count`` is the number of registered watchers (``/v2/stats/store`` ``watchers``).
    """

    def __init__(self, capacity: int) -> None:
        self.count = 0
        self.event_history = EventHistory(capacity)
        self._watchers: dict[str, list[Watcher]] = {}
        self._lock = threading.RLock()

    def watch(
        self,
        key: str,
        recursive: bool,
        stream: bool,
        index: int,
        store_index: int,
        notify: Callable[[], None] | None,
    ) -> Watcher:
        """A watcher on ``key`` for events from ``index`` on.

        If the history already holds a wanted event, the watcher gets a copy of it (with
        ``etcd_index`` set to ``store_index``) and is not registered: even a stream watcher then
        ends after that one event, as in etcd.

        Raises:
            v2error.Error: 401 if ``index`` is older than the history, with ``index`` = ``store_index``.
        """
        metrics.watch_requests.inc()
        try:
            event = self.event_history.scan(key, recursive, index)
        except v2error.Error as err:
            err.index = store_index
            raise
        w = Watcher(
            stream=stream, recursive=recursive, since_index=index, start_index=store_index, notify=notify
        )
        with self._lock:
            if event is not None:
                ne = event.clone()
                ne.etcd_index = store_index
                w._deliver(ne)
                return w
            self._watchers.setdefault(key, []).append(w)
            self.count += 1
            metrics.watcher_count.inc()

            def unregister() -> None:
                with self._lock:
                    watchers = self._watchers.get(key)
                    if watchers is not None and w in watchers:
                        watchers.remove(w)
                        self.count -= 1
                        metrics.watcher_count.dec()
                        if not watchers:
                            del self._watchers[key]

            w._unregister = unregister
        return w

    def add(self, e: Event) -> None:
        """Records ``e`` in the history without telling anyone (TTL refreshes)."""
        self.event_history.add_event(e)

    def notify(self, e: Event) -> None:
        """Records ``e`` and offers it to the watchers of its key and of every directory above it."""
        self.event_history.add_event(e)
        curr = "/"
        for segment in e.node.key.split("/"):
            curr = _join(curr, segment)
            self.notify_watchers(e, curr, False)

    def notify_watchers(self, e: Event, node_path: str, deleted: bool) -> None:
        """Offers ``e`` to the watchers registered at ``node_path``; one-shot watchers that take it
        are removed."""
        with self._lock:
            watchers = self._watchers.get(node_path)
            if watchers is None:
                return
            original_path = e.node.key == node_path
            for w in list(watchers):
                if not original_path and is_hidden(node_path, e.node.key):
                    continue
                if w.notify(e, original_path, deleted) and not w.stream:
                    w.removed = True
                    w._unregister = None
                    watchers.remove(w)
                    self.count -= 1
                    metrics.watcher_count.dec()
            if not watchers:
                self._watchers.pop(node_path, None)
