"""Load generators for the etcd benchmark: h2load speaking gRPC, wrk speaking HTTP/1.1; what they report.

``grpc_body`` frames a serialized etcdserverpb request as gRPC does (flag byte, 4-byte length); h2load
sends it as the body of every request (``-d``) with gRPC's headers. h2load counts an HTTP 200 as success
even when the trailers carry a gRPC error (a trailers-only answer has no DATA), so ``H2loadRun`` also keeps
the DATA bytes received: a run whose answers average fewer bytes than the smallest real reply failed.
Latencies come from h2load's per-request log (``--log-file``) and wrk's ``--latency`` distribution.
"""

from __future__ import annotations

import math
import re
import statistics
import subprocess
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import Message

H2LOAD = "/usr/bin/h2load"
WRK = "/usr/bin/wrk"
GRPC_HEADERS = ("content-type: application/grpc", "te: trailers")


def grpc_body(request: Message) -> bytes:
    """The gRPC length-prefixed message for ``request``: uncompressed flag, big-endian length, bytes."""
    payload: bytes = request.SerializeToString()
    return b"\x00" + len(payload).to_bytes(4, "big") + payload


def command_line(args: list[str]) -> str:
    return " ".join(a if " " not in a and a else repr(a) for a in args)


def run_tool(args: list[str], timeout: float) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} exited with {done.returncode}: {done.stderr.strip()[:300]}")
    return done.stdout


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of already sorted values, nearest rank; 0.0 for none."""
    if not sorted_values:
        return 0.0
    rank = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[rank]


# --------------------------------------------------------------------------------------------------
# h2load


@dataclass(frozen=True)
class H2loadRun:
    rps: float
    succeeded: int
    failed: int
    data_bytes: int  # DATA payload received, all requests
    p50_ms: float
    p99_ms: float
    command: str


_H2LOAD_RPS = re.compile(r"finished in [\d.]+[mu]?s, ([\d.]+) req/s")
_H2LOAD_REQUESTS = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored"
)
_H2LOAD_DATA = re.compile(r"traffic: .*\((\d+)\) data")


def parse_h2load(output: str) -> tuple[float, int, int, int]:
    """(requests per second, succeeded, failed + errored, DATA bytes) from h2load's report."""
    rps = _H2LOAD_RPS.search(output)
    req = _H2LOAD_REQUESTS.search(output)
    data = _H2LOAD_DATA.search(output)
    if not rps or not req or not data:
        raise RuntimeError(f"unexpected h2load output: {output[-400:]!r}")
    return float(rps.group(1)), int(req.group(4)), int(req.group(5)) + int(req.group(6)), int(data.group(1))


def h2load_latencies_ms(log: str) -> list[float]:
    """Sorted request times in ms from h2load's ``--log-file`` (start µs, status, elapsed µs per line)."""
    out = []
    for line in log.splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[1] == "200":
            out.append(int(parts[2]) / 1000)
    out.sort()
    return out


def run_h2load(
    url: str, body: Path, *, connections: int, streams: int, duration: float, log_path: Path
) -> H2loadRun:
    """h2load for ``duration`` seconds (timing-based), ``connections`` x ``streams`` concurrent requests."""
    args = [
        H2LOAD, f"-D{max(1, round(duration))}", f"-c{connections}", f"-m{streams}", "-t1",
        *(x for h in GRPC_HEADERS for x in ("-H", h)), "-d", str(body), "--log-file", str(log_path), url,
    ]  # fmt: skip
    rps, succeeded, failed, data = parse_h2load(run_tool(args, timeout=duration + 60))
    latencies = h2load_latencies_ms(log_path.read_text())
    log_path.unlink(missing_ok=True)
    return H2loadRun(
        rps,
        succeeded,
        failed,
        data,
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        command_line(args),
    )


# --------------------------------------------------------------------------------------------------
# wrk


@dataclass(frozen=True)
class WrkRun:
    rps: float
    requests: int
    errors: str  # wrk's socket error and non-2xx lines, "" if none
    non2xx: int
    p50_ms: float
    p99_ms: float
    command: str


_WRK_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_WRK_TOTAL = re.compile(r"(\d+) requests in")
_WRK_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_WRK_NON2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_WRK_PERCENTILE = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def parse_wrk(output: str) -> WrkRun:
    """What wrk ``--latency`` reports; the command is left empty."""
    rps = _WRK_RPS.search(output)
    total = _WRK_TOTAL.search(output)
    if not rps or not total:
        raise RuntimeError(f"unexpected wrk output: {output[-400:]!r}")
    errors = []
    if m := _WRK_SOCKET_ERRORS.search(output):
        errors.append(m.group(0))
    non2xx = 0
    if m := _WRK_NON2XX.search(output):
        errors.append(m.group(0))
        non2xx = int(m.group(1))
    percentiles = {int(p): float(v) * _UNIT_MS[u] for p, v, u in _WRK_PERCENTILE.findall(output)}
    return WrkRun(
        float(rps.group(1)), int(total.group(1)), "; ".join(errors), non2xx,
        percentiles.get(50, 0.0), percentiles.get(99, 0.0), "",
    )  # fmt: skip


def post_script(path: Path, body: str, content_type: str = "application/json") -> Path:
    """A wrk Lua script that makes every request a POST of ``body``."""
    quoted = body.replace("\\", "\\\\").replace("'", "\\'")
    path.write_text(
        f'wrk.method = "POST"\nwrk.body = \'{quoted}\'\nwrk.headers["Content-Type"] = "{content_type}"\n'
    )
    return path


def run_wrk(
    url: str, *, connections: int, duration: float, close: bool = True, script: Path | None = None
) -> WrkRun:
    """wrk for ``duration`` seconds; with ``close``, a new connection per request (``Connection: close``)."""
    args = [WRK, "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", "--timeout", "5s"]
    if close:
        args += ["-H", "Connection: close"]
    if script is not None:
        args += ["-s", str(script)]
    args.append(url)
    run = parse_wrk(run_tool(args, timeout=duration + 60))
    return WrkRun(run.rps, run.requests, run.errors, run.non2xx, run.p50_ms, run.p99_ms, command_line(args))


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
