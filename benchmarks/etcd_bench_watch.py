"""Watch fan-out for the etcd benchmark: N watchers on one key, M puts to it, every event counted.

``fanout`` opens ``watchers`` Watch streams (grpcio aio, our generated stubs) spread over a few channels
and client processes, each watching the same key, waits until every watch is created, then puts ``puts``
values to the key from ``put_concurrency`` concurrent callers on a channel of their own. Each watcher
counts the distinct put revisions it sees; a watcher that has not seen all of them when the bound runs
out has lost the rest. Latency of an event = its arrival at a watcher minus the moment its put was sent.

On a small machine the Python clients, not the real etcd, bound the events per second (etcd spends ~5 µs
of CPU per event delivered); its event latencies then show the clients' backlog. The member's CPU per
event, which ``etcd_bench`` reports beside, does not depend on the clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
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


async def _watch_group(
    target: str, watchers: int, channels: int, puts: int, timeout: float, conn: Connection
) -> list[list[tuple[int, float]]]:
    """``watchers`` Watch streams over ``channels`` channels; says "created" on ``conn`` once all are, then
    records until each has seen ``puts`` revisions or ``timeout`` has gone by. One list per watcher."""
    import grpc

    watch_channels = [grpc.aio.insecure_channel(target) for _ in range(max(1, min(channels, watchers)))]
    arrivals: list[list[tuple[int, float]]] = [[] for _ in range(watchers)]
    created = [asyncio.Event() for _ in range(watchers)]
    tasks: list[asyncio.Task[None]] = []
    try:
        stubs = [watch_stub(c) for c in watch_channels]
        for i in range(watchers):
            stub = stubs[i % len(stubs)]
            tasks.append(asyncio.create_task(_watcher(stub, created[i], arrivals[i], puts)))
        all_created: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*(e.wait() for e in created)))
        await asyncio.wait([all_created, *tasks], timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if not all_created.done():  # a watcher failed, or 30 s went by
            all_created.cancel()
            failed = [t.exception() for t in tasks if t.done() and t.exception() is not None]
            conn.send(("error", f"the watches were not all created: {failed[0] if failed else 'timeout'}"))
            return arrivals
        conn.send(("created", None))
        await asyncio.wait(tasks, timeout=timeout)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        for channel in watch_channels:
            await channel.close()
    return arrivals


def _watch_process(
    target: str, watchers: int, channels: int, puts: int, timeout: float, conn: Connection
) -> None:
    """A client process's body: its watchers' arrivals go back on ``conn`` as ("arrivals", lists)."""
    try:
        arrivals = asyncio.run(_watch_group(target, watchers, channels, puts, timeout, conn))
        conn.send(("arrivals", arrivals))
    except Exception as e:  # reported to the parent, which raises it
        conn.send(("error", f"{type(e).__name__}: {e}"))
    finally:
        conn.close()


async def _put_all(target: str, puts: int, concurrency: int, timeout: float) -> dict[int, float]:
    """``puts`` puts to WATCH_KEY from ``concurrency`` callers; put revision -> when its request was sent."""
    import grpc

    sent_at: dict[int, float] = {}
    remaining = [puts]
    async with grpc.aio.insecure_channel(target) as channel:
        kv = kv_stub(channel)

        async def putter() -> None:
            while remaining[0] > 0:
                remaining[0] -= 1
                t = time.perf_counter()
                response = await kv.Put(rpc_pb2.PutRequest(key=WATCH_KEY, value=b"x" * 8), timeout=timeout)
                sent_at[response.header.revision] = t

        await asyncio.wait_for(asyncio.gather(*(putter() for _ in range(concurrency))), timeout)
    return sent_at


def _receive(conn: Connection, want: str, timeout: float) -> Any:
    if not conn.poll(timeout):
        raise RuntimeError(f"watch client: no {want!r} within {timeout:.0f}s")
    kind, value = conn.recv()
    if kind != want:
        raise RuntimeError(f"watch client: {value}")
    return value


def fanout(
    target: str, *, watchers: int = 100, puts: int = 2000, put_concurrency: int = 16, channels: int = 10,
    processes: int = 2, timeout: float = 60.0,
) -> FanoutRun:  # fmt: skip
    """Runs the fan-out against ``target`` (host:port); ``timeout`` bounds the put and delivery phase.

    The watchers run in ``processes`` client processes of their own (spawned, each with its share of
    watchers and channels), so that reading 100 x 2000 events in Python does not bound what is measured
    on one core; the puts come from this process. ``time.perf_counter`` is the system's monotonic clock,
    the same in every process, so arrival minus send is a latency across them.
    """
    processes = max(1, min(processes, watchers))
    context = multiprocessing.get_context("spawn")
    shares = [watchers // processes + (1 if i < watchers % processes else 0) for i in range(processes)]
    clients: list[tuple[BaseProcess, Connection]] = []
    arrivals: list[list[tuple[int, float]]] = []
    try:
        for share in shares:
            mine, theirs = context.Pipe()
            share_channels = max(1, round(channels * share / watchers))
            args = (target, share, share_channels, puts, timeout, theirs)
            process = context.Process(target=_watch_process, args=args, daemon=True)
            process.start()
            theirs.close()
            clients.append((process, mine))
        for _, conn in clients:
            _receive(conn, "created", 60.0)
        t0 = time.perf_counter()
        sent_at = asyncio.run(_put_all(target, puts, put_concurrency, timeout))
        put_seconds = time.perf_counter() - t0
        for _, conn in clients:
            arrivals.extend(_receive(conn, "arrivals", timeout + 30.0))
    finally:
        for client, conn in clients:
            client.join(10)
            if client.is_alive():
                client.terminate()  # our own child, by its PID
                client.join(5)
            conn.close()
    latencies = sorted((at - sent_at[rev]) * 1000 for per in arrivals for rev, at in per if rev in sent_at)
    received = len(latencies)
    last = max((at for per in arrivals for _, at in per), default=t0)
    deliver = (t0 + timeout if received < watchers * puts else last) - t0
    return FanoutRun(
        watchers=watchers, puts=puts, expected=watchers * puts, received=received,
        lost=watchers * puts - received, put_seconds=put_seconds, deliver_seconds=deliver,
        events_per_s=received / deliver if deliver > 0 else 0.0,
        p50_ms=percentile(latencies, 0.5), p99_ms=percentile(latencies, 0.99),
    )  # fmt: skip
