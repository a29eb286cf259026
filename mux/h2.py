"""The few pieces of HTTP/2 the mux needs, as pure code over bytes (RFC 9113, RFC 7541).

Nothing here touches a socket. It holds: the client connection preface; frame headers; an HPACK field
scanner that finds one header field in the first header block of a connection and stops there; the
stripper that removes the client's acknowledgement of the SETTINGS frame the mux sent while sniffing; and
the responder that tells h2c clients to retry with HTTP/1.1.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass

from hpack.exceptions import HPACKError
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hpack.huffman_table import decode_huffman
from hpack.table import HeaderTable

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
FRAME_HEADER_LEN = 9

# Frame types and flags (RFC 9113 §6).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    range(10)
)
FLAG_ACK = 0x1
FLAG_END_HEADERS = 0x4
FLAG_PADDED = 0x8
FLAG_PRIORITY = 0x20

# Before the server has sent SETTINGS, a client may not send frames larger than the default (§4.2).
DEFAULT_MAX_FRAME_SIZE = 16_384
DEFAULT_HEADER_TABLE_SIZE = 4_096

NO_ERROR = 0x0
HTTP_1_1_REQUIRED = 0xD

EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
"""A SETTINGS frame with no parameters: the server's connection preface, all defaults (§3.4)."""

_STATIC_TABLE: tuple[tuple[bytes, bytes], ...] = HeaderTable.STATIC_TABLE
_HUFFMAN = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)


@functools.lru_cache(maxsize=64)
def huffman_encoded(name: bytes) -> bytes:
    """The HPACK Huffman code of ``name`` (RFC 7541 Appendix B); cached, it costs tens of µs to make."""
    return bytes(_HUFFMAN.encode(name))


def frame(frame_type: int, flags: int, stream_id: int, payload: bytes = b"") -> bytes:
    """Encodes one frame: 9-byte header (24-bit length, type, flags, 31-bit stream id), then payload."""
    return (
        len(payload).to_bytes(3, "big") + bytes((frame_type, flags)) + stream_id.to_bytes(4, "big") + payload
    )


class ScanResult(enum.Enum):
    FOUND = "found"  # the field was decoded: see ``HeaderScanner.value``
    ABSENT = "absent"  # the header block ended without the field
    MORE = "more"  # the header block is not complete yet
    INVALID = "invalid"  # not a well-formed start of an HTTP/2 connection


@dataclass(slots=True)
class _DynamicEntry:
    name: bytes
    raw_value: bytes
    huffman: bool
    size: int  # RFC 7541 §4.1: len(name) + len(value) + 32, value length as decoded


class HeaderScanner:
    """Finds the first field named ``name`` in the first header block of a client connection.

    Fed every byte the client has sent so far (``scan(seen)``, ``seen`` only ever grows), it walks the
    preface, the frames before the first HEADERS, then HEADERS and CONTINUATION, and decodes the block's
    HPACK representations one by one until it meets ``name``; values of other fields are skipped without
    Huffman decoding. Only the first block is looked at, so routing is per connection, as with cmux.

    ``saw_client_settings`` turns true once the client's SETTINGS frame has arrived: a client that waits
    for the server's SETTINGS before sending HEADERS (grpcio, grpc-go, grpc-java) needs an answer then.
    """

    __slots__ = (
        "_block",
        "_capacity",
        "_dynamic",
        "_name",
        "_name_huffman",
        "_pos",
        "_result",
        "_stream_id",
        "_used",
        "saw_client_settings",
        "value",
    )

    def __init__(self, name: bytes) -> None:
        self._name = name.lower()
        self._name_huffman = huffman_encoded(self._name)
        self._pos = len(PREFACE)
        self._block = bytearray()
        self._stream_id = 0
        self._dynamic: list[_DynamicEntry] = []
        self._used = 0  # RFC 7541 §4.1 size of the dynamic table
        self._capacity = DEFAULT_HEADER_TABLE_SIZE
        self._result = ScanResult.MORE
        self.saw_client_settings = False
        self.value: bytes | None = None

    def scan(self, seen: bytes) -> ScanResult:
        if self._result is not ScanResult.MORE:
            return self._result
        n = min(len(seen), len(PREFACE))
        if seen[:n] != PREFACE[:n]:
            return self._finish(ScanResult.INVALID)
        try:
            self._result = self._scan_frames(seen)
        except (HPACKError, ValueError, IndexError, KeyError, UnicodeError):
            self._result = ScanResult.INVALID
        return self._result

    def _finish(self, result: ScanResult) -> ScanResult:
        self._result = result
        return result

    def _scan_frames(self, seen: bytes) -> ScanResult:
        while len(seen) - self._pos >= FRAME_HEADER_LEN:
            p = self._pos
            length = int.from_bytes(seen[p : p + 3], "big")
            frame_type, flags = seen[p + 3], seen[p + 4]
            stream_id = int.from_bytes(seen[p + 5 : p + 9], "big") & 0x7FFF_FFFF
            if length > DEFAULT_MAX_FRAME_SIZE:
                return ScanResult.INVALID
            if len(seen) - p - FRAME_HEADER_LEN < length:
                return ScanResult.MORE
            payload = seen[p + FRAME_HEADER_LEN : p + FRAME_HEADER_LEN + length]
            self._pos = p + FRAME_HEADER_LEN + length
            if self._stream_id:  # inside a header block: only CONTINUATION of the same stream may follow
                if frame_type != CONTINUATION or stream_id != self._stream_id:
                    return ScanResult.INVALID
                self._block += payload
            elif frame_type == SETTINGS:
                if stream_id != 0:
                    return ScanResult.INVALID
                if not flags & FLAG_ACK:
                    self.saw_client_settings = True
                continue
            elif frame_type in (WINDOW_UPDATE, PING, PRIORITY) or frame_type > CONTINUATION:
                continue  # frames of unknown type are ignored (RFC 9113 §4.1, §5.5)
            elif frame_type == HEADERS:
                if stream_id == 0 or stream_id % 2 == 0:
                    return ScanResult.INVALID
                self._stream_id = stream_id
                self._block += _header_block_fragment(payload, flags)
            else:
                return ScanResult.INVALID
            if flags & FLAG_END_HEADERS:
                return self._decode_block(bytes(self._block))
        return ScanResult.MORE

    def _decode_block(self, block: bytes) -> ScanResult:
        """Walks the HPACK representations of a complete block (RFC 7541 §6) up to the wanted field."""
        pos = 0
        end = len(block)
        while pos < end:
            first = block[pos]
            if first & 0x80:  # indexed field (§6.1)
                index, used = decode_integer(block[pos:], 7)
                pos += used
                name, raw, huffman = self._lookup(index)
                if name == self._name:
                    return self._found(raw, huffman)
                continue
            if first & 0xE0 == 0x20:  # dynamic table size update (§6.3)
                size, used = decode_integer(block[pos:], 5)
                pos += used
                if size > DEFAULT_HEADER_TABLE_SIZE:
                    raise ValueError("table size above the default")
                self._capacity = size
                self._evict(0)
                continue
            prefix_bits = 6 if first & 0xC0 == 0x40 else 4  # with indexing (§6.2.1) or without (§6.2.2/3)
            index, used = decode_integer(block[pos:], prefix_bits)
            pos += used
            if index:
                name = self._lookup(index)[0]
                name_matches = name == self._name
            else:
                raw_name, name_huffman, pos = _read_string(block, pos)
                # Huffman codes are canonical (RFC 7541 §5.2: EOS-prefix padding), so equal strings have
                # equal encodings and the name is decoded only when the dynamic table needs it.
                name_matches = raw_name == (self._name_huffman if name_huffman else self._name)
                if name_matches:
                    name = self._name
                elif name_huffman and prefix_bits == 6:
                    name = decode_huffman(raw_name)
                else:
                    name = raw_name
            raw_value, value_huffman, pos = _read_string(block, pos)
            if name_matches:
                return self._found(raw_value, value_huffman)
            if prefix_bits == 6:
                self._insert(name, raw_value, value_huffman)
        return ScanResult.ABSENT

    def _found(self, raw: bytes, huffman: bool) -> ScanResult:
        self.value = decode_huffman(raw) if huffman else raw
        return ScanResult.FOUND

    def _lookup(self, index: int) -> tuple[bytes, bytes, bool]:
        if index <= 0:
            raise ValueError("index 0 is not valid")
        if index <= len(_STATIC_TABLE):
            name, value = _STATIC_TABLE[index - 1]
            return name, value, False
        entry = self._dynamic[index - len(_STATIC_TABLE) - 1]
        return entry.name, entry.raw_value, entry.huffman

    def _insert(self, name: bytes, raw_value: bytes, huffman: bool) -> None:
        value_len = len(raw_value)
        # A Huffman code is at least 5 bits a symbol; decode only when that bound could evict.
        if huffman and self._used + len(name) + 32 + (value_len * 8) // 5 > self._capacity:
            value_len = len(decode_huffman(raw_value))
        size = len(name) + value_len + 32
        self._evict(size)
        if size <= self._capacity:
            self._dynamic.insert(0, _DynamicEntry(name, raw_value, huffman, size))
            self._used += size

    def _evict(self, incoming: int) -> None:
        while self._dynamic and self._used + incoming > self._capacity:
            self._used -= self._dynamic.pop().size


def _header_block_fragment(payload: bytes, flags: int) -> bytes:
    """Strips padding and priority fields from a HEADERS payload (RFC 9113 §6.2)."""
    start, end = 0, len(payload)
    if flags & FLAG_PADDED:
        pad = payload[0]
        start, end = 1, end - pad
    if flags & FLAG_PRIORITY:
        start += 5
    if start > end:
        raise ValueError("padding longer than the frame")
    return payload[start:end]


def decode_integer(data: bytes, prefix_bits: int) -> tuple[int, int]:
    """An HPACK integer at the start of ``data`` (RFC 7541 §5.1): its value and the bytes it took.

    Ours rather than hpack's because hpack's logs at debug level on every call, which costs more than the
    decoding itself on the per-connection path.
    """
    mask = (1 << prefix_bits) - 1
    value = data[0] & mask
    if value < mask:
        return value, 1
    shift = 0
    for index in range(1, min(len(data), 6)):  # 5 continuation bytes: values far beyond any table size
        byte = data[index]
        value += (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, index + 1
        shift += 7
    raise ValueError("HPACK integer truncated or too long")


def _read_string(block: bytes, pos: int) -> tuple[bytes, bool, int]:
    """Reads an HPACK string literal (§5.2); returns its raw bytes, whether Huffman-coded, next offset."""
    huffman = bool(block[pos] & 0x80)
    length, used = decode_integer(block[pos:], 7)
    pos += used
    if pos + length > len(block):
        raise ValueError("string runs past the header block")
    return block[pos : pos + length], huffman, pos + length


class SettingsAckStripper:
    """Removes the client's first SETTINGS acknowledgement from the bytes it sends.

    The mux answers a client's SETTINGS with its own empty SETTINGS while sniffing; the client acknowledges
    it, but the backend never sent that SETTINGS and a grpcio backend rejects the stray ACK ("Received
    unexpected settings ack"). The client cannot acknowledge the backend's SETTINGS before it has received
    them, which happens only after the hand-off, so the first ACK it sends is the mux's.

    Feed it the connection's bytes in order, from the preface on; ``feed`` returns what to pass on.
    Once the ACK is gone, ``done`` is true and ``feed`` returns its input unchanged.
    """

    __slots__ = ("_held", "_preface_left", "_skip", "done")

    def __init__(self) -> None:
        self._preface_left = len(PREFACE)
        self._skip = 0  # bytes left of the current frame's payload
        self._held = b""  # an incomplete frame header
        self.done = False

    def feed(self, data: bytes) -> bytes:
        if self.done:
            return data
        data = self._held + data
        self._held = b""
        out = bytearray()
        pos = 0
        if self._preface_left:
            take = min(self._preface_left, len(data))
            out += data[:take]
            pos = take
            self._preface_left -= take
        while pos < len(data):
            if self._skip:
                take = min(self._skip, len(data) - pos)
                out += data[pos : pos + take]
                pos += take
                self._skip -= take
                continue
            if len(data) - pos < FRAME_HEADER_LEN:
                self._held = data[pos:]
                break
            length = int.from_bytes(data[pos : pos + 3], "big")
            if data[pos + 3] == SETTINGS and data[pos + 4] & FLAG_ACK and length == 0:
                self.done = True
                out += data[pos + FRAME_HEADER_LEN :]
                return bytes(out)
            out += data[pos : pos + FRAME_HEADER_LEN]
            pos += FRAME_HEADER_LEN
            self._skip = length
        return bytes(out)


class Http1Required:
    """Answers every request of an h2c connection with RST_STREAM(HTTP_1_1_REQUIRED).

    For cleartext HTTP/2 that is not gRPC: the HTTP app behind the mux speaks only HTTP/1.1, and clients
    such as curl retry the request over HTTP/1.1 on a new connection when a stream is refused this way
    (RFC 9113 §8.2.2). A GOAWAY would make curl 7.88 give up instead of retrying, so none is sent; the
    caller closes the connection when the client does, or after a short grace. ``feed`` takes the
    client's bytes (from the preface on) and returns the bytes to send; ``refused`` counts the streams.
    """

    __slots__ = ("_buffer", "_sent_settings", "refused")

    def __init__(self, *, settings_already_sent: bool) -> None:
        self._buffer = b""
        self._sent_settings = settings_already_sent
        self.refused = 0

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        if not self._sent_settings:
            out += EMPTY_SETTINGS
            self._sent_settings = True
        buf = self._buffer + data
        if len(buf) < len(PREFACE) and PREFACE.startswith(buf):
            self._buffer = buf
            return bytes(out)
        pos = len(PREFACE) if buf.startswith(PREFACE) else 0
        while len(buf) - pos >= FRAME_HEADER_LEN:
            length = int.from_bytes(buf[pos : pos + 3], "big")
            if len(buf) - pos - FRAME_HEADER_LEN < length:
                break
            frame_type, flags = buf[pos + 3], buf[pos + 4]
            stream_id = int.from_bytes(buf[pos + 5 : pos + 9], "big") & 0x7FFF_FFFF
            pos += FRAME_HEADER_LEN + length
            if frame_type == SETTINGS and not flags & FLAG_ACK:
                out += frame(SETTINGS, FLAG_ACK, 0)
            elif frame_type == HEADERS and stream_id:
                self.refused += 1
                out += frame(RST_STREAM, 0, stream_id, HTTP_1_1_REQUIRED.to_bytes(4, "big"))
        self._buffer = buf[pos:]
        return bytes(out)
