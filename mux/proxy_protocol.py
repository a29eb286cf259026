"""A sans-IO parser and builder for HAProxy's PROXY protocol, versions 1 and 2.

``parse_proxy_header(data)`` is given every byte the peer has sent so far and answers at once:
``MORE`` (consistent so far), ``NOT_PROXY`` (a byte present proves the header wrong) or ``COMPLETE``
with a ``ProxyHeader`` whose ``length`` says how many bytes to strip before the payload. The answer
is monotone (once decided, more bytes never change it), it keeps no state, and it never raises.

Validation follows the specification (haproxy ``doc/proxy-protocol.txt``) strictly:

- v1: ``PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\\r\\n`` with single spaces, addresses in the
  family's text form (IPv4 without leading zeroes, IPv6 without a scope), ports 0..65535 in decimal
  without leading zeroes, the CRLF within the first 107 bytes, no lone CR or LF. ``PROXY UNKNOWN``
  may carry anything printable before the CRLF, which is ignored.
- v2: the 12-byte signature, version 2, command LOCAL (0) or PROXY (1), one of the seven family and
  protocol bytes the specification lists, an address block long enough for the family, and TLVs
  that fill the rest exactly. TLVs are kept raw, in order; nothing inside them is checked.
- LOCAL (v2) and UNKNOWN (v1) carry no addresses: ``source`` and ``destination`` are ``None`` and the
  caller uses the real connection's endpoints. A v2 PROXY header whose family or protocol is
  unspecified, or which carries datagram (UDP, UNIX datagram) addresses, falls back to that same
  UNKNOWN mode, as the specification allows receivers that do not support a protocol to do.

Trust is the caller's job: the specification says a receiver MUST only accept PROXY headers from
trusted peers and MUST NOT guess whether one is present; ``is_trusted`` checks a peer address
against configured networks.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "V1_MAX_LENGTH",
    "V2_SIGNATURE",
    "ProxyHeader",
    "ProxyStatus",
    "build_v1",
    "build_v2",
    "is_trusted",
    "parse_proxy_header",
]

V1_PREFIX = b"PROXY "
V1_MAX_LENGTH = 107  # "PROXY UNKNOWN" + two IPv6 addresses and two ports + CRLF (spec §2.1)
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_HEADER_LENGTH = 16
V2_VERSION = 0x20
V2_LOCAL, V2_PROXY = 0x0, 0x1
UNIX_PATH_MAX = 108

_V2_HEAD = struct.Struct(">BBH")  # version|command, family|protocol, length
_V2_INET = struct.Struct(">4s4sHH")
_V2_INET6 = struct.Struct(">16s16sHH")
_TLV_HEAD = struct.Struct(">BH")

# family|protocol byte -> (family name, address block size); datagram families fall back to UNKNOWN.
_V2_FAMILIES: dict[int, tuple[str, int]] = {
    0x00: ("UNKNOWN", 0),
    0x11: ("TCP4", _V2_INET.size),
    0x12: ("UNKNOWN", _V2_INET.size),
    0x21: ("TCP6", _V2_INET6.size),
    0x22: ("UNKNOWN", _V2_INET6.size),
    0x31: ("UNIX", 2 * UNIX_PATH_MAX),
    0x32: ("UNKNOWN", 2 * UNIX_PATH_MAX),
}

_V1_PORT = rb"(0|[1-9][0-9]{0,4})"  # no leading zeroes (spec §2.1); range checked after
_V1_OCTET = rb"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_V1_IPV4 = rb"(" + rb"\.".join([_V1_OCTET] * 4) + rb")"
_V1_TCP4 = re.compile(rb"TCP4 " + _V1_IPV4 + b" " + _V1_IPV4 + b" " + _V1_PORT + b" " + _V1_PORT)
# IPv6 text is checked by ipaddress; the character class keeps out scope ids ("%eth0").
_V1_TCP6 = re.compile(rb"TCP6 ([0-9a-fA-F:.]+) ([0-9a-fA-F:.]+) " + _V1_PORT + b" " + _V1_PORT)
_V1_IPV4_CHARS = re.compile(rb"[0-9.]*")
_V1_IPV6_CHARS = re.compile(rb"[0-9a-fA-F:.]*")
# Bytes a v1 line may hold before its CRLF: printable ASCII (UNKNOWN lines are ignored, not parsed).
_V1_LINE_CHARS = re.compile(rb"[\x20-\x7e]*")


class ProxyStatus(enum.Enum):
    """The parser's answer about the bytes seen so far."""

    COMPLETE = "complete"
    MORE = "more"  # consistent so far, need more bytes
    NOT_PROXY = "not_proxy"


Address = tuple[str, int] | str | None


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """A parsed PROXY header.

    ``source``/``destination`` are ``(ip, port)`` for TCP4/TCP6 (the ip in ``ipaddress``'s canonical
    text), a path for UNIX (an abstract name keeps its leading NUL), and ``None`` for LOCAL/UNKNOWN.
    """

    version: int  # 1 or 2
    command: str  # "PROXY" | "LOCAL" (v1 is always "PROXY")
    family: str  # "TCP4" | "TCP6" | "UNIX" | "UNKNOWN"
    source: Address
    destination: Address
    tlvs: tuple[tuple[int, bytes], ...]  # v2 TLVs as (type, value), in order; () for v1
    length: int  # bytes of the stream the header occupies


_MORE: tuple[ProxyStatus, ProxyHeader | None] = (ProxyStatus.MORE, None)
_NOT_PROXY: tuple[ProxyStatus, ProxyHeader | None] = (ProxyStatus.NOT_PROXY, None)


def parse_proxy_header(data: bytes | bytearray | memoryview) -> tuple[ProxyStatus, ProxyHeader | None]:
    """Parse the PROXY header (v1 or v2) at the start of ``data``, all bytes seen so far.

    Returns ``(COMPLETE, header)``, ``(MORE, None)`` or ``(NOT_PROXY, None)``; bytes after the
    header are ignored (the caller strips ``header.length`` bytes). Never raises; any exception is
    a bug.
    """
    if not data:
        return _MORE
    if data[0] == V2_SIGNATURE[0]:
        return _parse_v2(data)
    if data[0] == V1_PREFIX[0]:
        return _parse_v1(bytes(data[: V1_MAX_LENGTH + 1]))
    return _NOT_PROXY


def _parse_v1(data: bytes) -> tuple[ProxyStatus, ProxyHeader | None]:
    head = data[: len(V1_PREFIX)]
    if head != V1_PREFIX[: len(head)]:
        return _NOT_PROXY
    end = data.find(b"\r\n", 0, V1_MAX_LENGTH)
    line = data[len(V1_PREFIX) : end if end >= 0 else V1_MAX_LENGTH]
    if end < 0:
        # Incomplete: refuse now if what is here can no longer begin a valid line.
        if len(data) >= V1_MAX_LENGTH:
            return _NOT_PROXY
        if line.endswith(b"\r"):
            line = line[:-1]
        return _MORE if _v1_prefix_ok(line) else _NOT_PROXY
    if _V1_LINE_CHARS.fullmatch(line) is None:
        return _NOT_PROXY
    header = _v1_line(line, end + 2)
    return (ProxyStatus.COMPLETE, header) if header is not None else _NOT_PROXY


def _v1_prefix_ok(partial: bytes) -> bool:
    """Whether ``partial`` (the line after "PROXY ", no CRLF yet) can still start a valid line."""
    if _V1_LINE_CHARS.fullmatch(partial) is None:
        return False
    for proto in (b"TCP4 ", b"TCP6 ", b"UNKNOWN"):
        n = min(len(partial), len(proto))
        if partial[:n] != proto[:n]:
            continue
        if proto == b"UNKNOWN":
            return len(partial) <= n or partial[n : n + 1] == b" "
        rest = partial[n:]
        chars = _V1_IPV4_CHARS if proto == b"TCP4 " else _V1_IPV6_CHARS
        return all(chars.fullmatch(field) is not None for field in rest.split(b" "))
    return False


def _v1_line(line: bytes, length: int) -> ProxyHeader | None:
    if line == b"UNKNOWN" or line.startswith(b"UNKNOWN "):
        return ProxyHeader(1, "PROXY", "UNKNOWN", None, None, (), length)
    m = _V1_TCP4.fullmatch(line)
    if m is not None:
        family = "TCP4"
        # The pattern admits only canonical dotted quads (no leading zeroes), so the text stands.
        src_ip, dst_ip = m[1].decode("ascii"), m[2].decode("ascii")
    else:
        m = _V1_TCP6.fullmatch(line)
        if m is None:
            return None
        family = "TCP6"
        src, dst = _v1_ipv6(m[1]), _v1_ipv6(m[2])
        if src is None or dst is None:
            return None
        src_ip, dst_ip = src, dst
    sport, dport = int(m[3]), int(m[4])
    if sport > 0xFFFF or dport > 0xFFFF:
        return None
    return ProxyHeader(1, "PROXY", family, (src_ip, sport), (dst_ip, dport), (), length)


def _v1_ipv6(raw: bytes) -> str | None:
    try:
        return str(ipaddress.IPv6Address(raw.decode("ascii")))
    except ValueError:
        return None


def _parse_v2(data: bytes | bytearray | memoryview) -> tuple[ProxyStatus, ProxyHeader | None]:
    sig = data[: len(V2_SIGNATURE)]
    if sig != V2_SIGNATURE[: len(sig)]:
        return _NOT_PROXY
    n = len(data)
    if n > 12 and (data[12] & 0xF0 != V2_VERSION or data[12] & 0x0F not in (V2_LOCAL, V2_PROXY)):
        return _NOT_PROXY
    # The family byte matters only to PROXY commands: LOCAL discards the whole block (spec §2.2).
    if n > 13 and data[12] & 0x0F == V2_PROXY and data[13] not in _V2_FAMILIES:
        return _NOT_PROXY
    if n < V2_HEADER_LENGTH:
        return _MORE
    ver_cmd, fam, block_len = _V2_HEAD.unpack_from(data, 12)
    length = V2_HEADER_LENGTH + block_len
    if ver_cmd & 0x0F == V2_LOCAL:
        if n < length:
            return _MORE
        return ProxyStatus.COMPLETE, ProxyHeader(2, "LOCAL", "UNKNOWN", None, None, (), length)
    family, addr_len = _V2_FAMILIES[fam]
    if block_len < addr_len:
        return _NOT_PROXY
    if n < length:
        return _MORE
    if fam == 0x00:
        # UNSPEC: the block's layout is unknown, so neither addresses nor TLVs can be located.
        return ProxyStatus.COMPLETE, ProxyHeader(2, "PROXY", "UNKNOWN", None, None, (), length)
    block = bytes(data[V2_HEADER_LENGTH:length])
    tlvs = _v2_tlvs(block, addr_len)
    if tlvs is None:
        return _NOT_PROXY
    source: Address = None
    destination: Address = None
    if family == "TCP4":
        s, d, sp, dp = _V2_INET.unpack_from(block)
        source, destination = (_dotted(s), sp), (_dotted(d), dp)
    elif family == "TCP6":
        s, d, sp, dp = _V2_INET6.unpack_from(block)
        source, destination = (str(ipaddress.IPv6Address(s)), sp), (str(ipaddress.IPv6Address(d)), dp)
    elif family == "UNIX":
        source = _unix_path(block[:UNIX_PATH_MAX])
        destination = _unix_path(block[UNIX_PATH_MAX : 2 * UNIX_PATH_MAX])
    return ProxyStatus.COMPLETE, ProxyHeader(2, "PROXY", family, source, destination, tlvs, length)


def _dotted(packed: bytes) -> str:
    return f"{packed[0]}.{packed[1]}.{packed[2]}.{packed[3]}"


def _v2_tlvs(block: bytes, start: int) -> tuple[tuple[int, bytes], ...] | None:
    out: list[tuple[int, bytes]] = []
    i = start
    while i < len(block):
        if i + _TLV_HEAD.size > len(block):
            return None
        tlv_type, size = _TLV_HEAD.unpack_from(block, i)
        i += _TLV_HEAD.size
        if i + size > len(block):
            return None
        out.append((tlv_type, block[i : i + size]))
        i += size
    return tuple(out)


def _unix_path(raw: bytes) -> str:
    # sun_path: a NUL-terminated path, or an abstract name that starts with NUL (Linux).
    if raw[:1] == b"\x00":
        return "\x00" + raw[1:].rstrip(b"\x00").decode("utf-8", "surrogateescape")
    return raw.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")


def build_v1(source: tuple[str, int] | None, destination: tuple[str, int] | None) -> bytes:
    """The v1 line for a TCP connection from ``source`` to ``destination``.

    Both ``None`` gives ``PROXY UNKNOWN\\r\\n``; an IPv6 scope id is dropped. Raises ``ValueError``
    when only one is ``None``, for an invalid or mixed-family address, or a port outside 0..65535.
    """
    if source is None and destination is None:
        return b"PROXY UNKNOWN\r\n"
    if source is None or destination is None:
        raise ValueError("source and destination must both be given or both be None")
    src, dst = _ip(source[0]), _ip(destination[0])
    if src.version != dst.version:
        raise ValueError("source and destination are of different address families")
    family = "TCP4" if src.version == 4 else "TCP6"
    sport, dport = _port(source[1]), _port(destination[1])
    return f"PROXY {family} {src} {dst} {sport} {dport}\r\n".encode("ascii")


def build_v2(
    source: tuple[str, int] | str | None,
    destination: tuple[str, int] | str | None,
    tlvs: Sequence[tuple[int, bytes]] = (),
) -> bytes:
    """The v2 header for a connection from ``source`` to ``destination``, followed by ``tlvs``.

    ``(ip, port)`` pairs give TCP4/TCP6, ``str`` paths give UNIX stream, and both ``None`` gives
    a LOCAL command (UNSPEC family; a receiver ignores its TLVs); an IPv6 scope id is dropped.
    Raises ``ValueError`` when only one is ``None``, for invalid or mixed addresses, ports outside
    0..65535, a path over 108 bytes, a TLV type outside 0..255, or a header over 65535 bytes.
    """
    if source is None and destination is None:
        ver_cmd, fam, block = V2_VERSION | V2_LOCAL, 0x00, b""
    elif isinstance(source, str) and isinstance(destination, str):
        ver_cmd, fam = V2_VERSION | V2_PROXY, 0x31
        block = _unix_bytes(source) + _unix_bytes(destination)
    elif isinstance(source, tuple) and isinstance(destination, tuple):
        src, dst = _ip(source[0]), _ip(destination[0])
        if src.version != dst.version:
            raise ValueError("source and destination are of different address families")
        ver_cmd = V2_VERSION | V2_PROXY
        sport, dport = _port(source[1]), _port(destination[1])
        if isinstance(src, ipaddress.IPv4Address):
            fam, block = 0x11, _V2_INET.pack(src.packed, dst.packed, sport, dport)
        else:
            fam, block = 0x21, _V2_INET6.pack(src.packed, dst.packed, sport, dport)
    else:
        raise ValueError("source and destination must be of the same kind")
    parts = [block]
    for tlv_type, value in tlvs:
        if not 0 <= tlv_type <= 0xFF or len(value) > 0xFFFF:
            raise ValueError(f"invalid TLV type {tlv_type} or length {len(value)}")
        parts.append(_TLV_HEAD.pack(tlv_type, len(value)) + bytes(value))
    body = b"".join(parts)
    if len(body) > 0xFFFF:
        raise ValueError("PROXY v2 header longer than 65535 bytes")
    return V2_SIGNATURE + _V2_HEAD.pack(ver_cmd, fam, len(body)) + body


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    # The protocol has no room for a scope id, so a link-local peer ("fe80::1%eth0", as
    # getpeername() reports it) is sent as its bare address.
    return ipaddress.ip_address(text.split("%", 1)[0])


def _port(port: int) -> int:
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 0xFFFF:
        raise ValueError(f"port out of range: {port!r}")
    return port


def _unix_bytes(path: str) -> bytes:
    raw = path.encode("utf-8", "surrogateescape")
    if len(raw) > UNIX_PATH_MAX or (raw[:1] != b"\x00" and b"\x00" in raw):
        raise ValueError(f"invalid UNIX socket path: {path!r}")
    return raw.ljust(UNIX_PATH_MAX, b"\x00")


def is_trusted(address: str, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    """Whether the peer ``address`` (text, as from ``getpeername()[0]``) lies in one of ``networks``.

    An IPv4 peer matches both IPv4 networks and IPv4-mapped IPv6 ones (``::ffff:10.0.0.0/104``),
    whichever way the listener reports it (``10.0.0.1`` or, dual-stack, ``::ffff:10.0.0.1``); a scope
    id is ignored. Text that is not an IP address (a UNIX socket path, "") is never trusted.
    """
    try:
        addr = ipaddress.ip_address(address)
    except ValueError:
        return False
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [addr]
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        candidates.append(addr.ipv4_mapped)
    elif isinstance(addr, ipaddress.IPv4Address):
        candidates.append(ipaddress.IPv6Address(b"\x00" * 10 + b"\xff\xff" + addr.packed))
    return any(candidate in network for candidate in candidates for network in networks)
