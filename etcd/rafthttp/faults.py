"""Fault injection for tests: a transport that drops messages to or from chosen peers (a partition).

Drops are silent, as a cut network cable: nothing is reported to raft. Connections stay up; only the
raft messages they carry are lost, in each direction that is configured.
"""

from __future__ import annotations

from collections.abc import Iterable


class Faults:
    """The drop rules of one transport; change them at any time (takes effect on the next message)."""

    def __init__(self) -> None:
        self.drop_to: set[int] = set()
        self.drop_from: set[int] = set()
        self.dropped = 0  # messages dropped so far, both directions

    def isolate(self, peers: Iterable[int]) -> None:
        """Drop everything to and from ``peers`` (do it on one side of a partition: both directions)."""
        ids = set(peers)
        self.drop_to |= ids
        self.drop_from |= ids

    def heal(self) -> None:
        self.drop_to.clear()
        self.drop_from.clear()

    def drops_to(self, peer: int) -> bool:
        if peer in self.drop_to:
            self.dropped += 1
            return True
        return False

    def drops_from(self, peer: int) -> bool:
        if peer in self.drop_from:
            self.dropped += 1
            return True
        return False
