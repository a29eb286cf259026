"""Named buckets in one RocksDB database, written in batches (etcd's ``mvcc/backend/backend.go``).

Buckets are key prefixes rather than column families: one keyspace means one iterator and one write
batch for everything, a snapshot and a defragmentation that are single range operations, and no
column-family list to declare on open (a bucket a newer version adds needs no migration).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from typing import BinaryIO

from rocksdict import Options, Rdict, WriteBatch, WriteOptions

from etcd.backend import metrics
from etcd.backend import snapshot as snapshot_format
from etcd.backend.batch_tx import BatchTx
from etcd.backend.read_tx import ReadTx, bucket_prefix
from etcd.backend.snapshot import Snapshot
from etcd.backend.tx_buffer import TxBuffer

DEFAULT_BATCH_INTERVAL = 0.1  # seconds, etcd's defaultBatchInterval
DEFAULT_BATCH_LIMIT = 10000  # writes, etcd's defaultBatchLimit
SIZE_CACHE_SECONDS = 1.0  # how stale size() may be between commits


class Backend:
    """Named buckets in one RocksDB database, written in batches.

    Writes collect in the open batch, committed after ``batch_interval`` seconds or ``batch_limit`` writes,
    whichever comes first, or at once by ``force_commit()``. Callers put the applied raft index in the same
    batch as the data it covers, so after a crash both are there or neither is, and replay is idempotent.

    Blocking and thread-safe: one re-entrant lock guards the batch, reads and commits; a daemon thread
    commits on the interval (``batch_interval`` <= 0: no thread; commits happen at ``batch_limit``,
    ``force_commit`` and ``close``). Each commit is one RocksDB write batch, fsynced when ``sync`` (as
    bbolt's commit is), so a batch is wholly on disk or wholly absent after a crash or power loss.
    """

    def __init__(
        self,
        path: str,
        *,
        batch_interval: float = DEFAULT_BATCH_INTERVAL,
        batch_limit: int = DEFAULT_BATCH_LIMIT,
        sync: bool = True,
    ) -> None:
        self.path = path
        self.batch_interval = batch_interval
        self.batch_limit = batch_limit
        os.makedirs(path, exist_ok=True)
        opts = Options(raw_mode=True)
        opts.create_if_missing(True)
        opts.set_keep_log_file_num(2)  # RocksDB's info logs, one more per open otherwise
        self._db = Rdict(path, opts)
        self._wo = WriteOptions()
        self._wo.sync = sync
        self._lock = threading.RLock()
        self._write_depth = 0  # nesting of `with batch_tx()` blocks on the thread holding the lock
        self._buf = TxBuffer()
        self._batch_tx = BatchTx(self)
        self._read_tx = ReadTx(self)
        self._closed = False
        self.commits = 0  # committed batches since open, for tests and metrics
        self._size_cache: tuple[int, float, int] | None = None  # (commits, monotonic time, bytes)
        # Called under the lock after each commit (etcd's backend hooks); must be quick and not raise.
        self.commit_hooks: list[Callable[[], None]] = []
        # The error of the timer's last failed commit (the batch is kept and retried), else None;
        # a server checks it to stop rather than run on without durable state.
        self.commit_error: Exception | None = None
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        if batch_interval > 0:
            self._timer = threading.Thread(target=self._run, name="backend-commit", daemon=True)
            self._timer.start()

    def batch_tx(self) -> BatchTx:
        """The one write transaction; use it as ``with be.batch_tx() as tx:``."""
        return self._batch_tx

    def read_tx(self) -> ReadTx:
        """A read transaction over committed data and the open batch; use it under ``with``."""
        return self._read_tx

    def force_commit(self) -> None:
        """Commits the open batch now (a no-op when it is empty)."""
        with self._lock:
            self._commit_locked()

    def _commit_locked(self) -> None:
        if self._buf.writes == 0:
            return
        if self._closed:
            raise RuntimeError("backend: closed")
        start = time.perf_counter()
        wb = WriteBatch(raw_mode=True)
        for bucket, key, value in self._buf.items():
            full = bucket_prefix(bucket) + key
            if value is None:
                wb.delete(full)
            else:
                wb.put(full, value)
        write_start = time.perf_counter()
        self._db.write(wb, self._wo)
        metrics.commit_write_sec.observe(time.perf_counter() - write_start)
        self._buf.reset()
        self.commits += 1
        metrics.commit_sec.observe(time.perf_counter() - start)
        for hook in self.commit_hooks:
            hook()

    def _run(self) -> None:
        while not self._stop.wait(self.batch_interval):
            with self._lock:
                if self._closed:
                    return
                try:
                    self._commit_locked()
                    self.commit_error = None
                except Exception as err:  # keep the batch and retry; etcd would panic here
                    self.commit_error = err

    def close(self) -> None:
        """Commits what is pending, stops the timer and closes the database. Idempotent."""
        self._stop.set()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.join()
        with self._lock:
            if self._closed:
                return
            self._commit_locked()
            self._closed = True
            self._db.close()

    def size(self) -> int:
        """Bytes the database takes on disk (etcd's ``Size``, the number the quota checks).

        Scanning the directory costs tens of microseconds and every write asks (the quota), so the answer
        is reused until the next commit or for at most ``SIZE_CACHE_SECONDS`` (RocksDB's background
        compactions change it without a commit)."""
        now = time.monotonic()
        cached = self._size_cache
        if cached is not None and cached[0] == self.commits and now - cached[1] < SIZE_CACHE_SECONDS:
            return cached[2]
        total = self._scan_size()
        self._size_cache = (self.commits, now, total)
        return total

    def _scan_size(self) -> int:
        total = 0
        for entry in os.scandir(self.path):
            try:
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat().st_size
            except FileNotFoundError:
                pass  # RocksDB's background compaction removed it since the scan began
        return total

    def size_in_use(self) -> int:
        """Estimated bytes of live data (etcd's ``SizeInUse``); never more than ``size()``."""
        with self._lock:
            live = self._db.property_int_value("rocksdb.estimate-live-data-size") or 0
            mem = self._db.property_int_value("rocksdb.cur-size-all-mem-tables") or 0
        return min(live + mem, self.size())

    def defrag(self) -> None:
        """Commits, flushes and compacts the whole keyspace so deleted data gives its space back.

        Writers wait for the duration, as they do in etcd's defrag.
        """
        start = time.perf_counter()
        metrics.defrag_inflight.set(1)
        try:
            with self._lock:
                self._commit_locked()
                self._db.flush()
                self._db.compact_range(None, None)
                self._size_cache = None
        finally:
            metrics.defrag_inflight.set(0)
            metrics.defrag_sec.observe(time.perf_counter() - start)

    def snapshot(self) -> Snapshot:
        """A point-in-time copy of every bucket, committed first; the caller closes it.

        Writers wait while the copy is written to a temporary file beside the database; the stream is
        then read from that file without holding anything.
        """
        parent = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(prefix=".snapshot-", suffix=".tmp", dir=parent)
        start = time.perf_counter()
        try:
            with os.fdopen(fd, "wb") as f, self._lock:
                self._commit_locked()
                snapshot_format.dump(self._db.items(), f)
                f.flush()
        except BaseException:
            os.unlink(tmp)
            raise
        metrics.snapshot_transfer_sec.observe(time.perf_counter() - start)
        return Snapshot(tmp)

    @staticmethod
    def restore_from(stream: Iterable[bytes] | BinaryIO, path: str) -> None:
        """Creates the database at ``path`` from a ``snapshot()`` stream; open it with ``Backend(path)``.

        Raises:
            SnapshotError: the stream is truncated or corrupt (nothing is left at ``path``).
            FileExistsError: ``path`` is not empty.
        """
        snapshot_format.restore(stream, path)

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
