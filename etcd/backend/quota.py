"""The space quota behind etcd's NOSPACE alarm (etcd's ``etcdserver/quota.go``)."""

from __future__ import annotations

from typing import Any

from etcd.backend.backend import Backend

DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024  # etcd's DefaultQuotaBytes, used when the flag is 0
MAX_QUOTA_BYTES = 8 * 1024 * 1024 * 1024  # etcd warns above this
# etcd's estimates in quota.go: kvOverhead per key-value, leaseOverhead per lease.
KV_OVERHEAD = 256
LEASE_OVERHEAD = 64


class ErrNoSpace(Exception):
    """etcd's ``ErrNoSpace``; the server raises the NOSPACE alarm on it."""

    def __init__(self) -> None:
        super().__init__("etcdserver: mvcc: database space exceeded")


class BackendQuota:
    """Admits a write only while the database, plus the write's estimated cost, stays under the quota.

    ``quota_bytes`` < 0 disables the check (etcd's ``--quota-backend-bytes`` negative), 0 means the
    2 GiB default.
    """

    def __init__(self, backend: Backend, quota_bytes: int = 0) -> None:
        self._be = backend
        self.quota_bytes = DEFAULT_QUOTA_BYTES if quota_bytes == 0 else quota_bytes

    def available(self, cost: int) -> bool:
        if self.quota_bytes < 0:
            return True
        return self._be.size() + cost < self.quota_bytes

    @staticmethod
    def cost_put(key: bytes, value: bytes) -> int:
        """The estimated bytes a put adds: its key and value plus the per-key overhead."""
        return len(key) + len(value) + KV_OVERHEAD

    @staticmethod
    def cost_txn(txn: Any) -> int:
        """etcd's ``costTxn``: the larger of the success and failure branches' put costs (a
        ``TxnRequest`` from ``etcd.mvcc.request`` or ``etcdserverpb``)."""

        def branch(ops: Any) -> int:
            total = 0
            for op in ops:
                if op.WhichOneof("request") == "request_put":
                    total += BackendQuota.cost_put(op.request_put.key, op.request_put.value)
            return total

        return max(branch(txn.success), branch(txn.failure))
