"""Driving the load: workers per kind of traffic for a bounded time, results tallied per kind.

``run_load`` starts ``concurrency`` workers for each kind in the mix; each calls its client in a loop
until the deadline (a request in flight then has ``timeout`` seconds to finish) and records latency,
error, downgrade, and which backend answered. An answer from a backend other than the one expected for
its kind is a misroute: counted apart from successes and errors. A progress line is reported every
``interval`` seconds.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from mux.loadtest.clients import KINDS, Endpoint, Outcome, make

ALIASES = {
    "grpc": ("grpc_unary", "grpc_stream"),
    "http": ("http_keepalive", "http_new_conn", "h2c"),
    "tls": ("https",),
}
ERROR_PAUSE = 0.01  # after a failed request, so a refusing endpoint is not hammered in a busy loop


@dataclass
class KindStats:
    kind: str
    concurrency: int
    expected: str | None = None
    latencies: list[float] = field(default_factory=list)  # seconds, answered by the expected backend
    ok: int = 0
    misroutes: int = 0
    downgraded: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    backends: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def requests(self) -> int:
        return self.ok + self.misroutes + sum(self.errors.values())

    def record(self, outcome: Outcome, latency: float) -> None:
        if outcome.error:
            self.errors[outcome.error] += 1
            return
        backend = outcome.backend or "?"
        self.backends[backend] += 1
        if outcome.downgraded:
            self.downgraded += 1
        if self.expected is not None and backend != self.expected:
            self.misroutes += 1
            return
        self.ok += 1
        self.latencies.append(latency)


@dataclass
class LoadResult:
    target: str
    duration: float  # seconds actually run
    kinds: dict[str, KindStats]

    @property
    def errors(self) -> int:
        return sum(sum(s.errors.values()) for s in self.kinds.values())

    @property
    def misroutes(self) -> int:
        return sum(s.misroutes for s in self.kinds.values())


def parse_mix(text: str) -> dict[str, int]:
    """``grpc_unary=4,https=2`` (or ``all=2``) -> {kind: concurrency}."""
    mix: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, count = part.partition("=")
        n = int(count) if count else 1
        if n < 1:
            raise ValueError(f"{part!r}: concurrency must be at least 1")
        names = KINDS if name == "all" else ALIASES.get(name, (name,))
        for kind in names:
            if kind not in KINDS:
                raise ValueError(f"unknown kind {name!r}; one of {', '.join((*KINDS, *ALIASES, 'all'))}")
            mix[kind] = n
    if not mix:
        raise ValueError("the mix is empty")
    return mix


def parse_expect(items: list[str]) -> dict[str, str]:
    """``["grpc=grpc-a", "https=site"]`` -> {kind: backend}; aliases expand (grpc, http, tls)."""
    expect: dict[str, str] = {}
    for item in items:
        name, sep, backend = item.partition("=")
        if not sep or not backend:
            raise ValueError(f"{item!r}: expected KIND=BACKEND")
        kinds = ALIASES.get(name, (name,))
        for kind in kinds:
            if kind not in KINDS:
                raise ValueError(f"unknown kind {name!r}")
            expect[kind] = backend
    return expect


def progress_line(result: LoadResult, elapsed: float, total: float) -> str:
    parts = [f"[{elapsed:5.1f}s/{total:g}s]"]
    for s in result.kinds.values():
        bad = sum(s.errors.values())
        line = f"{s.kind} {s.ok}"
        if bad:
            line += f" err {bad}"
        if s.misroutes:
            line += f" MISROUTED {s.misroutes}"
        parts.append(line)
    return "  ".join(parts)


async def run_load(
    endpoint: Endpoint,
    mix: Mapping[str, int],
    duration: float,
    *,
    expect: Mapping[str, str] | None = None,
    progress: Callable[[str], None] | None = None,
    interval: float = 1.0,
) -> LoadResult:
    expect = expect or {}
    result = LoadResult(
        f"{endpoint.host}:{endpoint.port}",
        0.0,
        {kind: KindStats(kind, n, expect.get(kind)) for kind, n in mix.items()},
    )
    loop = asyncio.get_running_loop()
    start = loop.time()
    deadline = start + duration

    async def worker(kind: str) -> None:
        stats = result.kinds[kind]
        call, close = make(kind, endpoint)
        try:
            while loop.time() < deadline:
                t0 = time.perf_counter()
                try:
                    outcome = await asyncio.wait_for(call(), endpoint.timeout)
                except TimeoutError:
                    outcome = Outcome(error="timeout")
                except (OSError, EOFError, asyncio.IncompleteReadError, ValueError) as e:
                    outcome = Outcome(error=type(e).__name__)
                except Exception as e:
                    outcome = Outcome(error=f"{type(e).__name__}: {e}"[:80])
                stats.record(outcome, time.perf_counter() - t0)
                if outcome.error:
                    await asyncio.sleep(ERROR_PAUSE)
        finally:
            with contextlib.suppress(Exception):
                await close()

    async def report_progress() -> None:
        assert progress is not None
        while True:
            await asyncio.sleep(interval)
            progress(progress_line(result, loop.time() - start, duration))

    ticker = loop.create_task(report_progress()) if progress is not None else None
    try:
        await asyncio.gather(*(worker(kind) for kind, n in mix.items() for _ in range(n)))
    finally:
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
    result.duration = loop.time() - start
    return result
