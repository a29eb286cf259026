"""The WAL's Prometheus metrics, named and typed as etcd 3.4's ``wal/metrics.go``."""

from __future__ import annotations

from prometheus_client import Gauge, Histogram

wal_fsync_duration_seconds = Histogram(
    "etcd_disk_wal_fsync_duration_seconds",
    "The latency distributions of fsync called by WAL.",
    buckets=[0.001 * 2**i for i in range(14)],
)

# etcd 3.4 compat: wal/metrics.go walWriteBytes is a gauge whose name ends in _total.
wal_write_bytes = Gauge(
    "etcd_disk_wal_write_bytes_total",
    "Total number of bytes written in WAL.",
)
