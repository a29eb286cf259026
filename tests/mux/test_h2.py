"""Tests for mux.h2: constants and frame(), HeaderScanner, SettingsAckStripper and Http1Required.

Expected bytes are built with the tests' own framing (``tests/mux/samples.py``) and checked against
captured clients; stream transformers are fed every split of every sample into two and three pieces.
"""

from __future__ import annotations

import hpack
import pytest

from mux import h2
from tests.mux import samples as s

H2_CLIENTS = {
    "etcdctl 3.4": s.ETCDCTL_GET,
    "grpcio aio": s.GRPCIO_UNARY,
    "grpc-go style, Huffman": s.GRPC_GO_HUFFMAN,
    "curl h2c": s.CURL_H2C,
}


def splits(data: bytes, *, pieces: int) -> list[list[bytes]]:
    """Every way to cut ``data`` into ``pieces`` consecutive (possibly empty) chunks; pieces is 1..3."""
    n = len(data)
    if pieces == 1:
        return [[data]]
    if pieces == 2:
        return [[data[:i], data[i:]] for i in range(n + 1)]
    return [[data[:i], data[i:j], data[j:]] for i in range(n + 1) for j in range(i, n + 1)]


# --- constants and frame() ----------------------------------------------------------------------------


def test_preface_and_empty_settings() -> None:
    assert h2.PREFACE == b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # RFC 9113 §3.4
    assert len(h2.PREFACE) == 24
    assert h2.EMPTY_SETTINGS == s.h2_frame(s.SETTINGS, 0, 0) == bytes(3) + b"\x04" + bytes(5)
    for data in H2_CLIENTS.values():
        assert data.startswith(h2.PREFACE)


@pytest.mark.parametrize(
    ("frame_type", "flags", "stream_id", "payload"),
    [
        (s.SETTINGS, s.ACK, 0, b""),
        (s.HEADERS, s.END_HEADERS | s.PADDED, 1, b"abc"),
        (s.RST_STREAM, 0, 0x7FFF_FFFF, b"\x00\x00\x00\x0d"),
        (s.DATA_FRAME, s.END_STREAM, 3, bytes(16_384)),
        (s.WINDOW_UPDATE, 0, 0, b"\x00\x0f\x00\x01"),
        (0xFF, 0xFF, 0x1234_5678, b"x" * 300),
    ],
)
def test_frame_encodes_header_and_payload(
    frame_type: int, flags: int, stream_id: int, payload: bytes
) -> None:
    assert h2.frame(frame_type, flags, stream_id, payload) == s.h2_frame(
        frame_type, flags, stream_id, payload
    )


@pytest.mark.parametrize("name", list(H2_CLIENTS))
def test_frame_reproduces_captured_frames(name: str) -> None:
    data = H2_CLIENTS[name]
    frames = s.frames_of(data)
    assert frames and frames[-1].end == len(data), "the capture holds whole frames only"
    for f in frames:
        payload = data[f.offset + 9 : f.end]
        assert h2.frame(f.type, f.flags, f.stream_id, payload) == data[f.offset : f.end]


# --- HeaderScanner --------------------------------------------------------------------------------------


def first_block_fields(data: bytes) -> list[tuple[bytes, bytes]]:
    """The oracle: the first header block decoded by the hpack library (no padding in these captures)."""
    f = s.first(data, s.HEADERS)
    assert f.flags & s.END_HEADERS and not f.flags & (s.PADDED | s.PRIORITY_FLAG)
    return [(bytes(k), bytes(v)) for k, v in hpack.Decoder().decode(data[f.offset + 9 : f.end], raw=True)]


@pytest.mark.parametrize("name", list(H2_CLIENTS))
def test_scanner_finds_every_field_of_real_clients(name: str) -> None:
    data = H2_CLIENTS[name]
    fields = first_block_fields(data)
    assert len(fields) >= 6
    for field_name in {k for k, _ in fields}:
        scanner = h2.HeaderScanner(field_name)
        assert scanner.scan(data) is h2.ScanResult.FOUND
        assert scanner.value == next(v for k, v in fields if k == field_name)


def test_scanner_values_of_real_clients() -> None:
    for data in (s.ETCDCTL_GET, s.GRPCIO_UNARY, s.GRPC_GO_HUFFMAN):
        scanner = h2.HeaderScanner(b"content-type")
        assert scanner.scan(data) is h2.ScanResult.FOUND
        assert scanner.value == b"application/grpc"
    scanner = h2.HeaderScanner(b"Content-Type")  # names compare in lower case, as HTTP/2 sends them
    assert scanner.scan(s.ETCDCTL_GET) is h2.ScanResult.FOUND
    scanner = h2.HeaderScanner(b":path")
    assert scanner.scan(s.CURL_H2C) is h2.ScanResult.FOUND
    assert scanner.value == b"/health"


@pytest.mark.parametrize("name", list(H2_CLIENTS))
def test_scanner_byte_by_byte(name: str) -> None:
    data = H2_CLIENTS[name]
    settings_end = s.first(data, s.SETTINGS, 0).end
    headers_end = s.first(data, s.HEADERS).end
    final = h2.ScanResult.ABSENT if data is s.CURL_H2C else h2.ScanResult.FOUND
    scanner = h2.HeaderScanner(b"content-type")
    for i in range(len(data) + 1):
        result = scanner.scan(data[:i])
        assert result is (h2.ScanResult.MORE if i < headers_end else final), i
        assert scanner.saw_client_settings is (i >= settings_end), i
    assert scanner.scan(data + b"\xff" * 64) is final


def test_scanner_settings_ack_is_not_client_settings() -> None:
    scanner = h2.HeaderScanner(b"content-type")
    assert scanner.scan(h2.PREFACE + s.SETTINGS_ACK + s.WINDOW_UPDATE_CONN) is h2.ScanResult.MORE
    assert not scanner.saw_client_settings
    assert (
        scanner.scan(h2.PREFACE + s.SETTINGS_ACK + s.WINDOW_UPDATE_CONN + s.CLIENT_SETTINGS)
        is h2.ScanResult.MORE
    )
    assert scanner.saw_client_settings


@pytest.mark.parametrize(
    "data",
    [
        s.CURL_HTTP1,
        s.TLS_HELLOS["grpcio"],
        b"PRI * HTTP/1.1\r\n",
        h2.PREFACE + s.h2_frame(s.DATA_FRAME, 0, 1, b"x"),
    ],
)
def test_scanner_invalid_is_final(data: bytes) -> None:
    scanner = h2.HeaderScanner(b"content-type")
    assert scanner.scan(data) is h2.ScanResult.INVALID
    assert scanner.scan(data + s.ETCDCTL_GET) is h2.ScanResult.INVALID
    assert scanner.value is None


# --- SettingsAckStripper ---------------------------------------------------------------------------------


def without_first_ack(data: bytes) -> bytes:
    """The oracle: ``data`` minus its first zero-length SETTINGS ACK frame, found by walking the frames."""
    if not data.startswith(s.PREFACE):
        return data
    for f in s.frames_of(data):
        if f.type == s.SETTINGS and f.flags & s.ACK and f.length == 0:
            return data[: f.offset] + data[f.end :]
    return data


DATA_WITH_ACK_BYTES = s.h2_frame(s.DATA_FRAME, 0, 1, b"\x00\x00\x00\x00\x09" + s.SETTINGS_ACK)
STRIPPER_SAMPLES = {
    **H2_CLIENTS,  # curl's ACK comes after its HEADERS, etcdctl's and grpcio's before
    "ACK bytes inside a DATA payload first": (
        h2.PREFACE
        + s.CLIENT_SETTINGS
        + s.h2_frame(s.HEADERS, s.END_HEADERS, 1, s.GRPC_GO_HUFFMAN_BLOCK)
        + DATA_WITH_ACK_BYTES
        + s.SETTINGS_ACK
        + DATA_WITH_ACK_BYTES
    ),
    "ACK bytes inside a HEADERS block first": (
        h2.PREFACE + s.h2_frame(s.HEADERS, s.END_HEADERS, 1, b"\x00" + s.SETTINGS_ACK) + s.SETTINGS_ACK
    ),
    "two ACKs": h2.PREFACE + s.CLIENT_SETTINGS + s.SETTINGS_ACK + s.SETTINGS_ACK + s.WINDOW_UPDATE_CONN,
    "ACK carrying a payload is not the one": (
        h2.PREFACE
        + s.h2_frame(s.SETTINGS, s.ACK, 0, bytes(6))
        + s.SETTINGS_ACK
        + s.h2_frame(s.PING, 0, 0, bytes(8))
    ),
    "ACK with other flags set": h2.PREFACE + s.h2_frame(s.SETTINGS, 0xFF, 0, b"") + s.WINDOW_UPDATE_CONN,
    "ACK right after the preface": h2.PREFACE + s.SETTINGS_ACK,
    "no ACK": s.GRPCIO_SILENT,
    "no ACK, only an empty client SETTINGS": h2.PREFACE
    + h2.EMPTY_SETTINGS
    + s.h2_frame(s.PING, 0, 0, bytes(8)),
    "cut inside the preface": h2.PREFACE[:10],
}


@pytest.mark.parametrize("name", list(STRIPPER_SAMPLES))
@pytest.mark.parametrize("pieces", [1, 2, 3])
def test_stripper_removes_the_first_ack_at_any_split(name: str, pieces: int) -> None:
    data = STRIPPER_SAMPLES[name]
    expected = without_first_ack(data)
    has_ack = expected != data
    if has_ack:
        assert len(expected) == len(data) - 9
    for chunks in splits(data, pieces=pieces):
        stripper = h2.SettingsAckStripper()
        out = b"".join(stripper.feed(c) for c in chunks)
        assert out == expected, [len(c) for c in chunks]
        assert stripper.done is has_ack


@pytest.mark.parametrize("name", ["etcdctl 3.4", "grpcio aio", "curl h2c"])
def test_stripper_byte_by_byte_and_done_after_the_ack(name: str) -> None:
    data = STRIPPER_SAMPLES[name]
    ack = next(f for f in s.frames_of(data) if f.type == s.SETTINGS and f.flags & s.ACK)
    stripper = h2.SettingsAckStripper()
    out = b""
    for i in range(len(data)):
        out += stripper.feed(data[i : i + 1])
        assert stripper.done is (i + 1 >= ack.end), i
    assert out == without_first_ack(data)
    # Once done, later bytes pass untouched, another ACK included.
    tail = s.SETTINGS_ACK + b"\x00\x00"
    assert stripper.feed(tail) == tail


def test_stripper_replayed_buffer_then_stream() -> None:
    # The mux feeds the sniffed buffer (up to the decision) and then the live stream: both orders of
    # ACK and HEADERS occur in practice (grpcio and grpc-go wait for SETTINGS; curl does not).
    for data in (s.ETCDCTL_GET, s.GRPCIO_UNARY, s.CURL_H2C):
        buffered = s.first(data, s.HEADERS).end
        stripper = h2.SettingsAckStripper()
        out = stripper.feed(data[:buffered]) + stripper.feed(data[buffered:]) + stripper.feed(s.SETTINGS_ACK)
        assert out == without_first_ack(data) + s.SETTINGS_ACK


# --- Http1Required -------------------------------------------------------------------------------------

ACK = s.SETTINGS_ACK


def rst(stream_id: int) -> bytes:
    return s.h2_frame(s.RST_STREAM, 0, stream_id, b"\x00\x00\x00\x0d")  # HTTP_1_1_REQUIRED, RFC 9113 §7


def three_requests() -> bytes:
    block = s.GRPC_GO_HUFFMAN_BLOCK
    return (
        h2.PREFACE
        + s.CLIENT_SETTINGS
        + s.WINDOW_UPDATE_CONN
        + s.h2_frame(s.HEADERS, s.END_HEADERS | s.END_STREAM, 1, block)
        + s.h2_frame(s.HEADERS, s.END_STREAM, 3, block[:7])
        + s.h2_frame(s.CONTINUATION, 0, 3, block[7:20])
        + s.h2_frame(s.CONTINUATION, s.END_HEADERS, 3, block[20:])
        + s.h2_frame(s.PING, 0, 0, bytes(8))
        + s.SETTINGS_ACK
        + s.h2_frame(s.HEADERS, s.END_HEADERS | s.PADDED, 5, b"\x02" + block + b"\x00\x00")
        + s.h2_frame(s.DATA_FRAME, s.END_STREAM, 5, b"body")
    )


HTTP1_REQUIRED_CASES = {
    # name: (client bytes, answer after the mux's own SETTINGS, streams refused)
    "curl h2c": (s.CURL_H2C, ACK + rst(1), 1),
    "etcdctl": (s.ETCDCTL_GET, ACK + rst(1), 1),
    "grpcio": (s.GRPCIO_UNARY, ACK + rst(1), 1),
    "three requests": (three_requests(), ACK + rst(1) + rst(3) + rst(5), 3),
    "no request yet": (s.GRPCIO_SILENT, ACK, 0),
    "half a preface": (h2.PREFACE[:7], b"", 0),
}


@pytest.mark.parametrize("name", list(HTTP1_REQUIRED_CASES))
@pytest.mark.parametrize("settings_already_sent", [False, True])
@pytest.mark.parametrize("pieces", [1, 2, 3])
def test_http1_required_at_any_split(name: str, settings_already_sent: bool, pieces: int) -> None:
    data, answer, refused = HTTP1_REQUIRED_CASES[name]
    expected = answer if settings_already_sent else h2.EMPTY_SETTINGS + answer
    cases = splits(data, pieces=pieces)
    if pieces == 3 and len(data) > 200:
        cases = cases[::7]  # a bounded sample of the ~100k three-way splits of the longer captures
    for chunks in cases:
        responder = h2.Http1Required(settings_already_sent=settings_already_sent)
        out = b"".join(responder.feed(c) for c in chunks)
        assert out == expected, [len(c) for c in chunks]
        assert responder.refused == refused


def test_http1_required_sends_its_settings_first() -> None:
    responder = h2.Http1Required(settings_already_sent=False)
    assert responder.feed(b"") == h2.EMPTY_SETTINGS
    assert responder.feed(b"") == b""
    assert responder.feed(s.CURL_H2C) == ACK + rst(1)
    assert responder.refused == 1


def test_http1_required_answers_each_request_as_it_completes() -> None:
    data = three_requests()
    responder = h2.Http1Required(settings_already_sent=True)
    answers = {}
    for i in range(len(data)):
        if out := responder.feed(data[i : i + 1]):
            answers[i + 1] = out
    frames = s.frames_of(data)
    headers = [f for f in frames if f.type == s.HEADERS]
    settings = next(f for f in frames if f.type == s.SETTINGS and not f.flags & s.ACK)
    assert answers == {settings.end: ACK, **{f.end: rst(f.stream_id) for f in headers}}
