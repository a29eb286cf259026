"""Revisions and their 17-byte encoding in the key bucket (etcd's ``mvcc/revision.go``).

A revision is (main, sub): ``main`` is the store revision of a write transaction, ``sub`` the index
of the change within it. Encoded as 8 bytes big-endian main, ``_``, 8 bytes big-endian sub, so byte
order is revision order; a tombstone (a delete) appends ``t``.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

REV_BYTES_LEN = 8 + 1 + 8
MARKED_REV_BYTES_LEN = REV_BYTES_LEN + 1
MARK_TOMBSTONE = b"t"
_REV = struct.Struct(">QcQ")


class Revision(NamedTuple):
    """(main, sub), ordered as tuples are: by main, then sub."""

    main: int
    sub: int = 0


def rev_to_bytes(rev: Revision) -> bytes:
    return _REV.pack(rev.main, b"_", rev.sub)


def bytes_to_rev(b: bytes) -> Revision:
    """Decodes the first 17 bytes; a tombstone mark after them is ignored."""
    main, _, sub = _REV.unpack_from(b)
    return Revision(main, sub)


def mark_tombstone(b: bytes) -> bytes:
    return b + MARK_TOMBSTONE


def is_tombstone(b: bytes) -> bool:
    return len(b) == MARKED_REV_BYTES_LEN and b[-1:] == MARK_TOMBSTONE
