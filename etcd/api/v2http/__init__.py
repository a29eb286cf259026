"""etcd's v2 HTTP API for ``/v2/keys``, without the server (``etcdserver/api/v2http``).

``keys_request.parse`` turns an HTTP request into an ``etcdserverpb.Request`` (or a ``v2error.Error``);
``etcd.server.apply_v2.apply`` runs that request against a ``v2store.Store``; ``keys_response.render``
turns the resulting event or error into status, headers and body bytes as etcd 3.4 writes them.
No I/O here: the HTTP runtime and raft sit above and around these functions.
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
