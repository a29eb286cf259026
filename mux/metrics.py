"""Prometheus view of a mux's counters: a collector that reads them when scraped (nothing on the hot path).

from prometheus_client import REGISTRY
REGISTRY.register(MuxCollector(mux))
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from mux.mux import Mux


class MuxCollector(Collector):
    """Exports ``<prefix>_route_*`` per route (label ``route``) and ``<prefix>_*`` for the whole mux."""

    def __init__(self, mux: Mux, prefix: str = "mux") -> None:
        self.mux = mux
        self.prefix = prefix

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        p = self.prefix
        routes = self.mux.routes()
        counters = {
            "matched": "Connections the route matched.",
            "rejected_limit": "Connections closed because the route was at its connection limit.",
            "handoff_failed": "Matched connections the route's target could not take.",
            "deadline_fallback": "Connections sent to the route by the match deadline.",
            "bytes_in": "Bytes from clients the mux passed on for the route.",
            "bytes_out": "Bytes to clients the mux passed on for the route.",
        }
        for name, doc in counters.items():
            family = CounterMetricFamily(f"{p}_route_{name}", doc, labels=["route"])
            for route in routes:
                family.add_metric([route.name], getattr(route.stats, name))
            yield family
        active = GaugeMetricFamily(f"{p}_route_active", "Open connections of the route.", labels=["route"])
        latency = HistogramMetricFamily(
            f"{p}_route_match_latency_seconds", "Time from accept to routing decision.", labels=["route"]
        )
        for route in routes:
            active.add_metric([route.name], route.stats.active)
            h = route.stats.match_latency
            buckets = [(str(bound) if bound != float("inf") else "+Inf", n) for bound, n in h.cumulative()]
            latency.add_metric([route.name], buckets, h.total)
        yield active
        yield latency
        s = self.mux.stats
        for name, doc in {
            "accepted": "Connections accepted.",
            "unmatched": "Connections no route matched.",
            "abandoned": "Connections closed by the client before sending anything.",
            "deadline_expired": "Connections closed at the match deadline.",
            "sniff_limit": "Connections closed for sending too much without a decision.",
            "rejected_limit": "Connections closed at accept by the global limit.",
            "errors": "Unexpected errors contained to one connection.",
        }.items():
            yield CounterMetricFamily(f"{p}_{name}", doc, value=getattr(s, name))
        yield GaugeMetricFamily(f"{p}_sniffing", "Connections being matched now.", value=self.mux.sniffing)
