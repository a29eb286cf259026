"""Capture the first bytes real clients send on a plaintext connection, for the matcher tests.

Run from the repository root: ``.venv/bin/python tests/mux/data/capture_first_bytes.py [NAME...]``
(all samples by default). Each capture is saved as ``NAME.bin`` with a ``NAME.json`` beside it that
records the client and its version; the tests check only what holds for every fresh capture.

A plain TCP listener on 127.0.0.1 takes one connection per client:

- HTTP/1 clients: it reads until the end of the header section (``\\r\\n\\r\\n``), saves exactly that and
  hangs up. ``curl_http1.bin``: ``curl http://127.0.0.1:PORT/health``; ``aiohttp_websocket.bin``: an
  aiohttp ``ws_connect`` (``Upgrade: websocket``).
- HTTP/2 clients: it answers the client's first read with an empty SETTINGS frame, the way the mux's
  gRPC matcher does, then records everything the client sends for ``RECORD_SECONDS`` and hangs up.
  ``etcdctl_get.bin``: ``etcdctl --endpoints=127.0.0.1:PORT get foo`` (grpc-go, which waits for the
  server's SETTINGS before sending HEADERS); ``grpcio_unary.bin``: a ``grpc.aio`` channel calling
  ``/etcdserverpb.KV/Range``; ``curl_h2c.bin``: ``curl --http2-prior-knowledge``, which does not wait.
  These captures hold the client's SETTINGS ACK of that empty SETTINGS frame.
- ``grpcio_silent.bin``: the same grpcio call against a listener that never answers; it records for
  ``RECORD_SECONDS``, so it holds only what grpcio sends before it hears from the server.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import grpc
from capture_hellos import Listener  # the same one-shot capturing listener, beside this script

HERE = Path(__file__).resolve().parent
TIMEOUT = 10.0
RECORD_SECONDS = 0.5
EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # written out here so the capture needs no mux code


def read_http_request(conn: socket.socket) -> bytes:
    """Read until the end of the first HTTP request's header section."""
    conn.settimeout(TIMEOUT)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionError("client closed before the request was complete")
        buf += chunk
    return buf


def record(conn: socket.socket, *, answer: bytes) -> bytes:
    """After the first read (answered with ``answer`` if any), read for RECORD_SECONDS."""
    conn.settimeout(TIMEOUT)
    buf = conn.recv(65536)
    if not buf:
        raise ConnectionError("client closed at once")
    if answer:
        conn.sendall(answer)
    deadline = time.monotonic() + RECORD_SECONDS
    while (left := deadline - time.monotonic()) > 0:
        conn.settimeout(left)
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        buf += chunk
    return buf


def curl_version() -> str:
    return subprocess.run(
        ["curl", "--version"], check=True, capture_output=True, text=True
    ).stdout.splitlines()[0]


def capture_curl(*extra: str, read: Callable[[socket.socket], bytes]) -> tuple[bytes, dict[str, str]]:
    listener = Listener(read)
    options = ["curl", "-s", "--max-time", "3", *extra]
    subprocess.run(
        [*options, f"http://127.0.0.1:{listener.port}/health"],
        check=False,
        capture_output=True,
        timeout=TIMEOUT,
    )
    return listener.close(), {
        "client": curl_version(),
        "command": " ".join([*options, "http://127.0.0.1:PORT/health"]),
    }


def capture_websocket() -> tuple[bytes, dict[str, str]]:
    listener = Listener(read_http_request)

    async def connect() -> None:
        async with aiohttp.ClientSession() as session:
            connect = session.ws_connect(f"http://127.0.0.1:{listener.port}/watch")
            try:
                # aiohttp 3.14 does not notice the hang-up after the request, hence the bound.
                await asyncio.wait_for(connect, RECORD_SECONDS * 2)
            except (aiohttp.ClientError, TimeoutError):
                pass  # the listener hangs up after the request

    asyncio.run(connect())
    return listener.close(), {"client": f"aiohttp {aiohttp.__version__} ws_connect"}


def capture_etcdctl() -> tuple[bytes, dict[str, str]]:
    listener = Listener(lambda conn: record(conn, answer=EMPTY_SETTINGS))
    args = ["etcdctl", f"--endpoints=127.0.0.1:{listener.port}", "--command-timeout=2s", "get", "foo"]
    subprocess.run(args, check=False, capture_output=True, timeout=TIMEOUT)
    version = subprocess.run(["etcdctl", "version"], check=True, capture_output=True, text=True).stdout
    return listener.close(), {"client": version.splitlines()[0], "command": "etcdctl get foo"}


def capture_grpcio(*, answer: bytes) -> tuple[bytes, dict[str, str]]:
    listener = Listener(lambda conn: record(conn, answer=answer))

    async def call() -> None:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{listener.port}") as channel:
            method = channel.unary_unary("/etcdserverpb.KV/Range")
            try:
                await method(b"\x0a\x03foo", timeout=RECORD_SECONDS * 3)
            except grpc.aio.AioRpcError:
                pass  # the listener never answers the call

    asyncio.run(call())
    return listener.close(), {
        "client": f"grpcio {grpc.__version__} (grpc.aio)",
        "method": "/etcdserverpb.KV/Range",
    }


def main() -> None:
    captures: dict[str, Callable[[], tuple[bytes, dict[str, str]]]] = {
        "curl_http1": lambda: capture_curl(read=read_http_request),
        "aiohttp_websocket": capture_websocket,
        "curl_h2c": lambda: capture_curl(
            "--http2-prior-knowledge", read=lambda c: record(c, answer=EMPTY_SETTINGS)
        ),
        "etcdctl_get": capture_etcdctl,
        "grpcio_unary": lambda: capture_grpcio(answer=EMPTY_SETTINGS),
        "grpcio_silent": lambda: capture_grpcio(answer=b""),
    }
    wanted = set(sys.argv[1:]) or set(captures)
    for name, capture in captures.items():
        if name not in wanted:
            continue
        data, meta = capture()
        (HERE / f"{name}.bin").write_bytes(data)
        meta["bytes"] = str(len(data))
        (HERE / f"{name}.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        print(f"{name}: {len(data)} bytes ({meta['client']})")


if __name__ == "__main__":
    main()
