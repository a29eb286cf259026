"""The gateway run in the test's own loop (``Gateway``): PROXY protocol in and out, connection limits,
the match deadline's fallback, and a reload that leaves established connections on their old route."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from mux.gateway.app import Gateway
from mux.gateway.config import load, parse
from mux.proxy_protocol import ProxyStatus, build_v1, build_v2, parse_proxy_header
from tests.mux.gateway.support import Upstreams, self_signed, start_upstreams, wait_for, write_config
from tests.real_etcd import free_ports

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")


@pytest.fixture
async def upstreams(tmp_path: Path) -> AsyncIterator[Upstreams]:
    up = await start_upstreams(tmp_path)
    yield up
    await up.backends.close()


class Capture:
    """A TCP server that keeps what each connection sent and answers ``ok``."""

    def __init__(self) -> None:
        self.received: list[bytearray] = []
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            buf = bytearray()
            self.received.append(buf)
            while chunk := await reader.read(4096):
                buf += chunk
                writer.write(b"ok")
            writer.close()

        self.server = await asyncio.start_server(handle, "127.0.0.1", 0)
        return f"127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def start(tmp_path: Path, config: dict[str, Any]) -> tuple[Gateway, int]:
    (port,) = free_ports(1)
    data = {"listen": f"127.0.0.1:{port}", "access_log": str(tmp_path / "access.log"), **config}
    path = write_config(tmp_path / "gateway.yaml", data)
    gateway = Gateway(load(path), config_path=path)
    await gateway.start()
    return gateway, port


def access(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "access.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def send(port: int, data: bytes, expect: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        return await asyncio.wait_for(reader.readexactly(expect), 5)
    finally:
        writer.close()


async def test_proxy_protocol_accepted_from_trusted_peers_and_sent_to_upstreams(tmp_path: Path) -> None:
    capture = Capture()
    upstream = await capture.start()
    gateway, port = await start(
        tmp_path,
        {
            "proxy_protocol_from": ["127.0.0.1/32"],
            "routes": [
                {
                    "name": "to-v2",
                    "match": {"prefix": "hello"},
                    "proxy": {"address": upstream, "proxy_protocol": 2},
                },
                {
                    "name": "to-v1",
                    "match": {"prefix": "v1"},
                    "proxy": {"address": upstream, "proxy_protocol": 1},
                },
            ],
        },
    )
    try:
        v1_in = build_v1(("203.0.113.7", 5555), ("192.0.2.1", 443))
        assert await send(port, v1_in + b"hello", 2) == b"ok"
        v2_in = build_v2(("198.51.100.2", 4444), ("192.0.2.1", 443))
        assert await send(port, v2_in + b"v1 data", 2) == b"ok"
        await wait_for(lambda: len(access(tmp_path)) == 2, what="two access log lines")
    finally:
        await gateway.drain(0)
        await capture.close()
    first, second = capture.received
    status, header = parse_proxy_header(bytes(first))
    assert status is ProxyStatus.COMPLETE and header is not None
    assert (header.version, header.source) == (2, ("203.0.113.7", 5555))
    assert first[header.length :] == b"hello"  # the client's own header is gone, only ours is sent
    assert bytes(second) == f"PROXY TCP4 198.51.100.2 127.0.0.1 4444 {port}\r\nv1 data".encode()
    clients = sorted(line["client"] for line in access(tmp_path))
    assert clients == ["198.51.100.2:4444", "203.0.113.7:5555"]


async def test_an_untrusted_proxy_header_is_just_bytes(tmp_path: Path, upstreams: Upstreams) -> None:
    gateway, port = await start(
        tmp_path,
        {
            "proxy_protocol_from": ["10.0.0.0/8"],
            "routes": [{"name": "rest", "match": "http1", "proxy": upstreams.rest_a}],
            "fallback": {"name": "echo", "proxy": upstreams.echo},
        },
    )
    try:
        forged = build_v1(("203.0.113.7", 5555), ("192.0.2.1", 443))
        assert await send(port, forged, 5 + len(forged)) == b"echo|" + forged
        await wait_for(lambda: len(access(tmp_path)) == 1, what="an access log line")
    finally:
        await gateway.drain(0)
    assert access(tmp_path)[0]["client"].startswith("127.0.0.1:")


async def test_global_and_route_connection_limits(tmp_path: Path, upstreams: Upstreams) -> None:
    gateway, port = await start(
        tmp_path,
        {
            "match_timeout": 5,
            "max_connections": 3,
            "routes": [
                {
                    "name": "one-only",
                    "match": {"prefix": "ping"},
                    "proxy": upstreams.echo,
                    "max_connections": 1,
                }
            ],
        },
    )
    opened: list[asyncio.StreamWriter] = []
    try:
        r1, w1 = await asyncio.open_connection("127.0.0.1", port)
        opened.append(w1)
        w1.write(b"ping\n")
        assert await asyncio.wait_for(r1.readexactly(10), 5) == b"echo|ping\n"
        r2, w2 = await asyncio.open_connection("127.0.0.1", port)
        opened.append(w2)
        w2.write(b"ping\n")
        assert await asyncio.wait_for(r2.read(), 5) == b""  # the route is at its limit: closed
        await wait_for(lambda: gateway.mux.active_connections == 1, what="the refused one to be gone")
        # two silent connections fill the global limit of 3 (one routed + two being matched) ...
        for _ in range(2):
            _, w = await asyncio.open_connection("127.0.0.1", port)
            opened.append(w)
        await wait_for(lambda: gateway.mux.active_connections == 3, what="three open connections")
        r4, w4 = await asyncio.open_connection("127.0.0.1", port)  # ... so the fourth is closed at accept
        opened.append(w4)
        assert await asyncio.wait_for(r4.read(), 5) == b""
        route = next(r for r in gateway.mux.routes() if r.name == "one-only")
        assert route.stats.rejected_limit == 1
        assert gateway.mux.stats.rejected_limit == 1
    finally:
        for w in opened:
            w.close()
        await gateway.drain(0)
    reasons = sorted(line["close"] for line in access(tmp_path))
    assert reasons.count("limit") == 2  # one by the route, one by the global limit
    route_limit = next(line for line in access(tmp_path) if "one-only" in line.get("error", ""))
    assert route_limit["close"] == "limit"


async def test_a_silent_client_goes_to_the_fallback_at_the_match_deadline(
    tmp_path: Path, upstreams: Upstreams
) -> None:
    gateway, port = await start(
        tmp_path,
        {
            "match_timeout": 0.3,
            "routes": [{"name": "rest", "match": "http1", "proxy": upstreams.rest_a}],
            "fallback": {"name": "echo", "proxy": upstreams.echo},
        },
    )
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await wait_for(
            lambda: any(r.stats.matched for r in gateway.mux.routes() if r.name == "echo"), what="fallback"
        )
        writer.write(b"late\n")  # says something only after the deadline: the echo answers
        assert await asyncio.wait_for(reader.readexactly(10), 5) == b"echo|late\n"
        writer.close()
        await wait_for(lambda: len(access(tmp_path)) == 1, what="an access log line")
    finally:
        await gateway.drain(0)
    line = access(tmp_path)[0]
    assert line["route"] == "echo" and line["close"] == "client_closed"


async def test_reload_leaves_established_connections_on_their_old_route(
    tmp_path: Path, upstreams: Upstreams
) -> None:
    config = {"routes": [{"name": "rest", "match": "http1", "proxy": upstreams.rest_a}]}
    gateway, port = await start(tmp_path, config)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def keepalive_get(path: str) -> bytes:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            length = int(
                next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1]
            )
            return await asyncio.wait_for(reader.readexactly(length), 5)

        assert await keepalive_get("/1") == b"rest-a|/1"
        moved = {"routes": [{"name": "rest", "match": "http1", "proxy": upstreams.rest_b}]}
        data = {
            **json.loads(json.dumps(moved)),
            "listen": f"127.0.0.1:{port}",
            "access_log": str(tmp_path / "access.log"),
        }
        write_config(gateway.config_path or tmp_path / "none", data)
        assert await gateway.reload()
        assert gateway.generation == 2
        assert await keepalive_get("/2") == b"rest-a|/2"  # same connection, same upstream
        reader2, writer2 = await asyncio.open_connection("127.0.0.1", port)
        writer2.write(b"GET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert (await asyncio.wait_for(reader2.read(), 5)).endswith(b"rest-b|/3")
        writer2.close()
        route = next(r for r in gateway.mux.routes() if r.name == "rest")
        assert route.stats.matched == 2  # counters carried over to the new route of the same name
        writer.close()
    finally:
        await gateway.drain(0)


async def test_a_config_error_at_start_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"routes\[0\]\.match: unknown matcher 'http3'"):
        parse({"routes": [{"name": "x", "match": "http3", "close": True}]})


async def test_reload_turns_the_access_log_on_and_a_bad_log_path_is_a_config_error(
    tmp_path: Path, upstreams: Upstreams
) -> None:
    routes = [{"name": "rest", "match": "http1", "proxy": upstreams.rest_a}]
    gateway, port = await start(tmp_path, {"routes": routes, "access_log": "off"})
    try:
        assert gateway.config_path is not None
        listen = f"127.0.0.1:{port}"
        write_config(
            gateway.config_path, {"listen": listen, "routes": routes, "access_log": "/no/such/dir/a.log"}
        )
        assert not await gateway.reload()
        assert gateway.last_reload_error.startswith("access_log: cannot open '/no/such/dir/a.log'")
        log_path = tmp_path / "on.log"
        write_config(gateway.config_path, {"listen": listen, "routes": routes, "access_log": str(log_path)})
        assert await gateway.reload()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /logged HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(), 5)).endswith(b"rest-a|/logged")
        writer.close()
        await wait_for(lambda: log_path.exists() and log_path.read_text().count("\n") == 1, what="a line")
    finally:
        await gateway.drain(0)
    line = json.loads(log_path.read_text())
    assert line["route"] == "rest" and line["upstream"] == upstreams.rest_a


async def test_reload_picks_up_renewed_certificates_for_new_connections(
    tmp_path: Path, upstreams: Upstreams
) -> None:
    cert, key = self_signed(tmp_path, "site", "before renewal")
    tls = {
        "cert": str(cert),
        "key": str(key),
        "routes": [{"name": "in", "match": "http1", "proxy": upstreams.rest_b}],
    }
    gateway, port = await start(tmp_path, {"routes": [{"name": "site", "match": "tls", "tls": tls}]})

    async def issuer_and_body() -> tuple[str, bytes]:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=ctx, server_hostname="localhost"
        )
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        writer.write(b"GET /tls HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        body = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        name = x509.load_der_x509_certificate(der).subject.rfc4514_string()
        return name, body

    try:
        name, body = await issuer_and_body()
        assert name == "CN=before renewal" and body.endswith(b"rest-b|/tls")
        self_signed(tmp_path, "site", "after renewal")  # the same files, rewritten
        assert await gateway.reload()
        name, body = await issuer_and_body()
        assert name == "CN=after renewal" and body.endswith(b"rest-b|/tls")
    finally:
        await gateway.drain(0)


async def test_listening_on_a_unix_socket_too(tmp_path: Path, upstreams: Upstreams) -> None:
    path = tmp_path / "gw.sock"
    (port,) = free_ports(1)
    config = parse(
        {
            "listen": [f"127.0.0.1:{port}", f"unix:{path}"],
            "access_log": "off",
            "routes": [{"name": "rest", "match": "http1", "proxy": upstreams.rest_a}],
        }
    )
    gateway = Gateway(config)
    await gateway.start()
    try:
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(b"GET /unix HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(), 5)).endswith(b"rest-a|/unix")
        writer.close()
    finally:
        await gateway.drain(0)
    assert not path.exists()  # removed at stop
