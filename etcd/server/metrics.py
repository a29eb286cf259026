"""The server's own Prometheus metrics, with etcd 3.4's names (``etcdserver/metrics.go``).

The gauges that are a reading of the server's state (has/is leader, leader changes, proposals committed and
applied, ids and versions, quota) are collected from the server on scrape by ``etcd.api.etcdhttp.metrics``;
the ones here count events as they happen.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

proposals_pending = Gauge(
    "etcd_server_proposals_pending", "The current number of pending proposals to commit."
)
proposals_failed = Counter("etcd_server_proposals_failed_total", "The total number of failed proposals seen.")
slow_apply = Counter(
    "etcd_server_slow_apply_total",
    "The total number of slow apply requests (likely overloaded from slow disk).",
)
slow_read_index = Counter(
    "etcd_server_slow_read_indexes_total",
    "The total number of pending read indexes not in sync with leader's or timed out read index requests.",
)
read_index_failed = Counter(
    "etcd_server_read_indexes_failed_total", "The total number of failed read indexes seen."
)
heartbeat_send_failures = Counter(
    "etcd_server_heartbeat_send_failures_total",
    "The total number of leader heartbeat send failures (likely overloaded from slow disk).",
)
snapshot_apply_in_progress = Gauge(
    "etcd_server_snapshot_apply_in_progress_total",
    "1 if the server is applying the incoming snapshot. 0 if none.",
)
lease_expired = Counter("etcd_debugging_server_lease_expired_total", "The total number of expired leases.")
client_requests = Counter(
    "etcd_server_client_requests_total",
    "The total number of client requests per client version.",
    ["type", "client_api_version"],
)
fd_used = Gauge("os_fd_used", "The number of used file descriptors.")
fd_limit = Gauge("os_fd_limit", "The file descriptor limit.")
