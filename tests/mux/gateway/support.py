"""Helpers for the gateway's tests: identifying backends, the gateway as a real process, small clients.

``python -m mux --config FILE`` runs as a child process (stderr and the access log go to files in the
test's directory); the backends run on the test's own event loop, on 127.0.0.1 ports picked free.
Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mux.loadtest.backends import Backends
from tests.real_etcd import free_ports

REPO = Path(__file__).resolve().parents[3]


@dataclass
class Upstreams:
    """The backends every gateway test routes to; each answers with its name first."""

    grpc: str  # unix:/path, backend "grpc-a"
    rest_a: str  # host:port, backend "rest-a"
    rest_b: str  # host:port, backend "rest-b"
    echo: str  # host:port, TCP echo "echo"
    backends: Backends


async def start_upstreams(tmp: Path) -> Upstreams:
    rest_a, rest_b, echo = (f"127.0.0.1:{p}" for p in free_ports(3))
    grpc = f"unix:{tmp / 'grpc-a.sock'}"
    backends = Backends()
    try:
        await backends.add_grpc("grpc-a", grpc)
        await backends.add_http("rest-a", rest_a)
        await backends.add_http("rest-b", rest_b)
        await backends.add_echo("echo", echo)
    except BaseException:
        await backends.close()
        raise
    return Upstreams(grpc, rest_a, rest_b, echo, backends)


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@dataclass
class GatewayProcess:
    """``python -m mux --config`` as a child; ``port`` is its first listen port, ``admin`` its admin one."""

    process: asyncio.subprocess.Process
    config_path: Path
    stderr_path: Path
    access_log: Path
    port: int
    admin: int
    stopped: bool = field(default=False)

    def events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.stderr_path.read_text().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def access(self) -> list[dict[str, Any]]:
        if not self.access_log.exists():
            return []
        return [json.loads(line) for line in self.access_log.read_text().splitlines() if line.strip()]

    async def wait_event(self, msg: str, count: int = 1, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events() if e.get("msg") == msg]
            if len(found) >= count:
                return found[count - 1]
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {msg!r} event (#{count}); stderr:\n{self.stderr_path.read_text()[-3000:]}")

    def signal(self, sig: signal.Signals) -> None:
        if self.process.returncode is None:
            os.kill(self.process.pid, sig)

    async def stop(self, timeout: float = 15.0) -> int:
        if self.process.returncode is None:
            self.signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.stopped = True
        assert self.process.returncode is not None
        return self.process.returncode


async def start_gateway(tmp: Path, config: dict[str, Any], name: str = "gateway") -> GatewayProcess:
    """Writes ``config`` (filling in listen, admin and access_log) and starts the gateway on it."""
    port, admin = free_ports(2)
    config = {
        "listen": f"127.0.0.1:{port}",
        "admin": f"127.0.0.1:{admin}",
        "access_log": str(tmp / f"{name}-access.log"),
        **config,
    }
    path = write_config(tmp / f"{name}.yaml", config)
    stderr_path = tmp / f"{name}.stderr"
    with open(stderr_path, "wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "mux",
            "--config",
            str(path),
            cwd=REPO,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=err,
        )
    gateway = GatewayProcess(process, path, stderr_path, Path(config["access_log"]), port, admin)
    try:
        await gateway.wait_event("serving", timeout=20.0)
    except BaseException:
        await gateway.stop()
        raise
    return gateway


async def run(*argv: str, stdin: bytes = b"", timeout: float = 15.0) -> tuple[int, str, str]:
    """Runs a command (curl, openssl, python) without blocking the loop the backends serve on.

    In a thread with ``subprocess.run``: spawning from the loop beside grpcio's threads once lost the
    child's stdin pipe under load, and ``run`` also copes with a child that exits before reading it.
    Raises TimeoutError after ``timeout`` seconds (the child is killed)."""
    try:
        done = await asyncio.to_thread(
            subprocess.run, argv, input=stdin, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as e:
        raise TimeoutError(f"{argv[0]} did not finish in {timeout} s") from e
    return done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")


async def http_get(port: int, path: str, host: str = "127.0.0.1") -> tuple[int, str]:
    """One HTTP/1.1 GET on a new connection; (status, body)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    return status, body.decode(errors="replace")


async def echo_roundtrip(port: int, line: bytes = b"ping\n") -> bytes:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    try:
        writer.write(line)
        return await asyncio.wait_for(reader.readexactly(len(b"echo|") + len(line)), 5)
    finally:
        writer.close()


async def wait_for(predicate: Any, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def self_signed(directory: Path, name: str, common_name: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``localhost`` with ``common_name``; (cert path, key path)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path
