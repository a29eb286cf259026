"""The v2 store's Prometheus metrics, named as etcd 3.4's ``etcdserver/api/v2store/metrics.go``.

etcd declares ``reads_failed_total`` and ``writes_failed_total`` too but never registers them, so
its ``/metrics`` has neither; nor do we.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

# Actions of reads: etcd labels a recursive get apart.
GET = "get"
GET_RECURSIVE = "getRecursive"

read_counter = Counter(
    "etcd_debugging_store_reads_total",
    "Total number of reads action by (get/getRecursive), local to this member.",
    ["action"],
)

write_counter = Counter(
    "etcd_debugging_store_writes_total",
    "Total number of writes (e.g. set/compareAndDelete) seen by this member.",
    ["action"],
)

expire_counter = Counter("etcd_debugging_store_expires_total", "Total number of expired keys.")

watch_requests = Counter(
    "etcd_debugging_store_watch_requests_total",
    "Total number of incoming watch requests (new or reestablished).",
)

watcher_count = Gauge("etcd_debugging_store_watchers", "Count of currently active watchers.")
