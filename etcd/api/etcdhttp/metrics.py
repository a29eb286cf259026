"""``/metrics`` and the server gauges read from the member's state at scrape time.

``/metrics`` is prometheus-client's text exposition of the default registry, where every package
registers its own metrics under etcd's names (mvcc, lease, wal, backend, snap, v2store, mux, the v2
HTTP counters, ...), gzip-compressed when the scraper accepts it, as Go's ``promhttp.Handler``.

etcd keeps some ``etcd_server_*`` gauges up to date as the state changes; here they are read from
the bound :class:`EtcdServer` when scraped instead (:class:`ServerStateCollector`): leader
presence, leadership, learner status, leader changes seen (``EtcdServer.leader_changes``), committed
and applied raft indexes, member ID, server and cluster versions, backend quota. Counters the
server increments itself (proposals pending/failed, slow applies, read-index failures, ...) belong
to the server package.
``etcd_server_health_success``/``_failures`` are the ``/health`` handler's own, as in etcd.
"""

from __future__ import annotations

import gzip
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from aiohttp import web
from prometheus_client import REGISTRY, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from etcd.pkg.promgo import GoCounter, fix_exposition
from etcd.version import SERVER_VERSION

if TYPE_CHECKING:
    from etcd.server.etcdserver import EtcdServer

# Go's promhttp names the classic text format 0.0.4, which generate_latest writes.
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_QUOTA_BYTES: Final = 2 * 1024 * 1024 * 1024  # etcd's DefaultQuotaBytes (--quota-backend-bytes=0)

# etcd's Go client exposes no "<name>_created" series.
disable_created_metrics()  # type: ignore[no-untyped-call]


health_success = GoCounter("etcd_server_health_success", "The total number of successful health checks")
health_failures = GoCounter("etcd_server_health_failures", "The total number of failed health checks")


class ServerStateCollector(Collector):
    """The ``etcd_server_*`` gauges derived from one server's state (see the module docstring).

    A process serves one member, as etcd does; :meth:`bind` points the collector at it (held
    weakly, so a stopped server's state is not kept alive by the registry). Unbound, only
    ``etcd_server_version`` is reported.
    """

    def __init__(self) -> None:
        self._server: weakref.ReferenceType[EtcdServer] | None = None

    def bind(self, server: EtcdServer) -> None:
        self._server = weakref.ref(server)

    def describe(self) -> Iterator[Metric]:
        yield from self._families().values()

    def collect(self) -> Iterator[Metric]:
        server = self._server() if self._server is not None else None
        families = self._families()
        version = families["version"]
        version.add_metric([SERVER_VERSION], 1)
        if server is None:
            yield version
            return
        leader = server.leader()
        member = server.cluster.member(server.id)
        families["has_leader"].add_metric([], 1 if leader != 0 else 0)
        families["is_leader"].add_metric([], 1 if leader == server.id else 0)
        families["is_learner"].add_metric([], 1 if member is not None and member.is_learner else 0)
        families["leader_changes"].add_metric([], server.leader_changes)
        families["committed"].add_metric([], server.commit_index())
        families["applied"].add_metric([], server.applied_index())
        families["id"].add_metric([format(server.id, "x")], 1)
        quota = server.cfg.quota_backend_bytes
        families["quota"].add_metric([], DEFAULT_QUOTA_BYTES if quota == 0 else max(quota, 0))
        cluster_version = server.cluster.version
        if cluster_version:  # etcd shows major.minor once the cluster version is decided
            families["cluster_version"].add_metric([".".join(cluster_version.split(".")[:2])], 1)
        yield from families.values()

    @staticmethod
    def _families() -> dict[str, GaugeMetricFamily | CounterMetricFamily]:
        def gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=labels)

        return {
            "leader_changes": CounterMetricFamily(
                "etcd_server_leader_changes_seen", "The number of leader changes seen."
            ),
            "has_leader": gauge(
                "etcd_server_has_leader", "Whether or not a leader exists. 1 is existence, 0 is not."
            ),
            "is_leader": gauge(
                "etcd_server_is_leader", "Whether or not this member is a leader. 1 if is, 0 otherwise."
            ),
            "is_learner": gauge(
                "etcd_server_is_learner", "Whether or not this member is a learner. 1 if is, 0 otherwise."
            ),
            "committed": gauge(
                "etcd_server_proposals_committed_total", "The total number of consensus proposals committed."
            ),
            "applied": gauge(
                "etcd_server_proposals_applied_total", "The total number of consensus proposals applied."
            ),
            "quota": gauge("etcd_server_quota_backend_bytes", "Current backend storage quota size in bytes."),
            "version": gauge(
                "etcd_server_version",
                "Which version is running. 1 for 'server_version' label with current version.",
                ["server_version"],
            ),
            "id": gauge(
                "etcd_server_id",
                "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
                ["server_id"],
            ),
            "cluster_version": gauge(
                "etcd_cluster_version",
                "Which version is running. 1 for 'cluster_version' label with current cluster version",
                ["cluster_version"],
            ),
        }


server_state = ServerStateCollector()
REGISTRY.register(server_state)


async def handle_metrics(request: web.Request, _path: str) -> web.StreamResponse:
    """``GET /metrics``: the default registry in Prometheus' text format (gzip if accepted).

    Like Go's ``promhttp.Handler``, any method is answered.
    """
    body = fix_exposition(generate_latest(REGISTRY))
    headers = {"Content-Type": CONTENT_TYPE}
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        body = gzip.compress(body, compresslevel=1)
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body, headers=headers)
