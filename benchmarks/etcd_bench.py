"""Our member against the real etcd 3.4, side by side: gRPC puts and ranges, HTTP, watch fan-out.

``python -m benchmarks.etcd_bench [--quick] [--only put,range_lin,...] [--profile]`` (or ``python -m
benchmarks etcd``) starts two one-member clusters with the same flags and fresh data dirs on this machine,
the real etcd (``/usr/bin/etcd``) and ours (``python -m etcd``), and measures each quantity on both in
alternating rounds (etcd first in odd rounds, ours first in even ones):

=============  ==========================================================================  ========
name           load                                                                        floor
=============  ==========================================================================  ========
put            gRPC KV.Put, h2load 16 connections x 64 streams, one 8-byte key, 8-byte value  >= 0.25x
put_1x1        the same with 1 connection x 1 stream (latency-bound)                       >= 0.25x
range_lin      gRPC KV.Range of one key, linearizable, 16 x 64                             >= 0.25x
range_ser      the same, serializable                                                      >= 0.25x
health         wrk GET /health, a new connection per request (Connection: close)            >= 0.5x
v2_get         wrk GET /v2/keys/foo, new connection per request                             >= 0.5x
v3_range       wrk POST /v3/kv/range (JSON body, Lua script), new connection per request    >= 0.5x
watch          100 Watch streams (grpcio aio, 2 client processes) on one key, 2000 puts:    0 lost
               events lost, events delivered per second, put-to-arrival latency
=============  ==========================================================================  ========

Per quantity and side: requests (or events) per second, latency p50/p99 (h2load's per-request log, wrk
``--latency``, event arrival minus put send), the member's CPU time per request from ``/proc``; the ratio
ours/etcd is the median of the rounds' ratios (each round's pair ran back to back, under nearly the same
background load). Each load is first checked to get the right answer from each side (the value put, a
revision, a healthy /health); a side that answers wrongly is reported, not measured. In the rounds, h2load's
HTTP 200s are not taken for replies (a gRPC error is a 200 too): puts are counted by the revision's growth,
ranges by the DATA bytes over one reply's size; errors are noted and left out of requests/s, and wrk's
non-2xx answers fail the round. The table goes to stdout, every
round to ``benchmarks/results/etcd.json``. ``--profile`` then samples our member with py-spy under the Put
16x64 load and prints the functions that cost most. Performance is reported, never asserted.

Reading the table: on a 2-core machine shared with other work, requests/s swing from round to round (the
real etcd against itself gives round ratios from 0.6 to 2.4); the member's CPU per request is steadier,
and its ratio (CPU ratio = etcd/ours) is the throughput ratio to expect where the member's CPU is the
limit. For the watch fan-out the Python clients, not etcd, bound etcd's events/s (see etcd_bench_watch).

Only 127.0.0.1 is used; every load runs for a fixed time and every wait is bounded; only the processes
this module starts are stopped, by their PID.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import etcd_bench_load as load
from benchmarks import etcd_bench_profile as profile
from benchmarks.etcd_bench_servers import ETCD, OURS_COMMAND, READ_KEY, READ_VALUE, Member, kv_stub
from benchmarks.etcd_bench_watch import fanout
from benchmarks.mux_bench import Progress
from etcd.api.etcdserverpb import rpc_pb2

REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
NAME = "etcd"
SIDES = ("etcd", "ours")

PUT_KEY = b"benchkey"  # 8 bytes, as etcd's own `benchmark put` defaults
PUT_VALUE = b"v" * 8


@dataclass(frozen=True)
class Spec:
    """One quantity: how to load it, and the floor the issue sets for ours/etcd."""

    name: str
    title: str
    kind: str  # "h2load", "wrk", "watch"
    floor: float | None = None  # on the ratio; the watch floor is 0 events lost
    connections: int = 16
    streams: int = 64
    path: str = ""
    body: str = ""  # wrk: a POST body (JSON)


SPECS = (
    Spec("put", "gRPC Put 16x64", "h2load", 0.25, path="/etcdserverpb.KV/Put"),
    Spec("put_1x1", "gRPC Put 1x1", "h2load", 0.25, 1, 1, path="/etcdserverpb.KV/Put"),
    Spec("range_lin", "gRPC Range linearizable 16x64", "h2load", 0.25, path="/etcdserverpb.KV/Range"),
    Spec("range_ser", "gRPC Range serializable 16x64", "h2load", 0.25, path="/etcdserverpb.KV/Range"),
    Spec("health", "HTTP GET /health, new conn/req", "wrk", 0.5, path="/health"),
    Spec("v2_get", "HTTP GET /v2/keys/foo, new conn/req", "wrk", 0.5, path="/v2/keys/" + READ_KEY.decode()),
    Spec(
        "v3_range",
        "HTTP POST /v3/kv/range, new conn/req",
        "wrk",
        0.5,
        path="/v3/kv/range",
        body=json.dumps({"key": base64.b64encode(READ_KEY).decode()}),
    ),
    Spec("watch", "Watch fan-out (events delivered)", "watch"),
)
SPEC_NAMES = tuple(s.name for s in SPECS)


@dataclass
class Side:
    """One side's rounds of one quantity."""

    rps: list[float] = field(default_factory=list)
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)  # member CPU µs per request (per event delivered)
    lost: list[int] = field(default_factory=list)  # watch only
    extra: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, float | None]:
        return {
            "rps": _median(self.rps),
            "p50_ms": _median(self.p50_ms),
            "p99_ms": _median(self.p99_ms),
            "cpu_us": _median(self.cpu_us),
            "lost": max(self.lost) if self.lost else None,
        }


@dataclass
class Metric:
    spec: Spec
    unit: str
    ours: Side = field(default_factory=Side)
    etcd: Side = field(default_factory=Side)
    commands: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def side(self, name: str) -> Side:
        return self.ours if name == "ours" else self.etcd

    @property
    def round_ratios(self) -> list[float]:
        return [o / e for o, e in zip(self.ours.rps, self.etcd.rps, strict=False) if e]

    @property
    def ratio(self) -> float | None:
        """ours / etcd throughput, the median of the rounds' ratios."""
        return _median(self.round_ratios)

    @property
    def cpu_ratio(self) -> float | None:
        """etcd / ours CPU per request, median over rounds: the throughput ratio where CPU is the limit."""
        ratios = [e / o for o, e in zip(self.ours.cpu_us, self.etcd.cpu_us, strict=False) if o and e]
        return _median(ratios)

    @property
    def meets_floor(self) -> bool | None:
        if self.spec.kind == "watch":
            return (max(self.ours.lost) == 0) if self.ours.lost else None
        if self.spec.floor is None or self.ratio is None:
            return None
        return self.ratio >= self.spec.floor

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.spec.name,
            "title": self.spec.title,
            "tool": self.spec.kind,
            "unit": self.unit,
            "floor": "0 events lost" if self.spec.kind == "watch" else self.spec.floor,
            "ratio": self.ratio,
            "round_ratios": self.round_ratios,
            "cpu_ratio": self.cpu_ratio,
            "meets_floor": self.meets_floor,
            "ours": dict(asdict(self.ours), median=self.ours.summary()),
            "etcd": dict(asdict(self.etcd), median=self.etcd.summary()),
            "commands": self.commands,
            "errors": self.errors,
        }


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


@dataclass(frozen=True)
class Round:
    """What one run of a load on one side gave."""

    rps: float
    p50_ms: float
    p99_ms: float
    requests: int  # for CPU per request
    command: str = ""
    error: str = ""  # a note (socket errors, ...); the round still counts
    lost: int | None = None
    extra: dict[str, Any] | None = None


# --------------------------------------------------------------------------------------------------
# settings


@dataclass
class Settings:
    rounds: int = 6  # many short rounds: a load spike from elsewhere on the machine spoils few of them
    duration: float = 2.0  # seconds per h2load / wrk run
    warmup: float = 1.0  # an unrecorded run per side before the rounds (0: none)
    wrk_connections: int = 32
    watchers: int = 100
    watch_puts: int = 2000
    watch_rounds: int = 4
    watch_processes: int = 2  # client processes reading the events
    watch_timeout: float = 60.0
    ours_command: tuple[str, ...] = OURS_COMMAND
    etcd_command: tuple[str, ...] = (ETCD,)
    only: tuple[str, ...] = SPEC_NAMES
    profile: bool = False
    profile_seconds: float = 5.0
    profile_raw: str = str(RESULTS_DIR / f"{NAME}-profile.txt")  # py-spy's collapsed stacks
    start_timeout: float = 60.0


QUICK = Settings(
    rounds=1, duration=1.0, warmup=0.0, wrk_connections=8, watchers=10, watch_puts=100, watch_rounds=1,
    watch_processes=1, watch_timeout=20.0, profile_seconds=2.0,
)  # fmt: skip


# --------------------------------------------------------------------------------------------------
# checks: each side answers each load rightly before it is measured


def check(spec: Spec, member: Member) -> str:
    """ "" if ``member`` answers the load of ``spec`` rightly, else what is wrong."""
    import grpc

    try:
        if spec.kind in ("h2load", "watch"):
            with grpc.insecure_channel(member.target) as channel:
                kv = kv_stub(channel)
                if spec.name.startswith("range"):
                    request = rpc_pb2.RangeRequest(key=READ_KEY, serializable=spec.name == "range_ser")
                    kvs = kv.Range(request, timeout=10).kvs
                    if [(k.key, k.value) for k in kvs] != [(READ_KEY, READ_VALUE)]:
                        return f"Range {READ_KEY!r} gave {list(kvs)}"
                else:
                    revision = kv.Put(
                        rpc_pb2.PutRequest(key=PUT_KEY, value=PUT_VALUE), timeout=10
                    ).header.revision
                    if revision <= 0:
                        return f"Put answered revision {revision}"
        elif spec.name == "health":
            got = member.http_json("GET", "/health")
            if got.get("health") != "true":
                return f"/health gave {got}"
        elif spec.name == "v2_get":
            got = member.http_json("GET", spec.path)
            if got.get("node", {}).get("value") != READ_VALUE.decode():
                return f"GET {spec.path} gave {got}"
        elif spec.name == "v3_range":
            got = member.http_json("POST", spec.path, spec.body.encode(), "application/json")
            values = [base64.b64decode(kv.get("value", "")) for kv in got.get("kvs", [])]
            if values != [READ_VALUE]:
                return f"POST {spec.path} gave {got}"
    except (grpc.RpcError, OSError, ValueError) as e:
        return f"{type(e).__name__}: {str(e)[:300]}"
    return ""


# --------------------------------------------------------------------------------------------------
# one round of each kind of load


class Loads:
    """Runs a spec's load once on a member; files (request bodies, scripts, logs) go under ``directory``."""

    def __init__(self, settings: Settings, directory: Path) -> None:
        self.settings = settings
        self.directory = directory
        self.bodies = {
            "put": self._file("put.bin", load.grpc_body(rpc_pb2.PutRequest(key=PUT_KEY, value=PUT_VALUE))),
            "range_lin": self._file("range-lin.bin", load.grpc_body(rpc_pb2.RangeRequest(key=READ_KEY))),
            "range_ser": self._file(
                "range-ser.bin", load.grpc_body(rpc_pb2.RangeRequest(key=READ_KEY, serializable=True))
            ),
        }
        self.scripts = {
            s.name: load.post_script(directory / f"{s.name}.lua", s.body) for s in SPECS if s.body
        }

    def _file(self, name: str, data: bytes) -> Path:
        path = self.directory / name
        path.write_bytes(data)
        return path

    def run(self, spec: Spec, member: Member, duration: float) -> Round:
        if spec.kind == "h2load":
            return self._h2load(spec, member, duration)
        if spec.kind == "wrk":
            run = load.run_wrk(
                member.url + spec.path, connections=self.settings.wrk_connections, duration=duration,
                script=self.scripts.get(spec.name),
            )  # fmt: skip
            if run.non2xx:
                raise RuntimeError(f"wrk: {run.non2xx} of {run.requests} answers were not 2xx ({run.errors})")
            return Round(run.rps, run.p50_ms, run.p99_ms, run.requests, run.command, run.errors)
        s = self.settings
        fan = fanout(
            member.target, watchers=s.watchers, puts=s.watch_puts, processes=s.watch_processes,
            timeout=s.watch_timeout,
        )  # fmt: skip
        return Round(
            fan.events_per_s, fan.p50_ms, fan.p99_ms, max(fan.received, 1),
            f"{fan.watchers} Watch streams on {min(10, fan.watchers)} channels in {s.watch_processes} "
            f"client processes, {fan.puts} puts from 16 callers (grpcio aio)",
            f"{fan.lost} events lost" if fan.lost else "", fan.lost, asdict(fan),
        )  # fmt: skip

    def _h2load(self, spec: Spec, member: Member, duration: float) -> Round:
        """h2load counts every HTTP 200 as a success, gRPC errors included (a trailers-only answer).

        So the replies are counted otherwise: for puts, by how much the revision grew; for ranges, by the
        DATA bytes received over the size of one reply (the same for every reply: no writes meanwhile).
        Requests/s counts the replies only, and the errors are noted.
        """
        put = spec.name.startswith("put")
        body = self.bodies["put" if put else spec.name]
        before = member.revision() if put else 0
        reply_size = 0 if put else member.reply_size(spec.path, body.read_bytes()[5:])
        run = load.run_h2load(
            member.url + spec.path, body, connections=spec.connections, streams=spec.streams,
            duration=duration, log_path=self.directory / "h2load.log",
        )  # fmt: skip
        if put:
            grown = member.revision() - before
            # The revision also counts puts h2load sent but stopped waiting for when its time ran out.
            replies = min(run.succeeded, grown)
            requests = max(grown, 1)
        else:
            replies = min(run.succeeded, run.data_bytes // reply_size)
            requests = run.succeeded + run.failed
        if replies <= 0:
            raise RuntimeError(f"h2load: no reply among {run.succeeded} answers ({run.failed} failed)")
        notes = []
        if replies < run.succeeded:
            notes.append(f"{run.succeeded - replies} of {run.succeeded} answers were gRPC errors")
        if run.failed:
            notes.append(f"{run.failed} requests failed")
        rps = run.rps * replies / run.succeeded
        return Round(rps, run.p50_ms, run.p99_ms, requests, run.command, "; ".join(notes))


# --------------------------------------------------------------------------------------------------
# the run


def measure(
    spec: Spec, members: dict[str, Member], loads: Loads, settings: Settings, progress: Progress
) -> Metric:
    """Alternating rounds of ``spec`` on both members (after one unrecorded warm-up run each)."""
    metric = Metric(spec, "events/s" if spec.kind == "watch" else "req/s")
    usable = []
    for side in SIDES:
        if problem := check(spec, members[side]):
            metric.errors.append(f"{side} not measured: {problem}")
            progress.step(f"{spec.name}: {side} answers wrongly, not measured: {problem}")
        else:
            usable.append(side)
    rounds = settings.watch_rounds if spec.kind == "watch" else settings.rounds
    if settings.warmup > 0 and spec.kind != "watch":
        for side in usable:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                loads.run(spec, members[side], settings.warmup)
    for r in range(rounds):
        order = usable if r % 2 == 0 else usable[::-1]
        for side in order:
            member = members[side]
            cpu0 = member.cpu_seconds()
            try:
                result = loads.run(spec, member, settings.duration)
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                metric.errors.append(f"round {r + 1} {side}: {e}")
                progress.step(f"{spec.name}: round {r + 1}/{rounds} {side:4s} failed: {e}")
                continue
            cpu = member.cpu_seconds() - cpu0
            got = metric.side(side)
            got.rps.append(result.rps)
            got.p50_ms.append(result.p50_ms)
            got.p99_ms.append(result.p99_ms)
            got.cpu_us.append(cpu / max(result.requests, 1) * 1e6)
            if result.lost is not None:
                got.lost.append(result.lost)
            if result.extra:
                got.extra.append(result.extra)
            if r == 0 and result.command and len(metric.commands) < 1:
                command = result.command.replace(member.url, "http://127.0.0.1:PORT")
                metric.commands.append(command.replace(str(loads.directory), "$TMP"))
            if result.error:
                metric.errors.append(f"round {r + 1} {side}: {result.error}")
            progress.step(
                f"{spec.name}: round {r + 1}/{rounds} {side:4s} {result.rps:9.0f} {metric.unit}  "
                f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  cpu {got.cpu_us[-1]:6.1f} µs"
                + (f"  ({result.error})" if result.error else "")
            )
    return metric


def run_profile(member: Member, loads: Loads, settings: Settings, progress: Progress) -> dict[str, Any]:
    """py-spy on our member while h2load puts 16x64; the top functions, and the raw stacks' file."""
    spec = SPECS[0]
    raw = Path(settings.profile_raw)
    raw.parent.mkdir(parents=True, exist_ok=True)
    seconds = settings.profile_seconds
    progress.step(f"profile: py-spy on pid {member.pid} for {seconds:.0f}s under {spec.title}")
    spy = profile.record(member.pid, seconds + 1, raw)
    try:
        time.sleep(0.3)  # let py-spy attach before the load starts
        result = loads.run(spec, member, seconds)
    finally:
        try:
            _, stderr = spy.communicate(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            spy.kill()  # our own child, by its PID
            _, stderr = spy.communicate(timeout=10)
    if spy.returncode != 0 or not raw.is_file():
        raise RuntimeError(f"py-spy failed ({spy.returncode}): {stderr.decode(errors='replace')[-300:]}")
    samples, by_self, by_total = profile.summarize(raw.read_text())
    return {
        "load": spec.title,
        "rps_under_profiler": result.rps,
        "samples": samples,
        "raw": _display(raw),
        "by_self": [asdict(c) for c in by_self],
        "by_total": [asdict(c) for c in by_total],
    }


def run(settings: Settings, progress: Progress) -> dict[str, Any]:
    """Starts both members, measures every spec ``settings.only`` names; returns what the JSON file holds."""
    out: dict[str, Any] = {
        "name": NAME,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": _machine(settings),
        "settings": asdict(settings),
        "metrics": [],
    }
    with tempfile.TemporaryDirectory(prefix="etcd-bench-") as tmp, contextlib.ExitStack() as stack:
        base = Path(tmp)
        members: dict[str, Member] = {}
        for side, command in (("etcd", settings.etcd_command), ("ours", settings.ours_command)):
            progress.step(f"starting {side}: {shlex.join(command)} (fresh data dir)")
            started = time.monotonic()
            members[side] = stack.enter_context(
                Member(side, command, base, start_timeout=settings.start_timeout)
            )
            members[side].seed()
            progress.step(f"{side} ready in {time.monotonic() - started:.1f}s, pid {members[side].pid}, "
                          f"{members[side].url}")  # fmt: skip
        loads = Loads(settings, base)
        for spec in SPECS:
            if spec.name in settings.only:
                out["metrics"].append(measure(spec, members, loads, settings, progress).to_json())
        if settings.profile:
            try:
                out["profile"] = run_profile(members["ours"], loads, settings, progress)
            except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
                out["profile"] = {"error": str(e)}
                progress.step(f"profile failed: {e}")
    out["elapsed_s"] = round(time.monotonic() - progress.started, 1)
    return out


def _machine(settings: Settings) -> dict[str, Any]:
    etcd_version = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            [*settings.etcd_command, "--version"], capture_output=True, text=True, timeout=10
        )
        etcd_version = done.stdout.splitlines()[0] if done.stdout else ""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "etcd": etcd_version,
        "tools": {t: shutil.which(t) for t in ("h2load", "wrk", "py-spy")},
    }


# --------------------------------------------------------------------------------------------------
# the table


def format_table(results: dict[str, Any]) -> str:
    lines = [
        "Ours vs etcd 3.4, alternating rounds; medians; ratio = ours/etcd, the median of the rounds' ratios",
        f"  {'metric':11s} {'unit':8s} {'ours':>9s} {'etcd':>9s} {'ratio':>6s}  {'floor':12s} "
        f"{'p50 ours':>9s} {'p50 etcd':>9s} {'p99 ours':>9s} {'p99 etcd':>9s} "
        f"{'CPU ours':>9s} {'CPU etcd':>9s} {'CPU ratio':>9s}",
    ]
    for m in results["metrics"]:
        o, e = m["ours"]["median"], m["etcd"]["median"]
        if m["tool"] == "watch":
            lost = o["lost"]
            floor = "lost -" if lost is None else f"lost {lost} {'ok' if lost == 0 else 'MISSED'}"
        elif m["ratio"] is None:
            floor = "-"
        else:
            floor = f">={m['floor']:g} {'ok' if m['meets_floor'] else 'MISSED'}"
        lines.append(
            f"  {m['name']:11s} {m['unit']:8s} {_num(o['rps'], 0):>9s} {_num(e['rps'], 0):>9s} "
            f"{_num(m['ratio'], 3):>6s}  {floor:12s} {_num(o['p50_ms'], 2):>9s} {_num(e['p50_ms'], 2):>9s} "
            f"{_num(o['p99_ms'], 2):>9s} {_num(e['p99_ms'], 2):>9s} {_num(o['cpu_us'], 1):>9s} "
            f"{_num(e['cpu_us'], 1):>9s} {_num(m['cpu_ratio'], 3):>9s}"
        )
    lines.append(
        "  (latencies in ms; CPU = the member's CPU µs per request, or per event delivered for watch;\n"
        "   CPU ratio = etcd/ours, the throughput ratio to expect where the member's CPU is the limit:\n"
        "   steadier than requests/s when other processes share the machine)"
    )
    lines.append("")
    for m in results["metrics"]:
        lines.append(f"  {m['name']}: {m['title']}")
        lines.append(f"    rounds ours {_list(m['ours']['rps'])}  etcd {_list(m['etcd']['rps'])}  "
                     f"ratios {_list(m['round_ratios'], 3)}")  # fmt: skip
        if m["tool"] == "watch":
            for side in SIDES:
                for x in m[side]["extra"]:
                    lines.append(
                        f"    {side}: {x['received']}/{x['expected']} events, lost {x['lost']}, puts took "
                        f"{x['put_seconds']:.2f}s, delivered in {x['deliver_seconds']:.2f}s"
                    )
        for command in m["commands"]:
            lines.append(f"    $ {command}")
        for error in m["errors"]:
            lines.append(f"    note: {error}")
    prof = results.get("profile")
    if prof:
        lines.append("")
        if "error" in prof:
            lines.append(f"profile: {prof['error']}")
        else:
            by_self = [profile.Cost(**c) for c in prof["by_self"]]
            by_total = [profile.Cost(**c) for c in prof["by_total"]]
            lines.append(profile.format_costs(prof["samples"], by_self, by_total))
            lines.append(
                f"  ({prof['rps_under_profiler']:.0f} req/s under the profiler; stacks in {prof['raw']})"
            )
    return "\n".join(lines)


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _list(values: Sequence[float], digits: int = 0) -> str:
    return "[" + ", ".join(f"{v:.{digits}f}" for v in values) + "]"


def _display(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(REPO))
    return str(path)


# --------------------------------------------------------------------------------------------------
# the command line


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.etcd_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s, a small watch: a smoke run")
    parser.add_argument("--only", default=None, help=f"comma-separated, from: {','.join(SPEC_NAMES)}")
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 6)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per h2load/wrk run (default 2)")
    parser.add_argument("--watchers", type=int, default=None, help="watch streams (default 100)")
    parser.add_argument("--watch-puts", type=int, default=None, help="puts watched (default 2000)")
    parser.add_argument(
        "--ours-command", default=None, help=f"how to start ours (default: {shlex.join(OURS_COMMAND)})"
    )
    parser.add_argument("--etcd-command", default=None, help=f"how to start the real etcd (default: {ETCD})")
    parser.add_argument("--profile", action="store_true", help="then py-spy our member under Put 16x64")
    parser.add_argument("--profile-seconds", type=float, default=None, help="(default 5)")
    parser.add_argument(
        "--json", type=Path, default=RESULTS_DIR / f"{NAME}.json", help="where to write results"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser.parse_args(list(argv))


def settings_from(args: argparse.Namespace) -> Settings:
    values = asdict(QUICK if args.quick else Settings())
    for key in ("rounds", "duration", "watchers", "watch_puts", "profile_seconds"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    if args.rounds is not None:
        values["watch_rounds"] = args.rounds
    for key in ("ours_command", "etcd_command"):
        if getattr(args, key):
            values[key] = tuple(shlex.split(getattr(args, key)))
    if args.only:
        only = tuple(k.strip() for k in args.only.split(",") if k.strip())
        if unknown := set(only) - set(SPEC_NAMES):
            raise SystemExit(f"--only: unknown {sorted(unknown)}; choose from {','.join(SPEC_NAMES)}")
        values["only"] = only
    values["profile"] = args.profile
    values["profile_raw"] = str(args.json.with_name(args.json.stem + "-profile.txt"))
    return Settings(**values)


def missing_tools(settings: Settings) -> list[str]:
    """The external programs this run needs and cannot find."""
    kinds = {s.kind for s in SPECS if s.name in settings.only} | ({"h2load"} if settings.profile else set())
    needed = [settings.etcd_command[0]]
    needed += [load.H2LOAD] if "h2load" in kinds else []
    needed += [load.WRK] if "wrk" in kinds else []
    return [t for t in needed if shutil.which(t) is None]


def main(argv: Sequence[str]) -> int:
    args = _parse(argv)
    settings = settings_from(args)
    if missing := missing_tools(settings):
        print(f"etcd_bench: missing {', '.join(missing)} (scripts/install-tools.sh --bench)", file=sys.stderr)
        return 2
    progress = Progress(quiet=args.quiet)
    results = run(settings, progress)
    results["command"] = shlex.join(["python -m benchmarks.etcd_bench", *argv])
    print(format_table(results))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults written to {_display(args.json)} ({results['elapsed_s']}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
