"""Lease deadlines in time order: the expiry notifier and the checkpoint queue (``lease/lease_queue.go``)."""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from sortedcontainers import SortedList


@dataclass(order=True, slots=True)
class LeaseWithTime:
    """A lease ID with a deadline in clock nanoseconds (expiry or next checkpoint)."""

    time: int
    id: int


class LeaseQueue:
    """A min-heap of ``LeaseWithTime`` by time (then ID): the scheduled checkpoints."""

    def __init__(self) -> None:
        self._heap: list[LeaseWithTime] = []

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, item: LeaseWithTime) -> None:
        heapq.heappush(self._heap, item)

    def peek(self) -> LeaseWithTime:
        return self._heap[0]

    def pop(self) -> LeaseWithTime:
        return heapq.heappop(self._heap)

    def clear(self) -> None:
        self._heap.clear()


class LeaseExpiredNotifier:
    """One deadline per lease, soonest first (ties by ID), for finding expired leases without a scan.

    A lease may still be registered after it is gone: the lessor drops such entries when it meets
    them at the head.
    """

    def __init__(self) -> None:
        self._times: dict[int, int] = {}
        self._order: SortedList = SortedList()

    def __len__(self) -> int:
        return len(self._order)

    def init(self) -> None:
        """Forgets every deadline."""
        self._times.clear()
        self._order.clear()

    def register_or_update(self, item: LeaseWithTime) -> None:
        """Sets the deadline of ``item.id`` to ``item.time``."""
        old = self._times.get(item.id)
        if old is not None:
            self._order.remove((old, item.id))
        self._times[item.id] = item.time
        self._order.add((item.time, item.id))

    def remove(self, lease_id: int) -> None:
        """Forgets the deadline of ``lease_id``, if any."""
        t = self._times.pop(lease_id, None)
        if t is not None:
            self._order.remove((t, lease_id))

    def unregister(self) -> LeaseWithTime:
        """Removes and returns the soonest deadline. The notifier must not be empty."""
        t, lease_id = self._order.pop(0)
        del self._times[lease_id]
        return LeaseWithTime(t, lease_id)

    def poll(self) -> LeaseWithTime | None:
        """The soonest deadline, left in place; ``None`` when empty."""
        if not self._order:
            return None
        t, lease_id = self._order[0]
        return LeaseWithTime(t, lease_id)
