"""``python -m etcd`` as a child process for tests: free ports, a tmp data dir, its JSON log in a file."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.real_etcd import free_ports

REPO = Path(__file__).resolve().parents[2]

__all__ = ["REPO", "Child", "etcd_command", "free_ports", "member_flags", "run_once", "running", "spawn"]

START_TIMEOUT = 20.0


def etcd_command() -> list[str]:
    return [sys.executable, "-m", "etcd"]


def member_flags(data_dir: Path, client_port: int, peer_port: int, name: str = "default") -> list[str]:
    client, peer = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
    return [
        f"--name={name}",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={name}={peer}",
    ]


@dataclass
class Child:
    proc: subprocess.Popen[bytes]
    log_path: Path
    client_port: int = 0
    peer_port: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def client_url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    def log_text(self) -> str:
        return self.log_path.read_bytes().decode(errors="replace")

    def log_entries(self) -> list[dict[str, Any]]:
        """Every stderr line parsed as JSON (a line that is not JSON fails the test here)."""
        return [json.loads(line) for line in self.log_text().splitlines() if line.strip()]

    def wait(self, timeout: float = 20.0) -> int:
        return self.proc.wait(timeout=timeout)

    def wait_serving(self, timeout: float = START_TIMEOUT) -> None:
        """Until GET /health answers 200 on the client port; fails with the log if the child exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"etcd exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(f"{self.client_url}/health", timeout=2) as r,
            ):
                if r.status == 200:
                    return
            time.sleep(0.05)
        raise AssertionError(f"etcd not serving after {timeout}s:\n{self.log_text()[-3000:]}")


def spawn(
    args: Sequence[str], log_path: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
    environ.pop("NOTIFY_SOCKET", None)
    environ.update(env or {})
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [*etcd_command(), *args], stdout=log, stderr=subprocess.STDOUT, env=environ, cwd=cwd or REPO
        )


def run_once(args: Sequence[str], tmp: Path, timeout: float = 30.0) -> tuple[int, str]:
    """Runs the child to its end; (exit code, output)."""
    log_path = tmp / f"run-{time.monotonic_ns()}.log"
    proc = spawn(args, log_path)
    try:
        code = proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    return code, log_path.read_text(errors="replace")


@contextlib.contextmanager
def running(
    tmp: Path,
    *,
    data_dir: Path | None = None,
    ports: tuple[int, int] | None = None,
    extra: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    wait: bool = True,
) -> Iterator[Child]:
    """A member on free ports (or ``ports``) with its data in ``data_dir`` (default ``tmp/data``), run in
    ``tmp`` (where unix:// listeners put their socket files); killed on exit if still running."""
    client_port, peer_port = ports or tuple(free_ports(2))
    log_path = tmp / f"etcd-{time.monotonic_ns()}.log"
    args = [*member_flags(data_dir or tmp / "data", client_port, peer_port), *extra]
    child = Child(spawn(args, log_path, env, cwd=tmp), log_path, client_port, peer_port)
    try:
        if wait:
            child.wait_serving()
        yield child
    finally:
        if child.proc.poll() is None:
            child.proc.send_signal(signal.SIGKILL)
            child.proc.wait(timeout=10)
