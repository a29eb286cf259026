"""Matchers: pure code that tells, from the first bytes of a connection, whether a route wants it.

A matcher is a factory of probes; the mux makes one probe per matcher per connection and feeds it every
byte seen so far (``probe.feed(seen)``, where ``seen`` only ever grows). The probe answers at once:
``MATCH``, ``NO``, or ``MORE`` (undecided until more bytes arrive). Verdicts are monotone: after MATCH or
NO, more bytes never change the answer. A probe never reads, waits, or touches a socket; the one that
needs to say something to the client (the HTTP/2 header matcher answering SETTINGS-first gRPC clients)
leaves bytes in ``take_output()`` for the mux to write.

Constructors read like cmux's: ``any_()``, ``prefix()``, ``http1()``, ``http1_header()``, ``http2()``,
``http2_header()``, ``grpc()``, ``tls()``, ``proxy_protocol()``, ``custom()``.
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from mux import h2
from mux.proxy_protocol import ProxyStatus, parse_proxy_header
from mux.tls_hello import ClientHello, HelloStatus, parse_client_hello


class Verdict(enum.Enum):
    MATCH = "match"
    NO = "no"
    MORE = "more"  # undecided until more bytes arrive


MATCH, NO, MORE = Verdict.MATCH, Verdict.NO, Verdict.MORE


@runtime_checkable
class Probe(Protocol):
    """One matcher's view of one connection."""

    def feed(self, seen: bytes) -> Verdict:
        """Judges all the bytes seen so far; must not raise, must be monotone."""
        ...

    def take_output(self) -> bytes:
        """Bytes the mux must write to the client now (almost always empty)."""
        ...


class Matcher(Protocol):
    """Makes a probe per connection; a stateless matcher is its own probe."""

    def probe(self) -> Probe: ...


class StatelessMatcher:
    """Base for matchers whose verdict depends only on the bytes: one object serves every connection."""

    __slots__ = ()

    def probe(self) -> Probe:
        return self

    def feed(self, seen: bytes) -> Verdict:
        raise NotImplementedError

    def take_output(self) -> bytes:
        return b""


class _Any(StatelessMatcher):
    """Matches every connection, before its first byte (cmux's ``Any``)."""

    __slots__ = ()

    def feed(self, seen: bytes) -> Verdict:
        return MATCH

    def __repr__(self) -> str:
        return "any_()"


def any_() -> Matcher:
    return _Any()


@dataclass(frozen=True, slots=True)
class Prefix(StatelessMatcher):
    """Matches a connection whose first bytes equal one of ``prefixes``; decides at the first mismatch."""

    prefixes: tuple[bytes, ...]

    def feed(self, seen: bytes) -> Verdict:
        verdict = NO
        for p in self.prefixes:
            n = min(len(seen), len(p))
            if seen[:n] == p[:n]:
                if n == len(p):
                    return MATCH
                verdict = MORE
        return verdict


def prefix(*prefixes: bytes) -> Matcher:
    if not prefixes or any(not p for p in prefixes):
        raise ValueError("prefix() needs at least one non-empty prefix")
    return Prefix(tuple(prefixes))


# An HTTP/1 request line (RFC 9112 §3): method token, one space, a target without spaces or controls, one
# space, HTTP/1.0 or HTTP/1.1, CRLF (a bare LF is tolerated, RFC 9112 §2.2).
_TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TARGET = rb"[\x21-\x7e\x80-\xff]"
_REQUEST_LINE = re.compile(rb"[" + _TCHAR + rb"]{1,32} " + _TARGET + rb"{1,8192} HTTP/1\.[01]\r?\n")
# Every proper prefix of a request line, so a partial line says MORE and a wrong byte says NO at once.
_PARTIAL_LINE = re.compile(
    rb"[" + _TCHAR + rb"]{0,32}\Z"
    rb"|[" + _TCHAR + rb"]{1,32} " + _TARGET + rb"{0,8192}\Z"
    rb"|["
    + _TCHAR
    + rb"]{1,32} "
    + _TARGET
    + rb"{1,8192} (?:H(?:T(?:T(?:P(?:/(?:1(?:\.(?:[01]\r?)?)?)?)?)?)?)?)?\Z"
)
_MAX_REQUEST_LINE = 32 + 1 + 8192 + 1 + 8 + 2


def _request_line_verdict(seen: bytes) -> tuple[Verdict, int]:
    """Verdict on the request line and, on MATCH, the offset just past it."""
    m = _REQUEST_LINE.match(seen)
    if m:
        return MATCH, m.end()
    if len(seen) < _MAX_REQUEST_LINE and _PARTIAL_LINE.match(seen[:_MAX_REQUEST_LINE]):
        return MORE, 0
    return NO, 0


class _HTTP1(StatelessMatcher):
    """Matches an HTTP/1.0 or HTTP/1.1 request line of any method (PATCH and extension methods too)."""

    __slots__ = ()

    def feed(self, seen: bytes) -> Verdict:
        return _request_line_verdict(seen)[0]

    def __repr__(self) -> str:
        return "http1()"


# cmux's HTTP1(): the first line, read up to 4096 bytes, split at its first two spaces, ends in HTTP/1.x;
# the method and target may be anything, so the HTTP server behind answers a malformed one with 400.
_LENIENT_LINE = re.compile(rb"[^ \n]* [^ \n]* HTTP/1\.[0-9]\r?\n")
_LENIENT_MAX = 4096


class _LenientHTTP1(StatelessMatcher):
    """cmux's ``HTTP1()``: any first line whose third space-separated field is ``HTTP/1.x``."""

    __slots__ = ()

    def feed(self, seen: bytes) -> Verdict:
        if _LENIENT_LINE.match(seen):
            return MATCH
        eol = seen.find(b"\n")
        if eol < 0 and len(seen) < _LENIENT_MAX:
            return MORE
        return NO

    def __repr__(self) -> str:
        return "http1(lenient=True)"


def http1(*, lenient: bool = False) -> Matcher:
    """An HTTP/1.0 or 1.1 request line. Strict by default (a real method token, a target, the version);
    ``lenient`` is cmux's rule, for servers that must answer malformed request lines themselves (etcd's
    client port answers them 400 Bad Request)."""
    return _LenientHTTP1() if lenient else _HTTP1()


@dataclass(frozen=True, slots=True)
class HTTP1Header(StatelessMatcher):
    """Matches an HTTP/1 request with header ``name`` equal to (or starting with) ``value``.

    Names compare case-insensitively; values exactly, or case-insensitively when ``ignore_case``.
    The first field with that name decides; a header section ending without it is NO.
    """

    name: bytes
    value: bytes
    prefix: bool = False
    ignore_case: bool = False

    def feed(self, seen: bytes) -> Verdict:
        verdict, pos = _request_line_verdict(seen)
        if verdict is not MATCH:
            return verdict
        want = self.name.lower()
        while True:
            eol = seen.find(b"\n", pos)
            if eol < 0:
                return MORE
            line = seen[pos:eol].rstrip(b"\r")
            pos = eol + 1
            if not line:
                return NO
            colon = line.find(b":")
            if colon <= 0:
                return NO
            if line[:colon].lower() != want:
                continue
            got = line[colon + 1 :].strip(b" \t")
            expected = self.value
            if self.ignore_case:
                got, expected = got.lower(), expected.lower()
            ok = got.startswith(expected) if self.prefix else got == expected
            return MATCH if ok else NO


def http1_header(name: str, value: str, *, prefix: bool = False, ignore_case: bool = False) -> Matcher:
    """E.g. ``http1_header("Upgrade", "websocket", ignore_case=True)`` for WebSocket upgrades."""
    return HTTP1Header(name.encode("latin-1"), value.encode("latin-1"), prefix, ignore_case)


def http2() -> Matcher:
    """Matches the HTTP/2 client connection preface (h2c with prior knowledge, or h2 after TLS)."""
    return Prefix((h2.PREFACE,))


ValuePredicate = Callable[[bytes], bool]


class _HTTP2HeaderProbe:
    __slots__ = ("matcher", "output", "scanner", "settings_sent", "verdict")

    def __init__(self, matcher: HTTP2Header) -> None:
        self.matcher = matcher
        self.scanner: h2.HeaderScanner | None = None  # made once the preface is confirmed
        self.output = b""
        self.settings_sent = False
        self.verdict = MORE

    def feed(self, seen: bytes) -> Verdict:
        if self.verdict is not MORE:
            return self.verdict
        if self.scanner is None:
            n = min(len(seen), len(h2.PREFACE))
            if seen[:n] != h2.PREFACE[:n]:
                self.verdict = NO
                return NO
            if n < len(h2.PREFACE):
                return MORE
            self.scanner = h2.HeaderScanner(self.matcher.name)
        result = self.scanner.scan(seen)
        if result is h2.ScanResult.FOUND:
            assert self.scanner.value is not None
            self.verdict = MATCH if self.matcher.accept(self.scanner.value) else NO
        elif result is not h2.ScanResult.MORE:
            self.verdict = NO
        elif self.matcher.send_settings and self.scanner.saw_client_settings and not self.settings_sent:
            # SETTINGS-first clients send no HEADERS until the server's SETTINGS arrive (mux-notes §6.3).
            self.settings_sent = True
            self.output = h2.EMPTY_SETTINGS
        return self.verdict

    def take_output(self) -> bytes:
        out, self.output = self.output, b""
        return out


@dataclass(frozen=True, slots=True)
class HTTP2Header:
    """Matches an HTTP/2 connection whose first header block has field ``name`` accepted by ``accept``.

    HPACK is decoded with the ``hpack`` library's primitives, field by field, stopping at ``name``.
    With ``send_settings`` (the default) the probe answers the client's SETTINGS with an empty SETTINGS
    frame, so clients that wait for it go on to send HEADERS; the mux then removes the client's ACK of
    that frame before any backend sees it.
    """

    name: bytes
    accept: ValuePredicate
    send_settings: bool = True
    description: str = ""

    def probe(self) -> Probe:
        return _HTTP2HeaderProbe(self)


def http2_header(name: str, value: str, *, prefix: bool = False, send_settings: bool = True) -> Matcher:
    """E.g. ``http2_header("content-type", "application/grpc", prefix=True)``."""
    want = value.encode("latin-1")

    def accept(got: bytes) -> bool:
        return got.startswith(want) if prefix else got == want

    kind = "prefix" if prefix else "value"
    return HTTP2Header(name.lower().encode("latin-1"), accept, send_settings, f"{name} {kind} {value}")


def _is_grpc_content_type(value: bytes) -> bool:
    # gRPC over HTTP/2: "application/grpc" optionally followed by "+proto", "+json", ... or parameters;
    # "application/grpc-web" is a different protocol and must not match (the cmux prefix pitfall).
    return value == b"application/grpc" or (
        value[16:17] in (b"+", b";") and value.startswith(b"application/grpc")
    )


def grpc(*, send_settings: bool = True) -> Matcher:
    """Matches a gRPC connection: HTTP/2 whose first request has a gRPC content-type."""
    return HTTP2Header(b"content-type", _is_grpc_content_type, send_settings, "gRPC content-type")


@dataclass(slots=True)
class _TLSProbe:
    matcher: TLS
    hello: ClientHello | None = None
    verdict: Verdict = MORE

    def feed(self, seen: bytes) -> Verdict:
        if self.verdict is not MORE:
            return self.verdict
        status, hello = parse_client_hello(seen, max_size=self.matcher.max_size)
        if status is HelloStatus.MORE:
            return MORE
        if status is HelloStatus.NOT_TLS or hello is None:
            self.verdict = NO
            return NO
        self.hello = hello
        self.verdict = MATCH if self.matcher.accepts(hello) else NO
        return self.verdict

    def take_output(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class TLS:
    """Matches a TLS ClientHello, parsed whole (reassembled across segments and records up to ``max_size``).

    Optional filters, all of which must hold: ``versions`` (any offered, from supported_versions or the
    legacy version), ``server_names`` (glob patterns against SNI, case-insensitive), ``alpn`` (any offered).
    The winning probe keeps the parsed hello, so SNI and ALPN are known before any TLS termination.
    """

    versions: frozenset[int] = frozenset()
    server_names: tuple[str, ...] = ()
    alpn: frozenset[str] = frozenset()
    max_size: int = 65_536

    def probe(self) -> Probe:
        return _TLSProbe(self)

    def accepts(self, hello: ClientHello) -> bool:
        if self.versions:
            offered = set(hello.supported_versions) or {hello.legacy_version}
            if not offered & self.versions:
                return False
        if self.server_names:
            sni = hello.server_name
            if sni is None or not any(fnmatch.fnmatchcase(sni, p.lower()) for p in self.server_names):
                return False
        return not self.alpn or bool(self.alpn.intersection(hello.alpn_protocols))


TLS_VERSIONS = {"1.0": 0x0301, "1.1": 0x0302, "1.2": 0x0303, "1.3": 0x0304}


def tls(
    *,
    versions: Iterable[str] = (),
    server_names: Iterable[str] = (),
    alpn: Iterable[str] = (),
    max_size: int = 65_536,
) -> Matcher:
    """E.g. ``tls()``, ``tls(server_names=["*.example.com"], alpn=["h2"])``, ``tls(versions=["1.3"])``."""
    try:
        codes = frozenset(TLS_VERSIONS[v] for v in versions)
    except KeyError as e:
        raise ValueError(f"unknown TLS version {e.args[0]!r}; use one of {sorted(TLS_VERSIONS)}") from None
    return TLS(codes, tuple(server_names), frozenset(alpn), max_size)


@dataclass(frozen=True, slots=True)
class _ProxyProtocol(StatelessMatcher):
    """Matches a connection that starts with a complete, valid PROXY protocol v1 or v2 header."""

    def feed(self, seen: bytes) -> Verdict:
        status, _ = parse_proxy_header(seen)
        if status is ProxyStatus.COMPLETE:
            return MATCH
        return MORE if status is ProxyStatus.MORE else NO


def proxy_protocol() -> Matcher:
    return _ProxyProtocol()


@dataclass(frozen=True, slots=True)
class _Custom(StatelessMatcher):
    decide: Callable[[bytes], Verdict]
    name: str = field(default="custom")

    def feed(self, seen: bytes) -> Verdict:
        try:
            return self.decide(seen)
        except Exception:
            return NO


def custom(decide: Callable[[bytes], Verdict], name: str = "custom") -> Matcher:
    """A user matcher from a function of the bytes seen so far; it must be monotone. Raising counts as NO."""
    return _Custom(decide, name)
