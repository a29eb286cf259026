"""The peer transport's Prometheus metrics, named and labelled as etcd 3.4's ``rafthttp/metrics.go``.

Peer ids in labels are etcd's ``types.ID`` strings (hex without leading zeros).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from etcd.pkg.promgo import GoCounter

active_peers = Gauge(
    "etcd_network_active_peers", "The current number of active peer connections.", ["Local", "Remote"]
)
disconnected_peers = Counter(
    "etcd_network_disconnected_peers_total", "The total number of disconnected peers.", ["Local", "Remote"]
)
sent_bytes = Counter("etcd_network_peer_sent_bytes_total", "The total number of bytes sent to peers.", ["To"])
received_bytes = Counter(
    "etcd_network_peer_received_bytes_total", "The total number of bytes received from peers.", ["From"]
)
sent_failures = Counter(
    "etcd_network_peer_sent_failures_total", "The total number of send failures from peers.", ["To"]
)
received_failures = Counter(
    "etcd_network_peer_received_failures_total", "The total number of receive failures from peers.", ["From"]
)
# etcd 3.4 compat: lowest bucket 0.1 ms, factor 2, highest 0.0001 * 2^15 = 3.2768 s.
round_trip_time = Histogram(
    "etcd_network_peer_round_trip_time_seconds",
    "Round-Trip-Time histogram between peers",
    ["To"],
    buckets=[0.0001 * 2**i for i in range(16)],
)
_SNAP_BUCKETS = [0.1 * 2**i for i in range(14)]  # 100 ms .. 819.2 s
snapshot_send_success = GoCounter(
    "etcd_network_snapshot_send_success", "Total number of successful snapshot sends", "To"
)
snapshot_send_failures = GoCounter(
    "etcd_network_snapshot_send_failures", "Total number of snapshot send failures", "To"
)
snapshot_send_inflights = Gauge(
    "etcd_network_snapshot_send_inflights_total", "Total number of inflight snapshot sends", ["To"]
)
snapshot_send_seconds = Histogram(
    "etcd_network_snapshot_send_total_duration_seconds",
    "Total latency distributions of v3 snapshot sends",
    ["To"],
    buckets=_SNAP_BUCKETS,
)
snapshot_receive_success = GoCounter(
    "etcd_network_snapshot_receive_success", "Total number of successful snapshot receives", "From"
)
snapshot_receive_failures = GoCounter(
    "etcd_network_snapshot_receive_failures", "Total number of snapshot receive failures", "From"
)
snapshot_receive_inflights = Gauge(
    "etcd_network_snapshot_receive_inflights_total", "Total number of inflight snapshot receives", ["From"]
)
snapshot_receive_seconds = Histogram(
    "etcd_network_snapshot_receive_total_duration_seconds",
    "Total latency distributions of v3 snapshot receives",
    ["From"],
    buckets=_SNAP_BUCKETS,
)
