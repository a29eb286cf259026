"""Reads framed records back from WAL segments, checks the CRC chain, and finds where a torn tail begins.

The counterpart of ``encoder.py`` (etcd's ``wal/decoder.go``). Segments are decoded in order from bytes in
memory; every record must frame, parse, carry a known type and match the chain.

Where a record fails, the decoder decides between a torn tail and corruption:

* In any segment but the last, a failure is corruption: a segment is fsynced before the next one is made.
* In the last segment, the failure is the tail, and is cut, unless intact records follow it. "Intact" needs
  proof no torn write can fake: the record right after the failing one (when its frame is readable) chains
  from the failing record's own stored CRC, or two consecutive records anywhere after it chain to each other.
  A crash mid-append leaves a prefix of frames, so nothing intact can follow; a byte flipped in the middle
  of the log leaves intact records after it and is reported. A byte flipped in one of the last two records
  may be cut as a tail: those records are lost, never returned wrong. (Only an entry whose payload is itself
  a run of valid WAL frames could fake "intact" inside a torn tail; the open then fails rather than cuts.)
* etcd 3.4 compat (wal/decoder.go ``isTornEntry``): a failing record whose own length field spans a whole
  512-byte sector of zeros is a tail written out of order before a power loss, and is cut.

A length field must be exactly what the encoder writes for its record size (padding to 8 bytes included), so
a damaged one fails its own record rather than shifting every frame after it.

A zero length field followed only by zeros ends a segment (preallocated space, as etcd's); followed by
anything else it is a failing record like any other.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

from etcd.wal.encoder import (
    CRC_TYPE,
    FRAME_HEADER_BYTES,
    RECORD_TYPES,
    chain,
    decode_frame_size,
    encode_frame_size,
)
from etcd.wal.errors import ErrCorruptRecord, ErrCRCMismatch, ErrUnexpectedEOF, WALError
from etcd.wal.walpb import record_pb2 as walpb

MIN_SECTOR_BYTES = 512
_LEN = struct.Struct("<Q")
# A marshalled Record starts with field 1 (tag 0x08) holding a type of 1..5: where to try a resync.
_RECORD_START = re.compile(rb"\x08[\x01-\x05]")


@dataclass
class Decoded:
    """The outcome of ``decode``: the good records, where they end, and whether a tail was cut."""

    records: list[tuple[int, bytes]] = field(default_factory=list)  # (type, data), CRC records excluded
    crc: int = 0  # the chain after the last good record; a writer continues from it
    end_offset: int = 0  # byte offset in the last segment just past its last good record
    torn: WALError | None = None  # why the last segment's tail was cut; None if it ended cleanly


def _frame_at(buf: bytes, off: int) -> tuple[walpb.Record, int] | None:
    """The record framed at ``off`` and the offset just past its frame, or None if it does not decode."""
    if len(buf) - off < FRAME_HEADER_BYTES:
        return None
    field_value = _LEN.unpack_from(buf, off)[0]
    rec_bytes, pad = decode_frame_size(field_value)
    end = off + FRAME_HEADER_BYTES + rec_bytes + pad
    if rec_bytes == 0 or end > len(buf) or encode_frame_size(rec_bytes) != (field_value, pad):
        return None
    try:
        rec = walpb.Record.FromString(buf[off + FRAME_HEADER_BYTES : off + FRAME_HEADER_BYTES + rec_bytes])
    except DecodeError:
        return None
    if rec.type not in RECORD_TYPES:
        return None
    return rec, end


def _chains(prev_crc: int, rec: walpb.Record) -> bool:
    if rec.type == CRC_TYPE:
        return bool(rec.crc == prev_crc)
    return bool(rec.crc == chain(prev_crc, rec.type, rec.data))


def _intact_after(buf: bytes, off: int, failing: tuple[walpb.Record, int] | None) -> bool:
    """Whether records that no torn write can produce follow the record failing at ``off``."""
    if failing is not None:
        rec, end = failing
        nxt = _frame_at(buf, end)
        if nxt is not None and _chains(rec.crc, nxt[0]):
            return True
    for m in _RECORD_START.finditer(buf, off + 2 * FRAME_HEADER_BYTES):
        p = m.start() - FRAME_HEADER_BYTES
        if p % 8:
            continue
        first = _frame_at(buf, p)
        if first is None:
            continue
        second = _frame_at(buf, first[1])
        if second is not None and _chains(first[0].crc, second[0]):
            return True
    return False


def _has_zero_sector(buf: bytes, start: int, end: int) -> bool:
    """Whether ``buf[start:end]`` covers a whole sector-aligned run of zeros (etcd's ``isTornEntry``)."""
    first = -(-start // MIN_SECTOR_BYTES) * MIN_SECTOR_BYTES
    zero = bytes(MIN_SECTOR_BYTES)
    return any(
        buf[s : s + MIN_SECTOR_BYTES] == zero
        for s in range(first, end - MIN_SECTOR_BYTES + 1, MIN_SECTOR_BYTES)
    )


class _Failure(Exception):
    """A record that fails its checks: the error to report and, if it framed, the record and its end."""

    def __init__(
        self,
        err: type[WALError],
        framed: tuple[walpb.Record, int] | None = None,
        *,
        extent: int | None = None,
    ) -> None:
        super().__init__(err.message)
        self.err = err
        self.framed = framed
        # Where the failing frame ends by its own length field; None when that field is not believable.
        self.extent = framed[1] if framed is not None else extent


def _check_record(
    buf: bytes, off: int, crc_value: int | None, *, first: bool
) -> tuple[walpb.Record, int, int] | None:
    """The good record at ``off`` as (record, frame end, chain after it); None if only zeros remain.

    Raises _Failure if the record does not frame, parse, carry a known type or match the chain.
    """
    if len(buf) - off < FRAME_HEADER_BYTES:
        raise _Failure(ErrUnexpectedEOF)
    field_value = _LEN.unpack_from(buf, off)[0]
    if field_value == 0:
        if not buf[off:].strip(b"\0"):
            return None
        raise _Failure(ErrCorruptRecord)
    rec_bytes, pad = decode_frame_size(field_value)
    if encode_frame_size(rec_bytes) != (field_value, pad):
        # The encoder always pads to the next 8-byte boundary; any other length field was damaged.
        raise _Failure(ErrCorruptRecord)
    end = off + FRAME_HEADER_BYTES + rec_bytes + pad
    if end > len(buf):
        raise _Failure(ErrUnexpectedEOF, extent=len(buf))
    try:
        rec = walpb.Record.FromString(buf[off + FRAME_HEADER_BYTES : off + FRAME_HEADER_BYTES + rec_bytes])
    except DecodeError:
        raise _Failure(ErrCorruptRecord, extent=end) from None
    if rec.type not in RECORD_TYPES or (first and rec.type != CRC_TYPE):
        raise _Failure(ErrCorruptRecord, (rec, end))
    if rec.type == CRC_TYPE:
        if crc_value is not None and rec.crc != crc_value:
            raise _Failure(ErrCRCMismatch, (rec, end))
        return rec, end, rec.crc
    after = chain(crc_value or 0, rec.type, rec.data)
    if rec.crc != after:
        raise _Failure(ErrCRCMismatch, (rec, end))
    return rec, end, after


def decode(segments: Sequence[tuple[str, bytes]], *, prev_crc: int | None = None) -> Decoded:
    """Decodes every record of ``segments`` ((name, contents) pairs, oldest first).

    ``prev_crc`` is the chain value the first segment continues from, or None to take it from that segment's
    opening CRC record (reading from a segment other than the first one of the log).

    Returns the records up to the first failure in the last segment that is a tail (see the module doc);
    ``torn`` then tells why the rest was cut.

    Raises:
        ErrCRCMismatch: a record does not match the CRC chain and intact records follow it.
        ErrUnexpectedEOF: a segment other than the last ends inside a record.
        ErrCorruptRecord: a record does not frame or parse, or a segment does not open with a CRC record.
    """
    out = Decoded()
    crc_value = prev_crc
    for i, (name, buf) in enumerate(segments):
        last = i == len(segments) - 1
        off = 0
        while off < len(buf):
            try:
                good = _check_record(buf, off, crc_value, first=off == 0)
            except _Failure as f:
                detail = f"{name} at offset {off}"
                if not last:
                    raise f.err(detail) from None
                torn_write = f.extent is not None and _has_zero_sector(
                    buf, off + FRAME_HEADER_BYTES, f.extent
                )
                if not torn_write and _intact_after(buf, off, f.framed):
                    raise f.err(detail) from None
                out.torn = f.err(detail)
                break
            if good is None:
                break
            rec, off, crc_value = good
            if rec.type != CRC_TYPE:
                out.records.append((rec.type, rec.data))
        if off == 0:
            raise ErrCorruptRecord(f"{name}: segment holds no crc record")
        if last:
            out.end_offset = off
    out.crc = crc_value or 0
    return out
