"""The WAL's Prometheus metrics, named as etcd 3.4's ``wal/metrics.go``."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

wal_fsync_duration_seconds = Histogram(
    "etcd_disk_wal_fsync_duration_seconds",
    "The latency distributions of fsync called by WAL.",
    buckets=[0.001 * 2**i for i in range(14)],
)

wal_write_bytes = Counter(
    "etcd_disk_wal_write_bytes",
    "Total number of bytes written in WAL.",
)
