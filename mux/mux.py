"""The asyncio runtime of the mux: accept, sniff with every route's matchers side by side, hand off.

Each accepted connection gets a ``_Sniffer`` protocol. On every chunk it feeds all undecided probes the
bytes seen so far; the first route in priority order that says MATCH wins once every route above it has
said NO. A match deadline (on by default), a cap on sniffed bytes and an EOF from the client each force
a decision: the highest route that already matched, else the fallback route (deadline only), else the
connection is closed and reported to the error hook. Nothing one connection does can stop the accept
loop: every callback contains its own failures.

``Mux.close(grace)`` stops accepting, closes connections still being sniffed at once, and gives routed
connections ``grace`` seconds to finish before aborting them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

from mux import h2
from mux.errors import (
    ConnectionLimit,
    DeadlineExpired,
    HandoffFailed,
    MuxError,
    NotMatched,
    SniffLimitExceeded,
)
from mux.h2 import SettingsAckStripper
from mux.handoff import Handoff, Target
from mux.info import ConnectionInfo, PeerRegistry, TLSInfo
from mux.matchers import MATCH, MORE, NO, Matcher, Probe, Verdict
from mux.proxy_protocol import ProxyStatus, is_trusted, parse_proxy_header
from mux.stats import MuxStats, RouteStats
from mux.targets import Listener
from mux.tls_hello import ClientHello

log = logging.getLogger("mux")

DEFAULT_MATCH_TIMEOUT = 10.0  # seconds; browsers pre-connect and may say nothing for a while
DEFAULT_MAX_SNIFF_BYTES = 64 * 1024
DEFAULT_MAX_SNIFF_READS = 256  # a 64 KiB first flight takes ~45 full segments

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(eq=False)
class Route:
    """A name, matchers (any one matching is enough, as in cmux's ``Match``), a target, a limit."""

    name: str
    matchers: tuple[Matcher, ...]
    target: Target
    max_connections: int | None = None
    stats: RouteStats = field(default_factory=RouteStats)
    closed: bool = False

    def close(self) -> None:
        """This route takes no more connections; later ones are matched against the other routes."""
        self.closed = True


class Router:
    """Routes in priority order (the order they were added), and an optional fallback for the deadline."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.fallback: Route | None = None
        self._matches_before_data: bool | None = None

    def matches_before_data(self) -> bool:
        """Whether some route matches a connection before its first byte (``any_()``, server-first)."""
        if self._matches_before_data is None:
            self._matches_before_data = any(
                m.probe().feed(b"") is MATCH for route in self.routes for m in route.matchers
            )
        return self._matches_before_data

    def route(
        self, name: str, *matchers: Matcher, target: Target, max_connections: int | None = None
    ) -> Route:
        if not matchers:
            raise ValueError(f"route {name!r} needs at least one matcher")
        if any(r.name == name for r in self.all_routes()):
            raise ValueError(f"route {name!r} already exists")
        route = Route(name, tuple(matchers), target, max_connections)
        self.routes.append(route)
        self._matches_before_data = None
        return route

    def listen(self, name: str, *matchers: Matcher, backlog: int = 1024) -> Listener:
        """A route whose connections are taken with ``await listener.accept()`` (cmux's ``Match``)."""
        listener = Listener(name, backlog)
        route = self.route(name, *matchers, target=listener)
        listener.on_close = route.close
        return listener

    def set_fallback(self, name: str, target: Target) -> Route:
        """Where a connection goes when the match deadline passes before any route decided."""
        self.fallback = Route(name, (), target)
        return self.fallback

    def all_routes(self) -> list[Route]:
        return [*self.routes, *([self.fallback] if self.fallback else [])]


class _Sniffer(asyncio.Protocol):
    """Matches one connection (or the plaintext inside one TLS connection) and hands it to a route."""

    def __init__(self, mux: Mux, router: Router, outer: ConnectionInfo | None) -> None:
        self.mux = mux
        self.router = router
        self.outer = outer
        self.transport: asyncio.Transport | None = None
        self.info: ConnectionInfo | None = None
        self.buffer = bytearray()
        self.offset = 0  # bytes at the start taken by a PROXY header
        self.reads = 0  # chunks received while sniffing; each one re-feeds the probes all bytes so far
        self.await_proxy_header = False
        self.probes: list[list[Probe]] = []
        self.settings_sent = False
        self.eof = False
        self.done = False
        self.started = 0.0

    # asyncio callbacks: each contains its own failures, so one connection never hurts the others.

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        try:
            self._start(self.transport)
        except Exception as exc:
            self._crash(exc)

    def data_received(self, data: bytes) -> None:
        if self.done:
            return
        self.buffer += data
        self.reads += 1
        try:
            self._decide()
        except Exception as exc:
            self._crash(exc)

    def eof_received(self) -> bool:
        self.eof = True
        if not self.done:
            try:
                self._decide()
            except Exception as exc:
                self._crash(exc)
        return True

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self.done:
            self.done = True
            self._stop_sniffing()

    # the matching itself

    def _start(self, transport: asyncio.Transport) -> None:
        mux = self.mux
        self.started = time.monotonic()
        if self.outer is None:
            peer = transport.get_extra_info("peername")
            self.info = ConnectionInfo(
                id=mux._next_id(), peer=peer, local=transport.get_extra_info("sockname"), client=peer
            )
            self.await_proxy_header = bool(mux.proxy_protocol_from) and _trusted(
                peer, mux.proxy_protocol_from
            )
        else:
            self.info = ConnectionInfo(
                id=self.outer.id,
                peer=self.outer.peer,
                local=self.outer.local,
                client=self.outer.client,
                proxy_header=self.outer.proxy_header,
                client_hello=self.outer.client_hello,
                tls=_tls_info(transport, self.outer),
                outer=self.outer,
            )
        mux._sniffing.add(self)
        self.probes = [[m.probe() for m in route.matchers] for route in self.router.routes]
        if mux.match_timeout is not None:
            mux._watch_deadlines()
        if self.router.matches_before_data():
            self._decide()

    def _decide(self) -> None:
        if self.await_proxy_header:
            status, header = parse_proxy_header(bytes(self.buffer))
            if status is ProxyStatus.MORE and not self.eof:
                return
            self.await_proxy_header = False
            if status is ProxyStatus.COMPLETE and header is not None:
                assert self.info is not None
                self.offset = header.length
                client = (
                    header.source
                    if header.command == "PROXY" and header.source is not None
                    else self.info.peer
                )
                self.info.client = client
                self.info.proxy_header = header
        seen = bytes(self.buffer[self.offset :]) if self.offset else bytes(self.buffer)
        # A client trickling bytes one per segment would make re-feeding quadratic: reads are capped too.
        capped = len(seen) > self.mux.max_sniff_bytes or self.reads > self.mux.max_sniff_reads
        final = self.eof or capped
        winner: Route | None = None
        undecided = False
        out = b""
        for route, probes in zip(self.router.routes, self.probes, strict=True):
            verdict = NO if route.closed else _route_verdict(probes, seen)
            for probe in probes:
                out += probe.take_output()
            if verdict is MORE and final:
                verdict = NO
            if verdict is MATCH and not undecided:
                winner = route
                break
            if verdict is MORE:
                undecided = True
        if out:
            self._write_sniffer_output(out)
        if winner is not None:
            self._handoff(winner, seen)
        elif not undecided:
            if capped:
                self.mux.stats.sniff_limit += 1
                self._close(
                    SniffLimitExceeded(
                        f"no route decided within {self.mux.max_sniff_bytes} bytes"
                        f" or {self.mux.max_sniff_reads} reads ({len(seen)} bytes in {self.reads})",
                        self.info,
                    )
                )
            elif self.eof and not seen:
                # Port probes and health checks connect and leave without a word: not worth an error.
                self.mux.stats.abandoned += 1
                self.done = True
                self._stop_sniffing()
                if self.transport is not None:
                    self.transport.close()
            else:
                self.mux.stats.unmatched += 1
                reason = "client closed before a route matched" if self.eof else "not matched by any route"
                message = f"connection {self._describe()} {reason} (after {len(seen)} bytes: {seen[:16]!r})"
                self._close(NotMatched(message, self.info))

    def _write_sniffer_output(self, out: bytes) -> None:
        # The HTTP/2 header probes all ask for the same empty SETTINGS: the client gets it once.
        if not out.replace(h2.EMPTY_SETTINGS, b""):
            if self.settings_sent:
                return
            self.settings_sent = True
            out = h2.EMPTY_SETTINGS
        assert self.transport is not None
        self.transport.write(out)

    def _deadline(self) -> None:
        if self.done:
            return
        try:
            seen = bytes(self.buffer[self.offset :])
            for route, probes in zip(self.router.routes, self.probes, strict=True):
                if not route.closed and _route_verdict(probes, seen) is MATCH:
                    self._handoff(route, seen)
                    return
            fallback = self.router.fallback
            if fallback is not None and not fallback.closed:
                fallback.stats.deadline_fallback += 1
                self._handoff(fallback, seen)
                return
            self.mux.stats.deadline_expired += 1
            timeout = self.mux.match_timeout
            self._close(
                DeadlineExpired(f"connection {self._describe()} not matched within {timeout}s", self.info)
            )
        except Exception as exc:
            self._crash(exc)

    def _handoff(self, route: Route, seen: bytes) -> None:
        mux = self.mux
        assert self.transport is not None and self.info is not None
        self.done = True
        self._stop_sniffing()
        stats = route.stats
        stats.matched += 1
        stats.match_latency.observe(time.monotonic() - self.started)
        if route.max_connections is not None and stats.active >= route.max_connections:
            stats.rejected_limit += 1
            self.transport.abort()
            mux._report(
                ConnectionLimit(f"route {route.name} is at its limit of {route.max_connections}", self.info)
            )
            return
        replay = seen
        stripper: SettingsAckStripper | None = None
        if self.settings_sent:
            stripper = SettingsAckStripper()
            replay = stripper.feed(replay)
            if stripper.done:
                stripper = None
        info = self.info
        info.route = route.name
        if route is not self.router.fallback:
            hello = _client_hello(self.probes[self.router.routes.index(route)])
            if hello is not None:
                info.client_hello = hello
        handoff = Handoff(
            transport=self.transport,
            replay=replay,
            info=info,
            route=route,
            mux=mux,
            ack_stripper=stripper,
            eof=self.eof,
            settings_sent=self.settings_sent,
        )
        stats.active += 1
        mux._routed.add(handoff)
        try:
            route.target.handoff(handoff)
        except Exception as exc:
            stats.handoff_failed += 1
            self.transport.abort()
            handoff.finished(exc)
            mux._report(HandoffFailed(f"route {route.name}: {exc!r}", self.info))

    def _stop_sniffing(self) -> None:
        self.mux._sniffing.discard(self)

    def _close(self, error: MuxError) -> None:
        self.done = True
        self._stop_sniffing()
        if self.transport is not None:
            self.transport.abort()
        self.mux._report(error)

    def _crash(self, exc: Exception) -> None:
        self.mux.stats.errors += 1
        log.exception("mux: unexpected error on connection %s", self._describe())
        self._close(MuxError(f"internal error on connection {self._describe()}: {exc!r}", self.info))

    def _describe(self) -> str:
        if self.info is None:
            return "?"
        return f"#{self.info.id} from {_format_address(self.info.client)}"


def _route_verdict(probes: Sequence[Probe], seen: bytes) -> Verdict:
    if len(probes) == 1:
        return probes[0].feed(seen)
    verdict = NO
    for probe in probes:
        v = probe.feed(seen)
        if v is MATCH:
            return MATCH
        if v is MORE:
            verdict = MORE
    return verdict


def _client_hello(probes: Sequence[Probe]) -> ClientHello | None:
    """The parsed ClientHello, when one of the winning route's probes is a TLS probe that saw it."""
    for probe in probes:
        hello = getattr(probe, "hello", None)
        if isinstance(hello, ClientHello):
            return hello
    return None


def _trusted(peer: object, networks: Sequence[Network]) -> bool:
    if isinstance(peer, tuple) and peer:
        return is_trusted(str(peer[0]), networks)
    return False


def _tls_info(transport: asyncio.BaseTransport, outer: ConnectionInfo) -> TLSInfo | None:
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    return TLSInfo(
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        alpn=ssl_object.selected_alpn_protocol(),
        server_name=outer.client_hello.server_name if outer.client_hello else None,
        peer_certificate=ssl_object.getpeercert(binary_form=True),
        peer_certificate_dict=ssl_object.getpeercert() or None,
    )


def _format_address(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host = str(address[0])
        return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"
    return str(address) if address else "?"


ErrorHandler = Callable[[MuxError], None]


class Mux:
    """One or more listening sockets in front of a ``Router``.

    Args:
        match_timeout: seconds a client has to send enough bytes to be routed, give or take an eighth
            (None: forever, not advised).
        max_sniff_bytes: bytes buffered while undecided; past it the connection is closed.
        max_sniff_reads: reads while undecided (each re-feeds every probe); past it, likewise.
        max_connections: connections open at once (sniffing and routed); more are closed at accept.
        proxy_protocol_from: networks whose connections may start with a PROXY v1/v2 header, which is
            then taken off and its source used as the client address. Others' headers are just bytes.
        on_error: called with every ``MuxError`` (unmatched, deadline, limits, failed hand-offs);
            it is for reporting only: the mux goes on serving whatever it does or raises.
    """

    def __init__(
        self,
        *,
        match_timeout: float | None = DEFAULT_MATCH_TIMEOUT,
        max_sniff_bytes: int = DEFAULT_MAX_SNIFF_BYTES,
        max_sniff_reads: int = DEFAULT_MAX_SNIFF_READS,
        max_connections: int | None = None,
        proxy_protocol_from: Iterable[str | Network] = (),
        on_error: ErrorHandler | None = None,
    ) -> None:
        self.router = Router()
        self.match_timeout = match_timeout
        self.max_sniff_bytes = max_sniff_bytes
        self.max_sniff_reads = max_sniff_reads
        self.max_connections = max_connections
        self.proxy_protocol_from: tuple[Network, ...] = tuple(
            ipaddress.ip_network(n) if isinstance(n, str) else n for n in proxy_protocol_from
        )
        self.on_error = on_error
        self.stats = MuxStats()
        self.registry = PeerRegistry()
        self._servers: list[asyncio.Server] = []
        self._sniffing: set[_Sniffer] = set()
        self._routed: set[Handoff] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._ids = 0
        self._closing = False
        self._drained: asyncio.Event | None = None
        self._sweep: asyncio.TimerHandle | None = None

    # building the routes: the root router's methods

    def route(
        self, name: str, *matchers: Matcher, target: Target, max_connections: int | None = None
    ) -> Route:
        return self.router.route(name, *matchers, target=target, max_connections=max_connections)

    def listen(self, name: str, *matchers: Matcher, backlog: int = 1024) -> Listener:
        return self.router.listen(name, *matchers, backlog=backlog)

    def set_fallback(self, name: str, target: Target) -> Route:
        return self.router.set_fallback(name, target)

    def routes(self) -> list[Route]:
        """Every route, nested ones (behind TLS termination) included, outermost first."""
        seen: list[Route] = []
        pending = [self.router]
        while pending:
            router = pending.pop(0)
            for route in router.all_routes():
                seen.append(route)
                inner = getattr(route.target, "router", None)
                if isinstance(inner, Router):
                    pending.append(inner)
        return seen

    # serving

    async def start(
        self,
        host: str | None = "127.0.0.1",
        port: int = 0,
        *,
        sock: socket.socket | None = None,
        backlog: int = 1024,
        reuse_port: bool = False,
    ) -> asyncio.Server:
        """Starts accepting on ``host:port`` (or on ``sock``) and returns the server; once per address."""
        loop = asyncio.get_running_loop()
        if sock is not None:
            server = await loop.create_server(self._accept, sock=sock, backlog=backlog)
        else:
            server = await loop.create_server(
                self._accept, host, port, backlog=backlog, reuse_port=reuse_port
            )
        self._servers.append(server)
        return server

    async def start_unix(self, path: str, *, backlog: int = 1024) -> asyncio.Server:
        server = await asyncio.get_running_loop().create_unix_server(self._accept, path, backlog=backlog)
        self._servers.append(server)
        return server

    def addresses(self) -> list[tuple[str, int]]:
        """The TCP addresses being served, e.g. to learn the port after ``start(port=0)``."""
        addresses = []
        for server in self._servers:
            for sock in getattr(server, "sockets", ()):
                if sock.family != socket.AF_UNIX:
                    addresses.append(sock.getsockname()[:2])
        return addresses

    async def serve_forever(self) -> None:
        await asyncio.gather(*(s.serve_forever() for s in self._servers))

    def _accept(self) -> asyncio.Protocol:
        self.stats.accepted += 1
        if self._closing or (
            self.max_connections is not None
            and len(self._sniffing) + len(self._routed) >= self.max_connections
        ):
            return _Refuse(self)
        return _Sniffer(self, self.router, None)

    def _watch_deadlines(self) -> None:
        """Makes sure the deadline sweep is scheduled while connections are being sniffed.

        One timer for the whole mux instead of one per connection: a connection is routed by its
        deadline within ``match_timeout`` plus one sweep period (an eighth of it, 50 ms to 1 s).
        """
        if self._sweep is None and self.match_timeout is not None:
            period = min(1.0, max(0.05, self.match_timeout / 8))
            self._sweep = asyncio.get_running_loop().call_later(period, self._sweep_deadlines)

    def _sweep_deadlines(self) -> None:
        self._sweep = None
        if self.match_timeout is None:
            return
        expired_before = time.monotonic() - self.match_timeout
        for sniffer in [s for s in self._sniffing if s.started <= expired_before]:
            sniffer._deadline()
        if self._sniffing:
            self._watch_deadlines()

    def _sniffer(self, router: Router, *, outer: ConnectionInfo) -> _Sniffer:
        return _Sniffer(self, router, outer)

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def _keep(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _connection_finished(self, handoff: Handoff) -> None:
        if handoff in self._routed:
            self._routed.discard(handoff)
            handoff.route.stats.active -= 1
        if self._drained is not None and not self._routed:
            self._drained.set()

    def _report(self, error: MuxError) -> None:
        log.info("%s", error)
        if self.on_error is not None:
            try:
                self.on_error(error)
            except Exception:
                log.exception("mux: the error handler raised")

    @property
    def sniffing(self) -> int:
        """Connections being matched now (inner TLS ones included)."""
        return len(self._sniffing)

    @property
    def active_connections(self) -> int:
        return len(self._sniffing) + len(self._routed)

    async def close(self, grace: float = 5.0) -> None:
        """Stops accepting; closes sniffing connections now; gives routed ones ``grace`` s, then aborts."""
        self._closing = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for server in self._servers:
            server.close()
        for sniffer in list(self._sniffing):
            sniffer._close(MuxError("closing", sniffer.info))
        for route in self.routes():
            if isinstance(route.target, Listener):
                route.target.close(server_closed=True)
        if self._routed:
            self._drained = asyncio.Event()
            try:
                await asyncio.wait_for(self._drained.wait(), grace)
            except TimeoutError:
                pass
        for handoff in list(self._routed):
            handoff.transport.abort()
            handoff.finished()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()


class _Refuse(asyncio.Protocol):
    """Closes a connection accepted over the global limit (or while closing) at once."""

    def __init__(self, mux: Mux) -> None:
        self.mux = mux

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.mux.stats.rejected_limit += 1
        peer = transport.get_extra_info("peername")
        cast(asyncio.Transport, transport).abort()
        if not self.mux._closing:
            limit = self.mux.max_connections
            self.mux._report(
                ConnectionLimit(f"connection from {_format_address(peer)}: limit of {limit} reached")
            )
