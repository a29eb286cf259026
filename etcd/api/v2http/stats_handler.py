"""``/v2/stats/self``, ``/v2/stats/leader`` and ``/v2/stats/store`` (etcd 3.4's ``statsHandler``).

Each is GET only and writes the server's JSON as etcd does (``json.Marshal``, no trailing newline);
``/v2/stats/leader`` on a member that does not lead is 403 ``{"message":"not current leader"}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from etcd.api.etcdhttp.gohttp import Handler, json_response, method_not_allowed
from etcd.api.v2http.members_handler import http_type_error
from etcd.pkg import gojson

if TYPE_CHECKING:
    from etcd.server.etcdserver import EtcdServer


def _stats_handler(stats: Callable[[], dict[str, Any] | None]) -> Handler:
    async def handle_stats(request: web.Request, _path: str) -> web.StreamResponse:
        if request.method != "GET":
            return method_not_allowed("GET")
        body = stats()
        if body is None:
            return http_type_error(403, "not current leader")
        return json_response(gojson.dumps(body).encode())

    return handle_stats


def make_stats_handlers(server: EtcdServer) -> dict[str, Handler]:
    """The three stats handlers by path."""
    return {
        "/v2/stats/self": _stats_handler(server.v2_stats_self),
        "/v2/stats/leader": _stats_handler(server.v2_stats_leader),
        "/v2/stats/store": _stats_handler(server.v2_stats_store),
    }
