"""What a route's target receives when the mux hands it a connection, and the plumbing to pass it on.

``Handoff`` carries the live transport, the bytes sniffed so far (to be delivered first), the connection's
``ConnectionInfo`` and the duty to call ``finished()`` once the connection is over. ``InfoTransport`` shows
a protocol the real transport plus ``get_extra_info("mux")``; ``track`` wraps a protocol so the mux hears
``connection_lost``. Both bind the inner object's methods onto themselves, so the hot path (reads and
writes) makes no extra Python call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

from mux.h2 import SettingsAckStripper
from mux.info import ConnectionInfo

if TYPE_CHECKING:
    from mux.mux import Mux, Route


@dataclass(eq=False, slots=True)
class Handoff:
    """A matched connection on its way to a target.

    ``replay`` holds what the client sent while being sniffed, the PROXY header and the SETTINGS ACK
    already taken out; the target delivers it before anything read from ``transport`` afterwards. When
    ``ack_stripper`` is set, the client's SETTINGS ACK has not arrived yet and must be taken out of the
    live stream by passing data through it. ``eof`` means the client has already half-closed.
    """

    transport: asyncio.Transport
    replay: bytes
    info: ConnectionInfo
    route: Route
    mux: Mux
    ack_stripper: SettingsAckStripper | None = None
    eof: bool = False
    settings_sent: bool = False
    _finished: bool = field(default=False, repr=False)

    def finished(self, exc: BaseException | None = None) -> None:
        """Reports the end of the connection (idempotent): the route's ``active`` gauge and drain."""
        if not self._finished:
            self._finished = True
            self.mux._connection_finished(self)


class Target(Protocol):
    """Where a route sends the connections it matched."""

    def handoff(self, handoff: Handoff) -> None:
        """Takes over ``handoff.transport``; must not raise for one bad connection's sake."""
        ...


class ForwardingTransport(asyncio.Transport):
    """A transport that passes every call to ``inner``: the base of views that change a few of them."""

    def __init__(self, inner: asyncio.Transport) -> None:
        super().__init__()
        self.inner = inner

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.inner.write(data)

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        self.inner.writelines(list_of_data)

    def write_eof(self) -> None:
        self.inner.write_eof()

    def can_write_eof(self) -> bool:
        return self.inner.can_write_eof()

    def close(self) -> None:
        self.inner.close()

    def abort(self) -> None:
        self.inner.abort()

    def is_closing(self) -> bool:
        return self.inner.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.inner.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self.inner.pause_reading()

    def resume_reading(self) -> None:
        self.inner.resume_reading()

    def is_reading(self) -> bool:
        return self.inner.is_reading()

    def get_write_buffer_size(self) -> int:
        return self.inner.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self.inner.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.inner.set_write_buffer_limits(high, low)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.inner.get_protocol()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.inner.set_protocol(protocol)


class InfoTransport(ForwardingTransport):
    """The real transport as seen by a handed-off protocol, plus the mux's ``ConnectionInfo``.

    ``get_extra_info("mux")`` returns the info; ``"peername"`` returns the original client when a trusted
    PROXY header named one, so frameworks log the real client address. ``write`` is the inner transport's
    own bound method; the rest delegate with one extra call.
    """

    def __init__(self, transport: asyncio.BaseTransport, info: ConnectionInfo) -> None:
        inner = cast(asyncio.Transport, transport)
        super().__init__(inner)
        self.info = info
        self.write = inner.write  # type: ignore[method-assign]

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "mux":
            return self.info
        if name == "peername" and self.info.proxy_header is not None and self.info.client is not None:
            return self.info.client
        return self.inner.get_extra_info(name, default)


class _Tracked(asyncio.Protocol):
    """Passes everything to ``inner`` (reads through its own bound method) and reports the end."""

    def __init__(self, inner: asyncio.BaseProtocol, on_lost: Callable[[BaseException | None], None]) -> None:
        self._inner = inner
        self._on_lost = on_lost
        data_received = getattr(inner, "data_received", None)
        if data_received is not None:
            self.data_received = data_received  # type: ignore[method-assign]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def eof_received(self) -> bool | None:
        return cast(asyncio.Protocol, self._inner).eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            self._inner.connection_lost(exc)
        finally:
            self._on_lost(exc)


class _TrackedBuffered(asyncio.BufferedProtocol, _Tracked):
    def __init__(
        self, inner: asyncio.BufferedProtocol, on_lost: Callable[[BaseException | None], None]
    ) -> None:
        _Tracked.__init__(self, inner, on_lost)
        self.get_buffer = inner.get_buffer  # type: ignore[method-assign]
        self.buffer_updated = inner.buffer_updated  # type: ignore[method-assign]
        # uvloop picks its read callbacks when reading starts, not when the protocol changes: a transport
        # that was reading for a plain protocol goes on calling data_received after set_protocol.
        self.data_received = self._copy_into_buffer  # type: ignore[method-assign]

    def _copy_into_buffer(self, data: bytes) -> None:
        deliver_to_buffered(self._inner, data)


def track(
    protocol: asyncio.BaseProtocol, on_lost: Callable[[BaseException | None], None]
) -> asyncio.BaseProtocol:
    """Wraps ``protocol`` so ``on_lost`` runs after its ``connection_lost``; buffered stays buffered."""
    if isinstance(protocol, asyncio.BufferedProtocol):
        return _TrackedBuffered(protocol, on_lost)
    return _Tracked(protocol, on_lost)


def filtered(protocol: asyncio.BaseProtocol, stripper: SettingsAckStripper) -> asyncio.Protocol:
    """A protocol that passes incoming data through ``stripper`` until it is done, then straight on."""
    return _Filtered(protocol, stripper)


class _Filtered(_Tracked):
    def __init__(self, inner: asyncio.BaseProtocol, stripper: SettingsAckStripper) -> None:
        super().__init__(inner, lambda exc: None)
        self._stripper = stripper
        self._deliver = getattr(inner, "data_received", None) or self._deliver_buffered
        self.data_received = self._strip  # type: ignore[method-assign]

    def _strip(self, data: bytes) -> None:
        stripper = self._stripper
        if not stripper.done:
            data = stripper.feed(data)
            if not data:
                return
        self._deliver(data)

    def _deliver_buffered(self, data: bytes) -> None:
        deliver_to_buffered(self._inner, data)


def deliver(protocol: asyncio.BaseProtocol, data: bytes) -> None:
    """Hands ``data`` to a plain or buffered protocol, as a transport would."""
    if not data:
        return
    if isinstance(protocol, asyncio.BufferedProtocol):
        deliver_to_buffered(protocol, data)
    else:
        protocol.data_received(data)  # type: ignore[attr-defined]


def deliver_to_buffered(protocol: asyncio.BaseProtocol, data: bytes) -> None:
    assert isinstance(protocol, asyncio.BufferedProtocol)
    view = memoryview(data)
    while view:
        buf = memoryview(protocol.get_buffer(len(view)))
        n = min(len(buf), len(view))
        if n == 0:
            raise RuntimeError("protocol offered an empty buffer")
        buf[:n] = view[:n]
        protocol.buffer_updated(n)
        view = view[n:]
