"""Key index generations, after etcd's mvcc/key_index_test.go."""

from __future__ import annotations

import pytest

from etcd.mvcc.key_index import ErrRevisionNotFound, KeyIndex
from etcd.mvcc.revision import Revision as R


def sample() -> KeyIndex:
    # puts 2, 4, delete 6; puts 8, 10, delete 12; puts 14, 14.1, delete 16; open generation
    ki = KeyIndex(b"foo")
    ki.put(R(2))
    ki.put(R(4))
    ki.tombstone(R(6))
    ki.put(R(8))
    ki.put(R(10))
    ki.tombstone(R(12))
    ki.put(R(14))
    ki.put(R(14, 1))
    ki.tombstone(R(16))
    return ki


@pytest.mark.parametrize(
    ("rev", "want"),
    [
        (17, None), (16, None), (15, (R(14, 1), R(14), 2)), (14, (R(14, 1), R(14), 2)),
        (13, None), (12, None), (11, (R(10), R(8), 2)), (10, (R(10), R(8), 2)), (9, (R(8), R(8), 1)),
        (8, (R(8), R(8), 1)), (7, None), (6, None), (5, (R(4), R(2), 2)), (2, (R(2), R(2), 1)), (1, None),
    ],
)
def test_get_walks_generations(rev, want):
    ki = sample()
    if want is None:
        with pytest.raises(ErrRevisionNotFound):
            ki.get(rev)
    else:
        assert ki.get(rev) == want


def test_tombstone_of_a_deleted_key_fails():
    ki = KeyIndex(b"foo")
    ki.put(R(5))
    ki.tombstone(R(7))
    with pytest.raises(ErrRevisionNotFound):
        ki.tombstone(R(8))


def test_put_must_move_forward():
    ki = KeyIndex(b"foo")
    ki.put(R(5))
    with pytest.raises(ValueError):
        ki.put(R(5))


def test_since_returns_newest_sub_per_main():
    assert sample().since(8) == [R(8), R(10), R(12), R(14, 1), R(16)]


@pytest.mark.parametrize(
    ("at", "gens", "kept"),
    [
        (1, [[R(2), R(4), R(6)], [R(8), R(10), R(12)], [R(14), R(14, 1), R(16)], []], set()),
        (3, [[R(2), R(4), R(6)], [R(8), R(10), R(12)], [R(14), R(14, 1), R(16)], []], {R(2)}),
        (5, [[R(4), R(6)], [R(8), R(10), R(12)], [R(14), R(14, 1), R(16)], []], {R(4)}),
        # a tombstone exactly at the compaction revision stays (etcd PR #18274)
        (6, [[R(6)], [R(8), R(10), R(12)], [R(14), R(14, 1), R(16)], []], {R(6)}),
        (7, [[R(8), R(10), R(12)], [R(14), R(14, 1), R(16)], []], set()),
        (9, [[R(8), R(10), R(12)], [R(14), R(14, 1), R(16)], []], {R(8)}),
        (12, [[R(12)], [R(14), R(14, 1), R(16)], []], {R(12)}),
        (13, [[R(14), R(14, 1), R(16)], []], set()),
        (15, [[R(14, 1), R(16)], []], {R(14, 1)}),
        (16, [[R(16)], []], {R(16)}),
        (17, [[]], set()),
    ],
)
def test_compact_drops_old_revisions_and_ended_generations(at, gens, kept):
    ki = sample()
    keep_view: set[R] = set()
    ki.keep(at, keep_view)
    available: set[R] = set()
    ki.compact(at, available)
    assert [g.revs for g in ki.generations] == gens
    assert available == kept
    assert keep_view == kept


def test_compacted_index_still_answers_reads_at_and_after_the_compaction():
    ki = sample()
    ki.compact(9, set())
    assert ki.get(9) == (R(8), R(8), 1)
    assert ki.get(15) == (R(14, 1), R(14), 2)
    with pytest.raises(ErrRevisionNotFound):
        ki.get(16)


def test_empty_after_compacting_past_last_tombstone():
    ki = KeyIndex(b"foo")
    ki.put(R(2))
    ki.tombstone(R(3))
    ki.compact(3, set())
    assert not ki.is_empty()  # the tombstone at the compaction revision is still there
    with pytest.raises(ErrRevisionNotFound):
        ki.get(3)
    ki.compact(4, set())
    assert ki.is_empty()
