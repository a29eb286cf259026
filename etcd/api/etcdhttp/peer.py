"""The peer port's HTTP handler (etcd 3.4's ``etcdserver/api/etcdhttp/peer.go`` ``newPeerHandler``).

Today: ``GET /members`` (the member list other members and the v2 proxy read when joining) and
``GET /version``; everything else is Go's 404. More handlers come in through ``extra`` (pattern, handler),
registered on the same Go-style multiplexer: ``hashkv_route`` (``/members/hashkv``, the corruption check)
and, with rafthttp (issue 6), ``/raft``, ``/raft/``, ``/members/promote/`` and ``/leases``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

from etcd.api.etcdhttp.gohttp import GoMux, Handler, drop_server_header, json_response, method_not_allowed
from etcd.api.etcdhttp.version import version_body
from etcd.pkg import gojson
from etcd.server.corrupt import HASHKV_PATH, hash_kv_handler

if TYPE_CHECKING:
    from etcd.server.etcdserver import EtcdServer

PEER_MEMBERS_PATH = "/members"
VERSION_PATH = "/version"


class _Member(Protocol):
    def to_json(self) -> bytes: ...


class _Cluster(Protocol):
    @property
    def version(self) -> str | None: ...

    def members(self) -> Sequence[_Member]: ...


class PeerServer(Protocol):
    """What the peer handler reads from the member (``EtcdServer``)."""

    @property
    def cluster_id(self) -> int: ...

    @property
    def cluster(self) -> _Cluster: ...


def make_peer_app(server: PeerServer, extra: Sequence[tuple[str, Handler]] = ()) -> web.Application:
    """The peer port's application for ``server``; ``extra`` adds (pattern, handler) pairs."""

    async def members(request: web.Request, _path: str) -> web.StreamResponse:
        if request.method != "GET":
            return method_not_allowed("GET")
        items = [json.loads(m.to_json()) for m in server.cluster.members()]
        # etcd 3.4 compat: peerMembersHandler writes with json.NewEncoder, so the body ends in a newline.
        body = (gojson.dumps(items) + "\n").encode()
        return json_response(body, headers={"X-Etcd-Cluster-Id": f"{server.cluster_id:x}"})

    async def version(request: web.Request, _path: str) -> web.StreamResponse:
        if request.method != "GET":
            return method_not_allowed("GET")
        return json_response(version_body(server.cluster.version))

    mux = GoMux()
    mux.handle(PEER_MEMBERS_PATH, members)
    mux.handle(VERSION_PATH, version)
    for pattern, handler in extra:
        mux.handle(pattern, handler)

    async def handle(request: web.Request) -> web.StreamResponse:
        return await mux.serve(request, request.path)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    app.on_response_prepare.append(drop_server_header)
    return app


def hashkv_route(server: EtcdServer) -> tuple[str, Handler]:
    """``/members/hashkv``: a peer's corruption check asks this member's HashKV (``etcd.server.corrupt``)."""

    async def hashkv(request: web.Request, _path: str) -> web.StreamResponse:
        if request.method != "GET":
            return method_not_allowed("GET")
        status, body = await hash_kv_handler(server, await request.read())
        if status != 200:
            return web.Response(status=status, body=body, content_type="text/plain", charset="utf-8")
        return json_response(body)

    return HASHKV_PATH, hashkv
