"""The byte proxy: a matched connection spliced to an upstream address, bytes passed both ways.

This is how gRPC reaches grpcio, whose Python API cannot adopt an accepted socket (mux-notes §6.1). The
two sides hold each other's transports: a side whose peer is slow to take its writes pauses reading on
the other side (backpressure), an EOF is passed on as a half-close, and an error on one side aborts the
other at once. Each upstream Unix-socket connection is bound to a unique abstract name, so the server
behind it can find who is calling in the mux's ``PeerRegistry``.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from dataclasses import dataclass
from typing import cast

from mux.errors import HandoffFailed
from mux.h2 import SettingsAckStripper
from mux.handoff import Handoff
from mux.proxy_protocol import build_v1, build_v2

HIGH_WATER = 256 * 1024  # bytes buffered towards a slow peer before the other side stops reading
UNIX_SNDBUF = 4 * 1024 * 1024  # the kernel caps it at net.core.wmem_max


@dataclass(frozen=True, slots=True)
class Upstream:
    """Where to connect: ``unix:/path``, ``unix-abstract:name``, or ``host:port`` (``[v6]:port``)."""

    kind: str  # "unix" | "tcp"
    path: str = ""
    host: str = ""
    port: int = 0

    @classmethod
    def parse(cls, address: str) -> Upstream:
        if address.startswith("unix:"):
            return cls("unix", path=address[5:])
        if address.startswith("unix-abstract:"):
            return cls("unix", path="\0" + address[len("unix-abstract:") :])
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise ValueError(f"upstream {address!r}: expected unix:/path, unix-abstract:name or host:port")
        return cls("tcp", host=host.strip("[]"), port=int(port))

    def __str__(self) -> str:
        if self.kind == "unix":
            return "unix-abstract:" + self.path[1:] if self.path.startswith("\0") else "unix:" + self.path
        return f"{self.host}:{self.port}"


class _Side(asyncio.Protocol):
    """One end of the splice; ``peer`` is the other end's transport. The client's end reads ``bytes_in``."""

    def __init__(self, link: _Link, *, from_client: bool) -> None:
        self.link = link
        self.stats = link.handoff.route.stats
        self.from_client = from_client
        self.transport: asyncio.Transport | None = None
        self.peer: asyncio.Transport | None = None
        self.early: list[bytes] = []  # what arrived before the other side was linked
        self.got_eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=HIGH_WATER)

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is None:
            self.early.append(data)
        else:
            peer.write(data)
        if self.from_client:
            self.stats.bytes_in += len(data)
        else:
            self.stats.bytes_out += len(data)

    def attach_peer(self, peer: asyncio.Transport) -> None:
        self.peer = peer
        for data in self.early:
            peer.write(data)
        self.early.clear()

    def eof_received(self) -> bool:
        self.got_eof = True
        peer = self.peer
        if peer is not None and not peer.is_closing():
            if peer.can_write_eof():
                peer.write_eof()
            else:
                peer.close()
        if self.link.both_eof():
            self.link.close()
            return False
        return True

    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and not self.peer.is_closing():
            self.peer.resume_reading()

    def connection_lost(self, exc: BaseException | None) -> None:
        self.link.lost(self, exc)


class _ClientSide(_Side):
    """The client's end; while the client's SETTINGS ACK is still to come, reads pass the stripper."""

    def __init__(self, link: _Link, stripper: SettingsAckStripper | None) -> None:
        super().__init__(link, from_client=True)
        self.stripper = stripper
        if stripper is not None:
            self.data_received = self._strip_then_forward  # type: ignore[method-assign]

    def _strip_then_forward(self, data: bytes) -> None:
        stripper = self.stripper
        if stripper is not None:
            data = stripper.feed(data)
            if stripper.done:
                self.stripper = None
        if data:
            _Side.data_received(self, data)


class _Link:
    """The pair of sides and the connection's end: both transports closed, the hand-off finished once."""

    def __init__(self, handoff: Handoff, stripper: SettingsAckStripper | None) -> None:
        self.handoff = handoff
        self.client = _ClientSide(self, stripper)
        self.upstream = _Side(self, from_client=False)
        self.registry_key: str | None = None

    def both_eof(self) -> bool:
        return self.client.got_eof and self.upstream.got_eof

    def close(self) -> None:
        for side in (self.client, self.upstream):
            if side.transport is not None and not side.transport.is_closing():
                side.transport.close()

    def lost(self, side: _Side, exc: BaseException | None) -> None:
        other = self.upstream if side is self.client else self.client
        if other.transport is not None and not other.transport.is_closing():
            if exc is not None:
                other.transport.abort()
            else:
                other.transport.close()
        if self.registry_key is not None:
            self.handoff.mux.registry.remove(self.registry_key)
            self.registry_key = None
        if side is self.client:
            self.handoff.finished(exc)


class ProxyTarget:
    """Splices each connection to ``upstream``; optionally sends a PROXY protocol v1/v2 header first.

    ``connect_timeout`` bounds the upstream connect; a failed connect closes the client and is reported
    as ``HandoffFailed``. While connecting, the client is not read from.
    """

    def __init__(
        self,
        upstream: str,
        *,
        connect_timeout: float = 5.0,
        send_proxy_protocol: int | None = None,
        identify: bool = True,
    ) -> None:
        if send_proxy_protocol not in (None, 1, 2):
            raise ValueError("send_proxy_protocol must be None, 1 or 2")
        self.upstream = Upstream.parse(upstream)
        self.connect_timeout = connect_timeout
        self.send_proxy_protocol = send_proxy_protocol
        # Binding the client end of a Unix socket to an abstract name is Linux-only.
        self.identify = identify and sys.platform.startswith("linux")

    def handoff(self, handoff: Handoff) -> None:
        handoff.transport.pause_reading()
        task = asyncio.get_running_loop().create_task(self._connect(handoff))
        handoff.mux._keep(task)

    async def _connect(self, handoff: Handoff) -> None:
        link = _Link(handoff, handoff.ack_stripper)
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                if self.upstream.kind == "unix":
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    try:
                        sock.setblocking(False)
                        # A Unix socket's default send buffer (~200 KiB) makes the proxy wake per small
                        # chunk; a larger one halves its CPU per MiB on bulk transfers.
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, UNIX_SNDBUF)
                        if self.identify:
                            name = handoff.mux.registry.new_abstract_name()
                            sock.bind("\0" + name)
                            link.registry_key = "unix-abstract:" + name
                        await loop.sock_connect(sock, self.upstream.path)
                    except BaseException:
                        sock.close()
                        raise
                    await loop.create_unix_connection(lambda: link.upstream, sock=sock)
                else:
                    transport, _ = await loop.create_connection(
                        lambda: link.upstream, self.upstream.host, self.upstream.port
                    )
                    local = transport.get_extra_info("sockname")
                    if self.identify and isinstance(local, tuple):
                        family = "ipv6" if ":" in local[0] else "ipv4"
                        host = f"[{local[0]}]" if family == "ipv6" else local[0]
                        link.registry_key = f"{family}:{host}:{local[1]}"
        except (OSError, TimeoutError) as exc:
            link.registry_key = None
            handoff.route.stats.handoff_failed += 1
            handoff.transport.abort()
            handoff.finished(exc)
            handoff.mux._report(
                HandoffFailed(f"route {handoff.route.name}: upstream {self.upstream}: {exc}", handoff.info)
            )
            return
        client = handoff.transport
        if client.is_closing():
            link.close()
            handoff.finished()
            return
        if link.registry_key is not None:
            handoff.mux.registry.add(link.registry_key, handoff.info)
        upstream = link.upstream.transport
        assert upstream is not None
        link.client.peer = upstream
        header = self._proxy_header(handoff)
        if header:
            upstream.write(header)
        client.set_protocol(link.client)
        link.client.connection_made(client)
        link.upstream.attach_peer(client)
        if handoff.replay:
            handoff.route.stats.bytes_in += len(handoff.replay)
            upstream.write(handoff.replay)
        if handoff.eof:
            link.client.eof_received()
        else:
            client.resume_reading()

    def _proxy_header(self, handoff: Handoff) -> bytes:
        """The PROXY header naming the original client; UNKNOWN (v1) or LOCAL (v2) when it cannot."""
        if self.send_proxy_protocol is None:
            return b""
        info = handoff.info
        source = info.client[:2] if isinstance(info.client, tuple) else None
        destination = info.local[:2] if isinstance(info.local, tuple) else None
        known = (
            source is not None
            and destination is not None
            and (":" in source[0]) == (":" in destination[0])  # the builders need one address family
        )
        try:
            if self.send_proxy_protocol == 1:
                return build_v1(source, destination) if known else b"PROXY UNKNOWN\r\n"
            return build_v2(source, destination) if known else build_v2(None, None)
        except ValueError:
            return b"PROXY UNKNOWN\r\n" if self.send_proxy_protocol == 1 else build_v2(None, None)


def proxy_to(
    upstream: str,
    *,
    connect_timeout: float = 5.0,
    send_proxy_protocol: int | None = None,
    identify: bool = True,
) -> ProxyTarget:
    """E.g. ``proxy_to("unix:/run/app/grpc.sock")`` or ``proxy_to("10.0.0.1:50051")``."""
    return ProxyTarget(
        upstream, connect_timeout=connect_timeout, send_proxy_protocol=send_proxy_protocol, identify=identify
    )
