"""TLS termination inside the mux, without losing the ClientHello that was read while sniffing.

``loop.start_tls`` drops bytes already read from the socket (cpython #142352, uvloop #707), so the mux
drives asyncio's TLS protocol itself: it becomes the transport's protocol, is given the sniffed bytes as
if they had just arrived, and delivers plaintext to a fresh sniffer that matches the inner routes again.

ALPN: give the context the server's preference ``["http/1.1", "h2"]`` (``server_context`` does): OpenSSL
picks by server preference, so curl and browsers (offering both) get HTTP/1.1 and gRPC clients (offering
only h2) get h2, and the inner routes can tell them apart by the HTTP/2 preface alone.
"""

from __future__ import annotations

import asyncio
import ssl
from asyncio import sslproto
from collections.abc import Callable
from typing import TYPE_CHECKING

from mux.errors import HandoffFailed
from mux.handoff import Handoff, deliver, track

if TYPE_CHECKING:
    from mux.mux import Router

ALPN_PREFERENCE = ("http/1.1", "h2")

ContextSource = ssl.SSLContext | Callable[[], ssl.SSLContext]


def server_context(
    certfile: str,
    keyfile: str,
    *,
    cafile: str | None = None,
    require_client_cert: bool = False,
    alpn: tuple[str, ...] = ALPN_PREFERENCE,
) -> ssl.SSLContext:
    """A server context with the ALPN order above; with ``cafile``, client certificates are verified."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=cafile)
    ctx.load_cert_chain(certfile, keyfile)
    if cafile:
        ctx.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(list(alpn))
    return ctx


class TLSTarget:
    """Terminates TLS, then routes the plaintext with ``router`` (its own routes, matched afresh).

    ``context`` is an ``SSLContext`` or a function returning one, called for each new connection, so a
    renewed certificate takes effect without a restart. A failed handshake closes the connection and is
    reported as ``HandoffFailed``.
    """

    def __init__(self, context: ContextSource, router: Router, *, handshake_timeout: float = 10.0) -> None:
        self._context = context
        self.router = router
        self.handshake_timeout = handshake_timeout

    def context(self) -> ssl.SSLContext:
        return self._context if isinstance(self._context, ssl.SSLContext) else self._context()

    def handoff(self, handoff: Handoff) -> None:
        loop = asyncio.get_running_loop()
        mux = handoff.mux
        inner = mux._sniffer(self.router, outer=handoff.info)
        waiter: asyncio.Future[None] = loop.create_future()
        protocol = sslproto.SSLProtocol(
            loop,
            inner,
            self.context(),
            waiter,
            server_side=True,
            call_connection_made=True,
            ssl_handshake_timeout=self.handshake_timeout,  # type: ignore[arg-type]  # typeshed says int
        )
        waiter.add_done_callback(lambda fut: self._handshake_done(fut, handoff))
        transport = handoff.transport
        transport.set_protocol(track(protocol, handoff.finished))
        protocol.connection_made(transport)
        deliver(protocol, handoff.replay)
        if handoff.eof:
            protocol.eof_received()
        elif not transport.is_reading():
            transport.resume_reading()

    @staticmethod
    def _handshake_done(fut: asyncio.Future[None], handoff: Handoff) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            handoff.route.stats.handoff_failed += 1
            handoff.mux._report(
                HandoffFailed(f"route {handoff.route.name}: TLS handshake: {exc!r}", handoff.info)
            )
            if not handoff.transport.is_closing():
                handoff.transport.abort()


def terminate_tls(context: ContextSource, router: Router, *, handshake_timeout: float = 10.0) -> TLSTarget:
    return TLSTarget(context, router, handshake_timeout=handshake_timeout)
