"""What the standalone gateway (``python -m mux``) costs against connecting directly, and against nginx
``stream`` with ``ssl_preread`` and sslh doing the same job on one port.

``python -m benchmarks.gateway_bench [--quick] [--rounds N] [--duration S]`` (or ``python -m benchmarks
gateway``) measures, in one run, each as a ratio to the direct path:

1. **HTTP/1.1 new connections per second** (wrk, ``Connection: close``) and **keep-alive requests per
   second** (wrk) to an aiohttp app: directly, through the gateway (``http1`` route), through nginx and
   through sslh (plaintext -> the app).
2. **HTTPS new connections per second** (wrk; TLS handshake each time, passed through to an HTTPS app
   by every proxy: the gateway's ``tls`` route with ``proxy``, nginx's ``ssl_preread``, sslh's ``--tls``).
3. **Unary gRPC calls per second** (``python -m mux.loadtest``, grpcio clients in their own process):
   the grpcio server on TCP directly vs through the gateway to its Unix socket. nginx ``stream`` and
   sslh cannot tell gRPC from HTTP/1.1 on a shared port (both are plaintext; sslh's HTTP probe even
   takes the h2 preface for HTTP), so they are not measured here.
4. **Bulk MB/s** through the byte proxy to a sink that counts bytes: directly, through the gateway
   (fallback route), nginx (its own port: ``stream`` cannot route plaintext by content) and sslh
   (``--anyprot``).

The backends run in one child process (``python -m mux.loadtest backends``), the gateway, nginx
(``worker_processes 1``) and sslh (``sslh-select``, one process) each in their own; the proxies' CPU
time per request (from ``/proc``) is reported beside the throughput. nginx and sslh are used when
installed from Debian's packages (``apt-get install nginx libnginx-mod-stream sslh``); otherwise their
columns say why they are missing. Rounds alternate the order of the paths; the table shows medians.
Everything runs on 127.0.0.1; every wait is bounded; only processes started here are stopped, by PID.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.mux_bench import parse_wrk

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "gateway.json"
WRK = shutil.which("wrk")
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
NGINX_STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"
SSLH = shutil.which("sslh-select") or (
    "/usr/sbin/sslh-select" if os.path.exists("/usr/sbin/sslh-select") else None
)
PATHS = ("direct", "gateway", "nginx", "sslh")


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its reaped children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def make_cert(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "https.pem", directory / "https.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


BULK_MAGIC = b"BULK"  # no HTTP, TLS or h2 matcher takes it: every proxy's catch-all gets it
BULK_CHUNK = 1 << 20


class Sink:
    """Counts the bytes announced by an 8-byte length after ``BULK_MAGIC``, then answers the count.

    The length makes the end known without a half-close, which sslh 1.20 does not pass on. Threads with
    blocking sockets, so counting costs the proxies nothing. ``close()`` stops accepting.
    """

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.listener.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._count, args=(conn,), daemon=True).start()

    @staticmethod
    def _count(conn: socket.socket) -> None:
        buf = bytearray(BULK_CHUNK)
        conn.settimeout(60)
        with conn:
            try:
                head = b""
                while len(head) < len(BULK_MAGIC) + 8:
                    part = conn.recv(len(BULK_MAGIC) + 8 - len(head))
                    if not part:
                        return
                    head += part
                want = int.from_bytes(head[len(BULK_MAGIC) :], "big")
                total = 0
                while total < want and (n := conn.recv_into(buf)):
                    total += n
                conn.sendall(total.to_bytes(8, "big"))
            except OSError:
                pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.listener.close()


def send_bulk(port: int, size: int, timeout: float = 120.0) -> float:
    """Sends ``size`` bytes through ``port`` to the sink and waits for its count; MB/s."""
    chunk = memoryview(bytes(BULK_CHUNK))
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(BULK_MAGIC + size.to_bytes(8, "big"))
        left = size
        while left > 0:
            n = min(left, BULK_CHUNK)
            s.sendall(chunk[:n])
            left -= n
        answer = b""
        while len(answer) < 8:
            part = s.recv(8 - len(answer))
            if not part:
                break
            answer += part
    elapsed = time.perf_counter() - t0
    got = int.from_bytes(answer, "big") if len(answer) == 8 else -1
    if got != size:
        raise RuntimeError(f"bulk: the sink counted {got} bytes of {size}")
    return size / elapsed / 1e6


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def cpu(self) -> float:
        return cpu_seconds(self.popen.pid)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def spawn(name: str, args: list[str], directory: Path) -> Process:
    log = directory / f"{name}.log"
    with open(log, "wb") as out:
        popen = subprocess.Popen(
            args, cwd=REPO, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    return Process(name, popen, log)


@dataclass
class Setup:
    """Ports of every path, the proxies' processes, and why a path is missing."""

    directory: Path
    http: int = 0
    https: int = 0
    grpc_tcp: int = 0
    grpc_unix: str = ""
    sink: Sink | None = None
    ports: dict[str, dict[str, int]] = field(default_factory=dict)  # path -> {"http","https","grpc","bulk"}
    proxies: dict[str, Process] = field(default_factory=dict)
    backends: Process | None = None
    missing: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        for process in self.proxies.values():
            process.stop()
        if self.backends is not None:
            self.backends.stop()
        if self.sink is not None:
            self.sink.close()


def start(directory: Path, progress: Callable[[str], None]) -> Setup:
    setup = Setup(directory)
    setup.http, setup.https, setup.grpc_tcp = free_ports(3)
    setup.grpc_unix = f"unix:{directory / 'grpc.sock'}"
    cert, key = make_cert(directory)
    setup.sink = Sink()
    sink = setup.sink.port
    setup.backends = spawn(
        "backends",
        [
            sys.executable, "-m", "mux.loadtest", "backends",
            "--grpc", f"grpc={setup.grpc_unix}", "--grpc", f"grpc=127.0.0.1:{setup.grpc_tcp}",
            "--http", f"rest=127.0.0.1:{setup.http}",
            "--https", f"site=127.0.0.1:{setup.https}", "--cert", str(cert), "--key", str(key),
        ],
        directory,
    )  # fmt: skip
    for port in (setup.http, setup.https, setup.grpc_tcp):
        wait_port(port)
    setup.ports["direct"] = {"http": setup.http, "https": setup.https, "grpc": setup.grpc_tcp, "bulk": sink}

    (gw_port,) = free_ports(1)
    config = {
        "listen": f"127.0.0.1:{gw_port}",
        "access_log": str(directory / "gateway-access.log"),
        "routes": [
            {"name": "grpc", "match": "grpc", "proxy": setup.grpc_unix},
            {"name": "rest", "match": "http1", "proxy": f"127.0.0.1:{setup.http}"},
            {"name": "site", "match": "tls", "proxy": f"127.0.0.1:{setup.https}"},
        ],
        "fallback": {"name": "bulk", "proxy": f"127.0.0.1:{sink}"},
    }
    config_path = directory / "gateway.yaml"
    config_path.write_text(json.dumps(config))  # JSON is YAML
    setup.proxies["gateway"] = spawn(
        "gateway", [sys.executable, "-m", "mux", "--config", str(config_path)], directory
    )
    wait_port(gw_port)
    setup.ports["gateway"] = {"http": gw_port, "https": gw_port, "grpc": gw_port, "bulk": gw_port}
    progress(f"backends and gateway up (gateway on {gw_port})")

    if NGINX is None or not os.path.exists(NGINX_STREAM_MODULE):
        setup.missing["nginx"] = (
            "nginx with the stream module is not installed (apt-get install nginx libnginx-mod-stream)"
        )
    else:
        n_port, n_bulk = free_ports(2)
        conf = directory / "nginx.conf"
        conf.write_text(
            f"load_module {NGINX_STREAM_MODULE};\n"
            "master_process off;\nworker_processes 1;\n"
            f"pid {directory}/nginx.pid;\nerror_log {directory}/nginx-error.log;\n"
            "events { worker_connections 4096; }\n"
            "stream {\n"
            '  map $ssl_preread_protocol $upstream { "" plain; default tls; }\n'
            f"  upstream plain {{ server 127.0.0.1:{setup.http}; }}\n"
            f"  upstream tls {{ server 127.0.0.1:{setup.https}; }}\n"
            f"  server {{ listen 127.0.0.1:{n_port}; ssl_preread on; proxy_pass $upstream; }}\n"
            f"  server {{ listen 127.0.0.1:{n_bulk}; proxy_pass 127.0.0.1:{sink}; }}\n"
            "  proxy_half_close on;\n"
            "}\n"
        )
        setup.proxies["nginx"] = spawn(
            "nginx", [NGINX, "-p", str(directory), "-c", str(conf), "-g", "daemon off;"], directory
        )
        try:
            wait_port(n_port, 10)
            setup.ports["nginx"] = {"http": n_port, "https": n_port, "bulk": n_bulk}
            progress(f"nginx stream + ssl_preread up on {n_port} (bulk on {n_bulk})")
        except RuntimeError:
            setup.proxies.pop("nginx").stop()
            setup.missing["nginx"] = f"nginx did not start: {(directory / 'nginx.log').read_text()[-300:]}"

    if SSLH is None:
        setup.missing["sslh"] = "sslh is not installed (apt-get install sslh)"
    else:
        (s_port,) = free_ports(1)
        setup.proxies["sslh"] = spawn(
            "sslh",
            [
                SSLH, "-f", "-n", "-p", f"127.0.0.1:{s_port}",
                "--http", f"127.0.0.1:{setup.http}", "--tls", f"127.0.0.1:{setup.https}",
                "--anyprot", f"127.0.0.1:{sink}",
            ],
            directory,
        )  # fmt: skip
        try:
            wait_port(s_port, 10)
            setup.ports["sslh"] = {"http": s_port, "https": s_port, "bulk": s_port}
            progress(f"sslh-select up on {s_port}")
        except RuntimeError:
            setup.proxies.pop("sslh").stop()
            setup.missing["sslh"] = f"sslh did not start: {(directory / 'sslh.log').read_text()[-300:]}"
    return setup


@dataclass
class Measure:
    name: str
    unit: str
    values: dict[str, list[float]] = field(default_factory=dict)  # path -> per round
    cpu_us: dict[str, list[float]] = field(default_factory=dict)  # path -> proxy CPU µs per op
    notes: list[str] = field(default_factory=list)

    def median(self, path: str) -> float | None:
        got = self.values.get(path)
        return statistics.median(got) if got else None

    def ratio(self, path: str) -> float | None:
        base, value = self.median("direct"), self.median(path)
        return value / base if base and value is not None else None


def run_wrk(port: int, *, tls: bool, close: bool, seconds: int, connections: int) -> tuple[float, int, str]:
    assert WRK is not None
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/"
    args = [WRK, "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"]
    if close:
        args += ["-H", "Connection: close"]
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 30, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited with {done.returncode}: {done.stderr[:300]}")
    return parse_wrk(done.stdout)


def wrk_runner(
    *, tls: bool, close: bool, seconds: int, connections: int
) -> Callable[[dict[str, int]], tuple[float, int, str]]:
    def one(ports: dict[str, int]) -> tuple[float, int, str]:
        return run_wrk(
            ports["https" if tls else "http"], tls=tls, close=close, seconds=seconds, connections=connections
        )

    return one


def run_grpc(port: int, seconds: float, concurrency: int) -> tuple[float, int, str]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        args = [
            sys.executable, "-m", "mux.loadtest", "run", "--target", f"127.0.0.1:{port}", "--quiet",
            "--duration", str(seconds), "--mix", f"grpc_unary={concurrency}", "--expect", "grpc_unary=grpc",
            "--json", out.name,
        ]  # fmt: skip
        subprocess.run(args, capture_output=True, timeout=seconds + 60, cwd=REPO, check=False)
        doc = json.loads(Path(out.name).read_text() or "{}")
    if not doc.get("kinds"):
        raise RuntimeError("the gRPC load tester wrote no report")
    kind = doc["kinds"][0]
    errors = (
        f"{kind['errors']} errors, {kind['misroutes']} misroutes"
        if kind["errors"] or kind["misroutes"]
        else ""
    )
    return float(kind["throughput_per_s"]), int(kind["ok"]), errors


def measure(
    setup: Setup,
    name: str,
    unit: str,
    rounds: int,
    one: Callable[[dict[str, int]], tuple[float, int, str]],
    progress: Callable[[str], None],
    paths: Sequence[str] = PATHS,
) -> Measure:
    m = Measure(name, unit)
    usable = [p for p in paths if p in setup.ports]
    for r in range(rounds):
        order = usable if r % 2 == 0 else list(reversed(usable))
        for path in order:
            proxy = setup.proxies.get(path)
            cpu0 = proxy.cpu() if proxy else 0.0
            try:
                value, ops, errors = one(setup.ports[path])
            except (RuntimeError, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
                m.notes.append(f"round {r + 1} {path}: {e}")
                progress(f"{name}: round {r + 1} {path}: failed: {e}")
                continue
            if proxy:
                m.cpu_us.setdefault(path, []).append((proxy.cpu() - cpu0) / max(ops, 1) * 1e6)
            m.values.setdefault(path, []).append(value)
            if errors:
                m.notes.append(f"round {r + 1} {path}: {errors}")
            progress(f"{name}: round {r + 1}/{rounds} {path:8s} {value:10.1f} {unit}")
    return m


@dataclass(frozen=True)
class Settings:
    rounds: int = 3
    seconds: int = 3
    connections: int = 32
    grpc_concurrency: int = 16
    bulk_mib: int = 512


QUICK = Settings(rounds=1, seconds=1, connections=16, grpc_concurrency=8, bulk_mib=64)


def run(settings: Settings, progress: Callable[[str], None]) -> dict[str, Any]:
    measures: list[Measure] = []
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp:
        setup = start(Path(tmp), progress)
        try:
            if WRK is None:
                setup.missing["wrk"] = "wrk is not installed: HTTP rows not measured"
            else:
                s, c = settings.seconds, settings.connections
                for name, unit, tls, close in (
                    ("http_conn_close", "conn/s", False, True),
                    ("http_keepalive", "req/s", False, False),
                    ("https_conn_close", "conn/s", True, True),
                ):
                    one = wrk_runner(tls=tls, close=close, seconds=s, connections=c)
                    measures.append(measure(setup, name, unit, settings.rounds, one, progress))
            measures.append(
                measure(
                    setup, "grpc_unary", "calls/s", settings.rounds,
                    lambda ports: run_grpc(ports["grpc"], settings.seconds, settings.grpc_concurrency),
                    progress, paths=("direct", "gateway"),
                )
            )  # fmt: skip
            size = settings.bulk_mib << 20

            def bulk(ports: dict[str, int]) -> tuple[float, int, str]:
                return send_bulk(ports["bulk"], size), settings.bulk_mib, ""

            measures.append(measure(setup, "bulk", "MB/s", settings.rounds, bulk, progress))
        finally:
            setup.close()
        missing = dict(setup.missing)
    return {
        "benchmark": "gateway",
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "settings": settings.__dict__,
        "missing": missing,
        "measures": [
            {
                "name": m.name,
                "unit": m.unit,
                "values": m.values,
                "median": {p: m.median(p) for p in m.values},
                "ratio_to_direct": {p: m.ratio(p) for p in m.values if p != "direct"},
                "proxy_cpu_us_per_op": {p: statistics.median(v) for p, v in m.cpu_us.items() if v},
                "notes": m.notes,
            }
            for m in measures
        ],
    }


def table(results: dict[str, Any]) -> str:
    head = (
        f"{'measure':<18}{'unit':<9}"
        + "".join(f"{p:>11}" for p in PATHS)
        + "   ratios to direct; proxy CPU per op"
    )
    lines = [head, "-" * len(head)]
    for m in results["measures"]:
        cells = "".join(f"{m['median'][p]:>11.1f}" if p in m["median"] else f"{'-':>11}" for p in PATHS)
        ratios = ", ".join(f"{p} {r:.2f}" for p, r in m["ratio_to_direct"].items() if r is not None)
        unit_op = "MiB" if m["unit"] == "MB/s" else "op"
        cpu = ", ".join(f"{p} {v:.0f} µs/{unit_op}" for p, v in m["proxy_cpu_us_per_op"].items())
        lines.append(f"{m['name']:<18}{m['unit']:<9}{cells}   {ratios}; {cpu}")
        for note in m["notes"][:3]:
            lines.append(f"{'':<27}note: {note}")
    for what, why in results["missing"].items():
        lines.append(f"skipped {what}: {why}")
    if not {"nginx", "sslh"} & set(results["missing"]):
        lines.append("grpc_unary: nginx stream and sslh cannot route gRPC apart from HTTP/1.1 on one port")
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gateway_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="one short round of each")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--duration", type=int, help="seconds per wrk / gRPC run")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(list(argv))
    settings = QUICK if args.quick else Settings()
    if args.rounds or args.duration:
        settings = Settings(
            rounds=args.rounds or settings.rounds,
            seconds=args.duration or settings.seconds,
            connections=settings.connections,
            grpc_concurrency=settings.grpc_concurrency,
            bulk_mib=settings.bulk_mib,
        )

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    results = run(settings, progress)
    print(table(results))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
