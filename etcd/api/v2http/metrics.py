"""The v2 keys API's Prometheus metrics, named and labelled as etcd 3.4's ``v2http/metrics.go``.

Received counts every parsed non-watch request by method (a quorum GET is ``QGET``); failed counts the
server's refusals by method and HTTP status; the histogram times successful non-watch requests.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from etcd.api import v2error
from etcd.api.etcdserverpb.etcdserver_pb2 import Request

received = Counter(
    "etcd_http_received_total",
    "Counter of requests received into the system (successfully parsed and authd).",
    ["method"],
)
failed = Counter(
    "etcd_http_failed_total",
    "Counter of handle failures of requests (non-watches), by method (GET/PUT etc.) "
    "and code (400, 500 etc.).",
    ["method", "code"],
)
successful_duration = Histogram(
    "etcd_http_successful_duration_seconds",
    "Bucketed histogram of processing time (s) of successfully handled requests (non-watches), "
    "by method (GET/PUT etc.).",
    ["method"],
    buckets=[0.0005 * 2**i for i in range(13)],
)


def method_of(req: Request) -> str:
    """etcd's ``methodFromRequest``."""
    return "QGET" if req.Method == "GET" and req.Quorum else req.Method


# The labelled children, looked up once each (labels() costs more than the increment on the hot path).
_received: dict[str, Counter] = {}
_durations: dict[str, Histogram] = {}


def report_received(req: Request) -> None:
    method = method_of(req)
    child = _received.get(method)
    if child is None:
        child = _received[method] = received.labels(method)
    child.inc()


def report_completed(req: Request, seconds: float) -> None:
    method = method_of(req)
    child = _durations.get(method)
    if child is None:
        child = _durations[method] = successful_duration.labels(method)
    child.observe(seconds)


def report_failed(req: Request, err: BaseException) -> None:
    code = err.status_code() if isinstance(err, v2error.Error) else 500
    failed.labels(method_of(req), str(code)).inc()
