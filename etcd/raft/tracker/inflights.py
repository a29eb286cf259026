"""The window of in-flight appends to one follower (etcd's ``tracker/inflights.go``)."""

from __future__ import annotations

from collections import deque


class Inflights:
    """The last indexes of MsgApp messages sent but not yet acknowledged, oldest first.

    Invariant: the indexes are increasing and there are at most ``size`` of them. When the window is
    full the leader sends no more appends to that follower until an acknowledgement frees a slot.
    """

    __slots__ = ("_buffer", "size")

    def __init__(self, size: int) -> None:
        if size <= 0:
            raise ValueError("inflights size must be positive")
        self.size = size
        self._buffer: deque[int] = deque()

    def clone(self) -> Inflights:
        """An independent copy with the same contents."""
        c = Inflights(self.size)
        c._buffer = deque(self._buffer)
        return c

    def add(self, inflight: int) -> None:
        """Record a MsgApp whose last entry has index ``inflight``; the window must not be full."""
        if self.full():
            raise AssertionError("cannot add into a full inflights")
        self._buffer.append(inflight)

    def free_le(self, to: int) -> None:
        """Free every in-flight message whose last index is at most ``to``."""
        buf = self._buffer
        while buf and buf[0] <= to:
            buf.popleft()

    def free_first_one(self) -> None:
        """Free the oldest in-flight message (a heartbeat response shows the follower is alive)."""
        if self._buffer:
            self._buffer.popleft()

    def full(self) -> bool:
        return len(self._buffer) >= self.size

    def count(self) -> int:
        return len(self._buffer)

    def reset(self) -> None:
        self._buffer.clear()
