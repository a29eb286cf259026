"""etcd's v2 HTTP API (``etcdserver/api/v2http``).

The pure core, exported here: ``keys_request.parse`` turns an HTTP request into an
``etcdserverpb.Request`` (or a ``v2error.Error``); ``etcd.server.apply_v2.apply`` runs that request
against a ``v2store.Store``; ``keys_response.render`` turns the resulting event or error into status,
headers and body bytes as etcd 3.4 writes them. No I/O in those.

The aiohttp handlers around them live in their own modules, imported only by the client app
(``etcd.api.etcdhttp.app``): ``keys_handler`` (``/v2/keys``, watches included), ``members_handler``
(``/v2/members``, ``/v2/machines``), ``stats_handler`` (``/v2/stats/*``), ``routes`` (where they
mount), ``metrics`` (``etcd_http_*``).
"""

from etcd.api.v2http.keys_request import KEYS_PREFIX, STORE_KEYS_PREFIX, ParsedKeyRequest, parse, parse_query
from etcd.api.v2http.keys_response import (
    Rendered,
    render,
    render_method_not_allowed,
    render_watch_event,
    render_watch_start,
)

__all__ = [
    "KEYS_PREFIX",
    "STORE_KEYS_PREFIX",
    "ParsedKeyRequest",
    "Rendered",
    "parse",
    "parse_query",
    "render",
    "render_method_not_allowed",
    "render_watch_event",
    "render_watch_start",
]
