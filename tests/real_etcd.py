"""The real etcd 3.4 (Debian etcd-server) as a reference in tests: start one member, wait, kill it by PID.

Tests that compare our behaviour with etcd's run it on free 127.0.0.1 ports with a tmp data dir.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
requires_etcd = pytest.mark.skipif(
    shutil.which("etcd") is None, reason="the real etcd 3.4 is not installed (apt-get install etcd-server)"
)


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports free right now; the sockets stay bound until all are picked."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass(frozen=True)
class Member:
    name: str
    client_port: int
    peer_port: int
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def client_url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    def log_tail(self) -> str:
        return self.log_path.read_bytes()[-3000:].decode(errors="replace")


@contextlib.contextmanager
def running_etcd(
    base: Path,
    name: str = "real",
    *,
    ports: list[int] | None = None,
    initial_cluster: str = "",
    extra: tuple[str, ...] = (),
) -> Iterator[Member]:
    """One etcd member (data under ``base/name``), served once its gRPC Status answers; killed on exit.

    ``initial_cluster`` empty starts a new one-member cluster; otherwise the member joins that cluster.
    Fast heartbeats (50 ms / 500 ms) keep start-up short.
    """
    client_port, peer_port = ports or free_ports(2)
    client_url, peer_url = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
    log_path = base / f"{name}.log"
    args = [
        ETCD,
        f"--name={name}",
        f"--data-dir={base / name}",
        f"--listen-client-urls={client_url}",
        f"--advertise-client-urls={client_url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster={initial_cluster or f'{name}={peer_url}'}",
        f"--initial-cluster-state={'existing' if initial_cluster else 'new'}",
        "--heartbeat-interval=50",
        "--election-timeout=500",
        *extra,
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    member = Member(name, client_port, peer_port, proc, log_path)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{client_port}")
        try:
            # Status is served once the member has published itself (learners included).
            channel.unary_unary("/etcdserverpb.Maintenance/Status")(b"", timeout=20, wait_for_ready=True)
        except grpc.RpcError as e:
            pytest.fail(f"real etcd did not come up (exit code {proc.poll()}): {e}\n{member.log_tail()}")
        finally:
            channel.close()
        yield member
    finally:
        proc.kill()
        proc.wait(timeout=10)
