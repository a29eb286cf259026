"""The aiohttp applications of a member's HTTP ports (etcd 3.4's ``embed/serve.go`` ``createMux`` and
``accessController``, ``etcdhttp.HandleBasic``, ``v2http.NewClientHandler``, ``serveMetrics``).

``make_client_app`` is what the client port's HTTP/1.1 connections reach: the access controller,
then one Go-style multiplexer holding ``/metrics``, ``/health``, ``/version``, ``/debug/vars``,
``/config/local/log``, the v2 API with
``--enable-v2``, and the ``/v3`` JSON gateway (a ``grpc.aio`` channel to the member's own gRPC server,
opened when the app starts and closed when it is cleaned up); anything else is Go's 404.
``make_metrics_app`` is the ``--listen-metrics-urls`` port: ``/metrics`` and ``/health`` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import grpc
from aiohttp import web

from etcd.api.etcdhttp.access import AccessController, add_cors_on_prepare
from etcd.api.etcdhttp.base import handle_log_level, make_vars_handler
from etcd.api.etcdhttp.gohttp import GoMux, drop_server_header
from etcd.api.etcdhttp.health import make_health_handler
from etcd.api.etcdhttp.metrics import handle_metrics, server_state
from etcd.api.etcdhttp.version import make_version_handler
from etcd.api.gateway import Gateway
from etcd.api.v2http.routes import add_v2_routes

if TYPE_CHECKING:
    from etcd.server.etcdserver import EtcdServer

# Go's ParseForm reads at most 10 MB of body; the gateway's JSON carries up to a request's bytes, base64'd.
MIN_BODY_BYTES: Final = 10 << 20
GRPC_RECV_EXTRA: Final = 512 << 10  # etcd's gRPC server takes max-request-bytes plus this
_MAX_INT32: Final = (1 << 31) - 1


class GatewayMount:
    """The ``/v3/`` handler: a :class:`Gateway` over a channel that exists while the app runs."""

    def __init__(self, target: str) -> None:
        self._target = target
        self._channel: grpc.aio.Channel | None = None
        self._gateway: Gateway | None = None

    async def open(self, _app: web.Application) -> None:
        """``on_startup``: dials the member's gRPC server (as etcd's gateway, no receive limit)."""
        self._channel = grpc.aio.insecure_channel(
            self._target, options=[("grpc.max_receive_message_length", _MAX_INT32)]
        )
        self._gateway = Gateway(self._channel)

    async def close(self, _app: web.Application) -> None:
        """``on_cleanup``: closes the channel, cancelling calls still open."""
        channel, self._channel, self._gateway = self._channel, None, None
        if channel is not None:
            await channel.close()

    async def handle(self, request: web.Request, _path: str) -> web.StreamResponse:
        if self._gateway is None:
            return web.Response(status=503, text="gateway not started\n")
        return await self._gateway.handle(request)


def client_mux(server: EtcdServer, gateway: GatewayMount | None) -> GoMux:
    """The client port's routes (etcd's ``HandleBasic`` + ``handleV2`` + the gateway at ``/v3/``)."""
    mux = GoMux()
    mux.handle("/debug/vars", make_vars_handler(server))
    mux.handle("/config/local/log", handle_log_level)
    mux.handle("/metrics", handle_metrics)
    mux.handle("/health", make_health_handler(server))
    mux.handle("/version", make_version_handler(server))
    if server.cfg.enable_v2:
        add_v2_routes(mux, server)
    if gateway is not None:
        mux.handle("/v3/", gateway.handle)
    return mux


def make_client_app(server: EtcdServer, *, grpc_target: str, tls: bool = False) -> web.Application:
    """The client port's HTTP application for ``server``.

    ``grpc_target`` is where the gateway dials the member's gRPC server (``unix:/path`` or
    ``host:port``, plaintext); ``tls`` says the connections reaching this app came over TLS (the
    host whitelist does not apply to them, as in etcd).
    """
    cfg = server.cfg
    gateway = GatewayMount(grpc_target) if cfg.enable_grpc_gateway else None
    mux = client_mux(server, gateway)
    access = AccessController(mux.serve, cors=cfg.cors, host_whitelist=cfg.host_whitelist, tls=tls)
    app = web.Application(
        client_max_size=max(MIN_BODY_BYTES, 2 * (cfg.max_request_bytes + GRPC_RECV_EXTRA)),
        handler_args={"max_field_size": 1 << 20, "max_line_size": 1 << 20},
    )
    app.router.add_route("*", "/{tail:.*}", access.handle)
    app.on_response_prepare.append(add_cors_on_prepare)
    app.on_response_prepare.append(drop_server_header)
    if gateway is not None:
        app.on_startup.append(gateway.open)
        app.on_cleanup.append(gateway.close)
    server_state.bind(server)
    return app


def make_metrics_app(server: EtcdServer) -> web.Application:
    """The ``--listen-metrics-urls`` application: ``/metrics`` and ``/health``, else Go's 404."""
    mux = GoMux()
    mux.handle("/metrics", handle_metrics)
    mux.handle("/health", make_health_handler(server))

    async def handle(request: web.Request) -> web.StreamResponse:
        return await mux.serve(request, request.path)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    app.on_response_prepare.append(drop_server_header)
    server_state.bind(server)
    return app
