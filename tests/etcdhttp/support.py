"""Serving our HTTP apps on 127.0.0.1 and talking to them byte for byte (tests only).

``raw_exchange`` writes one HTTP/1.1 request exactly as given (unclean paths stay unclean, which
aiohttp's and most clients' URL handling would not allow) and reads the whole answer; ``WatchStream``
reads a chunked answer as it arrives. Every read is bounded by ``T`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from etcd.api.etcdhttp.app import make_client_app, make_metrics_app
from etcd.server.etcdserver import EtcdServer
from tests.server.member import running_member

T = 5.0  # seconds; every exchange's bound


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    chunked: bool = False

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_names(self) -> set[str]:
        return {k.lower() for k, _ in self.headers}


@dataclass
class Served:
    """A member and the URL of an app serving it."""

    server: EtcdServer
    host: str
    port: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextlib.asynccontextmanager
async def serving(app: web.Application, port: int = 0) -> AsyncIterator[int]:
    """Runs ``app`` on 127.0.0.1:``port`` (0: a free port); yields the port."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        port = runner.addresses[0][1]
        yield int(port)
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def client_port(
    data_dir: Path, *, grpc_target: str = "unix:/nonexistent-grpc.sock", **cfg: Any
) -> AsyncIterator[Served]:
    """A ready in-process member (``cfg`` sets Config fields) behind ``make_client_app``."""
    async with (
        running_member(data_dir, **cfg) as srv,
        serving(make_client_app(srv, grpc_target=grpc_target)) as port,
    ):
        yield Served(srv, "127.0.0.1", port)


async def cluster_version_decided(server: EtcdServer, timeout: float = 10.0) -> str:
    """Waits for the leader to settle the cluster version (a second or so after start)."""
    async with asyncio.timeout(timeout):
        while server.cluster.version is None:
            await asyncio.sleep(0.05)
    return server.cluster.version


@contextlib.asynccontextmanager
async def metrics_port(server: EtcdServer) -> AsyncIterator[int]:
    async with serving(make_metrics_app(server)) as port:
        yield port


def _request_bytes(method: str, target: str, host: str, headers: dict[str, str] | None, body: bytes) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Connection: close"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _parse_head(head: bytes) -> tuple[int, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = []
    for line in lines[1:]:
        if line:
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
    return status, headers


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return bytes(out)


async def raw_exchange(
    port: int,
    method: str,
    target: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    host: str | None = None,
    timeout: float = T,
) -> Answer:
    """One request on a new connection to 127.0.0.1:``port``; the answer read to the connection's end
    (a HEAD answer ends after its headers)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), T)
    try:
        writer.write(_request_bytes(method, target, host or f"127.0.0.1:{port}", headers, body))
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout)
        status, hdrs = _parse_head(head[:-4])
        answer = Answer(status, hdrs, b"")
        if method == "HEAD":
            return answer
        raw = await asyncio.wait_for(reader.read(), T)
        answer.chunked = (answer.header("Transfer-Encoding") or "").lower() == "chunked"
        answer.body = _dechunk(raw) if answer.chunked else raw
        return answer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


class WatchStream:
    """A long-lived GET whose chunked answer is read line by line as it arrives."""

    def __init__(self, port: int, target: str) -> None:
        self.port = port
        self.target = target
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._buf = b""

    async def open(self) -> WatchStream:
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", self.port), T
        )
        self._writer.write(_request_bytes("GET", self.target, f"127.0.0.1:{self.port}", None, b""))
        await self._writer.drain()
        head = await asyncio.wait_for(self._reader.readuntil(b"\r\n\r\n"), T)
        self.status, self.headers = _parse_head(head[:-4])
        return self

    def header(self, name: str) -> str | None:
        return Answer(self.status, self.headers, b"").header(name)

    async def _chunk(self, timeout: float) -> bytes | None:
        assert self._reader is not None
        size_line = await asyncio.wait_for(self._reader.readuntil(b"\r\n"), timeout)
        size = int(size_line.strip().split(b";")[0], 16)
        data = await asyncio.wait_for(self._reader.readexactly(size + 2), timeout)
        return data[:-2] if size else None

    async def line(self, timeout: float = T) -> bytes | None:
        """The next newline-ended line of the body; None when the answer ended."""
        while b"\n" not in self._buf:
            chunk = await self._chunk(timeout)
            if chunk is None:
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line + b"\n"

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
