"""Sample first bytes for the matcher and HTTP/2 tests, and an HTTP/2 framing written for the tests.

Captured bytes come from ``tests/mux/data/capture_first_bytes.py`` (curl, aiohttp, etcdctl 3.4, grpcio)
and ``tests/mux/data/capture_hellos.py`` (TLS ClientHellos); hand-built samples are written here from
the RFCs. The frame encoder, frame walker and HPACK helpers below are deliberately independent of
``mux.h2`` (struct and the ``hpack`` library only), so the tests do not check the code with itself.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import hpack

DATA = Path(__file__).resolve().parent / "data"


def _load(name: str) -> bytes:
    return (DATA / f"{name}.bin").read_bytes()


# --- captured clients (see capture_first_bytes.py for how) -------------------------------------------

CURL_HTTP1 = _load("curl_http1")  # curl 7.88 GET /health, whole header section
AIOHTTP_WEBSOCKET = _load("aiohttp_websocket")  # aiohttp ws_connect: Upgrade: websocket
CURL_H2C = _load("curl_h2c")  # curl --http2-prior-knowledge; preface, SETTINGS, WINDOW_UPDATE, HEADERS, ACK
ETCDCTL_GET = _load("etcdctl_get")  # etcdctl 3.4.23 (grpc-go): preface, SETTINGS, ACK, HEADERS, DATA
GRPCIO_UNARY = _load("grpcio_unary")  # grpcio aio: preface, SETTINGS, WINDOW_UPDATE, ACK, HEADERS, ...
GRPCIO_SILENT = _load("grpcio_silent")  # grpcio against a silent server: no HEADERS at all

TLS_HELLOS = {name: _load(name) for name in ("python_ssl", "grpcio", "curl_ip", "curl_sni")}

# --- HTTP/2 framing (RFC 9113 §4.1, §6) -------------------------------------------------------------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA_FRAME, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE = range(9)
CONTINUATION = 9
END_STREAM = ACK = 0x1
END_HEADERS = 0x4
PADDED = 0x8
PRIORITY_FLAG = 0x20


def h2_frame(frame_type: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + struct.pack(">BBI", frame_type, flags, stream_id) + payload


SETTINGS_ACK = h2_frame(SETTINGS, ACK, 0)
CLIENT_SETTINGS = h2_frame(SETTINGS, 0, 0, struct.pack(">HI", 0x2, 0) + struct.pack(">HI", 0x4, 4_194_304))
WINDOW_UPDATE_CONN = h2_frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 983_041))


@dataclass(frozen=True)
class Frame:
    offset: int  # of the frame header in the connection's bytes
    type: int
    flags: int
    stream_id: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + 9 + self.length


def frames_of(data: bytes) -> list[Frame]:
    """The complete frames after the preface of a client's bytes."""
    assert data.startswith(PREFACE)
    out = []
    pos = len(PREFACE)
    while pos + 9 <= len(data):
        length = int.from_bytes(data[pos : pos + 3], "big")
        frame_type, flags, stream_id = struct.unpack(">BBI", data[pos + 3 : pos + 9])
        if pos + 9 + length > len(data):
            break
        out.append(Frame(pos, frame_type, flags, stream_id & 0x7FFF_FFFF, length))
        pos += 9 + length
    return out


def first(data: bytes, frame_type: int, flags: int | None = None) -> Frame:
    """The first frame of ``frame_type`` (with exactly ``flags``, if given)."""
    return next(f for f in frames_of(data) if f.type == frame_type and (flags is None or f.flags == flags))


def encode_block(headers: Iterable[object], *, huffman: bool) -> bytes:
    """An HPACK header block from a fresh ``hpack`` encoder (RFC 7541)."""
    encoder = hpack.Encoder()
    return encoder.encode(list(headers), huffman=huffman)  # type: ignore[arg-type]


def request(block: bytes, *, stream_id: int = 1, settings: bytes = h2_frame(SETTINGS, 0, 0)) -> bytes:
    """A client connection: preface, SETTINGS, then one HEADERS frame carrying ``block`` whole."""
    return PREFACE + settings + h2_frame(HEADERS, END_HEADERS, stream_id, block)


GRPC_GO_HEADERS = [
    (":method", "POST"),
    (":scheme", "http"),
    (":path", "/etcdserverpb.KV/Range"),
    (":authority", "127.0.0.1:2379"),
    ("content-type", "application/grpc"),
    ("user-agent", "grpc-go/1.26.0"),
    ("te", "trailers"),
    ("grpc-timeout", "4999804u"),
]
GRPC_GO_HUFFMAN_BLOCK = encode_block(GRPC_GO_HEADERS, huffman=True)
# Shaped like etcdctl's connection (grpc-go): empty SETTINGS, ACK of the server's, HEADERS, DATA.
GRPC_GO_HUFFMAN = (
    PREFACE
    + h2_frame(SETTINGS, 0, 0)
    + SETTINGS_ACK
    + h2_frame(HEADERS, END_HEADERS, 1, GRPC_GO_HUFFMAN_BLOCK)
    + h2_frame(DATA_FRAME, END_STREAM, 1, b"\x00\x00\x00\x00\x05\x0a\x03foo")
)


def grpc_request(content_type: str, *, huffman: bool = True) -> bytes:
    headers = [(k, content_type if k == "content-type" else v) for k, v in GRPC_GO_HEADERS]
    return request(encode_block(headers, huffman=huffman))


# --- HTTP/1 (RFC 9112) --------------------------------------------------------------------------------

PATCH_REQUEST = b"PATCH /v2/keys/foo HTTP/1.1\r\nHost: etcd\r\nContent-Length: 0\r\n\r\n"
EXTENSION_REQUESTS = (
    b"PROPFIND /dav HTTP/1.1\r\nHost: x\r\n\r\n",
    b"M-SEARCH * HTTP/1.1\r\nHost: 239.255.255.250:1900\r\n\r\n",
    b"PURGE /cache HTTP/1.1\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\n\r\n",
    b"CONNECT etcd.example.com:2379 HTTP/1.1\r\n\r\n",
)
HTTP10_REQUEST = b"GET / HTTP/1.0\r\n\r\n"
BARE_LF_REQUEST = b"GET /version HTTP/1.1\nHost: x\n\n"  # RFC 9112 §2.2 lets a server accept a bare LF
H2C_UPGRADE_REQUEST = (
    b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
    b"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
)

# --- PROXY protocol (haproxy doc/proxy-protocol.txt) --------------------------------------------------

PROXY_V1 = b"PROXY TCP4 192.0.2.1 192.0.2.2 56324 2379\r\n" + CURL_HTTP1
PROXY_V1_LENGTH = PROXY_V1.index(b"\r\n") + 2
_V2_ADDRESSES = bytes([192, 0, 2, 1, 192, 0, 2, 2]) + struct.pack(">HH", 56324, 2379)
PROXY_V2 = (
    b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack(">H", 12) + _V2_ADDRESSES + CURL_HTTP1
)
PROXY_V2_LENGTH = 16 + 12
