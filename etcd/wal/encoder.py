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

from etcd.wal import crc
from etcd.wal.walpb import record_pb2 as walpb

METADATA_TYPE = 1
ENTRY_TYPE = 2
STATE_TYPE = 3
CRC_TYPE = 4
SNAPSHOT_TYPE = 5
RECORD_TYPES = frozenset({METADATA_TYPE, ENTRY_TYPE, STATE_TYPE, CRC_TYPE, SNAPSHOT_TYPE})

FRAME_HEADER_BYTES = 8
_LEN = struct.Struct("<Q")
_TYPE_PREFIX = {t: _LEN.pack(t) for t in RECORD_TYPES}


def chain(prev: int, rec_type: int, data: bytes) -> int:
    """The chain value after a record of ``rec_type`` carrying ``data``, continuing from ``prev``."""
    return crc.update(crc.update(prev, _TYPE_PREFIX[rec_type]), data)


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


class Encoder:
    """Turns records into frames appended to a caller-owned buffer; holds the CRC chain, writes nothing.

    The WAL writes the buffer with one ``write`` per save, so a crash leaves a prefix of it.
    """

    def __init__(self, prev_crc: int) -> None:
        self.crc = prev_crc

    def encode(self, buf: bytearray, rec_type: int, data: bytes) -> None:
        """Appends the frame of one record of ``rec_type`` (not ``CRC_TYPE``) and advances the chain."""
        self.crc = chain(self.crc, rec_type, data)
        self._frame(buf, walpb.Record(type=rec_type, crc=self.crc, data=data).SerializeToString())

    def encode_crc(self, buf: bytearray) -> None:
        """Appends the ``CRC_TYPE`` record that opens a segment; it carries the chain and leaves it as is."""
        self._frame(buf, walpb.Record(type=CRC_TYPE, crc=self.crc).SerializeToString())

    @staticmethod
    def _frame(buf: bytearray, rec: bytes) -> None:
        field, pad = encode_frame_size(len(rec))
        buf += _LEN.pack(field)
        buf += rec
        if pad:
            buf += bytes(pad)
