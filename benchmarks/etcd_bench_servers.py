"""The two members the etcd benchmark compares: the real etcd 3.4 and ours, each one fresh member.

``Member`` starts one single-member cluster from a command (``/usr/bin/etcd`` or ``python -m etcd``) with
the same flags for both, on free 127.0.0.1 ports and a data dir of its own; waits until its gRPC Status
answers and ``/health`` says true; seeds the keys the read benchmarks ask for; reads the process's CPU
time from ``/proc``; and stops it by its PID. Used by ``benchmarks/etcd_bench.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from etcd.api.etcdserverpb import rpc_pb2, rpc_pb2_grpc

REPO = Path(__file__).resolve().parent.parent
ETCD = "/usr/bin/etcd"
OURS_COMMAND = (sys.executable, "-m", "etcd")

# What the read benchmarks read: a v3 key (gRPC Range, /v3/kv/range) and a v2 key (/v2/keys/foo).
READ_KEY = b"foo"
READ_VALUE = b"bar"


def kv_stub(channel: Any) -> Any:
    """etcdserverpb.KV on ``channel`` (sync or aio); the generated stub classes are untyped."""
    return rpc_pb2_grpc.KVStub(channel)  # type: ignore[no-untyped-call]


def watch_stub(channel: Any) -> Any:
    """etcdserverpb.Watch on ``channel``."""
    return rpc_pb2_grpc.WatchStub(channel)  # type: ignore[no-untyped-call]


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports free right now on 127.0.0.1."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def process_cpu_seconds(pid: int) -> float:
    """CPU time of process ``pid`` so far, summed over its live threads (nanoseconds from schedstat).

    Falls back to ``/proc/<pid>/stat`` (clock ticks) where schedstat is missing; 0.0 if the process is gone.
    """
    total_ns = 0
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):  # a thread may end meanwhile
                total_ns += int((task / "schedstat").read_text().split()[0])
    if total_ns:
        return total_ns / 1e9
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Member:
    """One member started by ``command``: ``with Member("ours", cmd, base) as m: m.client_port ...``.

    Both sides get exactly these flags (a new one-member cluster named ``bench``, v2 enabled); the data dir
    is ``base/<side>-data`` and must not exist yet, the log goes to ``base/<side>.log``.
    """

    def __init__(
        self, side: str, command: tuple[str, ...], base: Path, *, start_timeout: float = 60.0
    ) -> None:
        self.side = side
        self.command = command
        self.base = base
        self.start_timeout = start_timeout
        self.client_port, self.peer_port = free_ports(2)
        self.data_dir = base / f"{side}-data"
        self.log_path = base / f"{side}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def args(self) -> list[str]:
        client, peer = self.url, f"http://127.0.0.1:{self.peer_port}"
        return [
            *self.command,
            "--name", "bench", "--data-dir", str(self.data_dir),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"bench={peer}", "--enable-v2",
        ]  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> Member:
        if self.data_dir.exists():
            raise RuntimeError(f"{self.data_dir} exists: each run starts from a fresh data dir")
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT, cwd=self.base, env=env
            )
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()  # our own child, by its PID
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    def log_tail(self, size: int = 2000) -> str:
        try:
            return self.log_path.read_bytes()[-size:].decode(errors="replace")
        except OSError:
            return ""

    def _wait_ready(self) -> None:
        """Until gRPC Status answers and /health is true (bounded by ``start_timeout``)."""
        import grpc

        deadline = time.monotonic() + self.start_timeout
        assert self.proc is not None
        channel = grpc.insecure_channel(self.target)
        try:
            status = channel.unary_unary("/etcdserverpb.Maintenance/Status")
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"{self.side}: the member exited with {self.proc.returncode}\n{self.log_tail()}"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(
                        f"{self.side}: not ready within {self.start_timeout:.0f}s\n{self.log_tail()}"
                    )
                try:
                    status(b"", timeout=min(left, 2.0), wait_for_ready=True)
                    break
                except grpc.RpcError:
                    continue
        finally:
            channel.close()
        for _ in range(int(self.start_timeout * 10)):
            with contextlib.suppress(OSError, ValueError):
                if self.http_json("GET", "/health").get("health") == "true":
                    return
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        raise RuntimeError(f"{self.side}: /health never said true\n{self.log_tail()}")

    # --- requests used to seed and to check each side before it is measured

    def http_json(
        self, method: str, path: str, body: bytes | None = None, content_type: str = ""
    ) -> dict[str, Any]:
        """One HTTP request on a new connection; the decoded JSON body (an HTTP error status raises)."""
        request = urllib.request.Request(self.url + path, data=body, method=method)
        if content_type:
            request.add_header("Content-Type", content_type)
        with urllib.request.urlopen(request, timeout=10) as response:
            return dict(json.loads(response.read()))

    def seed(self) -> None:
        """Puts the keys the read benchmarks read: v3 ``foo`` and v2 ``/foo``, both ``bar``."""
        import grpc

        with grpc.insecure_channel(self.target) as channel:
            kv_stub(channel).Put(rpc_pb2.PutRequest(key=READ_KEY, value=READ_VALUE), timeout=10)
        form = urllib.parse.urlencode({"value": READ_VALUE.decode()}).encode()
        self.http_json("PUT", "/v2/keys/" + READ_KEY.decode(), form, "application/x-www-form-urlencoded")

    def reply_size(self, path: str, request: bytes) -> int:
        """Bytes of DATA in one gRPC reply to ``request`` (serialized) on ``path``: frame header + message."""
        import grpc

        with grpc.insecure_channel(self.target) as channel:
            reply = channel.unary_unary(path)(request, timeout=10)
        return 5 + len(reply)

    def revision(self) -> int:
        """The current revision, from a serializable Range's header."""
        import grpc

        with grpc.insecure_channel(self.target) as channel:
            response = kv_stub(channel).Range(
                rpc_pb2.RangeRequest(key=READ_KEY, serializable=True), timeout=10
            )
        return int(response.header.revision)
