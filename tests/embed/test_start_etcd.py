"""``start_etcd`` in-process: what it binds, what it serves and when, and that every way out closes
everything it opened (ports, the internal gRPC socket's directory, unix socket files).

Peer-handler bytes are etcd 3.4.23's, recorded with curl against the real etcd (see each test).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest

from etcd.api.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from etcd.embed import serve
from etcd.embed.config import DEFAULT_INITIAL_CLUSTER, Config, ConfigError, parse_urls
from etcd.embed.etcd import Etcd, Parts, ServerStopped, default_parts, start_etcd
from etcd.embed.serve import StartError
from etcd.server.corrupt import fetch_peer_hash
from etcd.server.membership import Member
from tests.real_etcd import free_ports

TIMEOUT = 15.0


def make_config(tmp: Path, client: str | None = None, peer: str | None = None, **fields: Any) -> Config:
    client_port, peer_port = free_ports(2)
    client = client or f"http://127.0.0.1:{client_port}"
    peer = peer or f"http://127.0.0.1:{peer_port}"
    cfg = Config(name="m1", data_dir=str(tmp / "data"))
    cfg.listen_client_urls = parse_urls(client)
    cfg.advertise_client_urls = parse_urls(client)
    cfg.listen_peer_urls = parse_urls(peer)
    cfg.initial_advertise_peer_urls = parse_urls(peer)
    cfg.initial_cluster = f"m1={peer}"
    for name, value in fields.items():
        setattr(cfg, name, value)
    cfg.update_default_cluster_from_name(DEFAULT_INITIAL_CLUSTER)
    return cfg


async def started(cfg: Config, p: Parts | None = None) -> Etcd:
    e = await asyncio.wait_for(start_etcd(cfg, p or default_parts()), TIMEOUT)
    await asyncio.wait_for(e.ready.wait(), TIMEOUT)
    return e


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def can_connect(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


async def http_get(url: str, **kw: Any) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession(**kw) as session, session.get(url) as r:
        return r.status, dict(r.headers), await r.read()


@pytest.fixture
async def member(tmp_path: Path) -> AsyncIterator[Etcd]:
    e = await started(make_config(tmp_path))
    try:
        yield e
    finally:
        await asyncio.wait_for(e.close(), TIMEOUT)


async def test_grpc_and_http_share_the_client_port(member: Etcd) -> None:
    url = str(member.cfg.listen_client_urls[0])
    async with grpc.aio.insecure_channel(url.removeprefix("http://")) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)  # type: ignore[no-untyped-call]
        put = await kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"v"), timeout=5)
        got = await kv.Range(rpc_pb2.RangeRequest(key=b"k"), timeout=5)
    assert [(kv.key, kv.value) for kv in got.kvs] == [(b"k", b"v")]
    assert got.header.revision == put.header.revision
    status, _, body = await http_get(f"{url}/health")
    assert status == 200 and b'"health":"true"' in body.replace(b" ", b"")


async def test_peer_port_serves_the_v3_grpc_services_too(member: Etcd) -> None:
    """etcd's servePeers puts its gRPC server behind the peer port's cmux as well."""
    peer = str(member.cfg.listen_peer_urls[0]).removeprefix("http://")
    async with grpc.aio.insecure_channel(peer) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)  # type: ignore[no-untyped-call]
        put = await kv.Put(rpc_pb2.PutRequest(key=b"via-peer", value=b"1"), timeout=5)
    assert put.header.revision >= 2


async def test_peer_port_answers_members_and_version_as_etcd(member: Etcd) -> None:
    assert member.server is not None
    peer = str(member.cfg.listen_peer_urls[0])
    client = str(member.cfg.listen_client_urls[0])
    status, headers, body = await http_get(f"{peer}/members")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Etcd-Cluster-Id"] == f"{member.server.cluster_id:x}"
    assert "Server" not in headers  # Go's server sends none
    # etcd 3.4.23: json.Encoder output, a newline at the end
    expected = f'[{{"id":{member.server.id},"peerURLs":["{peer}"],"name":"m1","clientURLs":["{client}"]}}]\n'
    assert body.decode() == expected
    status, headers, body = await http_get(f"{peer}/version")
    assert status == 200
    assert body in (
        b'{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}',
        b'{"etcdserver":"3.4.23","etcdcluster":"not_decided"}',
    )
    # etcd 3.4.23: 404 "404 page not found\n" and 405 "Method Not Allowed\n" with Allow: GET, both text/plain
    status, headers, body = await http_get(f"{peer}/nope")
    assert (status, body) == (404, b"404 page not found\n")
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["X-Content-Type-Options"] == "nosniff"
    async with aiohttp.ClientSession() as session, session.post(f"{peer}/members") as r:
        assert (r.status, await r.read(), r.headers["Allow"]) == (405, b"Method Not Allowed\n", "GET")


async def test_close_releases_ports_and_the_grpc_socket_dir(tmp_path: Path) -> None:
    e = await started(make_config(tmp_path))
    socket_dir = os.path.dirname(e.grpc_socket)
    assert os.path.exists(e.grpc_socket)
    client_port = port_of(str(e.cfg.listen_client_urls[0]))
    peer_port = port_of(str(e.cfg.listen_peer_urls[0]))
    assert can_connect(client_port) and can_connect(peer_port)
    await asyncio.wait_for(e.close(), TIMEOUT)
    assert e.stopped.is_set()
    assert not os.path.exists(socket_dir)
    assert not can_connect(client_port) and not can_connect(peer_port)
    await asyncio.wait_for(e.close(), TIMEOUT)  # a second close is a no-op


class HeldReady:
    """The real server, but ``ready`` is set only once it is ready and the test has opened ``gate``."""

    def __init__(self, server: Any, gate: asyncio.Event) -> None:
        self._server = server
        self.ready = asyncio.Event()
        self._task = asyncio.ensure_future(self._release(gate))

    async def _release(self, gate: asyncio.Event) -> None:
        await self._server.ready.wait()
        await gate.wait()
        self.ready.set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


async def test_clients_wait_in_the_backlog_until_the_server_is_ready(tmp_path: Path) -> None:
    """etcd binds client listeners before the member is ready and serves them after (serveCtx.serve)."""
    gate = asyncio.Event()
    real = default_parts()

    async def start_server_held(cfg: Config) -> Any:
        return HeldReady(await real.start_server(cfg), gate)

    p = Parts(start_server_held, real.grpc_server, real.client_app, real.metrics_app)
    cfg = make_config(tmp_path)
    e = await asyncio.wait_for(start_etcd(cfg, p), TIMEOUT)
    try:
        url = str(cfg.listen_client_urls[0])
        request = asyncio.ensure_future(http_get(f"{url}/version"))
        await asyncio.sleep(0.5)
        assert not request.done()  # connected (in the backlog) but not served
        assert not e.ready.is_set()
        gate.set()
        status, _, _ = await asyncio.wait_for(request, TIMEOUT)
        assert status == 200
        await asyncio.wait_for(e.ready.wait(), TIMEOUT)
    finally:
        gate.set()
        await asyncio.wait_for(e.close(), TIMEOUT)


async def test_taken_client_port_fails_and_closes_the_peer_listener(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    client_port = port_of(str(cfg.listen_client_urls[0]))
    peer_port = port_of(str(cfg.listen_peer_urls[0]))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", client_port))
        taken.listen()
        with pytest.raises(StartError) as info:
            await start_etcd(cfg, default_parts())
    assert str(info.value) == f"listen tcp 127.0.0.1:{client_port}: bind: address already in use"
    assert not can_connect(peer_port)
    assert not (tmp_path / "data" / "member").exists()  # failed before the server opened anything


async def test_failing_server_closes_every_listener_and_the_socket_dir(tmp_path: Path) -> None:
    real = default_parts()

    class Boom(Exception):
        pass

    async def start_server(cfg: Config) -> Any:
        raise Boom("cannot open the backend")

    p = Parts(start_server, real.grpc_server, real.client_app, real.metrics_app)
    cfg = make_config(tmp_path)
    before = set(os.listdir(os.environ.get("TMPDIR", "/tmp")))
    with pytest.raises(Boom):
        await start_etcd(cfg, p)
    for url in (cfg.listen_client_urls[0], cfg.listen_peer_urls[0]):
        assert not can_connect(port_of(str(url)))
    after = set(os.listdir(os.environ.get("TMPDIR", "/tmp")))
    assert not {n for n in after - before if n.startswith(f"etcd-grpc-{os.getpid()}-")}


async def test_https_without_certificates_is_refused_with_etcds_text(tmp_path: Path) -> None:
    client_port, peer_port = free_ports(2)
    cfg = make_config(tmp_path, client=f"https://127.0.0.1:{client_port}")
    with pytest.raises(StartError) as info:
        await start_etcd(cfg, default_parts())
    # etcd 3.4.23's text
    assert str(info.value) == (
        "TLS key/cert (--cert-file, --key-file) must be provided for client url "
        f"https://127.0.0.1:{client_port} with HTTPS scheme"
    )
    cfg = make_config(tmp_path, peer=f"https://127.0.0.1:{peer_port}")
    with pytest.raises(StartError) as info:
        await start_etcd(cfg, default_parts())
    assert str(info.value) == (
        f"cannot listen on TLS for 127.0.0.1:{peer_port}: KeyFile and CertFile are not presented"
    )
    assert not can_connect(port_of(str(cfg.listen_client_urls[0])))


async def test_invalid_config_is_refused_before_binding(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, heartbeat_interval=0)
    with pytest.raises(ConfigError, match=r"--heartbeat-interval must be >0"):
        await start_etcd(cfg, default_parts())
    assert not can_connect(port_of(str(cfg.listen_peer_urls[0])))


async def test_unix_client_url_serves_http_and_its_file_goes_on_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # etcd's unix URLs name a socket file by their host:port, relative to the working directory.
    monkeypatch.chdir(tmp_path)
    tcp_port, unix_port = free_ports(2)
    client = f"http://127.0.0.1:{tcp_port},unix://localhost:{unix_port}"
    e = await started(make_config(tmp_path, client=client))
    path = tmp_path / f"localhost:{unix_port}"
    try:
        assert path.is_socket()
        unix = aiohttp.UnixConnector(str(path))
        status, _, body = await http_get("http://localhost/health", connector=unix)
        assert status == 200 and b"true" in body
    finally:
        await asyncio.wait_for(e.close(), TIMEOUT)
    assert not path.exists()


async def test_metrics_url_serves_metrics(tmp_path: Path) -> None:
    (metrics_port,) = free_ports(1)
    cfg = make_config(tmp_path, listen_metrics_urls=parse_urls(f"http://127.0.0.1:{metrics_port}"))
    e = await started(cfg)
    try:
        status, _, _ = await http_get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert status == 200
        status, _, body = await http_get(f"http://127.0.0.1:{metrics_port}/health")
        assert status == 200 and b"true" in body
    finally:
        await asyncio.wait_for(e.close(), TIMEOUT)
    assert not can_connect(metrics_port)


async def test_server_stopping_by_itself_is_reported(member: Etcd) -> None:
    assert member.server is not None
    await member.server.stop()
    error = await asyncio.wait_for(member.errors.get(), TIMEOUT)
    assert isinstance(error, ServerStopped)
    assert (error.cause, str(error)) == (None, "etcdserver: server stopped")


def metric_value(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{series} not in /metrics")


async def test_client_port_metrics_count_the_mux_routes(member: Etcd) -> None:
    url = str(member.cfg.listen_client_urls[0])
    async with grpc.aio.insecure_channel(url.removeprefix("http://")) as channel:
        kv = rpc_pb2_grpc.KVStub(channel)  # type: ignore[no-untyped-call]
        await kv.Range(rpc_pb2.RangeRequest(key=b"k"), timeout=5)
    await http_get(f"{url}/health")
    _, _, body = await http_get(f"{url}/metrics")
    text = body.decode()
    assert metric_value(text, 'mux_route_matched_total{route="grpc"}') >= 1
    assert metric_value(text, 'mux_route_matched_total{route="http"}') >= 2
    assert metric_value(text, "mux_accepted_total") >= 3


async def test_cancelled_start_closes_what_it_opened(tmp_path: Path) -> None:
    """A signal while the server is being opened cancels start_etcd: the listeners bound so far close."""
    real = default_parts()
    entered = asyncio.Event()

    async def start_server_forever(cfg: Config) -> Any:
        entered.set()
        await asyncio.Event().wait()

    p = Parts(start_server_forever, real.grpc_server, real.client_app, real.metrics_app)
    cfg = make_config(tmp_path)
    task = asyncio.ensure_future(start_etcd(cfg, p))
    await asyncio.wait_for(entered.wait(), TIMEOUT)
    assert can_connect(port_of(str(cfg.listen_peer_urls[0])))  # bound, in the backlog
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not can_connect(port_of(str(cfg.listen_peer_urls[0])))
    assert not can_connect(port_of(str(cfg.listen_client_urls[0])))


async def test_https_metrics_url_without_certificates_is_refused_with_etcds_text(tmp_path: Path) -> None:
    (metrics_port,) = free_ports(1)
    cfg = make_config(tmp_path, listen_metrics_urls=parse_urls(f"https://127.0.0.1:{metrics_port}"))
    with pytest.raises(StartError) as info:
        await start_etcd(cfg, default_parts())
    # etcd 3.4.23's text for --listen-metrics-urls=https://... without --cert-file
    assert str(info.value) == (
        f"cannot listen on TLS for 127.0.0.1:{metrics_port}: KeyFile and CertFile are not presented"
    )


async def test_wildcard_listener_is_dual_stack_with_keepalive(tmp_path: Path) -> None:
    """Go binds 0.0.0.0 as one IPv6 socket that takes IPv4 too; etcd's client connections keep alive 30 s."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this kernel")
    (port,) = free_ports(1)
    sock = serve.bind(parse_urls(f"http://0.0.0.0:{port}")[0], keepalive=serve.CLIENT_KEEPALIVE)
    try:
        assert sock.family == socket.AF_INET6
        assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 0
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 30
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            sock.setblocking(True)
            conn, _ = sock.accept()
            with conn:  # accepted connections inherit the listener's keep-alive settings (Linux)
                assert conn.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
                assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 30
    finally:
        sock.close()


def test_fd_limit_reserve() -> None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft <= serve.RESERVED_INTERNAL_FDS:
        pytest.skip(f"fd limit {soft}")
    assert serve.client_connection_limit() == soft - 150


def test_socket_dirs_of_dead_members_are_removed(tmp_path: Path) -> None:
    """A member killed by SIGKILL leaves its gRPC socket dir; the next start removes it, not a live one's."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, timeout=30
    )
    dead_pid = int(done.stdout)
    dead = tmp_path / f"etcd-grpc-{dead_pid}-abc"
    live = tmp_path / f"etcd-grpc-{os.getpid()}-def"
    other = tmp_path / "etcd-grpc-notapid"
    for d in (dead, live, other):
        d.mkdir()
        (d / "grpc.sock").write_bytes(b"")
    assert serve.remove_stale_socket_dirs(str(tmp_path)) == [str(dead)]
    assert not dead.exists() and live.exists() and other.exists()


async def test_peer_port_answers_hashkv_for_the_corruption_check(member: Etcd) -> None:
    peer_url = str(member.cfg.listen_peer_urls[0])
    got = await fetch_peer_hash(Member(1, [peer_url]), 0)
    want = await member.server.hash_kv(0)
    assert (got.hash, got.compact_revision, got.header.revision) == (
        want.hash,
        want.compact_revision,
        want.header.revision,
    )
    async with aiohttp.ClientSession() as session, session.post(peer_url + "/members/hashkv") as r:
        assert (r.status, r.headers["Allow"]) == (405, "GET")


async def test_restart_with_the_initial_corruption_check_starts(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, experimental_initial_corrupt_check=True)
    e = await started(cfg)
    await asyncio.wait_for(e.close(), TIMEOUT)
    e = await started(make_config(tmp_path, experimental_initial_corrupt_check=True))
    try:
        assert e.server.initialized
    finally:
        await asyncio.wait_for(e.close(), TIMEOUT)
