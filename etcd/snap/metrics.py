"""The snapshotter's Prometheus metrics, named as etcd 3.4's ``snap/metrics.go``."""

from __future__ import annotations

from prometheus_client import Histogram

snap_fsync_duration_seconds = Histogram(
    "etcd_snap_fsync_duration_seconds",
    "The latency distributions of fsync called by snap.",
    buckets=[0.001 * 2**i for i in range(14)],
)

snap_db_save_total_duration_seconds = Histogram(
    "etcd_snap_db_save_total_duration_seconds",
    "The total latency distributions of v3 snapshot save",
    buckets=[0.1 * 2**i for i in range(10)],
)

snap_db_fsync_duration_seconds = Histogram(
    "etcd_snap_db_fsync_duration_seconds",
    "The latency distributions of fsyncing .snap.db file",
    buckets=[0.001 * 2**i for i in range(14)],
)

snap_save_total_duration_seconds = Histogram(
    "etcd_debugging_snap_save_total_duration_seconds",
    "The total latency distributions of save called by snapshot.",
    buckets=[0.001 * 2**i for i in range(14)],
)

snap_marshalling_duration_seconds = Histogram(
    "etcd_debugging_snap_save_marshalling_duration_seconds",
    "The marshalling cost distributions of save called by snapshot.",
    buckets=[0.001 * 2**i for i in range(14)],
)
