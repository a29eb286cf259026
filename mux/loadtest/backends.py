"""Backends that say who they are, so the load tester counts misroutes instead of guessing.

Every answer starts with the backend's name and a ``|``: the gRPC service ``loadtest.Echo`` (``Unary``
returns ``name|`` + the request; ``Stream`` returns as many ``name|i`` messages as the request asks),
and the HTTP/1.1 app (any path; body ``name|path``, header ``X-Backend: name``). A plain TCP echo
(``echo``) answers ``name|`` + each chunk. The HTTP app can also be served over TLS (``--https``).

    python -m mux.loadtest backends --grpc grpc=unix:/tmp/lt-grpc.sock --http rest=127.0.0.1:8081
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import grpc
from aiohttp import web

SERVICE = "loadtest.Echo"
UNARY = f"/{SERVICE}/Unary"
STREAM = f"/{SERVICE}/Stream"
BACKEND_HEADER = "X-Backend"


def identity(body: bytes) -> str | None:
    """The backend name an answer starts with, or None if it carries none."""
    name, sep, _ = body.partition(b"|")
    return name.decode("latin-1") if sep else None


def grpc_server(name: str, address: str) -> grpc.aio.Server:
    """A grpcio aio server (not started) on ``address`` (``unix:/path`` or ``host:port``)."""
    tag = name.encode() + b"|"

    async def unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return tag + request

    async def stream(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        try:
            count = max(1, min(10_000, int(request or b"4")))
        except ValueError:
            count = 4
        for i in range(count):
            yield tag + str(i).encode()

    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "Stream": grpc.unary_stream_rpc_method_handler(stream),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])
    if server.add_insecure_port(address) == 0 and not address.startswith("unix"):
        raise OSError(f"gRPC backend {name}: cannot bind {address}")
    return server


def http_app(name: str) -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        return web.Response(text=f"{name}|{request.path}", headers={BACKEND_HEADER: name})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


class _Echo(asyncio.Protocol):
    def __init__(self, tag: bytes) -> None:
        self.tag = tag
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(self.tag + data)


@dataclass
class Backends:
    """Running backends; ``close()`` stops them all."""

    grpc_servers: list[grpc.aio.Server] = field(default_factory=list)
    http_runners: list[web.AppRunner] = field(default_factory=list)
    tcp_servers: list[asyncio.AbstractServer] = field(default_factory=list)
    unix_paths: list[str] = field(default_factory=list)

    async def add_grpc(self, name: str, address: str) -> None:
        server = grpc_server(name, address)
        await server.start()
        self.grpc_servers.append(server)
        if address.startswith("unix:"):
            self.unix_paths.append(address[5:])

    async def add_http(self, name: str, address: str, *, ssl_context: ssl.SSLContext | None = None) -> None:
        """The HTTP/1.1 app on ``address``; with ``ssl_context``, over TLS (an HTTPS backend)."""
        runner = web.AppRunner(http_app(name), handle_signals=False, access_log=None)
        await runner.setup()
        site: web.BaseSite
        if address.startswith("unix:"):
            site = web.UnixSite(runner, address[5:], ssl_context=ssl_context)
            self.unix_paths.append(address[5:])
        else:
            host, _, port = address.rpartition(":")
            site = web.TCPSite(
                runner, host.strip("[]"), int(port), reuse_address=True, ssl_context=ssl_context
            )
        await site.start()
        self.http_runners.append(runner)

    async def add_echo(self, name: str, address: str) -> None:
        loop = asyncio.get_running_loop()
        tag = name.encode() + b"|"
        server: asyncio.AbstractServer
        if address.startswith("unix:"):
            server = await loop.create_unix_server(lambda: _Echo(tag), address[5:])
            self.unix_paths.append(address[5:])
        else:
            host, _, port = address.rpartition(":")
            server = await loop.create_server(lambda: _Echo(tag), host.strip("[]"), int(port))
        self.tcp_servers.append(server)

    async def close(self) -> None:
        await asyncio.gather(*(s.stop(0) for s in self.grpc_servers))
        for runner in self.http_runners:
            await runner.cleanup()
        for server in self.tcp_servers:
            server.close()
            await server.wait_closed()
        for path in self.unix_paths:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self.grpc_servers.clear()
        self.http_runners.clear()
        self.tcp_servers.clear()
