"""The load tester's clients, one per kind of traffic, each returning which backend answered.

A client is made per worker and called once per request; it returns an ``Outcome``: the backend name
the answer carried (``mux.loadtest.backends.identity``), or the error, and whether it was downgraded.
Kinds:

- ``grpc_unary``, ``grpc_stream``: a grpcio aio channel per worker (one HTTP/2 connection reused), calling
  ``loadtest.Echo/Unary`` and ``/Stream`` (``stream_messages`` answers, each checked);
- ``http_keepalive``: HTTP/1.1 on one connection per worker, reused;
- ``http_new_conn``: HTTP/1.1, a new connection per request (``Connection: close``);
- ``https``: HTTP/1.1 over TLS, a new connection (handshake, SNI) per request;
- ``h2c``: HTTP/2 with prior knowledge, a new connection per request. When the gateway refuses the stream
  with ``HTTP_1_1_REQUIRED`` (the mux's answer to h2c that is not gRPC), the request is repeated over
  HTTP/1.1 as curl does, and counted as downgraded.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
from hpack import Decoder, Encoder

from mux import h2
from mux.loadtest.backends import STREAM, UNARY, identity

KINDS = ("grpc_unary", "grpc_stream", "http_keepalive", "http_new_conn", "https", "h2c")

MAX_RESPONSE = 1 << 20


@dataclass(frozen=True, slots=True)
class Outcome:
    backend: str | None = None  # who answered; None on error
    error: str = ""  # empty on success
    downgraded: bool = False  # h2c refused, repeated over HTTP/1.1


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    sni: str | None = None  # for https; also the TLS host name checked when ``ca`` is given
    ca: str | None = None  # verify the gateway's certificate with this CA; else no verification
    stream_messages: int = 4
    timeout: float = 5.0


Call = Callable[[], Awaitable[Outcome]]


class ProtocolError(Exception):
    pass


async def _read_http1_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    status_line = await reader.readline()
    if not status_line:
        raise ProtocolError("connection closed before a response")
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ProtocolError(f"not an HTTP/1 response: {status_line[:40]!r}")
    status = int(parts[1])
    headers: dict[str, str] = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        length = int(headers["content-length"])
        if length > MAX_RESPONSE:
            raise ProtocolError("response too large")
        body = await reader.readexactly(length)
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                break
            body += await reader.readexactly(size)
            await reader.readline()
    else:
        body = await reader.read(MAX_RESPONSE)
    return status, headers, body


def _request(endpoint: Endpoint, path: str, *, close: bool) -> bytes:
    host = endpoint.sni or endpoint.host
    connection = "close" if close else "keep-alive"
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: {connection}\r\n\r\n".encode()


def _http_outcome(status: int, headers: dict[str, str], body: bytes) -> Outcome:
    if status != 200:
        return Outcome(error=f"HTTP {status}")
    return Outcome(backend=headers.get("x-backend") or identity(body))


async def _one_http1(endpoint: Endpoint, ssl_context: ssl.SSLContext | None, path: str) -> Outcome:
    reader, writer = await asyncio.open_connection(
        endpoint.host,
        endpoint.port,
        ssl=ssl_context,
        server_hostname=(endpoint.sni or endpoint.host) if ssl_context else None,
    )
    try:
        writer.write(_request(endpoint, path, close=True))
        return _http_outcome(*await _read_http1_response(reader))
    finally:
        writer.close()


def client_ssl_context(endpoint: Endpoint) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=endpoint.ca) if endpoint.ca else ssl.create_default_context()
    if not endpoint.ca:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class HTTPKeepAlive:
    """One connection, reused for every request; reconnects after an error."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def __call__(self) -> Outcome:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.endpoint.host, self.endpoint.port)
        reader, writer = self.streams
        try:
            writer.write(_request(self.endpoint, "/keepalive", close=False))
            status, headers, body = await _read_http1_response(reader)
        except BaseException:
            self.close()
            raise
        if headers.get("connection", "").lower() == "close":
            self.close()
        return _http_outcome(status, headers, body)

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


class H2c:
    """HTTP/2 prior knowledge, one GET per connection; HTTP_1_1_REQUIRED -> repeated over HTTP/1.1."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.encoder = Encoder()

    async def __call__(self) -> Outcome:
        endpoint = self.endpoint
        reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
        try:
            block = self.encoder.encode(
                [
                    (":method", "GET"),
                    (":scheme", "http"),
                    (":authority", f"{endpoint.host}:{endpoint.port}"),
                    (":path", "/h2c"),
                ]
            )
            writer.write(
                h2.PREFACE
                + h2.EMPTY_SETTINGS
                + h2.frame(h2.HEADERS, h2.FLAG_END_HEADERS | 0x1, 1, block)  # 0x1: END_STREAM
            )
            decoder = Decoder()
            headers: dict[str, str] = {}
            body = b""
            while True:
                head = await reader.readexactly(h2.FRAME_HEADER_LEN)
                length = int.from_bytes(head[:3], "big")
                kind, flags = head[3], head[4]
                stream = int.from_bytes(head[5:9], "big") & 0x7FFF_FFFF
                payload = await reader.readexactly(length)
                if kind == h2.SETTINGS and not flags & h2.FLAG_ACK:
                    writer.write(h2.frame(h2.SETTINGS, h2.FLAG_ACK, 0))
                elif kind == h2.RST_STREAM and stream == 1:
                    code = int.from_bytes(payload[:4], "big")
                    if code == h2.HTTP_1_1_REQUIRED:
                        outcome = await _one_http1(endpoint, None, "/h2c")
                        return Outcome(outcome.backend, outcome.error, downgraded=True)
                    return Outcome(error=f"h2 stream reset, code {code}")
                elif kind == h2.GOAWAY:
                    return Outcome(error="h2 GOAWAY")
                elif kind == h2.HEADERS and stream == 1:
                    for name, value in decoder.decode(payload):
                        key = name.decode() if isinstance(name, bytes) else name
                        headers[key.lower()] = value.decode() if isinstance(value, bytes) else value
                    if flags & 0x1:
                        break
                elif kind == h2.DATA and stream == 1:
                    body += payload
                    if payload:
                        writer.write(h2.frame(h2.WINDOW_UPDATE, 0, 0, len(payload).to_bytes(4, "big")))
                    if flags & 0x1:
                        break
            status = int(headers.get(":status", "0"))
            return _http_outcome(status, headers, body)
        finally:
            writer.close()


class GrpcClient:
    """A grpcio aio channel per worker; unary or server-streaming calls to ``loadtest.Echo``."""

    def __init__(self, endpoint: Endpoint, *, stream: bool) -> None:
        self.endpoint = endpoint
        self.channel = grpc.aio.insecure_channel(f"{endpoint.host}:{endpoint.port}")
        self.unary = self.channel.unary_unary(UNARY)
        self.stream = self.channel.unary_stream(STREAM) if stream else None

    async def __call__(self) -> Outcome:
        timeout = self.endpoint.timeout
        try:
            if self.stream is None:
                reply = await self.unary(b"ping", timeout=timeout)
                if not isinstance(reply, bytes) or not reply.endswith(b"|ping"):
                    return Outcome(error=f"unexpected reply {reply!r:.40}")
                return Outcome(backend=identity(reply))
            want = self.endpoint.stream_messages
            names: set[str | None] = set()
            count = 0
            async for message in self.stream(str(want).encode(), timeout=timeout):
                names.add(identity(message))
                count += 1
            if count != want:
                return Outcome(error=f"stream gave {count} of {want} messages")
            if len(names) != 1:
                return Outcome(error=f"stream answered by several backends: {sorted(map(str, names))}")
            return Outcome(backend=names.pop())
        except grpc.aio.AioRpcError as e:
            return Outcome(error=f"gRPC {e.code().name}")

    async def close(self) -> None:
        await self.channel.close(None)


def make(kind: str, endpoint: Endpoint) -> tuple[Call, Callable[[], Awaitable[None]]]:
    """A client of ``kind`` and its closer."""

    async def nothing() -> None:
        return None

    if kind in ("grpc_unary", "grpc_stream"):
        client = GrpcClient(endpoint, stream=kind == "grpc_stream")
        return client, client.close
    if kind == "http_keepalive":
        keepalive = HTTPKeepAlive(endpoint)

        async def close_keepalive() -> None:
            keepalive.close()

        return keepalive, close_keepalive
    if kind == "http_new_conn":
        return (lambda: _one_http1(endpoint, None, "/new-conn")), nothing
    if kind == "https":
        ctx = client_ssl_context(endpoint)
        return (lambda: _one_http1(endpoint, ctx, "/https")), nothing
    if kind == "h2c":
        return H2c(endpoint), nothing
    raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
