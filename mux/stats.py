"""Counters the mux keeps per route and for the whole mux, plain numbers ready for any exporter."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

# Seconds from accept to routing decision; sniffing should take well under a millisecond once the
# bytes are there, so the buckets resolve the fast end and still show clients that dawdle.
MATCH_LATENCY_BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


@dataclass(slots=True)
class Histogram:
    """Cumulative-on-read histogram: ``counts[i]`` observations fell at or below ``buckets[i]``."""

    buckets: tuple[float, ...] = MATCH_LATENCY_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(MATCH_LATENCY_BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations at or below it), ending with (+inf, count)."""
        out, running = [], 0
        for bound, n in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out


@dataclass(slots=True)
class RouteStats:
    """One route's counters. ``active`` is a gauge; the rest only grow."""

    matched: int = 0
    active: int = 0
    rejected_limit: int = 0  # matched while the route was at its connection limit
    handoff_failed: int = 0
    deadline_fallback: int = 0  # reached through the fallback after the match deadline
    bytes_in: int = 0  # client to server, as far as the mux sees them (all of them for proxy routes)
    bytes_out: int = 0
    match_latency: Histogram = field(default_factory=Histogram)


@dataclass(slots=True)
class MuxStats:
    """Counters for connections that no single route owns (``Mux.sniffing`` is the gauge beside them)."""

    accepted: int = 0
    unmatched: int = 0
    abandoned: int = 0  # closed by the client before sending a byte
    deadline_expired: int = 0
    sniff_limit: int = 0
    rejected_limit: int = 0  # closed at accept: global connection limit
    errors: int = 0  # unexpected exceptions contained to one connection
