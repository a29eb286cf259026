"""Stand-ins for the parts of a member other helpers are still writing (the v3 gRPC services and the HTTP
apps), for tests of the start-up path only: the real ``EtcdServer`` behind a two-method KV service and two
tiny HTTP apps. ``parts()`` uses the real pieces wherever they can be imported.
"""

from __future__ import annotations

import json
from typing import Any

import grpc
from aiohttp import web

from etcd.api.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from etcd.embed.etcd import Parts, default_parts
from etcd.version import SERVER_VERSION


class _KV(rpc_pb2_grpc.KVServicer):
    """Put and Range, straight to the server: enough for ``etcdctl put`` and ``etcdctl get``."""

    def __init__(self, server: Any) -> None:
        self.server = server

    async def Put(self, request: rpc_pb2.PutRequest, context: Any) -> rpc_pb2.PutResponse:
        response: rpc_pb2.PutResponse = await self.server.put(request)
        return response

    async def Range(self, request: rpc_pb2.RangeRequest, context: Any) -> rpc_pb2.RangeResponse:
        response: rpc_pb2.RangeResponse = await self.server.range(request)
        return response


def grpc_server(server: Any) -> grpc.aio.Server:
    s = grpc.aio.server()
    rpc_pb2_grpc.add_KVServicer_to_server(_KV(server), s)  # type: ignore[no-untyped-call]
    return s


def _version(server: Any) -> web.Response:
    body = {"etcdserver": SERVER_VERSION, "etcdcluster": server.cluster.version or "not_decided"}
    return web.Response(body=json.dumps(body).encode(), content_type="application/json")


def client_app(server: Any, grpc_target: str) -> web.Application:
    async def version(request: web.Request) -> web.Response:
        return _version(server)

    async def health(request: web.Request) -> web.Response:
        return web.Response(text='{"health":"true"}')

    app = web.Application()
    app.router.add_get("/version", version)
    app.router.add_get("/health", health)
    return app


def metrics_app(server: Any) -> web.Application:
    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text="# stand-in\n")

    async def health(request: web.Request) -> web.Response:
        return web.Response(text='{"health":"true"}')

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/health", health)
    return app


def real_parts_available() -> bool:
    try:
        default_parts()
    except ImportError:
        return False
    return True


def parts() -> Parts:
    """The real parts when they all import; else the real server with the stand-ins above."""
    if real_parts_available():
        return default_parts()
    from etcd.server.etcdserver import EtcdServer

    async def start_server(cfg: Any) -> Any:
        server = await EtcdServer.open(cfg)
        server.start()
        return server

    return Parts(start_server=start_server, grpc_server=grpc_server, client_app=client_app,
                 metrics_app=metrics_app)
