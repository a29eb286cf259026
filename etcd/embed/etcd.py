"""Starting and stopping one member (etcd's ``embed/etcd.go``): ``start_etcd(cfg) -> Etcd``.

``start_etcd`` follows etcd's ``StartEtcd``: validate, bind the peer listeners, bind the client listeners
(one per address; each becomes a ``Mux``), bind the metrics listeners, create and start the server, start
the internal grpcio server on a Unix socket in a private temporary directory, then serve peers at once and
clients and metrics once the server is ready (etcd's ``serveCtx.serve`` waits on ``ReadyNotify``; until
then connections wait in the listen backlog). Any failure closes whatever was opened and re-raises.

``Etcd.close()`` shuts down in etcd's order: client and metrics ports stop accepting and drain while the
gRPC and HTTP servers finish their requests (``CLIENT_DRAIN_SECONDS``), then the server stops, then the
peer port closes (a leader hands over leadership while peers can still be reached), then the temporary
directory goes.

The pieces the member is made of come in through ``Parts``; ``default_parts()`` are the real ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc
from aiohttp import web

from etcd.api.etcdhttp.app import make_client_app, make_metrics_app
from etcd.api.etcdhttp.gohttp import Handler
from etcd.api.etcdhttp.peer import PeerServer, hashkv_route, make_peer_app
from etcd.api.v3rpc.grpc_server import make_grpc_server
from etcd.embed import serve
from etcd.embed.config import URL, Config
from etcd.embed.metrics import CLIENT_MUXES
from etcd.embed.serve import StartError
from etcd.pkg.logutil import fields
from etcd.rafthttp import Transport, peer_routes
from etcd.server.corrupt import check_initial_hash_kv
from etcd.server.etcdserver import EtcdServer
from etcd.version import SERVER_VERSION
from mux import Mux

log = logging.getLogger("etcd.embed")

GRPC_SOCKET_NAME = "grpc.sock"
# Seconds in-flight client requests get to finish when the member closes; then streams (watch, lease
# keep-alive, v2 long polls) are cut. etcd 3.4's code allows up to the request timeout (7 s) for a graceful
# gRPC stop, yet etcd 3.4.23 measured with an `etcdctl watch` open closes in ~10 ms; a second is our middle.
CLIENT_DRAIN_SECONDS = 1.0
# etcd closes idle peer connections with a 1 s deadline (embed/etcd.go Close).
PEER_DRAIN_SECONDS = 1.0


class MemberServer(PeerServer, Protocol):
    """What the start-up path needs of ``etcd.server.etcdserver.EtcdServer``."""

    @property
    def id(self) -> int: ...

    @property
    def ready(self) -> asyncio.Event:
        """Set once this member's attributes are published: clients are served only after it."""

    @property
    def stopping(self) -> asyncio.Event:
        """Set when the server begins to stop, by request or on a fatal error."""

    @property
    def stopped(self) -> asyncio.Event:
        """Set once the server has stopped."""

    @property
    def error(self) -> BaseException | None:
        """What stopped the server on its own (a failed WAL write, a failed apply), if anything."""

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class Parts:
    """The pieces a member is built from.

    ``start_server(cfg)`` creates and starts the server (opening backend, WAL and snapshots);
    ``grpc_server(server)`` builds the grpcio aio server with every v3 service (not started, no port);
    ``client_app(server, grpc_target)`` the client port's HTTP app, whose gateway dials ``grpc_target``;
    ``metrics_app(server)`` the ``--listen-metrics-urls`` app (``/metrics``, ``/health``);
    ``peer_routes(server)`` the peer port's (pattern, handler) pairs beyond ``/members`` and ``/version``:
    the seam where rafthttp (issue 6) mounts ``/raft`` and ``/raft/``.
    """

    start_server: Callable[[Config], Awaitable[MemberServer]]
    grpc_server: Callable[[Any], grpc.aio.Server]
    client_app: Callable[[Any, str], web.Application]
    metrics_app: Callable[[Any], web.Application]
    peer_routes: Callable[[Any], list[tuple[str, Handler]]] = lambda server: []


def default_parts() -> Parts:
    """The real server, gRPC services and HTTP apps."""

    async def start_server(cfg: Config) -> MemberServer:
        transport = Transport(urls=[str(u) for u in cfg.initial_advertise_peer_urls])
        server = await EtcdServer.open(cfg, transport)
        wire_transport(server, transport)
        if cfg.experimental_initial_corrupt_check and server.initialized:
            try:
                await check_initial_hash_kv(server)
            except BaseException:
                await server.stop()
                raise
        server.start()
        return server

    def client_app(server: Any, grpc_target: str) -> web.Application:
        app: web.Application = make_client_app(server, grpc_target=grpc_target)
        return app

    return Parts(
        start_server=start_server,
        grpc_server=make_grpc_server,
        client_app=client_app,
        metrics_app=make_metrics_app,
        peer_routes=lambda server: [hashkv_route(server), *_raft_routes(server)],
    )


def _raft_routes(server: Any) -> list[tuple[str, Handler]]:
    transport = getattr(server, "transport", None)
    return peer_routes(transport) if isinstance(transport, Transport) else []


def wire_transport(server: EtcdServer, transport: Transport) -> None:
    """Connects the peer transport to the opened server: removed members are refused, received backend
    snapshots land in ``member/snap``, a removal of this member stops it, and raft gets its network."""
    transport.is_id_removed = server.cluster.is_removed
    transport.snapshot_source = server.snapshot_source
    transport.snapshot_dir = server.snap_dir
    transport.on_snapshot = server.receive_snapshot
    transport.on_critical = server.on_transport_critical
    transport.start(server.node)


@dataclass
class _Port:
    """One listening address: its URLs, its socket until a mux takes it, and that mux."""

    urls: list[URL]
    sock: socket.socket | None
    mux: Mux | None = None

    @property
    def address(self) -> str:
        return self.urls[0].host

    async def serve(self, mux: Mux) -> None:
        assert self.sock is not None
        self.mux = mux
        sock, self.sock = self.sock, None
        try:
            await mux.start(sock=sock, backlog=serve.BACKLOG)
        except BaseException:
            sock.close()
            raise

    async def close(self, grace: float) -> None:
        if self.mux is not None:
            await self.mux.close(grace)
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        for url in self.urls:
            serve.unlink_unix(url)


@dataclass
class Etcd:
    """A running member: its server, ports and signals.

    ``ready`` is set once clients are served; ``stopped`` once ``close()`` has finished (whoever called
    it); ``errors`` receives a serving failure or the server stopping by itself, after which the owner
    should ``close()``.
    """

    cfg: Config
    server: MemberServer | None = None
    peers: list[_Port] = field(default_factory=list)
    clients: list[_Port] = field(default_factory=list)
    metrics: list[_Port] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    errors: asyncio.Queue[BaseException] = field(default_factory=asyncio.Queue)
    grpc_server: grpc.aio.Server | None = None
    grpc_socket: str = ""
    max_client_connections: int | None = None
    _socket_dir: str = ""
    _runners: dict[str, web.AppRunner] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _closing: asyncio.Task[None] | None = None

    @property
    def client_muxes(self) -> list[Mux]:
        return [p.mux for p in self.clients if p.mux is not None]

    def _fields(self) -> dict[str, Any]:
        return {
            "name": self.cfg.name,
            "data-dir": self.cfg.effective_data_dir(),
            "advertise-peer-urls": [str(u) for u in self.cfg.initial_advertise_peer_urls],
            "advertise-client-urls": [str(u) for u in self.cfg.advertise_client_urls or []],
        }

    async def close(self) -> None:
        """Shuts the member down in etcd's order (see the module docstring); safe to call more than once
        and from several tasks: all of them return when the one shutdown has finished."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        log.info("closing etcd server", extra=fields(self._fields()))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        grace = min(CLIENT_DRAIN_SECONDS, self.cfg.req_timeout())
        for mux in self.client_muxes:
            CLIENT_MUXES.discard(mux)
        front = [p.close(grace) for p in self.clients + self.metrics]
        if self.grpc_server is not None:
            front.append(self.grpc_server.stop(grace))
        for name in ("client", "metrics"):
            if name in self._runners:
                front.append(self._runners.pop(name).cleanup())
        for result in await asyncio.gather(*front, return_exceptions=True):
            if isinstance(result, BaseException):
                log.warning("error while closing client listeners", extra=fields({"error": str(result)}))
        if self.server is not None:
            try:
                await self.server.stop()
            except Exception as e:
                log.warning("error while stopping the server", extra=fields({"error": str(e)}))
        for port in self.peers:
            if port.mux is not None:
                log.info("stopping serving peer traffic", extra=fields({"address": port.address}))
            await port.close(PEER_DRAIN_SECONDS)
            if port.mux is not None:
                log.info("stopped serving peer traffic", extra=fields({"address": port.address}))
        if "peer" in self._runners:
            await self._runners.pop("peer").cleanup()
        if self._socket_dir:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
        log.info("closed etcd server", extra=fields(self._fields()))
        self.stopped.set()


async def start_etcd(cfg: Config, parts: Parts | None = None) -> Etcd:
    """Starts the member ``cfg`` describes; returns once it is starting to serve (wait on ``ready``).

    Raises:
        ConfigError: ``cfg`` is invalid (etcd's text).
        StartError: a listener cannot be bound, or TLS is asked for without certificates (etcd's text).
        Exception: whatever creating or starting the server raised; everything opened is closed first.
    """
    cfg.validate()
    parts = parts or default_parts()
    e = Etcd(cfg)
    try:
        await _start(e, parts)
    except BaseException:
        await e.close()
        raise
    return e


def _bind_ports(
    urls: list[URL],
    check: Callable[[URL, Config], None],
    cfg: Config,
    keepalive: int = serve.DEFAULT_KEEPALIVE,
) -> list[_Port]:
    grouped: dict[str, list[URL]] = {}
    for url in urls:
        check(url, cfg)
        grouped.setdefault(serve.address_key(url), []).append(url)
    ports: list[_Port] = []
    try:
        for group in grouped.values():
            ports.append(_Port(group, serve.bind(group[0], keepalive=keepalive)))
    except BaseException:
        for port in ports:
            if port.sock is not None:
                port.sock.close()
        raise
    return ports


async def _runner(app: web.Application, grace: float) -> web.AppRunner:
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=grace)
    await runner.setup()
    return runner


def _http_server(runner: web.AppRunner) -> Callable[[], asyncio.BaseProtocol]:
    server = runner.server
    assert server is not None, "AppRunner.setup() makes the server"
    return server


async def _start(e: Etcd, parts: Parts) -> None:
    cfg = e.cfg
    grace = min(CLIENT_DRAIN_SECONDS, cfg.req_timeout())
    log.info(
        "configuring peer listeners",
        extra=fields({"listen-peer-urls": [str(u) for u in cfg.listen_peer_urls]}),
    )
    e.peers = _bind_ports(cfg.listen_peer_urls, serve.check_peer_tls, cfg)
    log.info(
        "configuring client listeners",
        extra=fields({"listen-client-urls": [str(u) for u in cfg.listen_client_urls]}),
    )
    e.max_client_connections = serve.client_connection_limit()
    e.clients = _bind_ports(cfg.listen_client_urls, serve.check_client_tls, cfg, serve.CLIENT_KEEPALIVE)
    e.metrics = _bind_ports(cfg.listen_metrics_urls, serve.check_metrics_tls, cfg)
    log.info(
        "starting an etcd server",
        extra=fields(
            {
                "etcd-version": SERVER_VERSION,
                "member-initialized": os.path.isdir(os.path.join(cfg.effective_data_dir(), "member", "wal")),
                **e._fields(),
                "listen-peer-urls": [str(u) for u in cfg.listen_peer_urls],
                "listen-client-urls": [str(u) for u in cfg.listen_client_urls],
                "listen-metrics-urls": [str(u) for u in cfg.listen_metrics_urls],
                "initial-cluster": cfg.initial_cluster,
                "initial-cluster-state": cfg.initial_cluster_state,
            }
        ),
    )
    e.server = server = await parts.start_server(cfg)

    e._socket_dir = serve.make_socket_dir()
    e.grpc_socket = os.path.join(e._socket_dir, GRPC_SOCKET_NAME)
    e.grpc_server = parts.grpc_server(server)
    e.grpc_server.add_insecure_port(f"unix:{e.grpc_socket}")
    await e.grpc_server.start()

    e._runners["client"] = await _runner(parts.client_app(server, f"unix:{e.grpc_socket}"), grace)
    if e.metrics:
        e._runners["metrics"] = await _runner(parts.metrics_app(server), grace)
    e._runners["peer"] = await _runner(make_peer_app(server, parts.peer_routes(server)), grace)

    peer_http = _http_server(e._runners["peer"])
    for port in e.peers:
        await port.serve(serve.grpc_http_mux(f"unix:{e.grpc_socket}", peer_http))
        log.info("serving peer traffic", extra=fields({"address": port.address}))
    log.info(
        "now serving peer/client/metrics",
        extra=fields(
            {
                "local-member-id": f"{server.id:x}",
                "initial-advertise-peer-urls": [str(u) for u in cfg.initial_advertise_peer_urls],
                "listen-peer-urls": [str(u) for u in cfg.listen_peer_urls],
                "advertise-client-urls": [str(u) for u in cfg.advertise_client_urls or []],
                "listen-client-urls": [str(u) for u in cfg.listen_client_urls],
                "listen-metrics-urls": [str(u) for u in cfg.listen_metrics_urls],
            }
        ),
    )
    e._tasks.append(asyncio.ensure_future(_serve_when_ready(e)))
    e._tasks.append(asyncio.ensure_future(_watch_server(e)))


async def _serve_when_ready(e: Etcd) -> None:
    """etcd's ``serveCtx.serve`` and ``serveMetrics``: accept clients once the server is ready."""
    assert e.server is not None
    await e.server.ready.wait()
    try:
        client_http = _http_server(e._runners["client"])
        for port in e.clients:
            mux = serve.grpc_http_mux(
                f"unix:{e.grpc_socket}", client_http, max_connections=e.max_client_connections
            )
            CLIENT_MUXES.add(mux)
            await port.serve(mux)
            log.info("ready to serve client requests")
            # etcd 3.4 compat: embed/serve.go logs this for every plain-text client listener.
            log.info(
                "serving client traffic insecurely; this is strongly discouraged!",
                extra=fields({"address": port.address}),
            )
        if e.metrics:
            metrics_http = _http_server(e._runners["metrics"])
            for port in e.metrics:
                await port.serve(serve.http_mux(metrics_http))
                log.info("serving metrics", extra=fields({"address": str(port.urls[0])}))
    except Exception as err:
        log.error("failed to serve clients", extra=fields({"error": str(err)}))
        e.errors.put_nowait(err)
        return
    e.ready.set()


class ServerStopped(Exception):
    """The server stopped by itself; ``cause`` is its fatal error, or None (e.g. this member was removed)."""

    def __init__(self, cause: BaseException | None) -> None:
        super().__init__(f"etcdserver: server stopped: {cause}" if cause else "etcdserver: server stopped")
        self.cause = cause


async def _watch_server(e: Etcd) -> None:
    """Reports the server stopping by itself (a fatal error, or this member removed) on ``errors``."""
    server = e.server
    assert server is not None
    await server.stopping.wait()
    await server.stopped.wait()
    with contextlib.suppress(asyncio.QueueFull):
        e.errors.put_nowait(ServerStopped(server.error))


__all__ = ["Etcd", "MemberServer", "Parts", "ServerStopped", "StartError", "default_parts", "start_etcd"]
