"""The lessor's Prometheus metrics, named as etcd 3.4's ``lease/metrics.go``."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

lease_granted = Counter("etcd_debugging_lease_granted_total", "The total number of granted leases.")

lease_revoked = Counter("etcd_debugging_lease_revoked_total", "The total number of revoked leases.")

lease_renewed = Counter(
    "etcd_debugging_lease_renewed_total", "The number of renewed leases seen by the leader."
)

lease_total_ttls = Histogram(
    "etcd_debugging_lease_ttl_total",
    "Bucketed histogram of lease TTLs.",
    # 1 second to about 3 months, as etcd's ExponentialBuckets(1, 2, 24).
    buckets=[float(2**i) for i in range(24)],
)
