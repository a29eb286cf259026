"""The backend's Prometheus metrics, named and typed as etcd 3.4's ``mvcc/backend/metrics.go``."""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

commit_sec = Histogram(
    "etcd_disk_backend_commit_duration_seconds",
    "The latency distributions of commit called by backend.",
    buckets=[0.001 * 2**i for i in range(14)],
)

# etcd 3.4 times the bolt commit's write phase separately under this name; ours is the RocksDB write.
commit_write_sec = Histogram(
    "etcd_debugging_disk_backend_commit_write_duration_seconds",
    "The latency distributions of commit.write called by bboltdb backend.",
    buckets=[0.001 * 2**i for i in range(14)],
)

defrag_sec = Histogram(
    "etcd_disk_backend_defrag_duration_seconds",
    "The latency distribution of backend defragmentation.",
    buckets=[0.1 * 2**i for i in range(13)],
)

snapshot_transfer_sec = Histogram(
    "etcd_disk_backend_snapshot_duration_seconds",
    "The latency distribution of backend snapshots.",
    buckets=[0.01 * 2**i for i in range(17)],
)

defrag_inflight = Gauge(
    "etcd_disk_defrag_inflight",
    "Whether or not defrag is active on the member. 1 means active, 0 means not.",
)
