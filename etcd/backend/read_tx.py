"""Reads of the backend: committed data merged with the open batch (etcd's ``mvcc/backend/read_tx.go``).

Buckets are key prefixes in one RocksDB keyspace: a key ``k`` of bucket ``b`` is stored as
``len(b) || b || k``. The length byte keeps one bucket's keys from running into another's (``auth``
and ``authUsers`` share a prefix otherwise) and keeps each bucket contiguous and in key order.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Self, cast

from rocksdict import ReadOptions

if TYPE_CHECKING:
    from etcd.backend.backend import Backend


@functools.cache
def bucket_prefix(bucket: bytes) -> bytes:
    """The RocksDB key prefix of ``bucket``; bucket names are 1 to 255 bytes."""
    if not 0 < len(bucket) < 256:
        raise ValueError(f"bucket name must be 1..255 bytes, got {len(bucket)}")
    return bytes((len(bucket),)) + bucket


def bucket_upper_bound(bucket: bytes) -> bytes:
    """The smallest RocksDB key after every key of ``bucket``."""
    prefix = bucket_prefix(bucket)
    return prefix[:-1] + bytes((prefix[-1] + 1,)) if prefix[-1] < 255 else prefix + b"\xff" * 32


class ReadTx:
    """A read transaction: ``with tx:`` holds the backend lock; the ``unsafe_*`` calls need it held.

    Sees committed data and the writes of the open batch, as etcd's read transaction sees its
    write-back buffer. The lock is the one ``BatchTx`` takes, so a read never sees half of a
    ``with batch_tx:`` block.
    """

    def __init__(self, backend: Backend) -> None:
        self._be = backend

    def __enter__(self) -> Self:
        self._be._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._be._lock.release()

    def unsafe_range(
        self, bucket: bytes, start: bytes, end: bytes | None = None, limit: int = 0
    ) -> list[tuple[bytes, bytes]]:
        """Pairs with ``start <= key < end`` in key order, at most ``limit`` (0: all).

        An empty ``end`` (None or b"") means the single key ``start``, as etcd's ``UnsafeRange``.
        """
        if not end:
            found, value = self._be._buf.get(bucket, start)
            if not found:
                value = self._be._db.get(bucket_prefix(bucket) + start)
            return [] if value is None else [(start, value)]
        out: list[tuple[bytes, bytes]] = []
        if start >= end:
            return out
        for kv in self._merged(bucket, start, end):
            out.append(kv)
            if limit and len(out) >= limit:
                break
        return out

    def unsafe_get_many(self, bucket: bytes, keys: list[bytes]) -> list[bytes | None]:
        """The values of ``keys`` (None where missing), in one RocksDB multi-get for those not pending."""
        buf = self._be._buf
        out: list[bytes | None] = [None] * len(keys)
        todo: list[int] = []
        for i, k in enumerate(keys):
            found, value = buf.get(bucket, k)
            if found:
                out[i] = value
            else:
                todo.append(i)
        if todo:
            prefix = bucket_prefix(bucket)
            got = cast(list[bytes | None], self._be._db.get([prefix + keys[i] for i in todo]))
            for i, v in zip(todo, got, strict=True):
                out[i] = v
        return out

    def unsafe_for_each(self, bucket: bytes, fn: Callable[[bytes, bytes], None]) -> None:
        """Calls ``fn(key, value)`` for every pair of ``bucket`` in key order."""
        for k, v in self._merged(bucket, b"", None):
            fn(k, v)

    def unsafe_iter(self, bucket: bytes, start: bytes, end: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        """Lazily yields pairs with ``start <= key < end`` (``end`` None: to the bucket's end).

        Consume it while the lock is held; a write to the batch while iterating is not allowed.
        """
        return self._merged(bucket, start, end)

    def _merged(self, bucket: bytes, start: bytes, end: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        prefix = bucket_prefix(bucket)
        plen = len(prefix)
        ro = ReadOptions()
        ro.set_iterate_upper_bound(prefix + end if end is not None else bucket_upper_bound(bucket))
        it = self._be._db.iter(ro)
        it.seek(prefix + start)
        pending = self._be._buf.irange(bucket, start, end)
        p = next(pending, None)
        while True:
            ck = it.key()[plen:] if it.valid() else None
            if p is not None and (ck is None or p[0] <= ck):
                k, v = p
                p = next(pending, None)
                if ck == k:
                    it.next()
                if v is not None:
                    yield k, v
            elif ck is not None:
                yield ck, it.value()
                it.next()
            else:
                return
