"""The gateway's access log: one JSON line per connection, written when it closes.

A line tells which route took the connection (``site>rest`` behind TLS termination), the client, the
upstream, the bytes each way as seen on the client's socket, how long the connection was open after it
was routed, and why it closed::

    {"ts": "...", "conn": 7, "client": "127.0.0.1:50412", "route": "grpc", "upstream": "unix:/run/g.sock",
     "bytes_in": 812, "bytes_out": 1044, "duration_ms": 12.4, "close": "client_closed"}

Close reasons: ``client_closed`` (the client ended first), ``server_closed`` (the upstream or the target
ended first), ``reset`` (a side failed), ``upstream_unreachable``, ``handshake_failed``,
``drain_timeout`` (aborted when the SIGTERM grace ran out), ``limit`` (a route at its connection limit),
``not_matched``, ``deadline_expired``, ``sniff_limit`` (no route; these have no ``route``).

Lines are written in batches, at most ``FLUSH_DELAY`` seconds late: a write and a flush per
connection cost more than the rest of the line.

Counting works by standing between the mux's transport and the target: ``LoggedTarget`` hands the
target a copy of the ``Handoff`` whose transport counts what is written and whose installed protocol
counts what is read, and whose ``finished`` writes the line before telling the mux. One extra Python
call per chunk each way; with ``access_log: off`` nothing is wrapped.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO, cast

from mux import errors
from mux.handoff import ForwardingTransport, Handoff, Target, deliver_to_buffered
from mux.info import ConnectionInfo

FLUSH_DELAY = 0.1  # seconds a line may wait to be written with the next ones
FLUSH_LINES = 512  # ... or until this many are waiting


def format_address(address: object) -> str | None:
    if isinstance(address, tuple) and len(address) >= 2:
        host = str(address[0])
        return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"
    return str(address) if address else None


def timestamp(now: float | None = None) -> str:
    now = time.time() if now is None else now
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


@dataclass(eq=False)
class Record:
    """One connection's line, filled in while it is open."""

    conn: int
    client: str | None
    listener: str | None
    route: str
    upstream: str | None
    started: float = field(default_factory=time.monotonic)
    bytes_in: int = 0
    bytes_out: int = 0
    first_close: str = ""  # "client" or "server": who ended first
    reason: str = ""  # set by an error report, wins over who ended first
    error: str = ""
    tls: dict[str, str] = field(default_factory=dict)
    linked: bool = False  # the target installed its protocol (for a proxy: the upstream answered)
    written: bool = False


class AccessLog:
    """Writes records to ``out`` (a text stream); keeps the open ones by connection id."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.open: dict[int, Record] = {}
        self.recent: dict[int, None] = {}  # ids of the last lines written, oldest first
        self.lines = 0
        self._pending: list[str] = []
        self._flush_timer: asyncio.TimerHandle | None = None
        self.drain_deadline: float | None = None  # monotonic time the SIGTERM grace ends

    def start(self, handoff: Handoff, upstream: str | None) -> Record:
        info = handoff.info
        record = Record(
            conn=info.id,
            client=format_address(info.client),
            listener=format_address(info.local),
            route=handoff.route.name,
            upstream=upstream,
        )
        self.open[info.id] = record
        return record

    def finish(self, record: Record, exc: BaseException | None) -> None:
        if record.written:
            return
        record.written = True
        self.open.pop(record.conn, None)
        self.recent[record.conn] = None
        if len(self.recent) > 1024:
            del self.recent[next(iter(self.recent))]
        now = time.monotonic()
        reason = record.reason
        if not reason and self.drain_deadline is not None and now >= self.drain_deadline - 0.05:
            reason = "drain_timeout"
        if not reason and exc is not None:
            reason = "reset" if record.linked or record.upstream is None else "upstream_unreachable"
            record.error = record.error or repr(exc)
        if not reason:
            reason = {"client": "client_closed", "server": "server_closed"}.get(record.first_close, "closed")
        entry: dict[str, Any] = {
            "ts": timestamp(),
            "conn": record.conn,
            "client": record.client,
            "listener": record.listener,
            "route": record.route,
            "upstream": record.upstream,
            "bytes_in": record.bytes_in,
            "bytes_out": record.bytes_out,
            "duration_ms": round((now - record.started) * 1000, 3),
            "close": reason,
        }
        if record.tls:
            entry["tls"] = record.tls
        if record.error:
            entry["error"] = record.error
        self.write(entry)

    def report(self, error: errors.MuxError) -> None:
        """The mux's error hook: marks an open connection's reason, or writes a line for a refused one."""
        info = error.info
        reason = _REASONS.get(type(error), "error")
        record = self.open.get(info.id) if info is not None else None
        if record is not None:
            if isinstance(error, errors.HandoffFailed) and "TLS handshake" in str(error):
                reason = "handshake_failed"
            record.reason = record.reason or reason
            record.error = record.error or str(error)
            return
        if info is not None and info.id in self.recent:
            return  # its line is written already (a failed upstream connect finishes, then reports)
        entry: dict[str, Any] = {
            "ts": timestamp(),
            "conn": info.id if info is not None else None,
            "client": format_address(info.client) if info is not None else None,
            "listener": format_address(info.local) if info is not None else None,
            "route": (info.route or None) if info is not None else None,
            "bytes_in": 0,
            "bytes_out": 0,
            "duration_ms": 0.0,
            "close": reason,
            "error": str(error),
        }
        self.write(entry)

    def write(self, entry: dict[str, Any]) -> None:
        """Queues a line; lines reach ``out`` together, ``FLUSH_DELAY`` s later (one write, not one each)."""
        self.lines += 1
        self._pending.append(json.dumps(entry))
        if self._flush_timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._flush_timer = loop.call_later(FLUSH_DELAY, self.flush)
        if len(self._pending) >= FLUSH_LINES:
            self.flush()

    def flush(self) -> None:
        """Writes the queued lines now (also at drain, and before the output changes)."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if not self._pending:
            return
        text = "\n".join(self._pending) + "\n"
        self._pending.clear()
        try:
            self.out.write(text)
            self.out.flush()
        except (OSError, ValueError):
            pass  # a full disk or a closed stream must not take connections down


_REASONS: dict[type[errors.MuxError], str] = {
    errors.NotMatched: "not_matched",
    errors.DeadlineExpired: "deadline_expired",
    errors.SniffLimitExceeded: "sniff_limit",
    errors.ConnectionLimit: "limit",
    errors.HandoffFailed: "upstream_unreachable",
}


class _CountingProtocol(asyncio.Protocol):
    """Stands before the target's protocol: counts bytes read, notes who ended first."""

    def __init__(self, inner: asyncio.BaseProtocol, record: Record) -> None:
        self._inner = inner
        self._record = record
        if isinstance(inner, asyncio.BufferedProtocol):
            self._deliver: Callable[[bytes], None] = lambda data: deliver_to_buffered(inner, data)
        else:
            self._deliver = inner.data_received  # type: ignore[attr-defined]

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._record.bytes_in += len(data)
        self._deliver(data)

    def eof_received(self) -> bool | None:
        if not self._record.first_close:
            self._record.first_close = "client"
        return cast(asyncio.Protocol, self._inner).eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._record.first_close:
            self._record.first_close = "client"
        self._inner.connection_lost(exc)


class CountingTransport(ForwardingTransport):
    """The client's transport as the target sees it: counts writes, wraps the protocol it installs."""

    def __init__(self, inner: asyncio.Transport, record: Record) -> None:
        super().__init__(inner)
        self.record = record

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.record.bytes_out += len(data)
        self.inner.write(data)

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        for data in list_of_data:
            self.write(data)

    def _server_ends(self) -> None:
        if not self.record.first_close:
            self.record.first_close = "server"

    def write_eof(self) -> None:
        self._server_ends()
        self.inner.write_eof()

    def close(self) -> None:
        self._server_ends()
        self.inner.close()

    def abort(self) -> None:
        self._server_ends()
        self.inner.abort()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.record.linked = True
        self.inner.set_protocol(_CountingProtocol(protocol, self.record))


class _LoggedHandoff(Handoff):
    """The target's copy of a hand-off: ``finished`` writes the line, then tells the mux (once)."""

    __slots__ = ("log", "original", "record")

    log: AccessLog
    original: Handoff
    record: Record

    def finished(self, exc: BaseException | None = None) -> None:
        if not self._finished:
            self._finished = True
            self.log.finish(self.record, exc)
            self.original.finished(exc)


class LoggedTarget:
    """Wraps a route's target. On the outermost route it counts and logs; behind TLS it names the route.

    ``router`` is the wrapped TLS target's inner router, so ``Mux.routes()`` and the metrics see it.
    """

    def __init__(self, inner: Target, log: AccessLog, upstream: str | None) -> None:
        self.inner = inner
        self.log = log
        self.upstream = upstream
        self.router = getattr(inner, "router", None)

    def handoff(self, handoff: Handoff) -> None:
        info = handoff.info
        if info.outer is not None:
            record = self.log.open.get(info.id)
            if record is not None:
                record.route = f"{record.route}>{handoff.route.name}"
                record.upstream = self.upstream or record.upstream
                record.tls = _tls_fields(info)
            self.inner.handoff(handoff)
            return
        record = self.log.start(handoff, self.upstream)
        logged = _LoggedHandoff(
            transport=CountingTransport(handoff.transport, record),
            replay=handoff.replay,
            info=info,
            route=handoff.route,
            mux=handoff.mux,
            ack_stripper=handoff.ack_stripper,
            eof=handoff.eof,
            settings_sent=handoff.settings_sent,
        )
        logged.log = self.log
        logged.original = handoff
        logged.record = record
        record.bytes_in += len(handoff.replay)
        self.inner.handoff(logged)


def _tls_fields(info: ConnectionInfo) -> dict[str, str]:
    out: dict[str, str] = {}
    if info.tls is not None:
        for name in ("version", "alpn", "server_name"):
            value = getattr(info.tls, name)
            if value:
                out["sni" if name == "server_name" else name] = str(value)
    return out
