"""Frames WAL records and keeps the CRC chain, after etcd's ``wal/encoder.go``.

A frame is an 8-byte little-endian length field, the marshalled ``walpb.Record``, then zero padding up to an
8-byte boundary. The length field holds the record's byte count in its low 56 bits; when padding follows, its
top byte is ``0x80 | pad`` (pad = 1..7), exactly as etcd writes it.

Every record's ``crc`` is the running CRC-32C after that record, chained from the one before, so a record
cannot be dropped, reordered or spliced from another log without a mismatch. The chain starts at 0 in the
first segment; each later segment opens with a ``CRC_TYPE`` record carrying the chain value it continues from.

Departs from etcd 3.4 (wal/encoder.go checksums ``rec.Data`` only): the chain also covers the record type, as
eight little-endian bytes before the data, so a flipped type byte (an entry read as a hard state) is a CRC
mismatch rather than silently wrong state. Framing, record types and field numbers are etcd's.
"""

from __future__ import annotations

import struct

from etcd.wal.crc import update as _update

METADATA_TYPE = 1
ENTRY_TYPE = 2
STATE_TYPE = 3
CRC_TYPE = 4
SNAPSHOT_TYPE = 5
RECORD_TYPES = frozenset({METADATA_TYPE, ENTRY_TYPE, STATE_TYPE, CRC_TYPE, SNAPSHOT_TYPE})

FRAME_HEADER_BYTES = 8
_LEN = struct.Struct("<Q")
_TYPE_PREFIX = {t: _LEN.pack(t) for t in RECORD_TYPES}
# walpb.Record field 1 (type, varint): tag 0x08 and the type, always one byte for our types.
_TYPE_FIELD = {t: bytes([0x08, t]) for t in RECORD_TYPES}
_CRC_TAG = b"\x10"  # field 2, varint
_DATA_TAG = b"\x1a"  # field 3, length-delimited
_PADDING = [bytes(n) for n in range(8)]


def chain(prev: int, rec_type: int, data: bytes) -> int:
    """The chain value after a record of ``rec_type`` carrying ``data``, continuing from ``prev``."""
    return _update(data, _update(_TYPE_PREFIX[rec_type], prev))


def encode_frame_size(data_bytes: int) -> tuple[int, int]:
    """``(length field, pad bytes)`` for a marshalled record of ``data_bytes`` bytes."""
    pad = (8 - data_bytes % 8) % 8
    field = data_bytes
    if pad:
        field |= (0x80 | pad) << 56
    return field, pad


def decode_frame_size(field: int) -> tuple[int, int]:
    """``(record bytes, pad bytes)`` from a length field, the inverse of ``encode_frame_size``."""
    rec_bytes = field & 0x00FFFFFFFFFFFFFF
    pad = (field >> 56) & 0x7 if field >> 63 else 0
    return rec_bytes, pad


_ONE_BYTE = [bytes([n]) for n in range(0x80)]


def _varint(n: int) -> bytes:
    # Unrolled up to 5 bytes (a CRC is 32 bits): a loop here was the WAL's largest CPU cost per record.
    if n < 1 << 7:
        return _ONE_BYTE[n]
    if n < 1 << 14:
        return bytes((n & 0x7F | 0x80, n >> 7))
    if n < 1 << 21:
        return bytes((n & 0x7F | 0x80, n >> 7 & 0x7F | 0x80, n >> 14))
    if n < 1 << 28:
        return bytes((n & 0x7F | 0x80, n >> 7 & 0x7F | 0x80, n >> 14 & 0x7F | 0x80, n >> 21))
    if n < 1 << 35:
        return bytes(
            (n & 0x7F | 0x80, n >> 7 & 0x7F | 0x80, n >> 14 & 0x7F | 0x80, n >> 21 & 0x7F | 0x80, n >> 28)
        )
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def marshal_record(rec_type: int, crc_value: int, data: bytes) -> bytes:
    """The bytes of ``walpb.Record(type=rec_type, crc=crc_value, data=data).SerializeToString()``.

    Written out by hand because the WAL marshals one per entry and building a message object costs more
    than the rest of the record; proto3 leaves out a zero ``crc`` and empty ``data``, and so does this.
    """
    head = _TYPE_FIELD[rec_type]
    if crc_value:
        head += _CRC_TAG + _varint(crc_value)
    if not data:
        return head
    return head + _DATA_TAG + _varint(len(data)) + data


class Encoder:
    """Turns records into frames appended to a caller-owned buffer; holds the CRC chain, writes nothing.

    The WAL writes the buffer with one ``write`` per save, so a crash leaves a prefix of it.
    """

    def __init__(self, prev_crc: int) -> None:
        self.crc = prev_crc

    def encode(self, buf: bytearray, rec_type: int, data: bytes) -> None:
        """Appends the frame of one record of ``rec_type`` (not ``CRC_TYPE``) and advances the chain."""
        self.crc = c = _update(data, _update(_TYPE_PREFIX[rec_type], self.crc))
        self._frame(buf, marshal_record(rec_type, c, data))

    def encode_crc(self, buf: bytearray) -> None:
        """Appends the ``CRC_TYPE`` record that opens a segment; it carries the chain and leaves it as is."""
        self._frame(buf, marshal_record(CRC_TYPE, self.crc, b""))

    @staticmethod
    def _frame(buf: bytearray, rec: bytes) -> None:
        n = len(rec)
        pad = -n & 7
        buf += _LEN.pack(n | (0x80 | pad) << 56 if pad else n)
        buf += rec
        if pad:
            buf += _PADDING[pad]
