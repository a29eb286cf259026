"""Who is calling: what the mux knows about a connection, and how servers behind it look it up.

A protocol hand-off sees a ``ConnectionInfo`` as ``transport.get_extra_info("mux")``. Servers behind the
byte proxy (grpcio has no way to adopt a socket) find it in the mux's ``PeerRegistry`` by the peer string
their framework reports: the proxy binds each upstream Unix-socket connection to a unique abstract name
(Linux), so grpcio's ``context.peer()`` reads ``unix-abstract:<name>``; for TCP upstreams the key is the
proxy side's local port (``ipv4:127.0.0.1:<port>``).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field

from mux.proxy_protocol import ProxyHeader
from mux.tls_hello import ClientHello

Address = tuple[str, int] | str | None


@dataclass(frozen=True, slots=True)
class TLSInfo:
    """What TLS termination learnt: negotiated version and ALPN, SNI, and the client's certificate."""

    version: str | None
    cipher: str | None
    alpn: str | None
    server_name: str | None
    peer_certificate: bytes | None  # DER, when the client sent one
    peer_certificate_dict: dict[str, object] | None = None  # ssl's decoded form, when verified


@dataclass(slots=True, eq=False)
class ConnectionInfo:
    """One client connection as the mux saw it. The mux fills it in while matching; treat it as read-only.

    Behind TLS termination a new one describes the plaintext connection, with ``outer`` the one before.
    """

    id: int
    peer: Address  # the TCP peer of the accepted socket
    local: Address  # our address the client connected to
    route: str = ""
    client: Address = None  # the original client: ``peer``, or the PROXY header's source if trusted
    proxy_header: ProxyHeader | None = None
    client_hello: ClientHello | None = None
    tls: TLSInfo | None = None
    outer: ConnectionInfo | None = field(default=None, repr=False)  # before TLS termination


class PeerRegistry:
    """Maps the peer strings upstream servers report to the ``ConnectionInfo`` of the proxied client."""

    def __init__(self) -> None:
        self._by_peer: dict[str, ConnectionInfo] = {}
        self._prefix = f"mux-{os.getpid()}-{id(self):x}-"
        self._seq = itertools.count(1)

    def new_abstract_name(self) -> str:
        return f"{self._prefix}{next(self._seq)}"

    def add(self, peer: str, info: ConnectionInfo) -> None:
        self._by_peer[peer] = info

    def remove(self, peer: str) -> None:
        self._by_peer.pop(peer, None)

    def lookup(self, peer: str) -> ConnectionInfo | None:
        """``peer`` as grpcio prints it (``context.peer()``), e.g. ``unix-abstract:mux-1-…`` or ``ipv4:…``."""
        return self._by_peer.get(peer)

    def __len__(self) -> int:
        return len(self._by_peer)
