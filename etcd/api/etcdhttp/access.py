"""The client port's HTTP access controller (etcd 3.4's ``embed/serve.go`` ``accessController``).

Every HTTP request on the client port passes here first, in etcd's order: ``/v3beta/...`` is
rewritten to ``/v3/...``; a request that did not come over TLS must name a whitelisted host
(``--host-whitelist``, default ``*``) or gets 421 with etcd's DNS-rebinding text; the CORS headers
go on every answer (``Access-Control-Allow-Origin: *`` when ``--cors`` holds ``*`` or nothing,
else the request's ``Origin`` if listed); ``OPTIONS`` is answered 200 with no body; everything
else goes on to the multiplexer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from aiohttp import web

from etcd.api.etcdhttp.gohttp import Handler, http_error

V3BETA_PREFIX: Final = "/v3beta/"
V3_PREFIX: Final = "/v3/"

CORS_METHODS: Final = "POST, GET, OPTIONS, PUT, DELETE"
CORS_HEADERS: Final = "accept, content-type, authorization"


def cve_2018_5702_text(host: str) -> str:
    """etcd's 421 body for a host outside the whitelist (``errCVE20185702``), ``host`` quoted as Go's %q."""
    return f"""
etcd received your request, but the Host header was unrecognized.

To fix this, choose one of the following options:
- Enable TLS, then any HTTPS request will be allowed.
- Add the hostname you want to use to the whitelist in settings.
  - e.g. etcd --host-whitelist {_go_quote(host)}

This requirement has been added to help prevent "DNS Rebinding" attacks (CVE-2018-5702).
"""


def _go_quote(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}")
    out.append('"')
    return "".join(out)


def hostname(host: str) -> str:
    """etcd's ``httputil.GetHostname``: the Host header without its port (Go's ``net.SplitHostPort``),
    or the whole header when it does not split."""
    if host.startswith("["):
        end = host.find("]")
        if end > 0 and host[end + 1 : end + 2] == ":" and ":" not in host[end + 2 :]:
            return host[1:end]
        return host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


CORS_ORIGIN_KEY: Final = web.RequestKey("cors_origin", str)
"""Where :meth:`AccessController.handle` leaves the origin to allow, for :func:`add_cors_on_prepare`."""


class AccessController:
    """Wraps the client multiplexer ``inner`` with etcd's checks (see the module docstring).

    ``tls`` says every request arrived over TLS (a listener whose TLS the mux terminated); otherwise
    aiohttp's ``request.secure`` decides whether the host whitelist applies.
    """

    def __init__(
        self, inner: Handler, *, cors: Iterable[str], host_whitelist: Iterable[str], tls: bool = False
    ) -> None:
        self._inner = inner
        self._cors = frozenset(cors)
        self._hosts = frozenset(host_whitelist)
        self._tls = tls

    def host_allowed(self, host: str) -> bool:
        """``IsHostWhitelisted``: an empty whitelist or ``*`` allows all."""
        return not self._hosts or "*" in self._hosts or host in self._hosts

    def origin_allowed(self, origin: str) -> bool:
        """``OriginAllowed``: an empty list or ``*`` allows all."""
        return not self._cors or "*" in self._cors or origin in self._cors

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp handler for every path of the client port.

        The CORS headers are added when the answer is prepared (:func:`add_cors_on_prepare`), so
        streamed answers such as watches carry them too.
        """
        path = request.path
        if path.startswith(V3BETA_PREFIX):
            path = V3_PREFIX + path[len(V3BETA_PREFIX) :]
        if not (self._tls or request.secure):
            host = hostname(request.host)
            if not self.host_allowed(host):
                return http_error(421, cve_2018_5702_text(host))
        if self.origin_allowed("*"):
            request[CORS_ORIGIN_KEY] = "*"
        else:
            origin = request.headers.get("Origin", "")
            if self.origin_allowed(origin):
                request[CORS_ORIGIN_KEY] = origin
        if request.method == "OPTIONS":
            return web.Response(status=200)
        return await self._inner(request, path)


async def add_cors_on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """An ``on_response_prepare`` hook: etcd's ``addCORSHeader`` for the origin the controller allowed."""
    origin = request.get(CORS_ORIGIN_KEY)
    if origin is None:
        return
    response.headers.add("Access-Control-Allow-Methods", CORS_METHODS)
    response.headers.add("Access-Control-Allow-Origin", origin)
    response.headers.add("Access-Control-Allow-Headers", CORS_HEADERS)
