"""One etcd member as a real process for the interop tests: the real etcd 3.4 or ours (``python -m etcd``).

Both are started with the same flags on free 127.0.0.1 ports and a data dir under the test's tmp dir, are
served once their gRPC ``Maintenance/Status`` answers and /version shows a cluster version, and are killed
by PID when the test is done. The
same member can be SIGKILLed and started again on the same ports and data dir (``Member.restart``).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest

from tests.real_etcd import free_ports

ROOT = Path(__file__).resolve().parents[2]
OURS_MAIN = ROOT / "etcd" / "__main__.py"
REAL_ETCD = shutil.which("etcd") or "/usr/bin/etcd"
ETCDCTL = shutil.which("etcdctl")
CURL = shutil.which("curl")

KINDS = ("real", "ours")
START_TIMEOUT = 30.0  # seconds for a member to answer Status; ours imports grpc, aiohttp and rocksdict first


def ours_available() -> bool:
    """Our server can be started once its entry point exists."""
    return OURS_MAIN.exists()


def skip_reason(kind: str) -> str | None:
    """Why a test on ``kind`` cannot run here, or None."""
    if ETCDCTL is None:
        return "etcdctl 3.4 is not installed (apt-get install etcd-client)"
    if CURL is None:
        return "curl is not installed (apt-get install curl)"
    if kind == "real" and shutil.which("etcd") is None:
        return "the real etcd 3.4 is not installed (apt-get install etcd-server)"
    if kind == "ours" and not ours_available():
        return "etcd/__main__.py does not exist yet: `python -m etcd` cannot start"
    return None


def kind_params() -> list[object]:
    """``pytest.param`` per kind, skipped with its reason where it cannot run."""
    params: list[object] = []
    for kind in KINDS:
        reason = skip_reason(kind)
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        params.append(pytest.param(kind, id=kind, marks=marks))
    return params


def _command(kind: str) -> list[str]:
    if kind == "real":
        return [REAL_ETCD]
    return [sys.executable, "-m", "etcd"]


@dataclass
class Member:
    """A running member; ``endpoint`` is what etcdctl's ``--endpoints`` takes, ``url`` what curl takes."""

    kind: str
    name: str
    base: Path
    client_port: int
    peer_port: int
    extra: tuple[str, ...]
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    logs: list[Path] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    @property
    def data_dir(self) -> Path:
        return self.base / f"{self.name}.etcd"

    def args(self) -> list[str]:
        return [
            *_command(self.kind),
            f"--name={self.name}",
            f"--data-dir={self.data_dir}",
            f"--listen-client-urls={self.url}",
            f"--advertise-client-urls={self.url}",
            f"--listen-peer-urls={self.peer_url}",
            f"--initial-advertise-peer-urls={self.peer_url}",
            f"--initial-cluster={self.name}={self.peer_url}",
            "--initial-cluster-state=new",
            "--heartbeat-interval=50",
            "--election-timeout=500",
            "--enable-v2",
            *self.extra,
        ]

    def log_tail(self) -> str:
        if not self.logs:
            return ""
        return self.logs[-1].read_bytes()[-4000:].decode(errors="replace")

    def start(self) -> None:
        """Start the process and wait until it serves; fails the test with the log tail if it does not."""
        self.starts += 1
        log_path = self.base / f"{self.name}.{self.starts}.log"
        self.logs.append(log_path)
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(self.args(), stdout=log, stderr=subprocess.STDOUT, cwd=self.base)
        deadline = time.monotonic() + START_TIMEOUT
        channel = grpc.insecure_channel(self.endpoint)
        try:
            status = channel.unary_unary("/etcdserverpb.Maintenance/Status")
            while True:
                if self.proc.poll() is not None:
                    pytest.fail(f"{self.kind} etcd exited with {self.proc.returncode}:\n{self.log_tail()}")
                try:
                    status(b"", timeout=1.0, wait_for_ready=True)
                    break
                except grpc.RpcError as e:
                    if time.monotonic() > deadline:
                        self.kill()
                        pytest.fail(f"{self.kind} etcd did not come up: {e}\n{self.log_tail()}")
        finally:
            channel.close()
        self._wait_cluster_version(deadline)

    def _wait_cluster_version(self, deadline: float) -> None:
        """Wait until /version shows a decided cluster version.

        The real etcd writes it (a v2 store entry, so it moves every later v2 index by one) right as it
        starts serving; waiting for it on both members keeps their v2 indexes equal in the transcripts.
        """
        version = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/version", timeout=1.0) as resp:
                    version = resp.read().decode()
                if '"etcdcluster":"not_decided"' not in version:
                    return
            except OSError as e:
                version = str(e)
            time.sleep(0.05)
        self.kill()
        pytest.fail(f"{self.kind} etcd never decided its cluster version: {version}\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the process (by its PID) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        """SIGKILL, then start again on the same ports and data dir."""
        self.kill()
        self.start()


@contextlib.contextmanager
def running_member(kind: str, base: Path, *, extra: tuple[str, ...] = ()) -> Iterator[Member]:
    """A fresh one-member cluster of ``kind`` ("real" or "ours") under ``base``; killed on exit."""
    reason = skip_reason(kind)
    if reason:
        pytest.skip(reason)
    base.mkdir(parents=True, exist_ok=True)
    client_port, peer_port = free_ports(2)
    member = Member(kind, "m1", base, client_port, peer_port, extra)
    try:
        member.start()
        yield member
    finally:
        member.kill()
