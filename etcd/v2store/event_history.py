"""``EventHistory``: the last events of the store, for watchers that start in the past
(``v2store/event_history.go``, ``event_queue.go``)."""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

from etcd.api import v2error
from etcd.v2store.event import Delete, Event, Expire


class EventHistory:
    """A ring of the last ``capacity`` events (refreshes included), with the indices it spans.

    Every successful write advances the store index by one and adds one event, so the events held
    have consecutive indices ``start_index .. last_index``; ``scan`` relies on that, as etcd's does.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.queue: deque[Event] = deque(maxlen=capacity)
        self.start_index = 0
        self.last_index = 0

    def add_event(self, e: Event) -> Event:
        """Appends ``e``, dropping the oldest event when full."""
        self.queue.append(e)
        self.last_index = e.index()
        self.start_index = self.queue[0].index()
        return e

    def scan(self, key: str, recursive: bool, index: int) -> Event | None:
        """The first event at or after ``index`` that a watcher on ``key`` wants, or ``None`` if
        there is none yet (the watcher must wait).

        A watcher wants changes of ``key`` itself, of keys below it if ``recursive``, and the
        deletion or expiry of a directory above it. Refresh events are skipped.

        Raises:
            v2error.Error: 401 when ``index`` is older than the history; its ``index`` is 0 and the
                caller sets it to the store index.
        """
        if index < self.start_index:
            raise v2error.Error(
                v2error.EcodeEventIndexCleared,
                f"the requested history has been cleared [{self.start_index}/{index}]",
                0,
            )
        if index > self.last_index:
            return None
        prefix = key if key.endswith("/") else key + "/"
        for e in itertools.islice(self.queue, index - self.start_index, None):
            if e.refresh:
                continue
            ok = e.node.key == key
            if recursive:
                ok = ok or e.node.key.startswith(prefix)
            if (e.action in (Delete, Expire)) and e.prev_node is not None and e.prev_node.dir:
                ok = ok or key.startswith(e.prev_node.key)
            if ok:
                return e
        return None

    def to_save(self) -> dict[str, Any]:
        """The history as etcd's ``Store.Save`` writes it: a ring of ``capacity`` slots."""
        events: list[dict[str, Any] | None] = [e.to_dict() for e in self.queue]
        size = len(events)
        events.extend([None] * (self.capacity - size))
        return {
            "Queue": {
                "Events": events,
                "Size": size,
                "Front": 0,
                "Back": size % self.capacity,
                "Capacity": self.capacity,
            },
            "StartIndex": self.start_index,
            "LastIndex": self.last_index,
        }

    @classmethod
    def from_save(cls, d: dict[str, Any]) -> EventHistory:
        """The inverse of ``to_save``; also reads etcd's rings, whose front may be anywhere."""
        q = d["Queue"]
        capacity = int(q["Capacity"])
        h = cls(capacity)
        slots = q.get("Events") or []
        front, size = int(q.get("Front", 0)), int(q.get("Size", 0))
        for i in range(size):
            raw = slots[(front + i) % capacity]
            if raw is not None:
                h.queue.append(Event.from_dict(raw))
        h.start_index = int(d.get("StartIndex", 0))
        h.last_index = int(d.get("LastIndex", 0))
        return h
