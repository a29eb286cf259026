"""``Watcher``: one v2 watch, whose events wait in a bounded queue (``v2store/watcher.go``).

No threads or asyncio here: the store pushes events while it applies a change and calls the
watcher's ``notify`` callback; the consumer (the v2 HTTP layer) takes them with ``next_event``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from etcd.v2store.event import Event

# etcd's watcher channel buffer: a stream watcher this far behind is dropped rather than block the store.
EVENT_QUEUE_CAPACITY = 100


class Watcher:
    """Events for one watch, from ``since_index`` on.

    A one-shot watcher (``stream`` false) receives one event and is then removed from the store; a
    stream watcher stays until ``remove()`` or until it falls ``EVENT_QUEUE_CAPACITY`` events behind,
    when the store drops it. ``removed`` tells the consumer no more events will come once the queue
    is drained. A watcher answered from the history at once is never registered: it holds that one
    event and nothing follows, though ``removed`` stays false (etcd keeps such a stream open, silent).
    ``start_index`` is the store index when the watch began (``X-Etcd-Index``).

    ``notify``, if given, is called (with no arguments, while the store is busy applying a change)
    after each event is queued and when the watcher is dropped, the first time possibly before
    ``Store.watch`` returns; it must only schedule work, e.g. ``loop.call_soon_threadsafe(wakeup.set)``.
    """

    def __init__(
        self,
        *,
        stream: bool,
        recursive: bool,
        since_index: int,
        start_index: int,
        notify: Callable[[], None] | None = None,
        capacity: int = EVENT_QUEUE_CAPACITY,
    ) -> None:
        self.stream = stream
        self.recursive = recursive
        self.since_index = since_index
        self.start_index = start_index
        self.removed = False
        self._notify_cb = notify
        self._capacity = capacity
        self._events: deque[Event] = deque()
        self._unregister: Callable[[], None] | None = None

    def next_event(self) -> Event | None:
        """The oldest undelivered event, or ``None`` if none is waiting."""
        return self._events.popleft() if self._events else None

    def pending(self) -> int:
        """How many events wait in the queue."""
        return len(self._events)

    def remove(self) -> None:
        """Ends the watch (the client went away); safe to call more than once."""
        self._drop()

    def _drop(self) -> None:
        if self.removed:
            return
        self.removed = True
        if self._unregister is not None:
            self._unregister()
            self._unregister = None

    def _deliver(self, e: Event) -> None:
        self._events.append(e)
        if self._notify_cb is not None:
            self._notify_cb()

    def notify(self, e: Event, original_path: bool, deleted: bool) -> bool:
        """Offers ``e``; returns whether this watcher wanted it.

        A watcher wants an event at or after ``since_index`` at its own path (``original_path``),
        below its path if ``recursive``, or the deletion of its path from above (``deleted``).
        """
        if not ((self.recursive or original_path or deleted) and e.index() >= self.since_index):
            return False
        if len(self._events) >= self._capacity:
            # The consumer is too slow; etcd drops the watcher rather than block the store.
            self._drop()
            if self._notify_cb is not None:
                self._notify_cb()
        else:
            self._deliver(e)
        return True
