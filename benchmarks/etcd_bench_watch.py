"""Watch fan-out for the etcd benchmark: N watchers on one key, M puts to it, every event counted.

``fanout`` opens ``watchers`` Watch streams (grpcio aio, our generated stubs) spread over a few channels,
each watching the same key, waits until every watch is created, then puts ``puts`` values to the key from
``put_concurrency`` concurrent callers on a channel of their own. Each watcher counts the distinct put
revisions it sees; a watcher that has not seen all of them when the bound runs out has lost the rest.
Latency of an event = its arrival at a watcher minus the moment its put was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.etcd_bench_load import percentile
from benchmarks.etcd_bench_servers import kv_stub, watch_stub
from etcd.api.etcdserverpb import rpc_pb2

WATCH_KEY = b"bench-watch-fanout"


@dataclass(frozen=True)
class FanoutRun:
    watchers: int
    puts: int
    expected: int  # watchers * puts
    received: int  # distinct (watcher, put revision) pairs seen
    lost: int
    put_seconds: float  # first put sent .. last put answered
    deliver_seconds: float  # first put sent .. last event received (or the bound, if events were lost)
    events_per_s: float
    p50_ms: float
    p99_ms: float


async def _watcher(
    stub: Any, created: asyncio.Event, arrivals: list[tuple[int, float]],
    want: int,
) -> None:  # fmt: skip
    """One Watch stream on WATCH_KEY: sets ``created``, then records (revision, arrival) until ``want``."""
    import grpc

    call: Any = stub.Watch()
    try:
        await call.write(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=WATCH_KEY)))
        first = await call.read()
        if not first.created:
            raise RuntimeError(f"watch not created: {first}")
        created.set()
        seen: set[int] = set()
        while len(seen) < want:
            response = await call.read()
            if response is grpc.aio.EOF or response.canceled:
                break  # the stream ended, or the server cancelled the watch
            now = time.perf_counter()
            for event in response.events:
                revision = event.kv.mod_revision
                if revision not in seen:
                    seen.add(revision)
                    arrivals.append((revision, now))
    finally:
        call.cancel()


async def fanout(
    target: str, *, watchers: int = 100, puts: int = 2000, put_concurrency: int = 16, channels: int = 10,
    timeout: float = 60.0,
) -> FanoutRun:  # fmt: skip
    """Runs the fan-out against ``target`` (host:port); ``timeout`` bounds the put and delivery phase."""
    import grpc

    channels = max(1, min(channels, watchers))
    watch_channels = [grpc.aio.insecure_channel(target) for _ in range(channels)]
    put_channel = grpc.aio.insecure_channel(target)
    arrivals: list[list[tuple[int, float]]] = [[] for _ in range(watchers)]
    created = [asyncio.Event() for _ in range(watchers)]
    sent_at: dict[int, float] = {}  # put revision -> when its request was sent
    tasks: list[asyncio.Task[None]] = []
    try:
        stubs = [watch_stub(c) for c in watch_channels]
        for i in range(watchers):
            tasks.append(asyncio.create_task(_watcher(stubs[i % channels], created[i], arrivals[i], puts)))
        all_created: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*(e.wait() for e in created)))
        await asyncio.wait([all_created, *tasks], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if not all_created.done():  # a watcher failed, or 30 s went by
            all_created.cancel()
            failed = [t.exception() for t in tasks if t.done() and t.exception() is not None]
            raise RuntimeError(f"the watches were not all created: {failed[0] if failed else 'timeout'}")

        kv = kv_stub(put_channel)
        value = b"x" * 8
        remaining = [puts]

        async def putter() -> None:
            while remaining[0] > 0:
                remaining[0] -= 1
                t = time.perf_counter()
                response = await kv.Put(rpc_pb2.PutRequest(key=WATCH_KEY, value=value), timeout=timeout)
                sent_at[response.header.revision] = t

        t0 = time.perf_counter()
        deadline = t0 + timeout
        await asyncio.wait_for(asyncio.gather(*(putter() for _ in range(put_concurrency))), timeout)
        put_seconds = time.perf_counter() - t0
        _, pending = await asyncio.wait(tasks, timeout=max(0.1, deadline - time.perf_counter()))
        bounded = bool(pending)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        for channel in (*watch_channels, put_channel):
            await channel.close()
    latencies = sorted((at - sent_at[rev]) * 1000 for per in arrivals for rev, at in per if rev in sent_at)
    received = sum(1 for per in arrivals for rev, _ in per if rev in sent_at)
    last = max((at for per in arrivals for _, at in per), default=t0)
    deliver = (deadline if bounded else last) - t0
    return FanoutRun(
        watchers=watchers, puts=puts, expected=watchers * puts, received=received,
        lost=watchers * puts - received, put_seconds=put_seconds, deliver_seconds=deliver,
        events_per_s=received / deliver if deliver > 0 else 0.0,
        p50_ms=percentile(latencies, 0.5), p99_ms=percentile(latencies, 0.99),
    )  # fmt: skip


def run_fanout(target: str, **kwargs: Any) -> FanoutRun:
    """``fanout`` in an event loop of its own."""
    return asyncio.run(fanout(target, **kwargs))
