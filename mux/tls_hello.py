"""A sans-IO parser for the TLS ClientHello that opens a connection.

``parse_client_hello(data)`` is given every byte the client has sent so far and answers at once:

- ``MORE``: everything so far is consistent with a ClientHello; call again with more bytes.
- ``NOT_TLS``: a byte already present proves this is not a (well-formed) ClientHello.
- ``COMPLETE``: the whole ClientHello is there; its fields come back as a ``ClientHello``.

The answer is monotone: once ``COMPLETE`` or ``NOT_TLS``, more bytes never change it, because every
decision depends only on bytes at fixed positions that are already present. The parser keeps no
state, so the caller may split the stream however the network did. It never raises on any input.

What it accepts (RFC 8446 §4.1.2 and §5.1, RFC 5246 §7.4.1.2, RFC 6066 §3, RFC 7301 §3.1):

- one or more handshake records (content type 22, version major 3, length 1..16384) whose payloads
  concatenate to exactly one ClientHello handshake message (type 1). A ClientHello fragmented over
  several records is legal and is reassembled. The message must end on a record boundary: in TLS
  1.3 a key change follows it, and no other handshake message may share its last record.
- a body of legacy_version (major 3), random, session_id (at most 32 bytes), cipher_suites (even,
  non-empty), compression_methods (non-empty, offering null), and an optional extension block that
  fills the rest of the message exactly, with no extension type twice.
- server_name, ALPN and supported_versions are decoded and checked; other extensions are only
  framed. GREASE values (RFC 8701) are kept as sent; ``is_grease`` tells them apart.
- ``max_size`` caps the bytes of the stream the hello may occupy, record headers included.
- To bound the CPU one connection can cost, a hello is refused (``NOT_TLS``) beyond ``MAX_RECORDS``
  records, ``MAX_EXTENSIONS`` extensions or ``MAX_ALPN_PROTOCOLS`` ALPN names; real clients stay
  far below (one record, under 30 extensions, a handful of ALPN names).

Cost: one call with the whole hello parses it once (about 10 µs for a 1.5 KB hello). While the
hello is incomplete a call checks the record framing and the fixed fields (version, session id,
cipher suites, compression methods, extension block length) and stops there, so a call on a partial
hello costs a few µs whatever its size; a bad extension is reported once the hello is whole.

Non-goals: SSLv2-compatible hellos (first byte 0x80) are ``NOT_TLS``; nothing is decrypted or
checked cryptographically; ECH inner hellos are not looked at.
"""

from __future__ import annotations

import enum
import re
import struct
from dataclasses import dataclass
from typing import NoReturn

__all__ = [
    "MAX_ALPN_PROTOCOLS",
    "MAX_EXTENSIONS",
    "MAX_RECORDS",
    "ClientHello",
    "HelloStatus",
    "is_grease",
    "parse_client_hello",
]

# RFC 8446 §5.1: TLSPlaintext.length MUST NOT exceed 2^14; zero-length handshake fragments are forbidden.
MAX_RECORD_PAYLOAD = 16384
# Real clients use one record, or a few when a hello outgrows 2^14 bytes; a 64 KiB hello fits in 4.
MAX_RECORDS = 16
MAX_EXTENSIONS = 128
MAX_ALPN_PROTOCOLS = 64
_RECORD_HEADER = 5
_HANDSHAKE_HEADER = 4
_CONTENT_HANDSHAKE = 22
_HANDSHAKE_CLIENT_HELLO = 1
# version(2) random(32) session_id(1+0) cipher_suites(2+2) compression_methods(1+1)
_MIN_HELLO_BODY = 41

EXT_SERVER_NAME = 0
EXT_ALPN = 16
EXT_SUPPORTED_VERSIONS = 43

# RFC 6066 §3: a host_name is an ASCII DNS name; we accept any printable non-space ASCII so that
# routing compares exactly what was sent, but refuse controls, spaces and non-ASCII bytes.
_HOST_NAME = re.compile(rb"[\x21-\x7e]+")

_U16_U16 = struct.Struct(">HH")


class HelloStatus(enum.Enum):
    """The parser's answer about the bytes seen so far."""

    COMPLETE = "complete"
    MORE = "more"  # consistent so far, need more bytes
    NOT_TLS = "not_tls"


@dataclass(frozen=True, slots=True)
class ClientHello:
    """The routing-relevant fields of a ClientHello, as the client sent them."""

    record_version: int  # of the first record, e.g. 0x0301
    legacy_version: int  # ClientHello.legacy_version (client_version), e.g. 0x0303
    supported_versions: tuple[int, ...]  # supported_versions extension, client's order; () if absent
    server_name: str | None  # first SNI host_name, lowercased; None if absent
    alpn_protocols: tuple[str, ...]  # offered ALPN names in the client's order, decoded as latin-1
    cipher_suites: tuple[int, ...]
    extensions: tuple[int, ...]  # extension types in the order sent
    length: int  # bytes of the stream the hello occupies: all its records, headers included


def is_grease(value: int) -> bool:
    """Whether ``value`` is a GREASE cipher suite, extension type or version (RFC 8701 §2)."""
    return value & 0x0F0F == 0x0A0A and value >> 8 == value & 0xFF


class _More(Exception):
    pass


class _NotTLS(Exception):
    pass


_MORE_RESULT: tuple[HelloStatus, ClientHello | None] = (HelloStatus.MORE, None)
_NOT_TLS_RESULT: tuple[HelloStatus, ClientHello | None] = (HelloStatus.NOT_TLS, None)

Buffer = bytes | bytearray | memoryview


def parse_client_hello(data: Buffer, *, max_size: int = 65536) -> tuple[HelloStatus, ClientHello | None]:
    """Parse the ClientHello at the start of ``data``, all bytes the client has sent so far.

    Args:
        data: the stream from byte 0; bytes after the hello are allowed and ignored. ``data`` is
            only read, and no view of it outlives the call, so a ``bytearray`` may grow afterwards.
        max_size: most bytes of the stream (record headers included) the hello may occupy; a hello
            shown to need more is ``NOT_TLS``.

    Returns:
        ``(COMPLETE, hello)`` with ``hello.length`` the bytes it occupies, or ``(MORE, None)``, or
        ``(NOT_TLS, None)``. Never raises; any exception is a bug.
    """
    try:
        return HelloStatus.COMPLETE, _parse(data, max_size)
    except _More:
        return _MORE_RESULT
    except _NotTLS:
        return _NOT_TLS_RESULT


def _parse(data: Buffer, max_size: int) -> ClientHello:
    """Frame the records, then parse the handshake bytes they carry; raise _More or _NotTLS."""
    n = len(data)
    spans: list[tuple[int, int]] = []  # (start, stop) in ``data`` of each record's payload present
    covered = 0  # handshake bytes announced by the record headers read so far
    need = -1  # 4 + handshake length, once the handshake header has arrived
    pos = 0  # start of the next record
    record_end = 0
    while _record_header_here(data, pos):
        record_len = (data[pos + 3] << 8) | data[pos + 4]
        if record_len == 0 or record_len > MAX_RECORD_PAYLOAD:
            raise _NotTLS
        covered += record_len
        record_end = pos + _RECORD_HEADER + record_len
        spans.append((pos + _RECORD_HEADER, min(record_end, n)))
        if len(spans) > MAX_RECORDS:
            raise _NotTLS
        if need < 0:
            need = _handshake_need(data, spans, max_size)
        if need >= 0 and covered > need:
            raise _NotTLS  # the last record carries bytes beyond the hello
        # Lower bound on the stream bytes the hello occupies: the records seen, plus at least one
        # more record header for the handshake bytes they do not cover.
        bound = record_end if need < 0 or covered == need else record_end + _RECORD_HEADER + need - covered
        if bound > max_size:
            raise _NotTLS
        if record_end > n or covered == need:
            break  # the hello is whole, or its current record is still arriving
        pos = record_end
    if need < 0:
        raise _More
    record_version = (data[1] << 8) | data[2]
    if len(spans) == 1:
        # The common case, one record: parse in place, no copy.
        start, stop = spans[0]
        return _parse_body(data, start, start + need, stop, record_version, record_end)
    hs = b"".join(data[a:b] for a, b in spans)
    return _parse_body(hs, 0, need, len(hs), record_version, record_end)


def _record_header_here(data: Buffer, pos: int) -> bool:
    """Whether a whole record header is at ``pos``; raise _NotTLS as soon as its bytes prove it wrong."""
    avail = len(data) - pos
    if avail < 1:
        return False
    if data[pos] != _CONTENT_HANDSHAKE:
        raise _NotTLS
    if avail < 2:
        return False
    if data[pos + 1] != 3:
        raise _NotTLS
    return avail >= _RECORD_HEADER


def _handshake_need(data: Buffer, spans: list[tuple[int, int]], max_size: int) -> int:
    """Return 4 + the handshake length once its header is here, else -1; raise _NotTLS if wrong."""
    start, stop = spans[0]
    head = data[start : start + 4] if stop - start >= 4 else b"".join(data[a:b] for a, b in spans)[:4]
    if len(head) < 1:
        return -1
    if head[0] != _HANDSHAKE_CLIENT_HELLO:
        raise _NotTLS
    if len(head) < _HANDSHAKE_HEADER:
        return -1
    length = (head[1] << 16) | (head[2] << 8) | head[3]
    if length < _MIN_HELLO_BODY or _RECORD_HEADER + _HANDSHAKE_HEADER + length > max_size:
        raise _NotTLS
    return _HANDSHAKE_HEADER + length


def _short(q: int, end: int) -> NoReturn:
    """Bytes up to ``q`` are needed but absent: malformed if the message ends before ``q``."""
    if q > end:
        raise _NotTLS
    raise _More


def _parse_body(
    buf: Buffer, base: int, end: int, avail: int, record_version: int, length: int
) -> ClientHello:
    """Parse the ClientHello message at ``buf[base:end]``, of which ``buf[base:avail]`` is here.

    Every field is checked in wire order with ``if q > avail: _short(q, end)`` before it is read:
    the same checks in the same order whether the message is whole or not, so a partial message
    ends in _More or in the _NotTLS the whole one would give. That is what makes answers monotone.
    The extensions are walked only once the message is whole, which bounds the cost of a call on
    a partial message.
    """
    avail = min(avail, end)
    p = base + _HANDSHAKE_HEADER
    q = p + 35  # legacy_version(2) random(32) session_id length(1)
    if q > avail:
        _short(q, end)
    if buf[p] != 3:
        raise _NotTLS
    legacy_version = (buf[p] << 8) | buf[p + 1]
    session_id_len = buf[q - 1]
    if session_id_len > 32:
        raise _NotTLS
    p = q + session_id_len
    q = p + 2
    if q > avail:
        _short(q, end)
    suites_len = (buf[p] << 8) | buf[p + 1]
    if suites_len < 2 or suites_len & 1:
        raise _NotTLS
    p = q
    q = p + suites_len + 1  # the suites and the compression_methods length
    if q > avail:
        _short(q, end)
    cipher_suites: tuple[int, ...] = struct.unpack_from(f">{suites_len >> 1}H", buf, p)
    methods_len = buf[q - 1]
    if methods_len < 1:
        raise _NotTLS
    p = q
    q = p + methods_len
    if q > avail:
        _short(q, end)
    if 0 not in bytes(buf[p:q]):
        raise _NotTLS  # RFC 5246 §7.4.1.2: the null method MUST be offered
    p = q
    server_name: str | None = None
    alpn: tuple[str, ...] = ()
    versions: tuple[int, ...] = ()
    types: list[int] = []
    if p != end:
        q = p + 2
        if q > avail:
            _short(q, end)
        if q + ((buf[p] << 8) | buf[p + 1]) != end:
            raise _NotTLS  # the extension block must fill the message exactly
        if end > avail:
            raise _More  # extensions are walked once, when all of them are here
        p = q
        seen: set[int] = set()
        while p < end:
            q = p + 4
            if q > avail:
                _short(q, end)
            ext_type, ext_len = _U16_U16.unpack_from(buf, p)
            p = q
            q = p + ext_len
            if q > avail:
                _short(q, end)
            if ext_type in seen:
                raise _NotTLS  # RFC 8446 §4.2: no extension type may appear twice
            seen.add(ext_type)
            types.append(ext_type)
            if len(types) > MAX_EXTENSIONS:
                raise _NotTLS
            if ext_type == EXT_SERVER_NAME:
                server_name = _server_name(bytes(buf[p:q]))
            elif ext_type == EXT_ALPN:
                alpn = _alpn(bytes(buf[p:q]))
            elif ext_type == EXT_SUPPORTED_VERSIONS:
                versions = _supported_versions(bytes(buf[p:q]))
            p = q
    if end > avail:
        raise _More  # unreachable: a partial message runs out of bytes above
    return ClientHello(
        record_version=record_version,
        legacy_version=legacy_version,
        supported_versions=versions,
        server_name=server_name,
        alpn_protocols=alpn,
        cipher_suites=cipher_suites,
        extensions=tuple(types),
        length=length,
    )


def _vector(body: bytes, prefix: int) -> bytes:
    """The contents of a vector with a ``prefix``-byte length that must fill ``body`` exactly."""
    if len(body) < prefix:
        raise _NotTLS
    size = body[0] if prefix == 1 else (body[0] << 8) | body[1]
    if size == 0 or prefix + size != len(body):
        raise _NotTLS
    return body[prefix:]


def _server_name(body: bytes) -> str | None:
    # RFC 6066 §3: ServerNameList <1..2^16-1> of (name_type, opaque HostName<1..2^16-1>); at most
    # one name per type. Unknown name types are framed and skipped.
    names = _vector(body, 2)
    host: str | None = None
    seen: set[int] = set()
    i = 0
    while i < len(names):
        if i + 3 > len(names):
            raise _NotTLS
        name_type = names[i]
        start = i + 3
        i = start + ((names[i + 1] << 8) | names[i + 2])
        if i == start or i > len(names) or name_type in seen:
            raise _NotTLS
        seen.add(name_type)
        if name_type == 0:
            raw = names[start:i]
            if _HOST_NAME.fullmatch(raw) is None:
                raise _NotTLS
            host = raw.decode("ascii").lower()
    return host


def _alpn(body: bytes) -> tuple[str, ...]:
    # RFC 7301 §3.1: ProtocolNameList <2..2^16-1> of opaque ProtocolName<1..2^8-1>.
    names = _vector(body, 2)
    out: list[str] = []
    i = 0
    while i < len(names):
        start = i + 1
        i = start + names[i]
        if i == start or i > len(names):
            raise _NotTLS
        out.append(names[start:i].decode("latin-1"))
        if len(out) > MAX_ALPN_PROTOCOLS:
            raise _NotTLS
    return tuple(out)


def _supported_versions(body: bytes) -> tuple[int, ...]:
    # RFC 8446 §4.2.1: ProtocolVersion versions<2..254> in a ClientHello.
    items = _vector(body, 1)
    if len(items) & 1:
        raise _NotTLS
    versions: tuple[int, ...] = struct.unpack_from(f">{len(items) >> 1}H", items, 0)
    return versions
