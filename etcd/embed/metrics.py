"""The client ports' mux counters on ``/metrics`` (``mux_route_matched{route="grpc"}``, ``mux_accepted``...).

A member has one mux per client address; ``CLIENT_MUXES`` sums their counters per route at scrape time, so
the exposition has one series per route however many addresses there are. Registered once, in the default
registry that ``/metrics`` exposes; muxes are held weakly and leave it when their member closes.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from mux import Mux
from mux.metrics import MuxCollector


class ClientMuxCollector(Collector):
    """Every registered mux's ``MuxCollector`` families, sample values summed by name and labels."""

    def __init__(self) -> None:
        self._muxes: weakref.WeakSet[Mux] = weakref.WeakSet()

    def add(self, mux: Mux) -> None:
        self._muxes.add(mux)

    def discard(self, mux: Mux) -> None:
        self._muxes.discard(mux)

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        sums: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
        for mux in list(self._muxes):
            for family in MuxCollector(mux).collect():
                if family.name not in merged:
                    merged[family.name] = Metric(family.name, family.documentation, family.type)
                    sums[family.name] = {}
                totals = sums[family.name]
                for sample in family.samples:
                    key = (sample.name, tuple(sorted(sample.labels.items())))
                    totals[key] = totals.get(key, 0.0) + sample.value
        for name, metric in merged.items():
            for (sample_name, labels), value in sums[name].items():
                metric.add_sample(sample_name, dict(labels), value)
            yield metric


CLIENT_MUXES = ClientMuxCollector()
REGISTRY.register(CLIENT_MUXES)
