"""``TTLKeyHeap``: the nodes that carry an expiry, soonest first (``v2store/ttl_key_heap.go``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sortedcontainers import SortedList

if TYPE_CHECKING:
    from etcd.v2store.node import Node


class TTLKeyHeap:
    """Nodes ordered by ``expire_time``, ties broken by path.

    A node is in the heap at most once, under the ``expire_time`` it had when pushed or last updated;
    the caller updates or removes it whenever that changes. Breaking ties by path (etcd leaves them to
    Go's heap) makes the order of expiry a function of the tree alone, the same on every member and
    after a recovery.
    """

    def __init__(self) -> None:
        self._order: SortedList = SortedList()
        self._entries: dict[str, tuple[int, Node]] = {}

    def __len__(self) -> int:
        return len(self._order)

    def top(self) -> Node | None:
        """The node expiring first, or ``None`` when empty."""
        if not self._order:
            return None
        _, path = self._order[0]
        return self._entries[path][1]

    def pop(self) -> Node | None:
        """Removes and returns the node expiring first, or ``None`` when empty."""
        node = self.top()
        if node is not None:
            self.remove(node)
        return node

    def push(self, node: Node) -> None:
        """Adds ``node`` under its current ``expire_time`` (replacing a stale entry at its path)."""
        old = self._entries.get(node.path)
        if old is not None:
            self._order.remove((old[0], node.path))
        self._entries[node.path] = (node.expire_time, node)
        self._order.add((node.expire_time, node.path))

    def update(self, node: Node) -> None:
        """Moves ``node`` to its new ``expire_time``; does nothing if it is not in the heap."""
        entry = self._entries.get(node.path)
        if entry is not None and entry[1] is node:
            self.push(node)

    def remove(self, node: Node) -> None:
        """Takes ``node`` out; does nothing if it is not in the heap."""
        entry = self._entries.get(node.path)
        if entry is not None and entry[1] is node:
            del self._entries[node.path]
            self._order.remove((entry[0], node.path))
