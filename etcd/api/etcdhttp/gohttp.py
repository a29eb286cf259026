"""What Go's ``net/http`` does around etcd's HTTP handlers, as aiohttp responses.

etcd 3.4 serves its client HTTP surface with Go's ``http.ServeMux`` and answers refusals with
``http.Error``; clients see Go's bytes: ``404 page not found``, ``Method Not Allowed`` with an ``Allow``
list, a ``301`` to the cleaned path for ``/a//b`` or ``/a/../b`` with Go's little HTML body (GET only),
and no ``Server`` header. :class:`GoMux` is that multiplexer (exact patterns, ``/``-ended subtree
patterns, longest match wins, ``/x`` redirected to ``/x/`` when only the subtree is registered);
the functions are ``http.Error``, ``http.NotFound`` and ``http.Redirect``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

Handler = Callable[[web.Request, str], Awaitable[web.StreamResponse]]
"""A handler takes the request and the routed path (after any rewrite such as ``/v3beta`` -> ``/v3``)."""

TEXT_PLAIN: Final = "text/plain; charset=utf-8"
APPLICATION_JSON: Final = "application/json"

# Bytes Go's url.URL.EscapedPath leaves as they are in a path (shouldEscape in encodePath mode).
_PATH_SAFE: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~$&+,/:;=@")
_HTML_ESCAPES: Final = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"}


def http_error(status: int, text: str, headers: dict[str, str] | None = None) -> web.Response:
    """Go's ``http.Error``: ``text`` and a newline as plain text, with ``X-Content-Type-Options``."""
    h = {"Content-Type": TEXT_PLAIN, "X-Content-Type-Options": "nosniff"}
    if headers:
        h.update(headers)
    return web.Response(status=status, body=(text + "\n").encode(), headers=h)


def not_found() -> web.Response:
    """Go's ``http.NotFound``."""
    return http_error(404, "404 page not found")


def method_not_allowed(*allowed: str) -> web.Response:
    """etcd's ``allowMethod`` refusal: 405 with the allowed methods joined by commas in ``Allow``."""
    return http_error(405, "Method Not Allowed", {"Allow": ",".join(allowed)})


def json_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON body written as is, ``Content-Type: application/json`` (no charset, as etcd sets it)."""
    h = {"Content-Type": APPLICATION_JSON}
    if headers:
        h.update(headers)
    return web.Response(status=status, body=body, headers=h)


def clean_path(p: str) -> str:
    """Go's ``ServeMux`` ``cleanPath``: ``path.Clean`` of a rooted path, keeping a trailing slash."""
    if p == "":
        return "/"
    if not p.startswith("/"):
        p = "/" + p
    np = posixpath.normpath(p)
    if np.startswith("//"):  # normpath keeps a leading "//", path.Clean does not
        np = "/" + np.lstrip("/")
    if p.endswith("/") and np != "/":
        np += "/"
    return np


def escape_path(p: str) -> str:
    """Go's ``url.URL.EscapedPath`` of a decoded path: %XX for bytes outside the path-safe set."""
    return "".join(chr(b) if b in _PATH_SAFE else f"%{b:02X}" for b in p.encode())


def redirect(request: web.Request, location: str, status: int = 301) -> web.Response:
    """Go's ``http.Redirect`` to a rooted ``location``: a GET gets a tiny HTML body (with Go's extra
    newline), a HEAD its Content-Type only, any other method neither."""
    headers = {"Location": location}
    if request.method not in ("GET", "HEAD"):
        return web.Response(status=status, headers=headers)
    headers["Content-Type"] = "text/html; charset=utf-8"
    escaped = "".join(_HTML_ESCAPES.get(c, c) for c in location)
    body = f'<a href="{escaped}">Moved Permanently</a>.\n\n'.encode()
    return web.Response(status=status, headers=headers, body=body)


def _location(request: web.Request, path: str) -> str:
    query = request.rel_url.raw_query_string
    return escape_path(path) + ("?" + query if query else "")


class GoMux:
    """Go 1.19's ``http.ServeMux`` over :data:`Handler` functions.

    A pattern ending in ``/`` matches its whole subtree; any other pattern only itself. Unknown paths
    are Go's 404 unless ``/`` is registered.
    """

    def __init__(self) -> None:
        self._exact: dict[str, Handler] = {}
        self._subtrees: list[tuple[str, Handler]] = []  # longest pattern first

    def handle(self, pattern: str, handler: Handler) -> None:
        """Registers ``handler`` for ``pattern`` (a later registration of the same pattern wins)."""
        self._exact[pattern] = handler
        if pattern.endswith("/"):
            self._subtrees = [(p, h) for p, h in self._subtrees if p != pattern]
            self._subtrees.append((pattern, handler))
            self._subtrees.sort(key=lambda ph: len(ph[0]), reverse=True)

    def _match(self, path: str) -> Handler | None:
        exact = self._exact.get(path)
        if exact is not None:
            return exact
        for pattern, handler in self._subtrees:
            if path.startswith(pattern):
                return handler
        return None

    async def serve(self, request: web.Request, path: str) -> web.StreamResponse:
        """Dispatches ``request`` whose decoded path (possibly rewritten) is ``path``."""
        if request.method != "CONNECT":
            cleaned = clean_path(path)
            if cleaned + "/" in self._exact and cleaned not in self._exact and not cleaned.endswith("/"):
                return redirect(request, _location(request, cleaned + "/"))
            if cleaned != path:
                return redirect(request, _location(request, cleaned))
        handler = self._match(path)
        if handler is None:
            return not_found()
        return await handler(request, path)


async def drop_server_header(_request: web.Request, response: web.StreamResponse) -> None:
    """An ``on_response_prepare`` hook: Go's server sends no ``Server`` header, so neither do we."""
    response.headers.popall("Server", None)
