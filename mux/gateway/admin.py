"""The gateway's admin endpoint, on its own address: Prometheus ``/metrics`` and ``/health``.

``/metrics`` has the mux's per-route counters and match-latency histograms (``MuxCollector``) and the
gateway's own: config generation, reloads by result, whether it is draining, open connections.
``/health`` answers 200 ``{"health": "true", ...}`` while serving and 503 once draining, so a load
balancer in front stops sending new connections during the SIGTERM grace.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from mux.metrics import MuxCollector

if TYPE_CHECKING:
    from mux.gateway.app import Gateway


class GatewayCollector(Collector):
    """``mux_gateway_*``: what the gateway adds to the mux's counters."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        g = self.gateway
        yield GaugeMetricFamily(
            "mux_gateway_config_generation", "Configs loaded so far (1 at start).", value=g.generation
        )
        reloads = CounterMetricFamily("mux_gateway_reloads", "Reloads (SIGHUP) by result.", labels=["result"])
        reloads.add_metric(["ok"], g.reloads_ok)
        reloads.add_metric(["error"], g.reloads_failed)
        yield reloads
        yield GaugeMetricFamily(
            "mux_gateway_draining", "1 while draining after SIGTERM.", value=1 if g.draining else 0
        )
        yield GaugeMetricFamily(
            "mux_gateway_open_connections",
            "Connections open now (being matched or routed).",
            value=g.mux.active_connections,
        )
        lines = g.access_log.lines if g.access_log is not None else 0
        yield CounterMetricFamily("mux_gateway_access_log_lines", "Access log lines written.", value=lines)


def make_app(gateway: Gateway) -> web.Application:
    registry = CollectorRegistry()
    registry.register(MuxCollector(gateway.mux))
    registry.register(GatewayCollector(gateway))

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain", charset="utf-8")

    async def health(request: web.Request) -> web.Response:
        body: dict[str, object] = {
            "health": "false" if gateway.draining else "true",
            "generation": gateway.generation,
            "routes": [route.name for route in gateway.mux.routes()],
            "open_connections": gateway.mux.active_connections,
        }
        if gateway.draining:
            body["reason"] = "draining"
        if gateway.last_reload_error:
            body["last_reload_error"] = gateway.last_reload_error
        return web.json_response(body, status=503 if gateway.draining else 200)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/health", health)
    return app
