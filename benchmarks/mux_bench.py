"""What the mux costs: sniffing per connection, connection rate, unary gRPC and bulk bytes, each side by side.

``python -m benchmarks.mux_bench [--quick] [--only sniff,conn,keepalive,grpc,bulk]`` (or ``python -m
benchmarks mux``) measures, in one run:

1. **Sniff cost** (µs per connection, in process): each matcher fed real first bytes (a curl HTTP/1
   request, curl's h2c prior-knowledge flight, a grpcio client's flight captured live, TLS ClientHellos
   from ``tests/mux/data/``), then the etcd-like route set [grpc, http1, h2c, tls] on each kind, then the
   mux runtime itself (accept protocol, match deadline, matching, hand-off to a target that drops the
   connection, or for HTTP/1 a real ``serve_protocol`` hand-off) with a stand-in transport, as cmux's
   ``BenchmarkCMuxConn*`` do with a mock conn.
2. **New connections per second** (wrk, ``Connection: close``) and keep-alive requests per second: one
   aiohttp app served by aiohttp on its own port vs behind the mux.
3. **Unary gRPC** (h2load speaking gRPC framing to a generic echo method; a grpcio client load in its own
   process if h2load is missing or its requests do not reach the servicer): the same grpcio aio server
   directly over TCP vs through the mux, which proxies to its Unix socket.
4. **Bulk MB/s** through the byte proxy (``prefix()`` route -> ``proxy_to`` a Unix-socket sink) vs
   straight to the sink over TCP.

The servers run in one child process (uvloop), started by ``serve`` below: grpcio, the aiohttp app on its
own port and the mux in front of both, as etcd-py deploys them. The load generators and the bulk sink run
in this process or their own. Pairs are run alternately for several rounds (the machine is noisy); the
table shows medians and the median of the per-round ratios mux/direct, and the JSON keeps every round.
The server's CPU time per request (or per MiB) is read from ``/proc``; its ratio direct/mux is the
throughput ratio to expect where the server's CPU is the limit, and it holds still on a busy machine
where throughput does not.

Only 127.0.0.1 and Unix sockets are used. Every loop is bounded in count and time; only processes this
module starts are stopped, by their PID.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import platform
import re
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DATA_DIR = REPO / "tests" / "mux" / "data"
NAME = "mux"

WRK = "/usr/bin/wrk"
H2LOAD = "/usr/bin/h2load"
CURL = "/usr/bin/curl"

ECHO_SERVICE = "bench.Echo"
ECHO_PATH = f"/{ECHO_SERVICE}/Echo"
GRPC_PAYLOAD = 100  # bytes per unary request, as in mux-notes §6.10
BULK_MAGIC = b"BULK"  # the bulk route's prefix() matcher
BULK_CHUNK = 1 << 20

SNIFF_TARGETS_US = {"http1": 10.0, "grpc": 50.0}
RATIO_TARGETS = {"conn_close": 0.8, "grpc_unary": 0.9}


# --------------------------------------------------------------------------------------------------
# progress and results


class Progress:
    """One line per step on stderr with the time since the run began; silent when ``quiet``."""

    def __init__(self, *, quiet: bool = False, stream: Any = None) -> None:
        self.started = time.monotonic()
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr

    def step(self, message: str) -> None:
        if not self.quiet:
            print(f"[{time.monotonic() - self.started:7.1f}s] {message}", file=self.stream, flush=True)


@dataclass
class SniffResult:
    """Microseconds per connection for one subject (a matcher, the route set, the runtime) on one input."""

    group: str  # "matcher", "route set", "runtime"
    subject: str
    kind: str  # of the input: "http1", "h2c", "grpc", "tls"
    sample: str
    sample_bytes: int
    chunks: int
    outcome: str  # the verdict or the route chosen, checked before timing
    us_median: float
    us_min: float
    rounds: list[float]
    calls_per_round: int
    target_us: float | None = None

    @property
    def meets_target(self) -> bool | None:
        return None if self.target_us is None else self.us_median <= self.target_us


@dataclass
class PairResult:
    """One quantity measured directly and through the mux, alternately, ``rounds`` times."""

    name: str
    unit: str
    direct_label: str
    mux_label: str
    direct: list[float] = field(default_factory=list)
    mux: list[float] = field(default_factory=list)
    direct_cpu: list[float] = field(default_factory=list)  # server CPU µs per unit of work, per round
    mux_cpu: list[float] = field(default_factory=list)
    cpu_unit: str = ""
    tool: str = ""
    commands: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    target_ratio: float | None = None

    @property
    def direct_median(self) -> float:
        return statistics.median(self.direct) if self.direct else 0.0

    @property
    def mux_median(self) -> float:
        return statistics.median(self.mux) if self.mux else 0.0

    @property
    def ratio(self) -> float:
        """mux / direct: the median of the per-round ratios (higher is better for every quantity here).

        Each round runs both sides back to back, so a ratio within a round sees nearly the same
        background load; its median resists the drift that moves whole medians on a shared machine.
        """
        ratios = self.round_ratios
        return statistics.median(ratios) if ratios else 0.0

    @property
    def ratio_of_medians(self) -> float:
        return self.mux_median / self.direct_median if self.direct_median else 0.0

    @property
    def round_ratios(self) -> list[float]:
        return [m / d for m, d in zip(self.mux, self.direct, strict=False) if d]

    @property
    def cpu_ratio(self) -> float | None:
        """Server CPU per unit of work, direct / mux, median over rounds: the throughput ratio to expect
        where the server's CPU is the limit. Steadier than ``ratio`` on a busy machine, since CPU time
        spent per request hardly depends on how much of the machine other processes take."""
        ratios = [d / m for d, m in zip(self.direct_cpu, self.mux_cpu, strict=False) if m and d]
        return statistics.median(ratios) if ratios else None

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            direct_median=self.direct_median,
            mux_median=self.mux_median,
            ratio=self.ratio,
            ratio_of_medians=self.ratio_of_medians,
            round_ratios=self.round_ratios,
            cpu_ratio=self.cpu_ratio,
            direct_cpu_median=_median(self.direct_cpu),
            mux_cpu_median=_median(self.mux_cpu),
            meets_target=None if self.target_ratio is None else self.ratio >= self.target_ratio,
        )
        return out


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


# --------------------------------------------------------------------------------------------------
# 1. sniff cost


@dataclass(frozen=True)
class Sample:
    """The first bytes of one kind of connection, in the chunks they arrived in."""

    kind: str  # "http1", "h2c", "grpc", "tls"
    source: str
    chunks: tuple[bytes, ...]

    @property
    def seens(self) -> tuple[bytes, ...]:
        """What the mux feeds its probes: everything so far, after each chunk."""
        out, acc = [], b""
        for c in self.chunks:
            acc += c
            out.append(acc)
        return tuple(out)

    @property
    def size(self) -> int:
        return sum(len(c) for c in self.chunks)


_CURL_HTTP1_FALLBACK = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1:2379\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"
)


async def _capture(
    decide: Callable[[bytes], tuple[bool, bytes]], client: Callable[[int], Any]
) -> list[bytes]:
    """Runs ``client(port)`` against a listener on 127.0.0.1 that records what it sends, chunk by chunk.

    ``decide(seen)`` returns (enough, reply): the recording stops when it says enough; any reply bytes
    are written to the client first (the server's SETTINGS for a SETTINGS-first gRPC client).
    """
    chunks: list[bytes] = []
    done = asyncio.get_running_loop().create_future()

    class Recorder(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            if done.done():
                return
            chunks.append(data)
            enough, reply = decide(b"".join(chunks))
            if reply:
                self.transport.write(reply)  # type: ignore[attr-defined]
            if enough:
                done.set_result(None)
                self.transport.close()

    server = await asyncio.get_running_loop().create_server(Recorder, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    task = asyncio.ensure_future(client(port))
    try:
        await asyncio.wait_for(asyncio.shield(done), 5.0)
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        server.close()
        await server.wait_closed()
    return chunks


async def _run_curl(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        CURL, "-s", "-o", "/dev/null", "--max-time", "3", *args,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await asyncio.wait_for(proc.wait(), 5.0)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _capture_samples(progress: Progress) -> list[Sample]:
    from mux import grpc as grpc_matcher
    from mux import http2_header
    from mux.matchers import MORE

    samples: list[Sample] = []

    def http1_done(seen: bytes) -> tuple[bool, bytes]:
        return b"\r\n\r\n" in seen, b""

    def probe_done(matcher: Any) -> Callable[[bytes], tuple[bool, bytes]]:
        probe = matcher.probe()

        def decide(seen: bytes) -> tuple[bool, bytes]:
            verdict = probe.feed(seen)
            return verdict is not MORE, probe.take_output()

        return decide

    if os.access(CURL, os.X_OK):
        try:
            chunks = await _capture(http1_done, lambda port: _run_curl(f"http://127.0.0.1:{port}/"))
            samples.append(Sample("http1", "curl request, captured", tuple(chunks)))
        except (TimeoutError, OSError) as e:
            progress.step(f"could not capture curl's HTTP/1 request ({e!r}); using a canned one")
        try:
            chunks = await _capture(
                probe_done(http2_header(":path", "/", prefix=True)),
                lambda port: _run_curl("--http2-prior-knowledge", f"http://127.0.0.1:{port}/health"),
            )
            samples.append(Sample("h2c", "curl --http2-prior-knowledge, captured", tuple(chunks)))
        except (TimeoutError, OSError) as e:
            progress.step(f"could not capture curl's h2c flight ({e!r})")
    if not any(s.kind == "http1" for s in samples):
        if request := _data("curl_http1.bin"):
            samples.append(Sample("http1", "curl request (curl_http1.bin)", (request,)))
        else:
            samples.append(Sample("http1", "curl-like request, canned", (_CURL_HTTP1_FALLBACK,)))
    if not any(s.kind == "h2c" for s in samples) and (flight := _data("curl_h2c.bin")):
        samples.append(Sample("h2c", "curl --http2-prior-knowledge (curl_h2c.bin)", (flight,)))

    async def grpcio_client(port: int) -> None:
        import grpc

        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with contextlib.suppress(grpc.aio.AioRpcError):
                await channel.unary_unary(ECHO_PATH, request_serializer=None, response_deserializer=None)(
                    b"x" * GRPC_PAYLOAD, timeout=3
                )

    try:
        chunks = await _capture(probe_done(grpc_matcher()), grpcio_client)
        samples.append(Sample("grpc", "grpcio unary call, captured", tuple(chunks)))
    except (TimeoutError, OSError) as e:
        progress.step(f"could not capture a grpcio flight ({e!r}); using tests/mux/data if there")
        silent, unary = _data("grpcio_silent.bin"), _data("grpcio_unary.bin")
        if silent and unary and unary.startswith(silent):
            samples.append(Sample("grpc", "grpcio unary call (grpcio_*.bin)", (silent, unary[len(silent) :])))
    if etcdctl := _data("etcdctl_get.bin"):
        samples.append(Sample("grpc", "etcdctl 3.4 get, one chunk (etcdctl_get.bin)", (etcdctl,)))
    for name, label in (("curl_sni.bin", "curl ClientHello"), ("grpcio.bin", "grpcio ClientHello")):
        if hello := _data(name):
            samples.append(Sample("tls", f"{label} ({name})", (hello,)))
    return samples


def _data(name: str) -> bytes:
    """A captured first flight from ``tests/mux/data/``, or b"" if it is not there."""
    path = DATA_DIR / name
    return path.read_bytes() if path.is_file() else b""


def _per_call_us(fn: Callable[[], object], *, rounds: int, round_time: float) -> tuple[list[float], int]:
    """Times ``fn`` timeit-style: calls per round calibrated to ~``round_time`` s; µs per call per round."""
    calls = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= round_time / 4 or calls >= 1 << 22:
            break
        calls *= 2
    calls = max(1, int(calls * round_time / max(elapsed, 1e-9) / 1))
    calls = min(calls, 1 << 22)
    per_call = []
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(calls):
                fn()
            per_call.append((time.perf_counter() - t0) / calls * 1e6)
    finally:
        if was_enabled:
            gc.enable()
    return per_call, calls


def _matcher_once(matcher: Any, seens: Sequence[bytes]) -> Any:
    """One connection's worth of work for one matcher: a probe, fed after each chunk until it decides."""
    from mux.matchers import MORE

    probe = matcher.probe()
    verdict = MORE
    for seen in seens:
        verdict = probe.feed(seen)
        probe.take_output()
        if verdict is not MORE:
            break
    return verdict


def _route_set_once(routes: Sequence[tuple[str, Sequence[Any]]], seens: Sequence[bytes]) -> str:
    """The mux's decision over a route set, as ``mux.mux`` makes it: probes side by side, priority order."""
    from mux.matchers import MATCH, MORE, NO

    probes = [[m.probe() for m in matchers] for _, matchers in routes]
    for seen in seens:
        undecided = False
        for (name, _), route_probes in zip(routes, probes, strict=True):
            verdict = NO
            for probe in route_probes:
                v = probe.feed(seen)
                probe.take_output()
                if v is MATCH:
                    verdict = MATCH
                    break
                if v is MORE:
                    verdict = MORE
            if verdict is MATCH and not undecided:
                return name
            if verdict is MORE:
                undecided = True
        if not undecided:
            return "none"
    return "undecided"


def etcd_route_matchers() -> list[tuple[str, list[Any]]]:
    """The etcd-like route set, in priority order: grpc, http1, h2c, tls."""
    import mux

    return [("grpc", [mux.grpc()]), ("http1", [mux.http1()]), ("h2c", [mux.http2()]), ("tls", [mux.tls()])]


class _StandInTransport:
    """Just enough of a transport for the mux runtime to accept, match and hand off a connection."""

    def __init__(self) -> None:
        self.written = 0
        self.closed = False
        self.protocol: Any = None

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def get_protocol(self) -> Any:
        return self.protocol

    def is_reading(self) -> bool:
        return True

    def pause_reading(self) -> None:
        pass

    resume_reading = pause_reading

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 2379)}.get(name, default)

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def abort(self) -> None:
        self.closed = True

    close = abort

    def is_closing(self) -> bool:
        return self.closed


class _DropTarget:
    """A route target that ends the connection at once: the runtime bench measures matching and dispatch."""

    def __init__(self) -> None:
        self.count = 0

    def handoff(self, handoff: Any) -> None:
        self.count += 1
        handoff.finished()


class _NullProtocols:
    """A protocol factory for ``serve_protocol``: counts the connections it serves, ignores their bytes."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> asyncio.Protocol:
        self.count += 1
        return asyncio.Protocol()


def _runtime_mux(*, serve_http1: bool = False) -> tuple[Any, dict[str, Any]]:
    """The etcd-like routes, each to a target that counts; HTTP/1 to a real protocol hand-off if asked."""
    from mux import Mux, serve_protocol

    mux = Mux()  # defaults: a 10 s match deadline (a timer per connection) and a 64 KiB sniff cap
    targets: dict[str, Any] = {}
    for name, matchers in etcd_route_matchers():
        if name == "http1" and serve_http1:
            targets[name] = _NullProtocols()
            mux.route(name, *matchers, target=serve_protocol(targets[name]))
        else:
            targets[name] = _DropTarget()
            mux.route(name, *matchers, target=targets[name])
    return mux, targets


def _runtime_once(mux: Any, chunks: Sequence[bytes]) -> None:
    """One connection in the runtime, minus the socket: accepted, fed ``chunks``, handed off, closed."""
    transport = _StandInTransport()
    protocol = mux._accept()  # the protocol the listening socket would give this connection
    transport.protocol = protocol
    protocol.connection_made(transport)
    for chunk in chunks:
        transport.protocol.data_received(chunk)
    transport.protocol.connection_lost(None)  # the client goes: the route's target hears it


def bench_sniff(
    *, rounds: int = 5, round_time: float = 0.2, progress: Progress | None = None
) -> list[SniffResult]:
    """Sniff cost per connection for each matcher, the etcd-like route set and the runtime, on each sample."""
    import mux as muxlib

    progress = progress or Progress(quiet=True)
    progress.step("sniff: capturing first flights from curl and grpcio")
    samples = _run_async(_capture_samples(progress))
    results: list[SniffResult] = []
    by_kind: dict[str, list[Sample]] = {}
    for s in samples:
        by_kind.setdefault(s.kind, []).append(s)

    def record(group: str, subject: str, sample: Sample, outcome: str, fn: Callable[[], object]) -> None:
        per_call, calls = _per_call_us(fn, rounds=rounds, round_time=round_time)
        kind = "grpc" if sample.kind == "grpc" else "http1" if sample.kind == "http1" else None
        target = SNIFF_TARGETS_US.get(kind) if kind and group != "matcher" else None
        if group == "matcher" and subject in SNIFF_TARGETS_US:
            target = SNIFF_TARGETS_US[subject]
        result = SniffResult(
            group, subject, sample.kind, sample.source, sample.size, len(sample.chunks), outcome,
            statistics.median(per_call), min(per_call), per_call, calls, target,
        )  # fmt: skip
        results.append(result)
        progress.step(f"sniff: {group:9s} {subject:8s} on {sample.source}: {result.us_median:.2f} µs")

    matchers = {"http1": muxlib.http1(), "h2c": muxlib.http2(), "grpc": muxlib.grpc(), "tls": muxlib.tls()}
    names = {"http1": "http1", "h2c": "http2", "grpc": "grpc", "tls": "tls"}
    for kind, matcher in matchers.items():
        for sample in by_kind.get(kind, []):
            seens = sample.seens
            outcome = _matcher_once(matcher, seens).value
            record("matcher", names[kind], sample, outcome, partial(_matcher_once, matcher, seens))

    routes = etcd_route_matchers()
    for sample in samples:
        seens = sample.seens
        outcome = _route_set_once(routes, seens)
        record("route set", "etcd", sample, outcome, partial(_route_set_once, routes, seens))

    def runtime_cases() -> None:
        mux, targets = _runtime_mux()
        if not callable(getattr(mux, "_accept", None)):
            # The runtime rows lean on the mux's per-connection protocol factory, a private name.
            progress.step("sniff: Mux._accept is gone; the runtime rows are not measured")
            return
        for sample in samples:
            before = {n: t.count for n, t in targets.items()}
            _runtime_once(mux, sample.chunks)
            chosen = [n for n, t in targets.items() if t.count > before[n]]
            outcome = chosen[0] if chosen else "none"
            record("runtime", "mux", sample, outcome, partial(_runtime_once, mux, sample.chunks))
        # The same with HTTP/1 handed to a protocol as serve_protocol(aiohttp's server) would be.
        mux, targets = _runtime_mux(serve_http1=True)
        for sample in samples:
            if sample.kind == "http1":
                before = targets["http1"].count
                _runtime_once(mux, sample.chunks)
                outcome = "http1" if targets["http1"].count > before else "none"
                call = partial(_runtime_once, mux, sample.chunks)
                record("runtime", "mux+serve", sample, outcome, call)

    async def in_loop() -> None:
        runtime_cases()  # the runtime arms its match deadline on the running loop

    _run_async(in_loop())
    return results


def _run_async(coro: Any) -> Any:
    try:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    except ImportError:
        return asyncio.run(coro)


# --------------------------------------------------------------------------------------------------
# the servers: a child process running grpcio, the aiohttp app and the mux


async def _serve(directory: Path, sink: str | None) -> None:
    import grpc
    from aiohttp import web

    import mux as muxlib

    echo_calls = 0

    async def echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        nonlocal echo_calls
        echo_calls += 1
        return request

    grpc_server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    grpc_server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                ECHO_SERVICE, {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
            )
        ]
    )
    grpc_uds = directory / "grpc.sock"
    grpc_tcp_port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.add_insecure_port(f"unix:{grpc_uds}")
    await grpc_server.start()

    async def hello(request: web.Request) -> web.Response:
        return web.Response(body=b"ok")

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"echo_calls": echo_calls})

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/stats", stats)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    bare = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    bare.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    bare.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, bare, backlog=1024)
    await site.start()

    mux = muxlib.Mux()
    mux.route("grpc", muxlib.grpc(), target=muxlib.proxy_to(f"unix:{grpc_uds}"))
    mux.route("http1", muxlib.http1(), target=muxlib.serve_protocol(runner.server))  # type: ignore[arg-type]
    mux.route("h2c", muxlib.http2(), target=muxlib.http1_required())
    if sink:
        mux.route("bulk", muxlib.prefix(BULK_MAGIC), target=muxlib.proxy_to(sink))
    await mux.start("127.0.0.1", 0, backlog=1024)

    ready = {
        "pid": os.getpid(),
        "bare": bare.getsockname()[1],
        "mux": mux.addresses()[0][1],
        "grpc_tcp": grpc_tcp_port,
        "grpc_uds": str(grpc_uds),
    }
    print(json.dumps(ready), flush=True)
    # Serve until the parent closes our stdin (or stops us by PID).
    stdin_closed = asyncio.get_running_loop().create_future()

    class StdinWatcher(asyncio.Protocol):
        def connection_lost(self, exc: BaseException | None) -> None:
            if not stdin_closed.done():
                stdin_closed.set_result(None)

    await asyncio.get_running_loop().connect_read_pipe(StdinWatcher, sys.stdin)
    await stdin_closed
    await mux.close(grace=1.0)
    await runner.cleanup()
    await grpc_server.stop(0.5)


class BenchServers:
    """The server child process: start it with ``with BenchServers(...) as s``; ports in ``s.ports``."""

    def __init__(self, directory: Path, *, sink: str | None = None, start_timeout: float = 30.0) -> None:
        self.directory = directory
        self.sink = sink
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.ports: dict[str, Any] = {}

    def __enter__(self) -> BenchServers:
        args = [sys.executable, "-m", "benchmarks.mux_bench", "serve", "--dir", str(self.directory)]
        if self.sink:
            args += ["--sink", self.sink]
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.proc = subprocess.Popen(args, cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], self.start_timeout)
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            self.__exit__(None, None, None)
            raise RuntimeError(f"the benchmark servers did not start within {self.start_timeout}s")
        self.ports = json.loads(line)
        return self

    def __exit__(self, *exc: object) -> None:
        proc = self.proc
        if proc is None:
            return
        self.proc = None
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.terminate()  # our own child, by its PID
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_seconds(self) -> float:
        """CPU time of the server process so far, summed over its live threads (grpcio runs several).

        From each thread's ``/proc/<pid>/task/<tid>/schedstat`` (nanoseconds); where that is missing,
        from ``/proc/<pid>/stat`` in clock ticks (10 ms), too coarse for the smallest runs.
        """
        total_ns = 0
        try:
            for task in Path(f"/proc/{self.pid}/task").iterdir():
                with contextlib.suppress(OSError, ValueError, IndexError):  # a thread may end meanwhile
                    total_ns += int((task / "schedstat").read_text().split()[0])
        except OSError:
            total_ns = 0
        if total_ns:
            return total_ns / 1e9
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def echo_calls(self) -> int:
        """How many times the gRPC servicer ran (read from the bare aiohttp port's /stats)."""
        with socket.create_connection(("127.0.0.1", self.ports["bare"]), timeout=5) as s:
            s.sendall(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            for _ in range(100):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        return int(json.loads(data.split(b"\r\n\r\n", 1)[1])["echo_calls"])


# --------------------------------------------------------------------------------------------------
# 2. connections per second (wrk)


def _run_tool(args: list[str], timeout: float) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} exited with {done.returncode}: {done.stderr.strip()[:300]}")
    return done.stdout


_WRK_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_WRK_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_WRK_NON2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_WRK_TOTAL = re.compile(r"(\d+) requests in")


def parse_wrk(output: str) -> tuple[float, int, str]:
    """(requests per second, requests done, error summary or "") from wrk's report."""
    rps = _WRK_RPS.search(output)
    total = _WRK_TOTAL.search(output)
    if not rps or not total:
        raise RuntimeError(f"unexpected wrk output: {output[:300]!r}")
    errors = []
    if m := _WRK_SOCKET_ERRORS.search(output):
        errors.append(m.group(0))
    if m := _WRK_NON2XX.search(output):
        errors.append(m.group(0))
    return float(rps.group(1)), int(total.group(1)), "; ".join(errors)


def bench_http(
    servers: BenchServers,
    *,
    close: bool,
    rounds: int = 5,
    duration: float = 3.0,
    connections: int = 32,
    warmup: bool = True,
    progress: Progress | None = None,
) -> PairResult:
    """Requests per second from wrk to the aiohttp app on its own port vs behind the mux."""
    progress = progress or Progress(quiet=True)
    name = "conn_close" if close else "keepalive"
    result = PairResult(
        name=name,
        unit="conn/s" if close else "req/s",
        direct_label="aiohttp alone",
        mux_label="aiohttp behind mux",
        cpu_unit="server CPU µs/req",
        tool="wrk",
        target_ratio=RATIO_TARGETS.get(name),
    )
    if not os.access(WRK, os.X_OK):
        result.errors.append(f"{WRK} is missing: not measured")
        progress.step(f"{name}: {WRK} is missing; skipped")
        return result
    seconds = max(1, round(duration))
    if warmup:  # one unrecorded second each way: accept queues, aiohttp's caches, the CPU clock
        for port_key in ("bare", "mux"):
            args = [WRK, "-t1", f"-c{connections}", "-d1s", f"http://127.0.0.1:{servers.ports[port_key]}/"]
            _run_tool(args + (["-H", "Connection: close"] if close else []), timeout=30)
        progress.step(f"{name}: warmed up")
    for r in range(rounds):
        order = (("direct", "bare"), ("mux", "mux")) if r % 2 == 0 else (("mux", "mux"), ("direct", "bare"))
        for side, port_key in order:
            url = f"http://127.0.0.1:{servers.ports[port_key]}/"
            args = [WRK, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"]
            if close:
                args += ["-H", "Connection: close"]
            args.append(url)
            if r == 0:
                result.commands.append(" ".join(a if " " not in a else repr(a) for a in args))
            cpu0 = servers.cpu_seconds()
            rps, total, errors = parse_wrk(_run_tool(args, timeout=seconds + 30))
            cpu = servers.cpu_seconds() - cpu0
            (result.direct if side == "direct" else result.mux).append(rps)
            (result.direct_cpu if side == "direct" else result.mux_cpu).append(cpu / max(total, 1) * 1e6)
            if errors:
                result.errors.append(f"round {r + 1} {side}: {errors}")
            progress.step(f"{name}: round {r + 1}/{rounds} {side:6s} {rps:9.0f} {result.unit}"
                          + (f"  ({errors})" if errors else ""))  # fmt: skip
    return result


# --------------------------------------------------------------------------------------------------
# 3. unary gRPC (h2load, or a grpcio client load in its own process)


def grpc_message(payload: bytes) -> bytes:
    """A gRPC length-prefixed message: uncompressed flag, 4-byte big-endian length, the bytes."""
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


_H2LOAD_RPS = re.compile(r"finished in [\d.]+[mu]?s, ([\d.]+) req/s")
_H2LOAD_REQUESTS = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed"
)


def parse_h2load(output: str) -> tuple[float, int, int]:
    """(requests per second, succeeded, failed) from h2load's report."""
    rps = _H2LOAD_RPS.search(output)
    req = _H2LOAD_REQUESTS.search(output)
    if not rps or not req:
        raise RuntimeError(f"unexpected h2load output: {output[:300]!r}")
    return float(rps.group(1)), int(req.group(4)), int(req.group(5))


def _h2load_round(servers: BenchServers, port: int, body: Path, requests: int, clients: int, streams: int,
                  timeout: float) -> tuple[list[str], float, int]:  # fmt: skip
    args = [
        H2LOAD, f"-n{requests}", f"-c{clients}", f"-m{streams}", "-t1",
        "-H", "content-type: application/grpc", "-H", "te: trailers", "-d", str(body),
        f"http://127.0.0.1:{port}{ECHO_PATH}",
    ]  # fmt: skip
    calls0 = servers.echo_calls()
    rps, succeeded, failed = parse_h2load(_run_tool(args, timeout=timeout))
    served = servers.echo_calls() - calls0
    if failed or served < succeeded or succeeded < requests:
        raise RuntimeError(f"h2load: {succeeded} succeeded, {failed} failed, the servicer ran {served} times")
    return args, rps, succeeded


async def _grpc_load(target: str, requests: int, concurrency: int, payload: int) -> dict[str, float]:
    import grpc

    message = b"x" * payload
    ok = 0
    per_worker = max(1, requests // concurrency)
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(ECHO_PATH, request_serializer=None, response_deserializer=None)
        await call(message, timeout=10)  # connect and warm up outside the timed part

        async def worker() -> None:
            nonlocal ok
            for _ in range(per_worker):
                if await call(message, timeout=10) == message:
                    ok += 1

        t0 = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(concurrency))), 600)
        elapsed = time.perf_counter() - t0
    return {"rps": ok / elapsed, "ok": ok, "requests": per_worker * concurrency}


def _grpcio_round(servers: BenchServers, port: int, requests: int, concurrency: int,
                  timeout: float) -> tuple[list[str], float, int]:  # fmt: skip
    args = [
        sys.executable, "-m", "benchmarks.mux_bench", "grpc-load", "--target", f"127.0.0.1:{port}",
        "--requests", str(requests), "--concurrency", str(concurrency),
    ]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"grpc-load exited with {done.returncode}: {done.stderr.strip()[-300:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if out["ok"] != out["requests"]:
        raise RuntimeError(f"grpc-load: {out['ok']} of {out['requests']} calls succeeded")
    return args, float(out["rps"]), int(out["ok"])


def bench_grpc(
    servers: BenchServers,
    *,
    rounds: int = 5,
    requests: int = 20000,
    clients: int = 10,
    streams: int = 10,
    client: str = "auto",
    progress: Progress | None = None,
) -> PairResult:
    """Unary gRPC calls per second: grpcio directly over TCP vs through the mux (TCP -> mux -> UDS)."""
    progress = progress or Progress(quiet=True)
    result = PairResult(
        name="grpc_unary",
        unit="req/s",
        direct_label="grpcio direct (TCP)",
        mux_label="grpcio via mux (TCP->UDS)",
        cpu_unit="server CPU µs/req",
        target_ratio=RATIO_TARGETS["grpc_unary"],
    )
    body = servers.directory / "grpc-request.bin"
    body.write_bytes(grpc_message(b"x" * GRPC_PAYLOAD))
    timeout = 120.0 + requests / 100
    use_h2load = client in ("auto", "h2load") and os.access(H2LOAD, os.X_OK)
    if client in ("auto", "h2load") and not use_h2load:
        result.errors.append(f"{H2LOAD} is missing; used a grpcio client load instead")
    if use_h2load:
        try:  # a short trial: does h2load get real gRPC answers from the servicer, both ways?
            for port in (servers.ports["grpc_tcp"], servers.ports["mux"]):
                _h2load_round(servers, port, body, min(200, requests), 2, 2, timeout)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            if client == "h2load":
                raise
            result.errors.append(f"h2load trial failed ({e}); used a grpcio client load instead")
            progress.step(f"grpc: h2load trial failed ({e}); falling back to a grpcio client")
            use_h2load = False
    result.tool = "h2load" if use_h2load else "grpcio aio client (own process)"
    if not use_h2load:  # the h2load trial above warmed the server up; the grpcio client needs its own
        for port in (servers.ports["grpc_tcp"], servers.ports["mux"]):
            _grpcio_round(servers, port, min(200, requests), 10, timeout)
    for r in range(rounds):
        order = ("direct", "mux") if r % 2 == 0 else ("mux", "direct")
        for side in order:
            port = servers.ports["grpc_tcp" if side == "direct" else "mux"]
            cpu0 = servers.cpu_seconds()
            if use_h2load:
                args, rps, done = _h2load_round(servers, port, body, requests, clients, streams, timeout)
            else:
                args, rps, done = _grpcio_round(servers, port, requests, clients * streams, timeout)
            cpu = servers.cpu_seconds() - cpu0
            if r == 0:
                result.commands.append(" ".join(a if " " not in a else repr(a) for a in args))
            (result.direct if side == "direct" else result.mux).append(rps)
            (result.direct_cpu if side == "direct" else result.mux_cpu).append(cpu / max(done, 1) * 1e6)
            progress.step(f"grpc: round {r + 1}/{rounds} {side:6s} {rps:9.0f} req/s")
    return result


# --------------------------------------------------------------------------------------------------
# 4. bulk bytes through the proxy


class Sink:
    """Counts bytes on TCP and Unix-socket connections until EOF, then answers the count (8 bytes).

    Threads with blocking sockets, so the count costs this process little while the bytes cross the
    mux in the server process. ``close()`` stops it; each connection thread ends at its client's EOF.
    """

    def __init__(self, directory: Path) -> None:
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.unix_path = str(directory / "sink.sock")
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(self.unix_path)
        self.unix.listen(16)
        self.port = self.tcp.getsockname()[1]
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._accept, args=(s,), daemon=True) for s in (self.tcp, self.unix)
        ]
        for t in self._threads:
            t.start()

    def _accept(self, listener: socket.socket) -> None:
        listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._count, args=(conn,), daemon=True).start()

    @staticmethod
    def _count(conn: socket.socket) -> None:
        buf = bytearray(BULK_CHUNK)
        total = 0
        conn.settimeout(60)
        with conn:
            try:
                while n := conn.recv_into(buf):
                    total += n
                conn.sendall(total.to_bytes(8, "big"))
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(2)
        self.tcp.close()
        self.unix.close()


def send_bulk(port: int, size: int, timeout: float = 120.0) -> float:
    """Sends BULK_MAGIC and ``size`` bytes to 127.0.0.1:``port``, half-closes, waits for the count; MB/s."""
    chunk = memoryview(bytes(BULK_CHUNK))
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(BULK_MAGIC)
        left = size
        while left > 0:
            n = min(left, BULK_CHUNK)
            s.sendall(chunk[:n])
            left -= n
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while len(answer) < 8:
            part = s.recv(8 - len(answer))
            if not part:
                break
            answer += part
    elapsed = time.perf_counter() - t0
    got = int.from_bytes(answer, "big") if len(answer) == 8 else -1
    if got != size + len(BULK_MAGIC):
        raise RuntimeError(f"bulk: the sink counted {got} bytes, {size + len(BULK_MAGIC)} were sent")
    return size / elapsed / 1e6


def bench_bulk(
    servers: BenchServers,
    sink: Sink,
    *,
    rounds: int = 5,
    size: int = 512 << 20,
    upstream: str = "unix",
    progress: Progress | None = None,
) -> PairResult:
    """MB/s of one TCP stream into the sink: directly over TCP vs through the mux's byte proxy to its UDS."""
    progress = progress or Progress(quiet=True)
    result = PairResult(
        name="bulk",
        unit="MB/s",
        direct_label="client -> sink (TCP)",
        mux_label=f"client -> mux -> sink (TCP->{'UDS' if upstream == 'unix' else 'TCP'})",
        cpu_unit="server CPU µs/MiB",
        tool=f"one TCP stream of {size >> 20} MiB, 1 MiB writes",
    )
    for port in (sink.port, servers.ports["mux"]):  # unrecorded, to warm both paths up
        send_bulk(port, min(size, 32 << 20))
    for r in range(rounds):
        order = ("direct", "mux") if r % 2 == 0 else ("mux", "direct")
        for side in order:
            port = sink.port if side == "direct" else servers.ports["mux"]
            cpu0 = servers.cpu_seconds()
            mbps = send_bulk(port, size)
            cpu = servers.cpu_seconds() - cpu0
            (result.direct if side == "direct" else result.mux).append(mbps)
            if side == "mux":  # the direct path does not touch the server process
                result.mux_cpu.append(cpu / (size / (1 << 20)) * 1e6)
            progress.step(f"bulk: round {r + 1}/{rounds} {side:6s} {mbps:9.0f} MB/s")
    return result


# --------------------------------------------------------------------------------------------------
# the run, the table, the JSON


@dataclass
class Settings:
    rounds: int = 7
    sniff_rounds: int = 15
    sniff_round_time: float = 0.08  # many short rounds: a load spike spoils few of them
    duration: float = 2.0
    connections: int = 32
    grpc_requests: int = 20000
    grpc_clients: int = 10
    grpc_streams: int = 10
    grpc_client: str = "auto"
    bulk_mib: int = 512
    bulk_rounds: int = 7
    bulk_upstream: str = "unix"  # how the mux reaches the sink: "unix" or "tcp"
    only: tuple[str, ...] = ("sniff", "conn", "keepalive", "grpc", "bulk")


QUICK = Settings(
    rounds=2,
    sniff_rounds=3,
    sniff_round_time=0.05,
    duration=1.0,
    grpc_requests=2000,
    bulk_mib=64,
    bulk_rounds=2,
)


def run(settings: Settings, progress: Progress) -> dict[str, Any]:
    """Runs the benchmarks ``settings.only`` names; returns what is written to the JSON file."""
    out: dict[str, Any] = {
        "name": NAME,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": _machine(),
        "settings": asdict(settings),
        "sniff": [],
        "pairs": [],
    }
    if "sniff" in settings.only:
        sniff = bench_sniff(
            rounds=settings.sniff_rounds, round_time=settings.sniff_round_time, progress=progress
        )
        out["sniff"] = [dict(asdict(s), meets_target=s.meets_target) for s in sniff]
    if any(k in settings.only for k in ("conn", "keepalive", "grpc", "bulk")):
        with tempfile.TemporaryDirectory(prefix="mux-bench-") as tmp:
            sink = Sink(Path(tmp)) if "bulk" in settings.only else None
            try:
                progress.step("starting the servers (grpcio, aiohttp, mux) in a child process")
                upstream = None
                if sink is not None:
                    upstream = (
                        f"unix:{sink.unix_path}"
                        if settings.bulk_upstream == "unix"
                        else f"127.0.0.1:{sink.port}"
                    )
                with BenchServers(Path(tmp), sink=upstream) as servers:
                    progress.step(f"servers up, pid {servers.pid}: {servers.ports}")
                    for key, close in (("conn", True), ("keepalive", False)):
                        if key in settings.only:
                            pair = bench_http(
                                servers, close=close, rounds=settings.rounds, duration=settings.duration,
                                connections=settings.connections, progress=progress,
                            )  # fmt: skip
                            out["pairs"].append(pair.to_json())
                    if "grpc" in settings.only:
                        pair = bench_grpc(
                            servers, rounds=settings.rounds, requests=settings.grpc_requests,
                            clients=settings.grpc_clients, streams=settings.grpc_streams,
                            client=settings.grpc_client, progress=progress,
                        )  # fmt: skip
                        out["pairs"].append(pair.to_json())
                    if sink is not None:
                        pair = bench_bulk(
                            servers, sink, rounds=settings.bulk_rounds, size=settings.bulk_mib << 20,
                            upstream=settings.bulk_upstream, progress=progress,
                        )  # fmt: skip
                        out["pairs"].append(pair.to_json())
            finally:
                if sink is not None:
                    sink.close()
    out["elapsed_s"] = round(time.monotonic() - progress.started, 1)
    return out


def _machine() -> dict[str, Any]:
    versions = {}
    for module in ("grpc", "aiohttp", "uvloop", "hpack"):
        try:
            versions[module] = __import__(module).__version__
        except (ImportError, AttributeError):
            versions[module] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": versions,
        "tools": {t: shutil.which(t) for t in ("wrk", "h2load", "curl")},
    }


def format_table(results: dict[str, Any]) -> str:
    lines = []
    sniff = results.get("sniff") or []
    if sniff:
        lines.append("Sniff cost per connection (µs, median of rounds; in process, no socket)")
        lines.append(f"  {'group':9s}  {'subject':9s}  {'input':44s} {'bytes':>5s} {'chunks':>6s}  "
                     f"{'outcome':9s} {'median':>8s} {'min':>8s}  target")  # fmt: skip
        for s in sniff:
            target = ""
            if s["target_us"] is not None:
                target = f"<= {s['target_us']:g} {'ok' if s['meets_target'] else 'MISSED'}"
            lines.append(
                f"  {s['group']:9s}  {s['subject']:9s}  {s['sample'][:44]:44s} {s['sample_bytes']:5d} "
                f"{s['chunks']:6d}  {s['outcome']:9s} {s['us_median']:8.2f} {s['us_min']:8.2f}  {target}"
            )
    pairs = results.get("pairs") or []
    if pairs:
        if lines:
            lines.append("")
        lines.append("Side by side, alternating rounds: medians; ratio = mux / direct, median of the rounds' "
                     "ratios (m/m: of the medians)")  # fmt: skip
        columns = (
            f"{'benchmark':11s} {'unit':7s} {'direct':>9s} {'via mux':>9s} {'ratio':>6s} {'m/m':>6s}  ",
            f"{'target':13s} {'CPU direct':>10s} {'CPU mux':>9s} {'CPU ratio':>9s}  cpu unit",
        )
        lines.append("  " + "".join(columns))
        for p in pairs:
            if not p["direct"] or not p["mux"]:
                lines.append(f"  {p['name']:11s} not measured: {'; '.join(p['errors'])}")
                continue
            target = ""
            if p["target_ratio"] is not None:
                target = f">= {p['target_ratio']:g} {'ok' if p['meets_target'] else 'MISSED'}"
            cpu_d = "-" if p["direct_cpu_median"] is None else f"{p['direct_cpu_median']:.1f}"
            cpu_m = "-" if p["mux_cpu_median"] is None else f"{p['mux_cpu_median']:.1f}"
            lines.append(
                f"  {p['name']:11s} {p['unit']:7s} {p['direct_median']:9.0f} {p['mux_median']:9.0f} "
                f"{p['ratio']:6.3f} {p['ratio_of_medians']:6.3f}  {target:13s} {cpu_d:>10s} {cpu_m:>9s} "
                f"{'-' if p['cpu_ratio'] is None else format(p['cpu_ratio'], '.3f'):>9s}  {p['cpu_unit']}"
            )
        lines.append(
            "  (CPU: the server process's CPU time per unit of work; CPU ratio = direct / mux, the ratio"
        )
        lines.append(
            "   to expect when the server's CPU is the limit, steadier than throughput on a busy machine)"
        )
        lines.append("")
        for p in pairs:
            lines.append(f"  {p['name']}: {p['direct_label']} vs {p['mux_label']}; tool: {p['tool']}")
            lines.append(f"    rounds direct {_fmt(p['direct'])}  mux {_fmt(p['mux'])}  "
                         f"ratios {_fmt(p['round_ratios'], 3)}")  # fmt: skip
            for command in p["commands"]:
                lines.append(f"    $ {command}")
            for error in p["errors"]:
                lines.append(f"    note: {error}")
    return "\n".join(lines)


def _fmt(values: Sequence[float], digits: int = 0) -> str:
    return "[" + ", ".join(f"{v:.{digits}f}" for v in values) + "]"


def write_results(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.mux_bench", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="(internal) run the benchmark servers until stdin closes")
    serve.add_argument("--dir", required=True, type=Path)
    serve.add_argument("--sink", default=None)
    load = sub.add_parser("grpc-load", help="(internal) unary gRPC load with a grpcio aio client")
    load.add_argument("--target", required=True)
    load.add_argument("--requests", type=int, default=2000)
    load.add_argument("--concurrency", type=int, default=100)
    load.add_argument("--payload", type=int, default=GRPC_PAYLOAD)
    parser.add_argument("--quick", action="store_true", help="small sizes and 2 rounds: a minute or so")
    parser.add_argument("--only", default=None, help="comma-separated: sniff,conn,keepalive,grpc,bulk")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds per pair (default 7)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per wrk run (default 2)")
    parser.add_argument("--connections", type=int, default=None, help="wrk connections (default 32)")
    parser.add_argument("--grpc-requests", type=int, default=None, help="unary calls per run (default 20000)")
    parser.add_argument("--grpc-client", choices=("auto", "h2load", "grpcio"), default=None)
    parser.add_argument("--bulk-mib", type=int, default=None, help="MiB per bulk transfer (default 512)")
    parser.add_argument(
        "--bulk-upstream", choices=("unix", "tcp"), default=None, help="mux to sink (default unix)"
    )
    parser.add_argument(
        "--json", type=Path, default=RESULTS_DIR / f"{NAME}.json", help="where to write results"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser.parse_args(list(argv))


def settings_from(args: argparse.Namespace) -> Settings:
    base = QUICK if args.quick else Settings()
    values = asdict(base)
    for key in (
        "rounds",
        "duration",
        "connections",
        "grpc_requests",
        "grpc_client",
        "bulk_mib",
        "bulk_upstream",
    ):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    if args.rounds is not None:
        values["bulk_rounds"] = args.rounds
    if args.only:
        only = tuple(k.strip() for k in args.only.split(",") if k.strip())
        unknown = set(only) - set(Settings().only)
        if unknown:
            raise SystemExit(f"--only: unknown {sorted(unknown)}; choose from {','.join(Settings().only)}")
        values["only"] = only
    return Settings(**values)


def main(argv: Sequence[str]) -> int:
    args = _parse(argv)
    if args.command == "serve":
        _run_async(_serve(args.dir, args.sink))
        return 0
    if args.command == "grpc-load":
        out = _run_async(_grpc_load(args.target, args.requests, args.concurrency, args.payload))
        print(json.dumps(out), flush=True)
        return 0
    settings = settings_from(args)
    progress = Progress(quiet=args.quiet)
    results = run(settings, progress)
    results["command"] = " ".join(["python -m benchmarks.mux_bench", *argv])
    print(format_table(results))
    write_results(results, args.json)
    print(f"\nresults written to {_display(args.json)} ({results['elapsed_s']}s)")
    return 0


def _display(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(REPO))
    return str(path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
