"""The mux runtime over real sockets on 127.0.0.1, with a real grpcio server and client, aiohttp and curl."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import grpc
import hpack
import pytest
from aiohttp import web

import mux
from mux import h2
from mux.errors import (
    ConnectionLimit,
    DeadlineExpired,
    HandoffFailed,
    ListenerClosed,
    MuxError,
    NotMatched,
    ServerClosed,
    SniffLimitExceeded,
)
from mux.matchers import MORE, NO, Verdict
from mux.proxy_protocol import build_v1

if TYPE_CHECKING:
    from tests.mux.conftest import DevCerts, GrpcEcho

pytestmark = pytest.mark.usefixtures("no_leaked_tasks")

CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed (apt-get install curl)")


async def curl(*args: str) -> tuple[int, str, str]:
    """Runs curl from a worker thread: the event loop's own subprocess spawning runs Python's after-fork
    hooks in the child, which can crash in a process that also runs grpcio's threads."""
    assert CURL is not None
    command = [CURL, "-sS", "--max-time", "10", *args]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, timeout=20)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def grpc_method(channel: grpc.aio.Channel, name: str) -> grpc.aio.UnaryUnaryMultiCallable:
    return channel.unary_unary(f"/mux.test.Echo/{name}")


@contextlib.asynccontextmanager
async def serving(m: mux.Mux) -> AsyncIterator[int]:
    """Starts ``m`` on an ephemeral 127.0.0.1 port and closes it afterwards (0.5 s grace)."""
    port = (await m.start()).sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        await m.close(grace=0.5)


@contextlib.asynccontextmanager
async def closing_server(server: asyncio.Server) -> AsyncIterator[None]:
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()


class Errors(list[MuxError]):
    """The error hook's reports, in order."""

    def kinds(self) -> list[type[MuxError]]:
        return [type(e) for e in self]


@pytest.fixture
async def etcd_like(
    grpc_echo: GrpcEcho, http_app: web.AppRunner
) -> AsyncIterator[tuple[mux.Mux, int, Errors]]:
    """A mux with etcd's client-port routes: gRPC to grpcio, HTTP/1.1 to aiohttp, other h2c refused."""
    errors = Errors()
    m = mux.Mux(match_timeout=1.0, on_error=errors.append)
    grpc_echo.lookup.append(m.registry)
    m.route("grpc", mux.grpc(), target=mux.proxy_to(grpc_echo.address))
    m.route("http", mux.http1(), target=mux.serve_protocol(http_app.server))
    m.route("h2c", mux.http2(), target=mux.http1_required(linger=0.5))
    server = await m.start("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield m, port, errors
    await m.close(grace=1.0)


async def test_grpc_and_http_share_one_port_concurrently(etcd_like: tuple[mux.Mux, int, Errors]) -> None:
    m, port, errors = etcd_like
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        echo = grpc_method(channel, "Echo")
        grpc_calls = [echo(f"msg-{i}".encode(), timeout=5) for i in range(20)]
        curls = [curl(f"http://127.0.0.1:{port}/health") for _ in range(5)] if CURL else []
        results = await asyncio.gather(*grpc_calls, *curls)
    assert results[:20] == [f"msg-{i}".encode() for i in range(20)]
    for code, out, _ in results[20:]:  # type: ignore[misc]
        assert (code, out) == (0, '{"health": "true"}')
    stats = {r.name: r.stats for r in m.routes()}
    assert stats["grpc"].matched == 1  # one HTTP/2 connection carried all 20 calls
    assert stats["http"].matched == len(curls)
    assert errors == [], [str(e) for e in errors]


async def test_grpc_streaming_through_the_mux(etcd_like: tuple[mux.Mux, int, Errors]) -> None:
    _, port, _ = etcd_like
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        count = channel.unary_stream("/mux.test.Echo/Count")
        got = [msg async for msg in count(b"50", timeout=5)]
    assert got == [str(i).encode() for i in range(50)]


async def test_grpc_servicer_finds_the_original_client(etcd_like: tuple[mux.Mux, int, Errors]) -> None:
    m, port, _ = etcd_like
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        answer = await grpc_method(channel, "Who")(b"", timeout=5)
    route, client, _ = answer.decode().split("|")
    assert route == "grpc"
    host, client_port = client.split(":")
    assert host == "127.0.0.1" and int(client_port) != port
    await asyncio.sleep(0.05)
    assert len(m.registry) == 0  # the channel is closed: the entry went with it


@contextlib.asynccontextmanager
async def recording_backend(tmp_path: Path) -> AsyncIterator[tuple[str, bytearray, asyncio.Event]]:
    """A Unix-socket backend that keeps every byte it receives; the event is set at the client's EOF."""
    received = bytearray()
    ended = asyncio.Event()

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(65536):
            received.extend(chunk)
        ended.set()
        writer.close()

    path = str(tmp_path / "backend.sock")
    async with closing_server(await asyncio.start_unix_server(record, path)):
        yield f"unix:{path}", received, ended


async def test_settings_first_client_gets_settings_and_backend_never_sees_the_ack(tmp_path: Path) -> None:
    """A SETTINGS-first client is answered while sniffing; its ACK of that frame is kept from the backend."""
    async with recording_backend(tmp_path) as (upstream, received, ended):
        m = mux.Mux(match_timeout=2.0)
        m.route("grpc", mux.grpc(), target=mux.proxy_to(upstream))
        async with serving(m) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            client_settings = h2.frame(h2.SETTINGS, 0, 0, b"\x00\x02\x00\x00\x00\x00")
            writer.write(h2.PREFACE + client_settings)
            assert await asyncio.wait_for(reader.readexactly(9), 2) == h2.EMPTY_SETTINGS
            fields = [
                (":method", "POST"),
                (":scheme", "http"),
                (":path", "/a.B/C"),
                ("content-type", "application/grpc"),
            ]
            block = hpack.Encoder().encode(fields)
            rest = h2.frame(h2.HEADERS, h2.FLAG_END_HEADERS, 1, block) + h2.frame(
                h2.DATA, 1, 1, b"\0\0\0\0\0"
            )
            writer.write(h2.frame(h2.SETTINGS, h2.FLAG_ACK, 0) + rest)
            writer.write_eof()
            await asyncio.wait_for(ended.wait(), 2)
            assert bytes(received) == h2.PREFACE + client_settings + rest
            writer.close()


async def test_ack_arriving_after_headers_is_stripped_from_the_live_stream(tmp_path: Path) -> None:
    async with recording_backend(tmp_path) as (upstream, received, ended):
        m = mux.Mux(match_timeout=2.0)
        m.route("grpc", mux.grpc(), target=mux.proxy_to(upstream))
        async with serving(m) as port:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            settings = h2.frame(h2.SETTINGS, 0, 0)
            writer.write(h2.PREFACE + settings)
            assert await asyncio.wait_for(reader.readexactly(9), 2) == h2.EMPTY_SETTINGS
            block = hpack.Encoder().encode([(":method", "POST"), ("content-type", "application/grpc+proto")])
            headers = h2.frame(h2.HEADERS, h2.FLAG_END_HEADERS, 1, block)
            writer.write(headers)  # matched on these; the ACK has not come yet
            await asyncio.sleep(0.1)
            data = h2.frame(h2.DATA, 1, 1, b"\0\0\0\0\0")
            writer.write(data[:4])
            await asyncio.sleep(0.05)
            ping = h2.frame(h2.PING, 0, 0, b"8bytes!!")
            writer.write(data[4:] + h2.frame(h2.SETTINGS, h2.FLAG_ACK, 0) + ping)
            writer.write_eof()
            await asyncio.wait_for(ended.wait(), 2)
            assert bytes(received) == h2.PREFACE + settings + headers + data + ping
            writer.close()


@needs_curl
async def test_h2c_that_is_not_grpc_is_retried_by_curl_over_http1(
    etcd_like: tuple[mux.Mux, int, Errors],
) -> None:
    m, port, _ = etcd_like
    code, out, err = await curl("--http2-prior-knowledge", f"http://127.0.0.1:{port}/who")
    assert code == 0, err
    assert out.startswith("http|127.0.0.1")
    stats = {r.name: r.stats for r in m.routes()}
    assert stats["h2c"].matched == 1 and stats["grpc"].matched == 0 and stats["http"].matched == 1


@needs_curl
async def test_patch_and_keep_alive_reach_the_http_route(etcd_like: tuple[mux.Mux, int, Errors]) -> None:
    m, port, _ = etcd_like
    url = f"http://127.0.0.1:{port}/health"
    code, out, _ = await curl("-X", "PATCH", url, url, url)
    assert code == 0
    assert out.count("405") == 0 or "Method Not Allowed" in out  # PATCH reached aiohttp, which answered
    stats = {r.name: r.stats for r in m.routes()}
    assert stats["http"].matched == 1  # three requests on one kept-alive connection


async def test_idle_client_is_closed_at_the_deadline_and_reported(
    etcd_like: tuple[mux.Mux, int, Errors],
) -> None:
    m, port, errors = etcd_like
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    assert await asyncio.wait_for(reader.read(), 3) == b""
    assert 0.9 <= time.monotonic() - started < 2.5
    assert errors.kinds() == [DeadlineExpired]
    assert m.stats.deadline_expired == 1
    writer.close()


async def test_idle_client_goes_to_the_fallback_route_at_the_deadline() -> None:
    """A server-speaks-first protocol behind the fallback: the client waits, the mux gives up sniffing."""
    m = mux.Mux(match_timeout=0.3)
    m.route("http", mux.http1(), target=mux.close())
    banners = m.set_fallback("banner", target=m.router.listen("unused", mux.prefix(b"\xff")))
    listener = banners.target
    assert isinstance(listener, mux.Listener)
    port = (await m.start()).sockets[0].getsockname()[1]

    async def serve_banner() -> None:
        _, w = await listener.accept()
        w.write(b"220 hello\r\n")
        await w.drain()
        w.close()

    server_task = asyncio.create_task(serve_banner())
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(reader.readline(), 2) == b"220 hello\r\n"
        assert banners.stats.deadline_fallback == 1
        writer.close()
        await server_task
    finally:
        await m.close(grace=0.5)


async def test_garbage_is_closed_and_reported_as_not_matched(etcd_like: tuple[mux.Mux, int, Errors]) -> None:
    m, port, errors = etcd_like
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"\x00\x01\x02 this is not a protocol")
    assert await asyncio.wait_for(reader.read(), 2) == b""
    assert errors.kinds() == [NotMatched]
    assert m.stats.unmatched == 1
    writer.close()


async def test_half_sent_preface_then_eof_is_not_matched(etcd_like: tuple[mux.Mux, int, Errors]) -> None:
    _m, port, errors = etcd_like
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(h2.PREFACE[:10])
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 2) == b""
    assert errors.kinds() == [NotMatched]
    assert "client closed" in str(errors[0])
    writer.close()


async def test_sniff_cap_closes_a_client_that_never_decides() -> None:
    errors = Errors()
    m = mux.Mux(max_sniff_bytes=4096, on_error=errors.append)
    m.route("undecided", mux.custom(lambda seen: MORE), target=mux.close())
    async with serving(m) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for _ in range(10):
                writer.write(b"x" * 1024)
                await writer.drain()
        except ConnectionError:
            pass
        assert await asyncio.wait_for(reader.read(), 2) == b""
        assert errors.kinds() == [SniffLimitExceeded]
        assert m.stats.sniff_limit == 1
        writer.close()


async def test_a_route_waits_for_higher_routes_that_need_more_bytes() -> None:
    """All routes are probed side by side, but priority holds: MATCH below waits for MORE above."""
    m = mux.Mux(match_timeout=2.0)
    first = m.listen("long", mux.prefix(b"ABCDEFGH"))
    second = m.listen("short", mux.prefix(b"ABC"))
    async with serving(m) as port:
        _, w1 = await asyncio.open_connection("127.0.0.1", port)
        w1.write(b"ABC")
        await asyncio.sleep(0.1)
        assert first._queue.empty() and second._queue.empty()
        w1.write(b"DEFGH")
        r, w = await asyncio.wait_for(first.accept(), 2)
        assert await r.readexactly(8) == b"ABCDEFGH"
        _, w2 = await asyncio.open_connection("127.0.0.1", port)
        w2.write(b"ABX")  # the long prefix says NO at once; the short one decides
        await asyncio.sleep(0.1)
        assert second._queue.empty()
        w2.close()
        _, w3 = await asyncio.open_connection("127.0.0.1", port)
        w3.write(b"ABCX")
        r3, w3b = await asyncio.wait_for(second.accept(), 2)
        assert await r3.readexactly(4) == b"ABCX"
        for writer in (w, w1, w3, w3b):
            writer.close()


async def test_listener_replays_sniffed_bytes_then_the_socket_then_eof() -> None:
    """cmux TestRead: a decoy reads some bytes and says NO; the winner reads everything intact."""
    m = mux.Mux()
    m.route("decoy", mux.custom(lambda seen: MORE if len(seen) < 5 else NO), target=mux.close())
    listener = m.listen("any", mux.any_())
    async with serving(m) as port:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hello world")
        server_reader, server_writer = await asyncio.wait_for(listener.accept(), 2)
        info = server_writer.get_extra_info("mux")
        assert info.route == "any" and info.peer == writer.get_extra_info("sockname")
        writer.write(b"-more")
        writer.write_eof()
        assert await asyncio.wait_for(server_reader.read(), 2) == b"hello world-more"
        server_writer.close()
        writer.close()


async def test_any_route_matches_before_the_first_byte() -> None:
    m = mux.Mux()
    listener = m.listen("any", mux.any_())
    async with serving(m) as port:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        _, server_writer = await asyncio.wait_for(listener.accept(), 1)  # the client has sent nothing
        server_writer.close()
        writer.close()


async def test_multiple_matchers_in_one_route_any_one_is_enough() -> None:
    """cmux TestMultipleMatchers."""
    m = mux.Mux()
    listener = m.listen("multi", mux.prefix(b"nope"), mux.prefix(b"yes"), mux.prefix(b"never"))
    async with serving(m) as port:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"yes please")
        reader, server_writer = await asyncio.wait_for(listener.accept(), 1)
        assert await reader.readexactly(10) == b"yes please"
        server_writer.close()
        writer.close()


async def test_closing_one_route_leaves_the_others_serving() -> None:
    m = mux.Mux(match_timeout=1.0)
    closed = m.listen("closed", mux.prefix(b"A"))
    other = m.listen("other", mux.prefix(b"A"), mux.prefix(b"B"))
    async with serving(m) as port:
        waiting = asyncio.create_task(closed.accept())
        await asyncio.sleep(0)
        closed.close()
        with pytest.raises(ListenerClosed, match="mux: listener closed"):
            await waiting
        with pytest.raises(ListenerClosed):
            await closed.accept()
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"A request the closed route would have had")
        reader, server_writer = await asyncio.wait_for(other.accept(), 1)
        assert await reader.readexactly(1) == b"A"
        server_writer.close()
        writer.close()


async def test_global_connection_limit_closes_extra_connections() -> None:
    errors = Errors()
    m = mux.Mux(max_connections=2, match_timeout=5.0, on_error=errors.append)
    m.route("http", mux.http1(), target=mux.close())
    async with serving(m) as port:
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        await asyncio.sleep(0.05)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(reader.read(), 2) == b""
        assert m.stats.rejected_limit == 1
        assert errors.kinds() == [ConnectionLimit]
        for _, w in held:
            w.close()
        writer.close()
        await asyncio.sleep(0.05)
        assert m.active_connections == 0


async def test_route_connection_limit() -> None:
    m = mux.Mux()
    listener = m.route("one", mux.prefix(b"x"), target=mux.Listener("one"), max_connections=1).target
    assert isinstance(listener, mux.Listener)
    async with serving(m) as port:
        _, w1 = await asyncio.open_connection("127.0.0.1", port)
        w1.write(b"x1")
        _, s1 = await asyncio.wait_for(listener.accept(), 1)
        r2, w2 = await asyncio.open_connection("127.0.0.1", port)
        w2.write(b"x2")
        assert await asyncio.wait_for(r2.read(), 2) == b""
        route = m.routes()[0]
        assert (route.stats.matched, route.stats.rejected_limit, route.stats.active) == (2, 1, 1)
        for w in (w1, w2, s1):
            w.close()


@needs_curl
async def test_close_drains_requests_in_flight_and_stops_accepting(
    grpc_echo: GrpcEcho, http_app: web.AppRunner
) -> None:
    m = mux.Mux()
    m.route("http", mux.http1(), target=mux.serve_protocol(http_app.server))
    port = (await m.start()).sockets[0].getsockname()[1]
    in_flight = asyncio.create_task(curl(f"http://127.0.0.1:{port}/slow?s=0.5"))
    await asyncio.sleep(0.2)
    idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await asyncio.gather(m.close(grace=3.0), http_app.server.shutdown(timeout=3.0))
    assert time.monotonic() - started < 2.5
    assert await asyncio.wait_for(idle_reader.read(), 1) == b""  # still sniffing: closed at once
    code, out, _ = await in_flight
    assert (code, out) == (0, "slow done")
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    idle_writer.close()


async def test_close_aborts_routed_connections_after_the_grace() -> None:
    m = mux.Mux()
    listener = m.listen("raw", mux.prefix(b"hold"))
    port = (await m.start()).sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"hold me")
    _, server_writer = await asyncio.wait_for(listener.accept(), 1)
    started = time.monotonic()
    await m.close(grace=0.3)
    assert 0.25 <= time.monotonic() - started < 1.5
    assert await asyncio.wait_for(reader.read(), 1) == b""
    assert server_writer.transport.is_closing()
    writer.close()


async def test_error_hook_that_raises_does_not_stop_serving(etcd_like: tuple[mux.Mux, int, Errors]) -> None:
    m, port, _ = etcd_like

    def broken_hook(error: MuxError) -> None:
        raise RuntimeError("hook bug")

    m.on_error = broken_hook
    for _ in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"\x16garbage that is not TLS at all\r\n\r\n")
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        assert await grpc_method(channel, "Echo")(b"still here", timeout=5) == b"still here"


async def test_proxy_protocol_header_from_a_trusted_network_names_the_client(http_app: web.AppRunner) -> None:
    m = mux.Mux(proxy_protocol_from=["127.0.0.0/8"])
    m.route("http", mux.http1(), target=mux.serve_protocol(http_app.server))
    async with serving(m) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(build_v1(("203.0.113.7", 40000), ("127.0.0.1", port)))
        writer.write(b"GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        response = await asyncio.wait_for(reader.read(), 2)
        assert response.startswith(b"HTTP/1.1 200")
        assert response.endswith(b"http|203.0.113.7|")
        writer.close()


async def test_proxy_protocol_header_from_an_untrusted_network_is_just_bytes(http_app: web.AppRunner) -> None:
    errors = Errors()
    m = mux.Mux(proxy_protocol_from=["10.0.0.0/8"], on_error=errors.append)
    m.route("http", mux.http1(), target=mux.serve_protocol(http_app.server))
    async with serving(m) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(build_v1(("203.0.113.7", 40000), ("127.0.0.1", port)))
        writer.write(b"GET /who HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await asyncio.wait_for(reader.read(), 2) == b""
        assert errors.kinds() == [NotMatched]
        writer.close()


async def test_proxy_sends_a_proxy_protocol_header_upstream(tmp_path: Path) -> None:
    got: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def backend(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.set_result(await reader.read())
        writer.close()

    backend_server = await asyncio.start_server(backend, "127.0.0.1", 0)
    backend_port = backend_server.sockets[0].getsockname()[1]
    m = mux.Mux()
    m.route("tcp", mux.prefix(b"hi"), target=mux.proxy_to(f"127.0.0.1:{backend_port}", send_proxy_protocol=1))
    async with serving(m) as port, closing_server(backend_server):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"hi there")
        writer.write_eof()
        data = await asyncio.wait_for(got, 2)
        client_port = writer.get_extra_info("sockname")[1]
        assert data == f"PROXY TCP4 127.0.0.1 127.0.0.1 {client_port} {port}\r\nhi there".encode()
        writer.close()


async def test_proxy_passes_half_close_and_large_transfers_intact(tmp_path: Path) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
        writer.write(b"<eof seen>")
        writer.close()

    path = str(tmp_path / "echo.sock")
    backend_server = await asyncio.start_unix_server(echo, path)
    m = mux.Mux()
    route = m.route("echo", mux.prefix(b"ECHO"), target=mux.proxy_to(f"unix:{path}"))
    async with serving(m) as port, closing_server(backend_server):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        payload = b"ECHO" + bytes(range(256)) * 40_000  # ~10 MB, far above every buffer limit

        async def send() -> None:
            writer.write(payload)
            await writer.drain()
            writer.write_eof()

        sender = asyncio.create_task(send())
        received = await asyncio.wait_for(reader.read(-1), 20)
        await sender
        assert received == payload + b"<eof seen>"
        assert route.stats.bytes_in == len(payload)
        assert route.stats.bytes_out == len(payload) + len(b"<eof seen>")
        writer.close()


async def test_unreachable_upstream_closes_the_client_and_reports(tmp_path: Path) -> None:
    errors = Errors()
    m = mux.Mux(on_error=errors.append)
    route = m.route("gone", mux.prefix(b"x"), target=mux.proxy_to(f"unix:{tmp_path}/nobody.sock"))
    async with serving(m) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"x")
        assert await asyncio.wait_for(reader.read(), 2) == b""
        assert errors.kinds() == [HandoffFailed]
        assert route.stats.handoff_failed == 1 and route.stats.active == 0
        writer.close()


# TLS termination: gRPC and HTTPS on one TLS port, told apart by ALPN.


@pytest.fixture
async def tls_port(
    grpc_echo: GrpcEcho, http_app: web.AppRunner, dev_certs: DevCerts
) -> AsyncIterator[tuple[mux.Mux, int, Errors]]:
    errors = Errors()
    m = mux.Mux(match_timeout=2.0, on_error=errors.append)
    grpc_echo.lookup.append(m.registry)
    inner = mux.Router()
    inner.route("grpc", mux.http2(), target=mux.proxy_to(grpc_echo.address))
    inner.route("https", mux.http1(), target=mux.serve_protocol(http_app.server))
    context = mux.server_context(str(dev_certs.server_cert), str(dev_certs.server_key))
    m.route("tls", mux.tls(), target=mux.terminate_tls(context, inner))
    m.route("http", mux.http1(), target=mux.serve_protocol(http_app.server))
    port = (await m.start()).sockets[0].getsockname()[1]
    yield m, port, errors
    await m.close(grace=1.0)


async def test_grpc_over_tls_and_curl_over_https_share_a_tls_port(
    tls_port: tuple[mux.Mux, int, Errors], dev_certs: DevCerts
) -> None:
    _m, port, errors = tls_port
    credentials = grpc.ssl_channel_credentials(root_certificates=dev_certs.ca.read_bytes())
    async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        calls = [grpc_method(channel, "Echo")(f"tls-{i}".encode(), timeout=5) for i in range(10)]
        who = grpc_method(channel, "Who")(b"", timeout=5)
        https = (
            [curl("--cacert", str(dev_certs.ca), f"https://127.0.0.1:{port}/who") for _ in range(3)]
            if CURL
            else []
        )
        plain = [curl(f"http://127.0.0.1:{port}/who")] if CURL else []
        results = await asyncio.gather(*calls, who, *https, *plain)
    assert results[:10] == [f"tls-{i}".encode() for i in range(10)]
    route, _, alpn = results[10].decode().split("|")  # type: ignore[union-attr]
    assert (route, alpn) == ("grpc", "h2")
    for code, out, err in results[11 : 11 + len(https)]:  # type: ignore[misc]
        assert code == 0, err
        assert out == "https|127.0.0.1|http/1.1"
    for code, out, _ in results[11 + len(https) :]:  # type: ignore[misc]
        assert (code, out) == (0, "http|127.0.0.1|")
    assert errors == [], [str(e) for e in errors]


async def test_tls_client_hello_sent_one_byte_at_a_time(
    tls_port: tuple[mux.Mux, int, Errors], dev_certs: DevCerts
) -> None:
    """A ClientHello in as many TCP segments as it has bytes still routes, terminates and serves."""
    _, port, _ = tls_port
    context = ssl.create_default_context(cafile=str(dev_certs.ca))
    context.set_alpn_protocols(["http/1.1"])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    hello = outgoing.read()
    assert len(hello) > 200
    for i in range(len(hello)):
        writer.write(hello[i : i + 1])
        await writer.drain()
        if i % 64 == 0:
            await asyncio.sleep(0.001)
    for _ in range(20):  # bounded: the handshake takes two round trips
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            if data := outgoing.read():
                writer.write(data)
            incoming.write(await asyncio.wait_for(reader.read(65536), 2))
    writer.write(outgoing.read())
    tls.write(b"GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    writer.write(outgoing.read())
    response = b""
    for _ in range(50):  # until the body is in: the server then waits for our close_notify
        if response.endswith(b"http/1.1"):
            break
        chunk = await asyncio.wait_for(reader.read(65536), 2)
        if not chunk:
            break
        incoming.write(chunk)
        try:
            while plaintext := tls.read(65536):  # b"" once the server's close_notify is read
                response += plaintext
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            pass
    assert response.startswith(b"HTTP/1.1 200")
    assert response.endswith(b"https|127.0.0.1|http/1.1")
    writer.close()


async def test_plaintext_to_a_tls_only_port_is_refused(dev_certs: DevCerts, http_app: web.AppRunner) -> None:
    errors = Errors()
    m = mux.Mux(on_error=errors.append)
    inner = mux.Router()
    inner.route("https", mux.http1(), target=mux.serve_protocol(http_app.server))
    context = mux.server_context(str(dev_certs.server_cert), str(dev_certs.server_key))
    m.route("tls", mux.tls(), target=mux.terminate_tls(context, inner))
    async with serving(m) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await asyncio.wait_for(reader.read(), 2) == b""
        assert errors.kinds() == [NotMatched]
        writer.close()


async def test_client_certificates_required_and_reported(
    dev_certs: DevCerts, http_app: web.AppRunner
) -> None:
    errors = Errors()
    m = mux.Mux(on_error=errors.append)
    seen: list[mux.ConnectionInfo] = []
    inner = mux.Router()
    listener = inner.listen("raw", mux.any_())
    context = mux.server_context(
        str(dev_certs.server_cert),
        str(dev_certs.server_key),
        cafile=str(dev_certs.ca),
        require_client_cert=True,
    )
    m.route("tls", mux.tls(), target=mux.terminate_tls(context, inner))
    port = (await m.start()).sockets[0].getsockname()[1]

    async def serve() -> None:
        while True:
            try:
                _, w = await listener.accept()
            except ListenerClosed:
                return
            seen.append(w.get_extra_info("mux"))
            w.write(b"welcome\n")
            await w.drain()
            w.close()

    server_task = asyncio.create_task(serve())
    try:
        good = ssl.create_default_context(cafile=str(dev_certs.ca))
        good.load_cert_chain(str(dev_certs.client_cert), str(dev_certs.client_key))
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=good)
        assert await asyncio.wait_for(reader.readline(), 2) == b"welcome\n"
        writer.close()
        info = seen[0]
        assert info.tls is not None and info.tls.peer_certificate
        subject = dict(x[0] for x in info.tls.peer_certificate_dict["subject"])  # type: ignore[index]
        assert subject["commonName"] == "test-client"
        assert info.tls.server_name is None and info.client_hello is not None

        no_cert = ssl.create_default_context(cafile=str(dev_certs.ca))
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            r, w = await asyncio.open_connection("127.0.0.1", port, ssl=no_cert)
            try:
                line = await asyncio.wait_for(r.readline(), 2)
                if not line:
                    raise ConnectionResetError("closed without a word")
            finally:
                w.close()
        await asyncio.sleep(0.1)
        assert HandoffFailed in errors.kinds()
        assert len(seen) == 1
    finally:
        listener.close()
        await server_task
        await m.close(grace=0.5)


async def test_untrusted_server_certificate_is_refused_by_the_client(
    tls_port: tuple[mux.Mux, int, Errors], dev_certs: DevCerts
) -> None:
    _, port, _ = tls_port
    wrong = ssl.create_default_context(cafile=str(dev_certs.other_ca))
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.open_connection("127.0.0.1", port, ssl=wrong)


def test_verdict_names() -> None:
    assert [v.value for v in Verdict] == ["match", "no", "more"]


async def test_closing_the_mux_ends_accept_with_server_closed_and_closes_queued_connections() -> None:
    """cmux TestClose and TestListenerClose: nothing accepted is leaked, accept says why it stopped."""
    m = mux.Mux()
    listener = m.listen("raw", mux.prefix(b"q"))
    port = (await m.start()).sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"queued, never accepted")
    for _ in range(100):  # bounded: until the connection waits in the listener's queue
        if not listener._queue.empty():
            break
        await asyncio.sleep(0.01)
    await m.close(grace=0.5)
    assert await asyncio.wait_for(reader.read(), 2) == b""
    with pytest.raises(ServerClosed, match="mux: server closed"):
        await listener.accept()
    writer.close()


async def test_preface_only_client_after_a_one_byte_decoy() -> None:
    """cmux TestHTTP2: a decoy that wants 1 byte says NO; the app reads exactly the preface, then EOF."""
    m = mux.Mux()
    m.route("decoy", mux.prefix(b"\x00"), target=mux.close())
    listener = m.listen("h2", mux.http2())
    async with serving(m) as port:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(h2.PREFACE)
        writer.write_eof()
        reader, server_writer = await asyncio.wait_for(listener.accept(), 2)
        assert await asyncio.wait_for(reader.read(), 2) == h2.PREFACE
        server_writer.close()
        writer.close()


async def test_proxy_backpressure_stalls_a_fast_client_when_upstream_stops_reading(tmp_path: Path) -> None:
    """An upstream that stops reading must stall the client, not grow the mux's memory without bound."""
    upstream_reading = asyncio.Event()
    received = 0

    async def stalled(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        await upstream_reading.wait()
        while chunk := await reader.read(1 << 20):
            received += len(chunk)
        writer.close()

    path = str(tmp_path / "stalled.sock")
    backend_server = await asyncio.start_unix_server(stalled, path)
    m = mux.Mux()
    route = m.route("bulk", mux.prefix(b"BULK"), target=mux.proxy_to(f"unix:{path}"))
    async with serving(m) as port, closing_server(backend_server):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"BULK")
        chunk = b"x" * (1 << 20)
        sent = 4
        for _ in range(200):  # at most 200 MiB; stops as soon as the kernel and the mux stop taking bytes
            writer.write(chunk)
            sent += len(chunk)
            try:
                await asyncio.wait_for(writer.drain(), 0.5)
            except TimeoutError:
                break
        else:
            pytest.fail("200 MiB went into a proxy whose upstream never read: no backpressure")
        accepted_by_mux = route.stats.bytes_in
        # Kernel socket buffers on both hops plus the 256 KiB high-water mark, far below what was offered.
        assert accepted_by_mux < 64 * (1 << 20)
        upstream_reading.set()
        writer.write_eof()
        for _ in range(300):  # bounded: everything flows once the upstream reads
            if received >= sent:
                break
            await asyncio.sleep(0.02)
        assert received == sent
        writer.close()


async def test_a_client_trickling_bytes_is_cut_off_after_max_sniff_reads() -> None:
    """Each read re-feeds every probe all bytes so far; a trickle must not buy unbounded CPU."""
    errors = Errors()
    m = mux.Mux(max_sniff_reads=10, on_error=errors.append)
    m.route("undecided", mux.custom(lambda seen: MORE), target=mux.close())
    async with serving(m) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for _ in range(40):  # bounded: the mux cuts it off after its 11th read
                writer.write(b"x")
                await writer.drain()
                await asyncio.sleep(0.01)
        except ConnectionError:
            pass
        with contextlib.suppress(ConnectionError):  # closed: EOF, or a reset our writes ran into
            assert await asyncio.wait_for(reader.read(), 2) == b""
        assert errors.kinds() == [SniffLimitExceeded]
        assert "10 reads" in str(errors[0])
        writer.close()
