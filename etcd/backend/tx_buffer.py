"""Writes of the open batch, kept sorted per bucket so reads can merge them with committed data.

etcd's ``mvcc/backend/tx_buffer.go`` plays the same part: its read transactions see the writes of the
batch not yet committed. A deleted key is recorded as ``None`` so it hides the committed value.
"""

from __future__ import annotations

from collections.abc import Iterator

from sortedcontainers import SortedDict


class TxBuffer:
    """Pending puts (bytes) and deletes (``None``) per bucket, in key order. Not thread-safe."""

    def __init__(self) -> None:
        self._buckets: dict[bytes, SortedDict] = {}
        self.writes = 0  # puts and deletes since the last reset, counted as etcd's batchTx.pending

    def put(self, bucket: bytes, key: bytes, value: bytes | None) -> None:
        b = self._buckets.get(bucket)
        if b is None:
            b = self._buckets[bucket] = SortedDict()
        b[key] = value
        self.writes += 1

    def get(self, bucket: bytes, key: bytes) -> tuple[bool, bytes | None]:
        """Returns (found, value); found with ``None`` means the key is deleted in this batch."""
        b = self._buckets.get(bucket)
        if b is None or key not in b:
            return False, None
        return True, b[key]

    def irange(self, bucket: bytes, start: bytes, end: bytes | None) -> Iterator[tuple[bytes, bytes | None]]:
        """Pending entries with ``start <= key < end`` (no upper bound when ``end`` is None)."""
        b = self._buckets.get(bucket)
        if not b:
            return iter(())
        keys = b.irange(start, end, inclusive=(True, False))
        return ((k, b[k]) for k in keys)

    def items(self) -> Iterator[tuple[bytes, bytes, bytes | None]]:
        for bucket, b in self._buckets.items():
            for k, v in b.items():
                yield bucket, k, v

    def __len__(self) -> int:
        return sum(len(b) for b in self._buckets.values())

    def reset(self) -> None:
        self._buckets.clear()
        self.writes = 0
