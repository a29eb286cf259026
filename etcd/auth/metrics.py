"""The auth store's Prometheus metric, named as etcd 3.4's ``auth/metrics.go``."""

from __future__ import annotations

from prometheus_client import Gauge

current_auth_revision = Gauge("etcd_debugging_auth_revision", "The current revision of auth store.")
# Reports 0 until an AuthStore is opened; each store opened then reports its own revision (etcd's
# reportCurrentAuthRev is overridden by store initialization the same way).
current_auth_revision.set_function(lambda: 0.0)
