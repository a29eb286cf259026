"""``/version`` (etcd's ``etcdhttp/base.go`` ``serveVersion``), on the client and peer ports.

``{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}``: the release we stand in for and the cluster
version the members agreed on (``not_decided`` before that). GET only.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from aiohttp import web

from etcd.api.etcdhttp.gohttp import Handler, json_response, method_not_allowed
from etcd.pkg import gojson
from etcd.version import CLUSTER_VERSION_NOT_DECIDED, SERVER_VERSION

if TYPE_CHECKING:
    from etcd.server.etcdserver import EtcdServer


@lru_cache(maxsize=8)
def version_body(cluster_version: str | None) -> bytes:
    """The JSON etcd writes (``json.Marshal`` of ``version.Versions``, no trailing newline)."""
    versions = {"etcdserver": SERVER_VERSION, "etcdcluster": cluster_version or CLUSTER_VERSION_NOT_DECIDED}
    return gojson.dumps(versions).encode()


def make_version_handler(server: EtcdServer) -> Handler:
    """The ``/version`` handler for ``server``."""

    async def handle_version(request: web.Request, _path: str) -> web.StreamResponse:
        if request.method != "GET":
            return method_not_allowed("GET")
        return json_response(version_body(server.cluster.version))

    return handle_version
