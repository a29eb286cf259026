"""The multi-version key-value store (etcd's ``mvcc/kvstore.go``).

Every key-value ever written is kept in bucket ``key`` under its revision (``revision.py``), its value
the marshalled ``mvccpb.KeyValue``; a delete writes a tombstone. The in-memory ``TreeIndex`` maps keys
to revisions and is rebuilt from the bucket on open. Compaction forgets history below a revision.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import NamedTuple, Protocol

from etcd.backend import buckets
from etcd.backend.backend import Backend
from etcd.backend.batch_tx import BatchTx
from etcd.backend.consistent_index import read_consistent_index, write_consistent_index
from etcd.mvcc import metrics
from etcd.mvcc.errors import ErrCompacted, ErrFutureRev
from etcd.mvcc.index import TreeIndex
from etcd.mvcc.kvstore_compaction import FINISHED_COMPACT_KEY, SCHEDULED_COMPACT_KEY, schedule_compaction
from etcd.mvcc.kvstore_txn import RangeOptions, RangeResult, TxnRead, TxnWrite
from etcd.mvcc.mvccpb.kv_pb2 import KeyValue
from etcd.mvcc.revision import Revision, bytes_to_rev, is_tombstone, rev_to_bytes

DEFAULT_COMPACTION_BATCH_LIMIT = 1000  # etcd's --experimental-compaction-batch-limit default
COMPACTION_PAUSE = 0.01  # seconds between compaction batches, as etcd's 10 ms


class KVHash(NamedTuple):
    """What ``hash_by_rev`` returns: the fields of etcd's ``HashKVResponse`` (``revision`` is the
    store's current revision, for the response header)."""

    hash: int
    compact_revision: int
    revision: int


class LeaseAttacher(Protocol):
    """What the store needs of the lessor: keys are attached and detached as they are written.

    Both raise (the lessor's own error, e.g. lease not found) for an unknown lease; ``attach`` with an
    empty key list checks the lease and changes nothing. They are called with the backend lock held,
    so the lessor must never wait for the backend lock while another thread may be inside these calls
    waiting for the lessor's lock (lock order: backend, then lessor).
    """

    def attach(self, lease_id: int, keys: list[bytes]) -> None: ...

    def detach(self, lease_id: int, keys: list[bytes]) -> None: ...


class KVStore:
    """The store over ``backend``; blocking and thread-safe (the backend lock serializes transactions).

    ``consistent_index``, when given, is called at the end of every write transaction that changed
    something, and its value is written into the same backend batch as the changes: the server passes
    the index of the raft entry it is applying. ``lease_attacher`` (None: no lease bookkeeping) is told
    of every key attached to or detached from a lease.

    On open the index is rebuilt from the key bucket; a compaction that was scheduled but not finished
    runs again (``resumed_compaction`` is its future). Physical compaction deletes
    ``compaction_batch_limit`` revisions per backend commit and rests ``compaction_pause`` seconds
    between batches (etcd's ``--experimental-compaction-batch-limit`` and its 10 ms).
    """

    def __init__(
        self,
        backend: Backend,
        lease_attacher: LeaseAttacher | None = None,
        consistent_index: Callable[[], int] | None = None,
        *,
        compaction_batch_limit: int = DEFAULT_COMPACTION_BATCH_LIMIT,
        compaction_pause: float = COMPACTION_PAUSE,
    ) -> None:
        self.backend = backend
        self.compaction_pause = compaction_pause
        self.lease_attacher = lease_attacher
        self.consistent_index_getter = consistent_index
        self.compaction_batch_limit = compaction_batch_limit
        self.kvindex = TreeIndex()
        self.current_rev = 1  # etcd starts at revision 1: an empty store's first write is revision 2
        self.compact_main_rev = -1
        self._stop = threading.Event()
        self._compactor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mvcc-compact")
        self.resumed_compaction: Future[bool] | None = None
        backend.commit_hooks.append(self._report_db_size)
        self._restore()

    # -- transactions ------------------------------------------------------------------------------------

    def read(self) -> TxnRead:
        """A read view at the current revision; end it (``with`` or ``end()``) promptly."""
        return TxnRead(self, self.backend.read_tx())

    def write(self) -> TxnWrite:
        """The write transaction; at most one runs at a time. End it to publish its changes."""
        return TxnWrite(self, self.backend.batch_tx())

    def _end_write(self, txn: TxnWrite) -> None:
        """Called by ``TxnWrite.end`` under the backend lock when the transaction changed something."""
        self._save_index()
        self.current_rev = txn.begin_rev + 1
        metrics.current_rev.set(self.current_rev)
        self._notify(self.current_rev, txn.changes())

    def _report_db_size(self) -> None:
        try:
            size = self.backend.size()
            metrics.db_total_size.set(size)
            metrics.db_total_size_debug.set(size)
            metrics.db_total_size_in_use.set(self.backend.size_in_use())
        except OSError:  # a metric is not worth failing a commit for
            pass

    def _notify(self, rev: int, changes: list[KeyValue]) -> None:
        """Hook for the watchable store; the plain store has no watchers."""

    def _save_index(self) -> None:
        if self.consistent_index_getter is not None:
            write_consistent_index(self.backend.batch_tx(), self.consistent_index_getter())

    # -- one-shot operations -----------------------------------------------------------------------------

    def range(self, key: bytes, end: bytes | None = None, ro: RangeOptions | None = None) -> RangeResult:
        with self.read() as txn:
            return txn.range(key, end, ro)

    def put(self, key: bytes, value: bytes, lease: int = 0) -> int:
        with self.write() as txn:
            return txn.put(key, value, lease)

    def delete_range(self, key: bytes, end: bytes | None = None) -> tuple[int, int]:
        with self.write() as txn:
            return txn.delete_range(key, end)

    def rev(self) -> int:
        with self.backend.read_tx():
            return self.current_rev

    def consistent_index(self) -> int:
        """The applied raft index stored in the backend (0 if none)."""
        with self.backend.read_tx() as tx:
            return read_consistent_index(tx)

    def commit(self) -> None:
        """Writes the consistent index and commits the backend batch now (etcd's ``Commit``)."""
        with self.backend.batch_tx():
            self._save_index()
        self.backend.force_commit()

    # -- compaction and hashing --------------------------------------------------------------------------

    def compact(self, rev: int) -> Future[bool]:
        """Forgets history below ``rev``: reads at older revisions fail with ErrCompacted from now on.

        The index is compacted before returning; the revisions are deleted from the backend by a
        background thread, whose future resolves (True) when done; wait on it for etcd's ``physical``.

        Raises:
            ErrCompacted: ``rev`` is at or below the compacted revision.
            ErrFutureRev: ``rev`` is above the current revision.
        """
        with self.backend.batch_tx() as tx:
            if rev <= self.compact_main_rev:
                raise ErrCompacted()
            if rev > self.current_rev:
                raise ErrFutureRev()
            return self._compact_locked(tx, rev)

    def _compact_locked(self, tx: BatchTx, rev: int) -> Future[bool]:
        """Compacts at ``rev``; the caller holds ``tx``, the backend's batch transaction."""
        self.compact_main_rev = rev
        metrics.compact_rev.set(rev)
        tx.unsafe_put(buckets.META, SCHEDULED_COMPACT_KEY, rev_to_bytes(Revision(rev)))
        # The scheduled revision must be durable before any revision is deleted, so a crash resumes it.
        self.backend.force_commit()
        start = time.perf_counter()
        keep = self.kvindex.compact(rev)
        metrics.index_compaction_pause.observe((time.perf_counter() - start) * 1000)
        return self._compactor.submit(
            schedule_compaction,
            self.backend,
            rev,
            keep,
            batch_limit=self.compaction_batch_limit,
            pause=self.compaction_pause,
            stop=self._stop,
        )

    def hash_by_rev(self, rev: int = 0) -> KVHash:
        """(hash, compact revision, current revision): a CRC-32 of the bucket name and every key-value
        pair of the key bucket at or below ``rev`` (0: current) that compaction keeps. (etcd's
        ``HashByRev`` returns the two revisions the other way round; use the field names.)

        Members with the same history agree on it; etcd hashes with CRC-32C (Castagnoli), we with
        zlib's CRC-32, so our numbers are comparable only among our own members.

        Raises:
            ErrCompacted: ``rev`` is at or below the compacted revision.
            ErrFutureRev: ``rev`` is above the current revision.
        """
        start = time.perf_counter()
        with self.backend.read_tx() as tx:
            compact_rev = self.compact_main_rev
            current = self.current_rev
            if rev > 0 and rev <= compact_rev:
                raise ErrCompacted()
            if rev > current:
                raise ErrFutureRev()
            if rev <= 0:
                rev = current
            keep = self.kvindex.keep(compact_rev)
            lower = Revision(compact_rev + 1, 0)
            h = zlib.crc32(buckets.KEY)
            for k, v in tx.unsafe_iter(buckets.KEY, b"", rev_to_bytes(Revision(rev + 1, 0))):
                kr = bytes_to_rev(k)
                # skip revisions that a running compaction is deleting
                if kr < lower and keep and kr not in keep:
                    continue
                h = zlib.crc32(v, zlib.crc32(k, h))
        metrics.hash_rev_sec.observe(time.perf_counter() - start)
        return KVHash(h, compact_rev, current)

    def hash(self) -> int:
        """A CRC-32 of every bucket's keys and values (etcd's ``Maintenance.Hash``)."""
        start = time.perf_counter()
        with self.backend.read_tx() as tx:
            h = 0
            for bucket in buckets.ALL:
                for k, v in tx.unsafe_iter(bucket, b"", None):
                    h = zlib.crc32(v, zlib.crc32(k, zlib.crc32(bucket, h)))
        metrics.hash_sec.observe(time.perf_counter() - start)
        return h

    # -- open and close ----------------------------------------------------------------------------------

    def _restore(self) -> None:
        be = self.backend
        leases: dict[bytes, int] = {}
        with be.batch_tx() as tx:
            tx.unsafe_create_bucket(buckets.KEY)
            tx.unsafe_create_bucket(buckets.META)
            finished = tx.unsafe_range(buckets.META, FINISHED_COMPACT_KEY)
            if finished:
                self.compact_main_rev = bytes_to_rev(finished[0][1]).main
            scheduled = tx.unsafe_range(buckets.META, SCHEDULED_COMPACT_KEY)
            scheduled_rev = bytes_to_rev(scheduled[0][1]).main if scheduled else 0
            index = self.kvindex
            for k, v in tx.unsafe_iter(buckets.KEY, b"", None):
                rev = bytes_to_rev(k)
                kv = KeyValue.FromString(v)
                self.current_rev = rev.main
                if is_tombstone(k):
                    index.restore_tombstone(kv.key, rev)
                    leases.pop(kv.key, None)
                    continue
                index.restore(kv.key, Revision(kv.create_revision, 0), rev, kv.version)
                if kv.lease:
                    leases[kv.key] = kv.lease
                else:
                    leases.pop(kv.key, None)
            # Keys written by the compacted revisions may all be gone; the revision never goes back.
            self.current_rev = max(self.current_rev, self.compact_main_rev)
            metrics.current_rev.set(self.current_rev)
            metrics.compact_rev.set(max(self.compact_main_rev, 0))
            metrics.keys_gauge.set(sum(1 for ki in index.values() if not ki.generations[-1].is_empty()))
            if scheduled and scheduled_rev > self.compact_main_rev:
                self.resumed_compaction = self._compact_locked(tx, scheduled_rev)
        if self.lease_attacher is not None:
            for key, lease_id in leases.items():
                try:
                    self.lease_attacher.attach(lease_id, [key])
                except Exception:  # etcd 3.4 compat: mvcc/kvstore.go restore only warns on attach errors
                    pass

    def restore(self, backend: Backend) -> None:
        """Switches to ``backend`` (a snapshot received from the leader) and rebuilds all state from it."""
        self._stop.set()
        self._compactor.shutdown(wait=True)
        if self._report_db_size in self.backend.commit_hooks:
            self.backend.commit_hooks.remove(self._report_db_size)
        backend.commit_hooks.append(self._report_db_size)
        self.backend = backend
        self.kvindex = TreeIndex()
        self.current_rev = 1
        self.compact_main_rev = -1
        self._stop = threading.Event()
        self._compactor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mvcc-compact")
        self.resumed_compaction = None
        self._restore()

    def close(self) -> None:
        """Stops a running compaction (it resumes on the next open). The backend stays open."""
        self._stop.set()
        self._compactor.shutdown(wait=True)
        if self._report_db_size in self.backend.commit_hooks:
            self.backend.commit_hooks.remove(self._report_db_size)
