"""Read and write transactions over the store (etcd's ``mvcc/kvstore_txn.go``).

A transaction holds the backend lock from creation to ``end()`` (or the end of its ``with`` block),
so it sees one revision throughout and a write transaction's changes all get the same main revision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Self

from etcd.backend import buckets
from etcd.backend.read_tx import ReadTx
from etcd.mvcc import metrics
from etcd.mvcc.errors import ErrCompacted, ErrFutureRev
from etcd.mvcc.key_index import ErrRevisionNotFound
from etcd.mvcc.mvccpb.kv_pb2 import KeyValue
from etcd.mvcc.revision import Revision, mark_tombstone, rev_to_bytes

if TYPE_CHECKING:
    from etcd.backend.batch_tx import BatchTx
    from etcd.mvcc.kvstore import KVStore, LeaseAttacher


@dataclass(frozen=True)
class RangeOptions:
    """``limit``: at most this many kvs (0: all); ``rev``: read at this revision (0: current);
    ``count``: return only the count."""

    limit: int = 0
    rev: int = 0
    count: bool = False


@dataclass
class RangeResult:
    """``kvs`` in key order; ``rev`` is the store's current revision; ``count`` the keys in range."""

    kvs: list[KeyValue] = field(default_factory=list)
    rev: int = 0
    count: int = 0


class TxnRead:
    """A read view at the store's current revision. Use as ``with store.read() as txn:``."""

    def __init__(self, store: KVStore, tx: ReadTx) -> None:
        self._s = store
        self._tx = tx
        tx.__enter__()
        self._ended = False
        self._first_rev = store.compact_main_rev
        self._rev = store.current_rev
        self._ranges = 0  # for etcd's range/put/delete/txn counters, reported at end()
        self._puts = 0
        self._put_bytes = 0
        self._deletes = 0
        metrics.read_txns.inc()

    def first_rev(self) -> int:
        """The oldest revision still readable (the compacted revision)."""
        return self._first_rev

    def rev(self) -> int:
        """The revision this view reads at."""
        return self._rev

    def range(self, key: bytes, end: bytes | None = None, ro: RangeOptions | None = None) -> RangeResult:
        """Keys in [key, end) (``end`` None: the key alone; ``b"\\0"``: every key >= key).

        Raises:
            ErrFutureRev: ``ro.rev`` is above the current revision.
            ErrCompacted: ``ro.rev`` is below the compacted revision.
        """
        return self._range_keys(key, end, self._rev, ro or RangeOptions())

    def _range_keys(self, key: bytes, end: bytes | None, cur_rev: int, ro: RangeOptions) -> RangeResult:
        self._ranges += 1
        rev = ro.rev
        if rev > cur_rev:
            raise ErrFutureRev()
        if rev <= 0:
            rev = cur_rev
        if rev < self._s.compact_main_rev:
            raise ErrCompacted()
        limit = 1 if ro.count else ro.limit
        revs, total = self._s.kvindex.revisions(key, end, rev, limit)
        if ro.count or not revs:
            return RangeResult([], cur_rev, total)
        values = self._tx.unsafe_get_many(buckets.KEY, [rev_to_bytes(r) for r in revs])
        kvs = []
        for r, v in zip(revs, values, strict=True):
            if v is None:
                raise RuntimeError(f"mvcc: revision {r} in the index is missing from the backend")
            kvs.append(KeyValue.FromString(v))
        return RangeResult(kvs, cur_rev, total)

    def end(self) -> None:
        if not self._ended:
            self._ended = True
            self._tx.__exit__(None, None, None)
            # etcd 3.4 compat: mvcc/metrics_txn.go counts a txn of more than one op as a txn too
            metrics.read_txns.dec()
            if self._ranges + self._puts + self._deletes > 1:
                metrics.txn_counter.inc()
                metrics.txn_counter_debug.inc()
            if self._ranges:
                metrics.range_counter.inc(self._ranges)
                metrics.range_counter_debug.inc(self._ranges)
            if self._puts:
                metrics.put_counter.inc(self._puts)
                metrics.put_counter_debug.inc(self._puts)
                metrics.total_put_size.inc(self._put_bytes)
            if self._deletes:
                metrics.delete_counter.inc(self._deletes)
                metrics.delete_counter_debug.inc(self._deletes)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.end()


class TxnWrite(TxnRead):
    """A write transaction: every change gets main revision ``rev() + 1`` and the next sub revision.

    ``end()`` makes the changes visible: it writes the consistent index into the same batch, advances
    the store's revision and notifies watchers. A transaction without changes leaves the revision alone.
    """

    def __init__(self, store: KVStore, tx: BatchTx) -> None:
        super().__init__(store, tx)
        self._btx = tx
        self.begin_rev = self._rev
        self._changes: list[KeyValue] = []

    def changes(self) -> list[KeyValue]:
        return self._changes

    def range(self, key: bytes, end: bytes | None = None, ro: RangeOptions | None = None) -> RangeResult:
        """As ``TxnRead.range``, seeing this transaction's own changes."""
        rev = self.begin_rev + 1 if self._changes else self.begin_rev
        return self._range_keys(key, end, rev, ro or RangeOptions())

    def put(self, key: bytes, value: bytes, lease: int = 0) -> int:
        """Writes ``key``; returns the revision of this transaction. Attaches ``lease`` (0: none)."""
        s = self._s
        self._puts += 1
        self._put_bytes += len(key) + len(value)
        rev = self.begin_rev + 1
        created = rev
        ver = 0
        old_lease = 0
        try:
            modified, c, ver = s.kvindex.get(key, rev)
            created = c.main
            if s.lease_attacher is not None:
                old_lease = self._lease_of(modified)
        except ErrRevisionNotFound:
            metrics.keys_gauge.inc()
        attacher = s.lease_attacher
        if attacher is not None and lease and lease != old_lease:
            attacher.attach(lease, [key])  # first: an unknown lease raises before anything is written
        idx_rev = Revision(rev, len(self._changes))
        kv = KeyValue(
            key=key, value=value, create_revision=created, mod_revision=rev, version=ver + 1, lease=lease
        )
        self._btx.unsafe_seq_put(buckets.KEY, rev_to_bytes(idx_rev), kv.SerializeToString())
        s.kvindex.put(key, idx_rev)
        self._changes.append(kv)
        if attacher is not None and old_lease and old_lease != lease:
            _detach(attacher, old_lease, key)
        return rev

    def delete_range(self, key: bytes, end: bytes | None = None) -> tuple[int, int]:
        """Deletes the live keys in range; returns (deleted, revision of this transaction or the
        current one when nothing changed)."""
        self._deletes += 1
        rrev = self.begin_rev + 1 if self._changes else self.begin_rev
        keys, revs = self._s.kvindex.range(key, end, rrev)
        for k, r in zip(keys, revs, strict=True):
            self._delete(k, r)
        if keys or self._changes:
            return len(keys), self.begin_rev + 1
        return 0, self.begin_rev

    def _delete(self, key: bytes, modified: Revision) -> None:
        s = self._s
        idx_rev = Revision(self.begin_rev + 1, len(self._changes))
        kv = KeyValue(key=key)
        self._btx.unsafe_seq_put(buckets.KEY, mark_tombstone(rev_to_bytes(idx_rev)), kv.SerializeToString())
        s.kvindex.tombstone(key, idx_rev)
        self._changes.append(kv)
        metrics.keys_gauge.dec()
        if s.lease_attacher is not None:
            old_lease = self._lease_of(modified)
            if old_lease:
                _detach(s.lease_attacher, old_lease, key)

    def _lease_of(self, modified: Revision) -> int:
        got = self._tx.unsafe_range(buckets.KEY, rev_to_bytes(modified))
        return KeyValue.FromString(got[0][1]).lease if got else 0

    def end(self) -> None:
        if self._ended:
            return
        try:
            if self._changes:
                self._s._end_write(self)
        finally:
            super().end()


def _detach(attacher: LeaseAttacher, lease: int, key: bytes) -> None:
    try:
        attacher.detach(lease, [key])
    except Exception:  # etcd 3.4 compat: mvcc/kvstore_txn.go only logs a failed detach (lease gone)
        pass
