"""Targets that serve a matched connection in this process: an asyncio protocol, a listener, h2c, close.

The byte proxy (``mux.proxy``) and TLS termination (``mux.tls_server``) are targets too, in their own modules.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

from mux.errors import ListenerClosed, ServerClosed
from mux.h2 import Http1Required
from mux.handoff import Handoff, InfoTransport, deliver, filtered, track

log = logging.getLogger("mux")


def attach(handoff: Handoff, protocol: asyncio.BaseProtocol) -> asyncio.Transport:
    """Makes ``protocol`` the connection's protocol and replays the sniffed bytes into it.

    The protocol sees an ``InfoTransport``; reads then go from the socket straight to it (through the
    ACK stripper only while the SETTINGS ACK is still to come). Returns the transport it was given.
    """
    transport = handoff.transport
    view = InfoTransport(transport, handoff.info)
    wire: asyncio.BaseProtocol = protocol
    if handoff.ack_stripper is not None:
        wire = filtered(protocol, handoff.ack_stripper)
    transport.set_protocol(track(wire, handoff.finished))
    protocol.connection_made(view)
    deliver(protocol, handoff.replay)
    if handoff.eof:
        keep_open = protocol.eof_received()  # type: ignore[attr-defined]
        if not keep_open:
            transport.close()
    if transport.is_closing():
        handoff.finished()
    elif not transport.is_reading():
        transport.resume_reading()
    return view


class ProtocolTarget:
    """Serves the connection with a fresh protocol from ``factory`` (e.g. ``aiohttp.web.Server``)."""

    def __init__(self, factory: Callable[[], asyncio.BaseProtocol]) -> None:
        self.factory = factory

    def handoff(self, handoff: Handoff) -> None:
        attach(handoff, self.factory())


def serve_protocol(factory: Callable[[], asyncio.BaseProtocol]) -> ProtocolTarget:
    return ProtocolTarget(factory)


class _Http1RequiredProtocol(asyncio.Protocol):
    def __init__(self, responder: Http1Required, linger: float) -> None:
        self.responder = responder
        self.linger = linger
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.timer = asyncio.get_running_loop().call_later(self.linger, self.transport.close)

    def data_received(self, data: bytes) -> None:
        out = self.responder.feed(data)
        if out and self.transport is not None:
            self.transport.write(out)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.timer is not None:
            self.timer.cancel()


class Http1RequiredTarget:
    """Tells h2c clients to retry over HTTP/1.1: each request is refused with RST_STREAM(HTTP_1_1_REQUIRED).

    curl (``--http2-prior-knowledge``) then repeats the request on a new HTTP/1.1 connection, which the
    mux routes to the HTTP/1.1 app. Used for cleartext HTTP/2 that is not gRPC, which no backend here
    speaks; gRPC never reaches it when the gRPC route comes first. The connection is closed when the
    client closes it, or ``linger`` seconds after the hand-off.
    """

    def __init__(self, linger: float = 2.0) -> None:
        self.linger = linger

    def handoff(self, handoff: Handoff) -> None:
        responder = Http1Required(settings_already_sent=handoff.settings_sent)
        protocol = _Http1RequiredProtocol(responder, self.linger)
        # The responder parses frames itself, so it gets the bytes with the ACK still in them.
        handoff.ack_stripper = None
        attach(handoff, protocol)


def http1_required(linger: float = 2.0) -> Http1RequiredTarget:
    return Http1RequiredTarget(linger)


class CloseTarget:
    """Closes the connection at once (a route that exists to refuse something on purpose)."""

    def handoff(self, handoff: Handoff) -> None:
        handoff.transport.abort()
        handoff.finished()


def close() -> CloseTarget:
    return CloseTarget()


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Listener:
    """cmux's child listener: ``accept()`` yields the route's connections as asyncio streams.

    The writer's ``get_extra_info("mux")`` is the ``ConnectionInfo``. At most ``backlog`` connections wait
    for ``accept``; more are closed. ``close()`` ends this route only: later matches skip it, waiting
    connections are closed, and pending ``accept`` calls raise ``ListenerClosed``; other routes go on.
    """

    def __init__(self, name: str, backlog: int = 1024, limit: int = 2**16) -> None:
        self.name = name
        self._queue: asyncio.Queue[Streams | None] = asyncio.Queue(maxsize=backlog)
        self._limit = limit
        self.closed = False
        self._error: type[ListenerClosed | ServerClosed] = ListenerClosed
        self.on_close: Callable[[], None] | None = None

    async def accept(self) -> Streams:
        """The next connection of this route; raises ``ListenerClosed`` (or ``ServerClosed``) once closed."""
        if self.closed:
            raise self._error()
        item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # wake the next waiter too
            raise self._error()
        return item

    def close(self, *, server_closed: bool = False) -> None:
        """Closes this route; ``server_closed``: the whole mux is closing, and ``accept`` says so."""
        if self.closed:
            return
        self.closed = True
        if server_closed:
            self._error = ServerClosed
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                item[1].transport.abort()
        self._queue.put_nowait(None)
        if self.on_close is not None:
            self.on_close()

    def __aiter__(self) -> Listener:
        return self

    async def __anext__(self) -> Streams:
        try:
            return await self.accept()
        except ListenerClosed:
            raise StopAsyncIteration from None

    def handoff(self, handoff: Handoff) -> None:
        if self.closed or self._queue.full():
            handoff.transport.abort()
            handoff.finished()
            return
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=self._limit, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        view = attach(handoff, protocol)
        writer = asyncio.StreamWriter(view, protocol, reader, loop)
        self._queue.put_nowait((reader, writer))
