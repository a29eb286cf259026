"""The backend's one write transaction (etcd's ``mvcc/backend/batch_tx.go``)."""

from __future__ import annotations

from etcd.backend.read_tx import ReadTx, bucket_prefix


class BatchTx(ReadTx):
    """Writes into the open batch; ``with tx:`` holds the backend lock for the whole block.

    Leaving the block commits when the batch holds ``batch_limit`` writes; otherwise the backend's
    timer commits it within ``batch_interval``, or ``Backend.force_commit`` does. Everything written
    inside one ``with`` block lands in the same RocksDB write batch, so it survives a crash whole or
    not at all. Reads through this object see the batch's own writes.
    """

    def __enter__(self) -> BatchTx:
        super().__enter__()
        self._be._write_depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._be._write_depth -= 1
            # Only the outermost block may commit: a nested one (the lessor deleting a lease record inside
            # mvcc's write transaction) must not split that transaction from its consistent index.
            if self._be._write_depth == 0 and self._be._buf.writes >= self._be.batch_limit:
                self._be._commit_locked()
        finally:
            self._be._lock.release()

    def unsafe_create_bucket(self, bucket: bytes) -> None:
        """Buckets are key prefixes, so there is nothing to create; validates the name."""
        bucket_prefix(bucket)

    def unsafe_put(self, bucket: bytes, key: bytes, value: bytes) -> None:
        self._be._buf.put(bucket, key, value)

    # etcd's UnsafeSeqPut hints bbolt that keys arrive in order; RocksDB needs no hint.
    unsafe_seq_put = unsafe_put

    def unsafe_delete(self, bucket: bytes, key: bytes) -> None:
        self._be._buf.put(bucket, key, None)
