"""``/v2/members``, ``/v2/members/leader`` and ``/v2/machines`` (etcd 3.4's ``membersHandler`` and
``machinesHandler`` in ``etcdserver/api/v2http/client.go``).

``GET /v2/members`` lists ``{"members":[{"id","name","peerURLs","clientURLs"}]}`` by member ID (the
ID in hex); ``GET /v2/members/leader`` is the leader's entry (503 ``During election`` without one);
``/v2/machines`` is every client URL joined by ", ". Adding, removing and updating members
(POST/DELETE/PUT) check their input as etcd does, then answer 501: membership changes come with
clusters (issue 6). Errors are etcd's ``httptypes.HTTPError``: ``{"message": ...}`` as JSON.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from aiohttp import web

from etcd.api.etcdhttp.gohttp import TEXT_PLAIN, Handler, http_error, json_response, method_not_allowed
from etcd.pkg import gojson

if TYPE_CHECKING:
    from etcd.server.etcdserver import EtcdServer

MEMBERS_PREFIX: Final = "/v2/members"
MEMBERS_METHODS: Final = ("GET", "POST", "DELETE", "PUT")
MACHINES_METHODS: Final = ("GET", "HEAD")
NOT_SUPPORTED: Final = "membership changes are not supported by this server yet"
_URL_SCHEMES: Final = ("http", "https", "unix", "unixs")


def http_type_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """etcd's ``httptypes.HTTPError.WriteTo``: ``{"message": ...}`` with the status, no newline."""
    return json_response(gojson.dumps({"message": message}).encode(), status, headers)


def member_json(m: Any) -> dict[str, object]:
    """One member as ``/v2/members`` writes it (``httptypes.Member``)."""
    return {
        "id": format(m.id, "x"),
        "name": m.name,
        "peerURLs": list(m.peer_urls),
        "clientURLs": list(m.client_urls),
    }


def _trim(path: str) -> str:
    # etcd's trimPrefix: the prefix, then one "/".
    rest = path[len(MEMBERS_PREFIX) :] if path.startswith(MEMBERS_PREFIX) else path
    return rest[1:] if rest.startswith("/") else rest


def _check_peer_urls(value: object) -> str | None:
    """etcd's ``types.NewURLs`` checks on the request's ``peerURLs``; the first problem's text."""
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
        return "json: cannot unmarshal peerURLs into Go value of type []string"
    if not value:
        return "no valid URLs given"
    for raw in value:
        u = urlsplit(raw.strip())
        if u.scheme not in _URL_SCHEMES:
            return f"URL scheme must be http, https, unix, or unixs: {raw}"
        if u.scheme in ("http", "https") and (u.port is None and ":" not in u.netloc):
            return f'URL address does not have the form "host:port": {raw}'
        if u.path not in ("", "/"):
            return f"URL must not contain a path: {raw}"
    return None


async def _read_member_request(request: web.Request, headers: dict[str, str]) -> web.Response | None:
    """etcd's ``unmarshalRequest`` for a member create or update; an error answer, or None if it is fine."""
    ctype = request.headers.get("Content-Type", "")
    if ";" in ctype:
        ctype = ctype[: ctype.index(";")].strip().lower()
    if ctype != "application/json":
        return http_type_error(415, f"Bad Content-Type {ctype}, accept application/json", headers)
    try:
        body = json.loads(await request.read())
    except ValueError as e:
        return http_type_error(400, str(e), headers)
    if not isinstance(body, dict):
        return http_type_error(400, "json: cannot unmarshal into Go value of type struct")
    problem = _check_peer_urls(body.get("peerURLs"))
    if problem is not None:
        return http_type_error(400, problem, headers)
    return None


def _member_id(path: str, headers: dict[str, str]) -> web.Response | None:
    """etcd's ``getID``: a hex member ID after the prefix; an error answer, or None if it parses."""
    id_text = _trim(path)
    if id_text == "":
        return http_error(405, "Method Not Allowed", headers)
    try:
        member_id = int(id_text, 16)
    except ValueError:
        member_id = -1
    if not 0 <= member_id < 1 << 64 or not all(c in "0123456789abcdefABCDEF" for c in id_text):
        return http_type_error(404, f"No such member: {id_text}", headers)
    return None


def make_members_handler(server: EtcdServer) -> Handler:
    """The handler for ``/v2/members`` and ``/v2/members/...``."""

    async def handle_members(request: web.Request, path: str) -> web.StreamResponse:
        if request.method not in MEMBERS_METHODS:
            return method_not_allowed(*MEMBERS_METHODS)
        headers = {"X-Etcd-Cluster-Id": format(server.cluster_id, "x")}
        if request.method == "GET":
            which = _trim(path)
            if which == "":
                body = {"members": [member_json(m) for m in server.cluster.members()]}
                return json_response((gojson.dumps(body) + "\n").encode(), headers=headers)
            if which == "leader":
                leader = server.leader()
                member = server.cluster.member(leader) if leader else None
                if member is None:
                    return http_type_error(503, "During election", headers)
                return json_response((gojson.dumps(member_json(member)) + "\n").encode(), headers=headers)
            return http_type_error(404, "Not found", headers)
        if request.method in ("DELETE", "PUT"):
            refused = _member_id(path, headers)
            if refused is not None:
                return refused
        if request.method in ("POST", "PUT"):
            refused = await _read_member_request(request, headers)
            if refused is not None:
                return refused
        return http_type_error(501, NOT_SUPPORTED, headers)

    return handle_members


def make_machines_handler(server: EtcdServer) -> Handler:
    """The handler for ``/v2/machines``: every member's client URLs, sorted, joined by ", "."""

    async def handle_machines(request: web.Request, _path: str) -> web.StreamResponse:
        if request.method not in MACHINES_METHODS:
            return method_not_allowed(*MACHINES_METHODS)
        body = ", ".join(server.cluster.client_urls()).encode()
        return web.Response(body=body, headers={"Content-Type": TEXT_PLAIN})

    return handle_machines
