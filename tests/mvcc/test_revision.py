from __future__ import annotations

from etcd.mvcc.revision import (
    Revision,
    bytes_to_rev,
    is_tombstone,
    mark_tombstone,
    rev_to_bytes,
)


def test_encoding_is_etcds_17_bytes():
    assert rev_to_bytes(Revision(5, 2)) == b"\0\0\0\0\0\0\0\x05_\0\0\0\0\0\0\0\x02"


def test_byte_order_is_revision_order():
    revs = [Revision(1, 0), Revision(1, 1), Revision(2, 0), Revision(256, 0), Revision(256, 300)]
    assert sorted(revs, key=rev_to_bytes) == revs


def test_roundtrip_ignores_tombstone_mark():
    b = mark_tombstone(rev_to_bytes(Revision(9, 3)))
    assert len(b) == 18 and is_tombstone(b)
    assert bytes_to_rev(b) == Revision(9, 3)
    assert not is_tombstone(rev_to_bytes(Revision(9, 3)))
