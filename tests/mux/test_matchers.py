"""Tests for mux.matchers, h11's ``tr()`` way: every sample whole, byte by byte and with trailing bytes.

Samples are real first bytes (curl, aiohttp, etcdctl 3.4, grpcio, TLS ClientHellos; see
``tests/mux/samples.py``) and hand-built ones. Each expectation names the exact byte count at which the
verdict is decided: MORE before it, the final verdict from there on and whatever follows.
"""

from __future__ import annotations

import ast
import struct
from collections.abc import Callable
from pathlib import Path

import hpack
import pytest
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH

from mux.h2 import EMPTY_SETTINGS
from mux.matchers import (
    MATCH,
    MORE,
    NO,
    Matcher,
    Verdict,
    any_,
    custom,
    grpc,
    http1,
    http1_header,
    http2,
    http2_header,
    prefix,
    proxy_protocol,
    tls,
)
from tests.mux import samples as s

TRAILING = (
    b"\x00",
    b"\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
    s.PREFACE,
    s.SETTINGS_ACK,
    bytes(range(256)),
)


def tr(matcher: Matcher, data: bytes, expected: Verdict, decided_at: int) -> None:
    """Feeds ``data`` whole, as every growing prefix (one byte more each time), and with trailing bytes.

    ``decided_at`` is the number of bytes after which the verdict is ``expected``; before it, MORE.
    When ``expected`` is MORE the sample never decides and ``decided_at`` must be ``len(data) + 1``.
    """
    assert 0 <= decided_at <= len(data) + 1
    assert (expected is MORE) == (decided_at == len(data) + 1)
    assert matcher.probe().feed(data) is expected, "whole"
    probe = matcher.probe()
    for i in range(len(data) + 1):
        want = MORE if i < decided_at else expected
        assert probe.feed(data[:i]) is want, f"after {i} bytes"
    if expected is MORE:
        return
    for tail in TRAILING:
        assert matcher.probe().feed(data + tail) is expected, f"with trailing {tail[:16]!r}"
        assert probe.feed(data + tail) is expected, f"fed on with trailing {tail[:16]!r}"


def outputs(matcher: Matcher, data: bytes) -> dict[int, bytes]:
    """What the probe asks the mux to write, by the number of bytes fed, feeding one byte more each time."""
    probe = matcher.probe()
    out = {}
    for i in range(len(data) + 1):
        probe.feed(data[:i])
        if written := probe.take_output():
            out[i] = written
    return out


def line_end(data: bytes, line_start: bytes) -> int:
    """Bytes up to and including the end of the first line that starts with ``line_start``."""
    start = data.index(line_start)
    return data.index(b"\n", start) + 1


REQUEST_LINE_END = {  # the byte that completes the request line decides http1()
    "curl": (s.CURL_HTTP1, line_end(s.CURL_HTTP1, b"GET")),
    "aiohttp websocket": (s.AIOHTTP_WEBSOCKET, line_end(s.AIOHTTP_WEBSOCKET, b"GET")),
    "PATCH": (s.PATCH_REQUEST, line_end(s.PATCH_REQUEST, b"PATCH")),
    "HTTP/1.0": (s.HTTP10_REQUEST, len(b"GET / HTTP/1.0\r\n")),
    "bare LF": (s.BARE_LF_REQUEST, len(b"GET /version HTTP/1.1\n")),
    "h2c upgrade": (s.H2C_UPGRADE_REQUEST, len(b"GET / HTTP/1.1\r\n")),
    "32-byte method": (b"A" * 32 + b" / HTTP/1.1\r\n\r\n", 32 + len(b" / HTTP/1.1\r\n")),
    "absolute target": (b"GET http://x/y?z=1 HTTP/1.1\r\n", len(b"GET http://x/y?z=1 HTTP/1.1\r\n")),
    "8192-byte target": (b"GET /" + b"a" * 8191 + b" HTTP/1.1\r\n", 4 + 8192 + len(b" HTTP/1.1\r\n")),
    **{f"extension {r.split()[0].decode()}": (r, r.index(b"\n") + 1) for r in s.EXTENSION_REQUESTS},
}


@pytest.mark.parametrize("name", list(REQUEST_LINE_END))
def test_http1_matches_at_the_end_of_the_request_line(name: str) -> None:
    data, decided_at = REQUEST_LINE_END[name]
    tr(http1(), data, MATCH, decided_at)


HTTP1_REFUSED = {  # the first byte that cannot continue a request line decides NO
    "h2 preface": (s.PREFACE, len(b"PRI * HTTP/2")),
    "curl h2c": (s.CURL_H2C, len(b"PRI * HTTP/2")),
    "etcdctl": (s.ETCDCTL_GET, len(b"PRI * HTTP/2")),
    **{f"TLS {name}": (hello, 1) for name, hello in s.TLS_HELLOS.items()},
    "PROXY v1": (s.PROXY_V1, len(b"PROXY TCP4 1")),
    "PROXY v2": (s.PROXY_V2, 1),
    "HTTP/2.0 version": (b"GET / HTTP/2.0\r\n\r\n", len(b"GET / HTTP/2")),
    "HTTP/1.2 version": (b"GET / HTTP/1.2\r\n\r\n", len(b"GET / HTTP/1.2")),
    "lower-case version": (b"get / http/1.1\r\n\r\n", len(b"get / h")),
    "two spaces": (b"GET  / HTTP/1.1\r\n", len(b"GET  ")),
    "space after version": (b"GET / HTTP/1.1 \r\n", len(b"GET / HTTP/1.1 ")),
    "CR CR": (b"GET / HTTP/1.1\r\r\n", len(b"GET / HTTP/1.1\r\r")),
    "NUL in target": (b"GET /\x00 HTTP/1.1\r\n", len(b"GET /\x00")),
    "DEL in target": (b"GET /\x7f HTTP/1.1\r\n", len(b"GET /\x7f")),
    "leading CRLF": (b"\r\nGET / HTTP/1.1\r\n", 1),
    "33-byte method": (b"A" * 33 + b" / HTTP/1.1\r\n", 33),
    "8193-byte target": (b"GET /" + b"a" * 8192 + b" HTTP/1.1\r\n", 4 + 8193),
    "no target": (b"GET HTTP/1.1\r\n", len(b"GET HTTP/1.1\r")),
    "separator in method": (b"GE(T / HTTP/1.1\r\n", len(b"GE(")),
}


@pytest.mark.parametrize("name", list(HTTP1_REFUSED))
def test_http1_refuses_at_the_first_impossible_byte(name: str) -> None:
    data, decided_at = HTTP1_REFUSED[name]
    tr(http1(), data, NO, decided_at)


WEBSOCKET = s.AIOHTTP_WEBSOCKET
HEADER_CASES: dict[str, tuple[Matcher, bytes, Verdict, int]] = {
    "websocket upgrade": (
        http1_header("Upgrade", "websocket"),
        WEBSOCKET,
        MATCH,
        line_end(WEBSOCKET, b"Upgrade:"),
    ),
    "name case-insensitive": (
        http1_header("UPGRADE", "websocket"),
        WEBSOCKET,
        MATCH,
        line_end(WEBSOCKET, b"Upgrade:"),
    ),
    "value exact case": (
        http1_header("Upgrade", "WebSocket"),
        WEBSOCKET,
        NO,
        line_end(WEBSOCKET, b"Upgrade:"),
    ),
    "value ignore_case": (
        http1_header("Upgrade", "WebSocket", ignore_case=True),
        WEBSOCKET,
        MATCH,
        line_end(WEBSOCKET, b"Upgrade:"),
    ),
    "connection upgrade": (
        http1_header("connection", "UPGRADE", ignore_case=True),
        WEBSOCKET,
        MATCH,
        line_end(WEBSOCKET, b"Connection:"),
    ),
    "websocket version": (
        http1_header("Sec-WebSocket-Version", "13"),
        WEBSOCKET,
        MATCH,
        line_end(WEBSOCKET, b"Sec-WebSocket-Version"),
    ),
    "curl has no Upgrade": (http1_header("Upgrade", "websocket"), s.CURL_HTTP1, NO, len(s.CURL_HTTP1)),
    "user-agent prefix": (
        http1_header("User-Agent", "curl/", prefix=True),
        s.CURL_HTTP1,
        MATCH,
        line_end(s.CURL_HTTP1, b"User-Agent"),
    ),
    "user-agent exact": (
        http1_header("User-Agent", "curl/"),
        s.CURL_HTTP1,
        NO,
        line_end(s.CURL_HTTP1, b"User-Agent"),
    ),
    "h2c upgrade is not websocket": (
        http1_header("Upgrade", "websocket"),
        s.H2C_UPGRADE_REQUEST,
        NO,
        line_end(s.H2C_UPGRADE_REQUEST, b"Upgrade:"),
    ),
    "h2c upgrade": (
        http1_header("Upgrade", "h2c"),
        s.H2C_UPGRADE_REQUEST,
        MATCH,
        line_end(s.H2C_UPGRADE_REQUEST, b"Upgrade:"),
    ),
    "bare LF": (http1_header("Host", "x"), s.BARE_LF_REQUEST, MATCH, line_end(s.BARE_LF_REQUEST, b"Host")),
    "first field decides": (
        http1_header("Upgrade", "websocket"),
        b"GET / HTTP/1.1\r\nUpgrade: h2c\r\nUpgrade: websocket\r\n\r\n",
        NO,
        len(b"GET / HTTP/1.1\r\nUpgrade: h2c\r\n"),
    ),
    "optional whitespace": (
        http1_header("Upgrade", "websocket"),
        b"GET / HTTP/1.1\r\nUpgrade: \t websocket \t\r\n\r\n",
        MATCH,
        len(b"GET / HTTP/1.1\r\nUpgrade: \t websocket \t\r\n"),
    ),
    "line without colon": (
        http1_header("Upgrade", "websocket"),
        b"GET / HTTP/1.1\r\nbogus\r\nUpgrade: websocket\r\n\r\n",
        NO,
        len(b"GET / HTTP/1.1\r\nbogus\r\n"),
    ),
    "no header section": (http1_header("Upgrade", "websocket"), s.HTTP10_REQUEST, NO, len(s.HTTP10_REQUEST)),
    "h2 preface": (http1_header("Upgrade", "websocket"), s.CURL_H2C, NO, len(b"PRI * HTTP/2")),
    "TLS hello": (http1_header("Upgrade", "websocket"), s.TLS_HELLOS["curl_sni"], NO, 1),
}


@pytest.mark.parametrize("name", list(HEADER_CASES))
def test_http1_header(name: str) -> None:
    matcher, data, expected, decided_at = HEADER_CASES[name]
    tr(matcher, data, expected, decided_at)


@pytest.mark.parametrize(
    ("data", "expected", "decided_at"),
    [
        (s.PREFACE, MATCH, 24),
        (s.CURL_H2C, MATCH, 24),
        (s.ETCDCTL_GET, MATCH, 24),
        (s.GRPCIO_UNARY, MATCH, 24),
        (s.CURL_HTTP1, NO, 1),
        (s.PATCH_REQUEST, NO, 2),
        (s.PROXY_V1, NO, 3),
        (b"PRI * HTTP/1.1\r\n\r\n", NO, len(b"PRI * HTTP/1")),
        (s.TLS_HELLOS["grpcio"], NO, 1),
    ],
)
def test_http2_preface(data: bytes, expected: Verdict, decided_at: int) -> None:
    tr(http2(), data, expected, decided_at)


def settings_end(data: bytes) -> int:
    return s.first(data, s.SETTINGS, 0).end


def headers_end(data: bytes) -> int:
    return s.first(data, s.HEADERS).end


GRPC_CLIENTS = {
    "etcdctl 3.4 (grpc-go)": s.ETCDCTL_GET,
    "grpcio aio": s.GRPCIO_UNARY,
    "grpc-go style, Huffman": s.GRPC_GO_HUFFMAN,
}


@pytest.mark.parametrize("name", list(GRPC_CLIENTS))
def test_grpc_matches_real_clients_after_the_first_headers(name: str) -> None:
    data = GRPC_CLIENTS[name]
    tr(grpc(), data, MATCH, headers_end(data))


@pytest.mark.parametrize("name", list(GRPC_CLIENTS))
def test_grpc_answers_client_settings_once_with_empty_settings(name: str) -> None:
    data = GRPC_CLIENTS[name]
    assert outputs(grpc(), data) == {settings_end(data): EMPTY_SETTINGS}


def test_grpc_whole_connection_decides_without_writing() -> None:
    probe = grpc().probe()
    assert probe.feed(s.ETCDCTL_GET) is MATCH
    assert probe.take_output() == b""


def test_grpcio_waiting_for_server_settings() -> None:
    # grpcio sends no HEADERS until it has the server's SETTINGS (mux-notes §6.3): the probe must answer.
    tr(grpc(), s.GRPCIO_SILENT, MORE, len(s.GRPCIO_SILENT) + 1)
    assert outputs(grpc(), s.GRPCIO_SILENT) == {settings_end(s.GRPCIO_SILENT): EMPTY_SETTINGS}
    probe = grpc().probe()
    assert probe.feed(s.GRPCIO_SILENT) is MORE
    assert probe.take_output() == EMPTY_SETTINGS
    assert probe.take_output() == b""
    assert probe.feed(s.GRPCIO_SILENT) is MORE
    assert probe.take_output() == b"", "SETTINGS is sent once per connection"


def test_grpc_without_send_settings_never_writes() -> None:
    for data in (*GRPC_CLIENTS.values(), s.GRPCIO_SILENT, s.CURL_H2C):
        assert outputs(grpc(send_settings=False), data) == {}
    tr(grpc(send_settings=False), s.ETCDCTL_GET, MATCH, headers_end(s.ETCDCTL_GET))


def test_grpc_refuses_curl_h2c_after_its_headers() -> None:
    tr(grpc(), s.CURL_H2C, NO, headers_end(s.CURL_H2C))
    # Fed a byte at a time, the SETTINGS comes before the decision; curl's capture ends with its ACK.
    assert outputs(grpc(), s.CURL_H2C) == {settings_end(s.CURL_H2C): EMPTY_SETTINGS}


@pytest.mark.parametrize(
    ("data", "decided_at"),
    [(s.CURL_HTTP1, 1), (s.PATCH_REQUEST, 2), (s.TLS_HELLOS["grpcio"], 1), (s.PROXY_V2, 1)],
)
def test_grpc_refuses_other_protocols_at_once(data: bytes, decided_at: int) -> None:
    tr(grpc(), data, NO, decided_at)
    assert outputs(grpc(), data) == {}


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/grpc", MATCH),
        ("application/grpc+proto", MATCH),
        ("application/grpc+json", MATCH),
        ("application/grpc-web", NO),
        ("application/grpc-web+proto", NO),
        ("application/grpc-web-text", NO),
        ("application/grpcx", NO),
        ("application/json", NO),
        ("", NO),
    ],
)
@pytest.mark.parametrize("huffman", [True, False])
def test_grpc_content_types(content_type: str, expected: Verdict, huffman: bool) -> None:
    data = s.grpc_request(content_type, huffman=huffman)
    tr(grpc(), data, expected, headers_end(data))


def test_http2_header_exact_and_prefix() -> None:
    web = s.grpc_request("application/grpc-web")
    proto = s.grpc_request("application/grpc+proto")
    exact = http2_header("content-type", "application/grpc")
    starts = http2_header("content-type", "application/grpc", prefix=True)
    tr(exact, web, NO, headers_end(web))
    tr(starts, web, MATCH, headers_end(web))  # prefix=True is cmux's semantics: grpc-web matches too
    tr(exact, proto, NO, headers_end(proto))
    tr(starts, proto, MATCH, headers_end(proto))
    tr(exact, s.ETCDCTL_GET, MATCH, headers_end(s.ETCDCTL_GET))
    tr(http2_header("Content-Type", "application/grpc"), s.ETCDCTL_GET, MATCH, headers_end(s.ETCDCTL_GET))


@pytest.mark.parametrize(
    ("matcher", "data", "expected"),
    [
        (http2_header(":path", "/etcdserverpb.KV/", prefix=True), s.ETCDCTL_GET, MATCH),
        (http2_header(":path", "/etcdserverpb.KV/", prefix=True), s.GRPCIO_UNARY, MATCH),
        (http2_header(":path", "/etcdserverpb.KV/Range"), s.GRPC_GO_HUFFMAN, MATCH),
        (http2_header(":path", "/etcdserverpb.KV/", prefix=True), s.CURL_H2C, NO),
        (http2_header(":path", "/health"), s.CURL_H2C, MATCH),
        (http2_header(":method", "GET"), s.CURL_H2C, MATCH),  # static table entry 2, indexed
        (http2_header(":method", "POST"), s.ETCDCTL_GET, MATCH),  # static table entry 3, indexed
        (http2_header("user-agent", "curl/", prefix=True), s.CURL_H2C, MATCH),
        (http2_header("user-agent", "grpc-go/", prefix=True), s.ETCDCTL_GET, MATCH),
        (http2_header("user-agent", "grpc-python-asyncio/", prefix=True), s.GRPCIO_UNARY, MATCH),
        (http2_header("client-api-version", "3.4"), s.ETCDCTL_GET, MATCH),  # a Huffman-coded new name
        (http2_header("client-api-version", "3.5"), s.ETCDCTL_GET, NO),
        (http2_header("x-missing", "a"), s.ETCDCTL_GET, NO),
        (http2_header("te", "trailers"), s.GRPCIO_UNARY, MATCH),
    ],
)
def test_http2_header_fields_of_real_clients(matcher: Matcher, data: bytes, expected: Verdict) -> None:
    tr(matcher, data, expected, headers_end(data))


# --- header block shapes: CONTINUATION, PADDED, PRIORITY, HPACK representations ----------------------

GRPC_BLOCK = s.GRPC_GO_HUFFMAN_BLOCK
SETTINGS0 = s.h2_frame(s.SETTINGS, 0, 0)


def test_continuation_split_at_every_offset() -> None:
    for cut in range(len(GRPC_BLOCK) + 1):
        data = (
            s.PREFACE
            + SETTINGS0
            + s.h2_frame(s.HEADERS, 0, 1, GRPC_BLOCK[:cut])
            + s.h2_frame(s.CONTINUATION, s.END_HEADERS, 1, GRPC_BLOCK[cut:])
        )
        assert grpc().probe().feed(data) is MATCH, cut
    tr(grpc(), data, MATCH, len(data))


def test_several_continuations() -> None:
    a, b, c = GRPC_BLOCK[:10], GRPC_BLOCK[10:11], GRPC_BLOCK[11:]
    data = (
        s.PREFACE
        + SETTINGS0
        + s.h2_frame(s.HEADERS, 0, 1, a)
        + s.h2_frame(s.CONTINUATION, 0, 1, b)
        + s.h2_frame(s.CONTINUATION, 0, 1, b"")
        + s.h2_frame(s.CONTINUATION, s.END_HEADERS, 1, c)
    )
    tr(grpc(), data, MATCH, len(data))


@pytest.mark.parametrize(
    "interloper",
    [
        s.h2_frame(s.CONTINUATION, s.END_HEADERS, 3, GRPC_BLOCK[10:]),  # another stream
        s.h2_frame(s.DATA_FRAME, 0, 1, b"x"),
        s.h2_frame(s.PING, 0, 0, bytes(8)),
        s.SETTINGS_ACK,
        s.h2_frame(s.HEADERS, s.END_HEADERS, 3, GRPC_BLOCK),
        s.h2_frame(0xFA, 0, 1, b"ext"),  # not even an extension frame (RFC 9113 §6.10)
    ],
)
def test_only_continuation_of_the_same_stream_may_follow_headers(interloper: bytes) -> None:
    data = s.PREFACE + SETTINGS0 + s.h2_frame(s.HEADERS, 0, 1, GRPC_BLOCK[:10]) + interloper
    tr(grpc(), data, NO, len(data))


def padded(block: bytes, pad: int) -> bytes:
    return bytes([pad]) + block + bytes(pad)


PRIORITY_FIELDS = struct.pack(">IB", 0x8000_0003, 200)  # exclusive, depends on stream 3, weight 201


@pytest.mark.parametrize(
    ("flags", "payload"),
    [
        (s.PADDED, padded(GRPC_BLOCK, 0)),
        (s.PADDED, padded(GRPC_BLOCK, 1)),
        (s.PADDED, padded(GRPC_BLOCK, 255)),
        (s.PRIORITY_FLAG, PRIORITY_FIELDS + GRPC_BLOCK),
        (s.PADDED | s.PRIORITY_FLAG, bytes([7]) + PRIORITY_FIELDS + GRPC_BLOCK + bytes(7)),
        (s.PADDED | s.PRIORITY_FLAG | s.END_STREAM, bytes([3]) + PRIORITY_FIELDS + GRPC_BLOCK + b"pad"),
    ],
)
def test_padded_and_priority_headers(flags: int, payload: bytes) -> None:
    data = s.PREFACE + SETTINGS0 + s.h2_frame(s.HEADERS, flags | s.END_HEADERS, 1, payload)
    tr(grpc(), data, MATCH, len(data))


def test_padded_headers_with_continuation() -> None:
    data = (
        s.PREFACE
        + SETTINGS0
        + s.h2_frame(
            s.HEADERS,
            s.PADDED | s.PRIORITY_FLAG,
            1,
            bytes([4]) + PRIORITY_FIELDS + GRPC_BLOCK[:20] + bytes(4),
        )
        + s.h2_frame(s.CONTINUATION, s.END_HEADERS, 1, GRPC_BLOCK[20:])
    )
    tr(grpc(), data, MATCH, len(data))


@pytest.mark.parametrize(
    ("flags", "payload"),
    [
        (s.PADDED, bytes([len(GRPC_BLOCK) + 1]) + GRPC_BLOCK),  # padding longer than what is left
        (s.PADDED, b""),  # no room for the pad length
        (s.PRIORITY_FLAG, b"\x00\x00"),  # no room for the priority fields
    ],
)
def test_malformed_padding_and_priority(flags: int, payload: bytes) -> None:
    data = s.PREFACE + SETTINGS0 + s.h2_frame(s.HEADERS, flags | s.END_HEADERS, 1, payload)
    tr(grpc(), data, NO, len(data))


@pytest.mark.parametrize(
    "before",
    [
        s.h2_frame(s.PRIORITY, 0, 1, PRIORITY_FIELDS),
        s.h2_frame(s.PRIORITY, 0, 5, PRIORITY_FIELDS),
        s.WINDOW_UPDATE_CONN,
        s.h2_frame(s.PING, 0, 0, bytes(8)),
        s.SETTINGS_ACK,
        s.CLIENT_SETTINGS,
    ],
)
def test_frames_allowed_before_the_first_headers(before: bytes) -> None:
    data = s.PREFACE + SETTINGS0 + before + s.h2_frame(s.HEADERS, s.END_HEADERS, 1, GRPC_BLOCK)
    tr(grpc(), data, MATCH, len(data))


@pytest.mark.parametrize(
    ("frame", "decided_by_header"),
    [
        (s.h2_frame(s.DATA_FRAME, 0, 1, b"x"), False),
        (s.h2_frame(s.HEADERS, s.END_HEADERS, 0, GRPC_BLOCK), False),  # stream 0
        (s.h2_frame(s.HEADERS, s.END_HEADERS, 2, GRPC_BLOCK), False),  # server-initiated stream id
        (s.h2_frame(s.SETTINGS, 0, 1), False),  # SETTINGS on a stream
        (s.h2_frame(s.PUSH_PROMISE, s.END_HEADERS, 1, bytes(4) + GRPC_BLOCK), False),
        (s.h2_frame(s.GOAWAY, 0, 0, bytes(8)), False),
        (s.h2_frame(s.RST_STREAM, 0, 1, bytes(4)), False),
        (s.h2_frame(s.HEADERS, s.END_HEADERS, 1, bytes(16_385)), True),  # above the default max frame size
    ],
)
def test_frames_refused_before_the_first_headers(frame: bytes, decided_by_header: bool) -> None:
    data = s.PREFACE + SETTINGS0 + frame
    decided_at = len(s.PREFACE + SETTINGS0) + 9 if decided_by_header else len(data)
    tr(grpc(), data, NO, decided_at)


@pytest.mark.parametrize("frame_type", [0x0A, 0x0C, 0x10, 0xFA, 0xFF])
def test_unknown_frame_types_are_ignored_before_headers(frame_type: int) -> None:
    # RFC 9113 §4.1, §5.5: frames of unknown type are ignored (ALTSVC 0xa and ORIGIN 0xc included).
    extension = s.h2_frame(frame_type, 0xFF, 0, b"ext")
    data = s.PREFACE + SETTINGS0 + extension + s.h2_frame(s.HEADERS, s.END_HEADERS, 1, GRPC_BLOCK)
    tr(grpc(), data, MATCH, len(data))


def hpack_int(value: int, prefix_bits: int, first: int) -> bytes:
    """RFC 7541 §5.1 integer with ``first``'s high bits set on the first byte."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


HUFFMAN = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)


def string(text: bytes, *, huffman: bool = False) -> bytes:
    if huffman:
        coded = HUFFMAN.encode(text)
        return hpack_int(len(coded), 7, 0x80) + coded
    return hpack_int(len(text), 7, 0x00) + text


def indexed(index: int) -> bytes:
    return hpack_int(index, 7, 0x80)


def incremental(name: bytes | int, value: bytes, *, huffman: bool = False) -> bytes:
    """Literal with incremental indexing (RFC 7541 §6.2.1), new name or indexed name."""
    if isinstance(name, int):
        return hpack_int(name, 6, 0x40) + string(value, huffman=huffman)
    return b"\x40" + string(name, huffman=huffman) + string(value, huffman=huffman)


def size_update(size: int) -> bytes:
    return hpack_int(size, 5, 0x20)


CONTENT_TYPE = 31  # static table index of content-type
GRPC_FIELD = incremental(CONTENT_TYPE, b"application/grpc")
HPACK_BLOCKS = {
    # x-a:1 then x-b:2 are dynamic entries 63 and 62; references to both, then a name reference to 63.
    "references to entries inserted in the block": (
        incremental(b"x-a", b"1")
        + incremental(b"x-b", b"2")
        + indexed(63)
        + indexed(62)
        + incremental(63, b"3")
        + indexed(64)
        + GRPC_FIELD,
        MATCH,
    ),
    "reference past the dynamic table": (
        incremental(b"x-a", b"1") + incremental(b"x-b", b"2") + indexed(64),
        NO,
    ),
    "index 0": (indexed(0) + GRPC_FIELD, NO),
    "eviction after a size update": (
        size_update(64) + incremental(b"x-a", b"1") + incremental(b"x-b", b"2") + indexed(62) + GRPC_FIELD,
        MATCH,
    ),
    "evicted entry": (
        size_update(64) + incremental(b"x-a", b"1") + incremental(b"x-b", b"2") + indexed(63) + GRPC_FIELD,
        NO,
    ),
    "size update to zero empties the table": (
        incremental(b"x-a", b"1") + size_update(0) + indexed(62) + GRPC_FIELD,
        NO,
    ),
    "entry larger than the table is not inserted": (
        size_update(40)
        + incremental(b"x-a", b"1")
        + incremental(b"x-big", b"123456789")
        + indexed(62)
        + GRPC_FIELD,
        NO,
    ),
    "size update above the default": (size_update(4097) + GRPC_FIELD, NO),
    "huffman-coded large values evict by their decoded size": (
        incremental(b"x-a", b"x" * 3000, huffman=True)
        + incremental(b"x-b", b"x" * 2000, huffman=True)
        + indexed(62)
        + GRPC_FIELD,
        MATCH,
    ),
    "huffman-coded value evicted by its decoded size": (
        incremental(b"x-a", b"x" * 3000, huffman=True)
        + incremental(b"x-b", b"x" * 2000, huffman=True)
        + indexed(63)
        + GRPC_FIELD,
        NO,
    ),
    "without indexing is not inserted": (
        b"\x00" + string(b"x-a") + string(b"1") + indexed(62) + GRPC_FIELD,
        NO,
    ),
    "never indexed content-type": (
        bytes([0x10 | 15, CONTENT_TYPE - 15]) + string(b"application/grpc"),
        MATCH,
    ),
    "huffman-coded new name": (incremental(b"content-type", b"application/grpc", huffman=True), MATCH),
    "plain new name": (incremental(b"content-type", b"application/grpc"), MATCH),
    "huffman-coded wrong value": (incremental(CONTENT_TYPE, b"application/grpc-web", huffman=True), NO),
    "string past the block": (incremental(CONTENT_TYPE, b"application/grpc")[:-1], NO),
    "empty block": (b"", NO),
}


@pytest.mark.parametrize("name", list(HPACK_BLOCKS))
def test_hpack_representations(name: str) -> None:
    block, expected = HPACK_BLOCKS[name]
    data = s.request(block)
    tr(grpc(), data, expected, len(data))


def test_hpack_library_blocks_with_dynamic_references() -> None:
    # hpack's encoder indexes every literal, so a repeated field becomes a reference to the first.
    headers = [
        ("x-trace", "abc"),
        ("x-trace", "abc"),
        ("x-trace", "def"),
        ("content-type", "application/grpc"),
    ]
    for huffman in (True, False):
        block = s.encode_block(headers, huffman=huffman)
        assert b"\xbe" in block  # the second x-trace is dynamic entry 62
        data = s.request(block)
        tr(grpc(), data, MATCH, len(data))
        tr(http2_header("x-trace", "abc"), data, MATCH, len(data))


def test_never_indexed_fields_from_hpack() -> None:
    headers = [hpack.NeverIndexedHeaderTuple("content-type", "application/grpc")]
    data = s.request(s.encode_block(headers, huffman=True))
    tr(grpc(), data, MATCH, len(data))


@pytest.mark.parametrize(
    "block",
    [
        b"\xff",  # indexed field whose integer is cut short
        b"\x5f\x7f",  # string length whose integer is cut short
        bytes([0x40 | CONTENT_TYPE, 0x81, 0xFF]),  # Huffman value of 8 one bits: an EOS prefix too long
        bytes([0x40 | CONTENT_TYPE, 0x81, 0x00]),  # Huffman value ending in a partial code
        b"\x40\x81\xff\x01x" + GRPC_FIELD,  # Huffman-coded new name that does not decode, to be inserted
    ],
)
def test_malformed_hpack_is_no(block: bytes) -> None:
    data = s.request(block)
    tr(grpc(), data, NO, len(data))


# --- TLS, PROXY protocol, prefix, any, custom ---------------------------------------------------------

TLS_CASES = {
    "any hello": (tls(), ("python_ssl", "grpcio", "curl_ip", "curl_sni"), MATCH),
    "SNI glob": (tls(server_names=["*.example.com"]), ("python_ssl", "grpcio", "curl_sni"), MATCH),
    "SNI glob, upper case pattern": (tls(server_names=["ETCD.Example.COM"]), ("curl_sni",), MATCH),
    "no SNI": (tls(server_names=["*.example.com"]), ("curl_ip",), NO),
    "other SNI": (tls(server_names=["other.example.org"]), ("curl_sni",), NO),
    "ALPN h2": (tls(alpn=["h2"]), ("python_ssl", "grpcio", "curl_ip"), MATCH),
    "ALPN http/1.1 not offered by grpcio": (tls(alpn=["http/1.1"]), ("grpcio",), NO),
    "TLS 1.3": (tls(versions=["1.3"]), ("python_ssl", "grpcio", "curl_sni"), MATCH),
    "TLS 1.0 not offered": (tls(versions=["1.0"]), ("python_ssl", "grpcio"), NO),
    "TLS 1.0 offered by curl": (tls(versions=["1.0"]), ("curl_ip", "curl_sni"), MATCH),
    "all filters": (tls(versions=["1.2", "1.3"], server_names=["etcd.*"], alpn=["h2"]), ("grpcio",), MATCH),
}


@pytest.mark.parametrize("name", list(TLS_CASES))
def test_tls(name: str) -> None:
    matcher, hellos, expected = TLS_CASES[name]
    for hello in hellos:
        data = s.TLS_HELLOS[hello]
        tr(matcher, data, expected, len(data))  # the hello is parsed whole before anything is decided


def test_tls_probe_keeps_the_parsed_hello() -> None:
    probe = tls().probe()
    assert probe.feed(s.TLS_HELLOS["curl_sni"]) is MATCH
    hello = probe.hello  # type: ignore[attr-defined]
    assert hello.server_name == "etcd.example.com"
    assert "http/1.1" in hello.alpn_protocols


@pytest.mark.parametrize("data", [s.CURL_HTTP1, s.PREFACE, s.PROXY_V1, b"\x17\x03\x03"])
def test_tls_refuses_plaintext_at_byte_zero(data: bytes) -> None:
    tr(tls(), data, NO, 1)


def test_tls_hello_above_max_size_is_no() -> None:
    hello = s.TLS_HELLOS["grpcio"]
    assert len(hello) > 1000
    assert tls(max_size=512).probe().feed(hello) is NO
    assert tls(max_size=4096).probe().feed(hello) is MATCH


def test_tls_unknown_version_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown TLS version"):
        tls(versions=["1.4"])


def test_proxy_protocol() -> None:
    tr(proxy_protocol(), s.PROXY_V1, MATCH, s.PROXY_V1_LENGTH)
    tr(proxy_protocol(), s.PROXY_V2, MATCH, s.PROXY_V2_LENGTH)
    tr(proxy_protocol(), s.CURL_HTTP1, NO, 1)
    tr(proxy_protocol(), s.TLS_HELLOS["curl_ip"], NO, 1)
    tr(proxy_protocol(), s.PREFACE, NO, len(b"PR") + 1)
    bad = b"PROXY TCP4 192.0.2.1  192.0.2.2 1 2\r\n"
    assert proxy_protocol().probe().feed(bad) is NO


@pytest.mark.parametrize(
    ("matcher", "data", "expected", "decided_at"),
    [
        (prefix(b"GET ", b"POST "), s.CURL_HTTP1, MATCH, 4),
        (prefix(b"GET ", b"POST "), s.PATCH_REQUEST, NO, 2),  # "P" could still be POST
        (prefix(b"\x16\x03"), s.TLS_HELLOS["grpcio"], MATCH, 2),
        (prefix(b"PRI", b"PRI * HTTP/2.0"), s.PREFACE, MATCH, 3),  # the shorter prefix decides first
        (prefix(s.PREFACE), s.ETCDCTL_GET, MATCH, 24),
        (prefix(b"GET /x"), s.CURL_HTTP1, NO, 6),
    ],
)
def test_prefix(matcher: Matcher, data: bytes, expected: Verdict, decided_at: int) -> None:
    tr(matcher, data, expected, decided_at)


@pytest.mark.parametrize("args", [(), (b"",), (b"GET", b"")])
def test_prefix_needs_non_empty_prefixes(args: tuple[bytes, ...]) -> None:
    with pytest.raises(ValueError):
        prefix(*args)


@pytest.mark.parametrize("data", [b"", s.CURL_HTTP1, s.ETCDCTL_GET, s.TLS_HELLOS["curl_ip"], b"\x00"])
def test_any_matches_before_the_first_byte(data: bytes) -> None:
    tr(any_(), data, MATCH, 0)


def starts_with_x(seen: bytes) -> Verdict:
    if not seen:
        return MORE
    return MATCH if seen[:1] == b"X" else NO


def explodes(seen: bytes) -> Verdict:
    if len(seen) > 2:
        raise RuntimeError("user bug")
    return MORE


@pytest.mark.parametrize(
    ("decide", "data", "expected", "decided_at"),
    [
        (starts_with_x, b"XYZ", MATCH, 1),
        (starts_with_x, s.CURL_HTTP1, NO, 1),
        (explodes, b"abcd", NO, 3),  # raising counts as NO
    ],
)
def test_custom(decide: Callable[[bytes], Verdict], data: bytes, expected: Verdict, decided_at: int) -> None:
    tr(custom(decide), data, expected, decided_at)


def test_stateless_matchers_need_no_output() -> None:
    for matcher in (any_(), prefix(b"x"), http1(), http1_header("a", "b"), http2(), proxy_protocol(), tls()):
        probe = matcher.probe()
        probe.feed(s.GRPCIO_SILENT)
        assert probe.take_output() == b""


def test_verdict_values() -> None:
    assert [v.value for v in Verdict] == ["match", "no", "more"]
    assert (MATCH, NO, MORE) == (Verdict.MATCH, Verdict.NO, Verdict.MORE)


IO_MODULES = {"asyncio", "socket", "ssl", "selectors", "threading", "subprocess", "uvloop", "time", "os"}


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            if node.module == "mux":
                names.update(f"mux.{alias.name}" for alias in node.names)
    return names


def test_sans_io_modules_import_no_io() -> None:
    # STYLE §2.8: matchers.py and what it builds on stay pure; the runtime lives in mux.py.
    root = Path(__file__).resolve().parents[2] / "mux"
    todo, seen = ["mux.matchers"], set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = root / f"{module.split('.', 1)[1]}.py"
        for name in imports_of(path):
            assert name.split(".")[0] not in IO_MODULES, f"{module} imports {name}"
            if name.startswith("mux.") and (root / f"{name.split('.', 1)[1]}.py").exists():
                todo.append(name)
    assert {"mux.matchers", "mux.h2", "mux.tls_hello", "mux.proxy_protocol"} <= seen
