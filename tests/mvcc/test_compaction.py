"""Compaction (index and physical, in batches, resumed on open) and HashKV."""

from __future__ import annotations

import pytest

from etcd.backend import buckets
from etcd.mvcc.errors import ErrCompacted, ErrFutureRev
from etcd.mvcc.kvstore_compaction import FINISHED_COMPACT_KEY, SCHEDULED_COMPACT_KEY
from etcd.mvcc.kvstore_txn import RangeOptions
from etcd.mvcc.revision import Revision, bytes_to_rev, rev_to_bytes


def stored_revs(store) -> list[int]:
    with store.backend.read_tx() as tx:
        return [bytes_to_rev(k).main for k, _ in tx.unsafe_range(buckets.KEY, b"", b"\xff")]


def history(store) -> None:
    # a: 2, 3; b: 4, deleted 5; c: 6; a: 7
    store.put(b"a", b"1")
    store.put(b"a", b"2")
    store.put(b"b", b"1")
    store.delete_range(b"b")
    store.put(b"c", b"1")
    store.put(b"a", b"3")


def test_physical_compaction_keeps_latest_revision_at_or_below(store):
    history(store)
    assert store.compact(6).result(10) is True
    # a@3 is kept (a's newest at rev 6), b's generation ended at 5 so it is gone, c@6 kept, a@7 kept
    assert stored_revs(store) == [3, 6, 7]
    assert [kv.value for kv in store.range(b"a", ro=RangeOptions(rev=6)).kvs] == [b"2"]


def test_tombstone_at_the_compaction_revision_survives_until_the_next(opener, store):
    history(store)  # b deleted at 5
    store.compact(5).result(10)
    assert 5 in stored_revs(store)
    h = store.hash_by_rev(7)
    store2 = opener.reopen(store)  # the restored index must keep the tombstone too
    assert store2.hash_by_rev(7) == h
    store2.compact(6).result(10)
    assert 5 not in stored_revs(store2)


def test_compaction_in_small_batches_gives_the_same_result(opener):
    store = opener(compaction_batch_limit=2)
    history(store)
    store.compact(6).result(10)
    assert stored_revs(store) == [3, 6, 7]


def test_compaction_records_scheduled_and_finished(store):
    history(store)
    store.compact(5).result(10)
    with store.backend.read_tx() as tx:
        assert tx.unsafe_range(buckets.META, SCHEDULED_COMPACT_KEY)[0][1] == rev_to_bytes(Revision(5))
        assert tx.unsafe_range(buckets.META, FINISHED_COMPACT_KEY)[0][1] == rev_to_bytes(Revision(5))


def test_compact_twice_at_the_same_revision_fails(store):
    history(store)
    store.compact(4).result(10)
    with pytest.raises(ErrCompacted):
        store.compact(4)
    with pytest.raises(ErrFutureRev):
        store.compact(99)


def test_interrupted_compaction_resumes_on_open(opener, store):
    history(store)
    # What a crash right after scheduling leaves: the scheduled revision, no deletions, no finish.
    with store.backend.batch_tx() as tx:
        tx.unsafe_put(buckets.META, SCHEDULED_COMPACT_KEY, rev_to_bytes(Revision(6)))
    store2 = opener.reopen(store)
    assert store2.compact_main_rev == 6
    assert store2.resumed_compaction is not None
    assert store2.resumed_compaction.result(10) is True
    assert stored_revs(store2) == [3, 6, 7]
    with pytest.raises(ErrCompacted):
        store2.range(b"a", ro=RangeOptions(rev=5))


def test_half_done_compaction_restores_a_consistent_index(opener, store):
    history(store)
    with store.backend.batch_tx() as tx:
        tx.unsafe_put(buckets.META, SCHEDULED_COMPACT_KEY, rev_to_bytes(Revision(6)))
        # a crash after the first batch deleted a@2 and b@4 but not b's tombstone
        tx.unsafe_delete(buckets.KEY, rev_to_bytes(Revision(2)))
        tx.unsafe_delete(buckets.KEY, rev_to_bytes(Revision(4)))
    store2 = opener.reopen(store)
    store2.resumed_compaction.result(10)
    assert stored_revs(store2) == [3, 6, 7]
    assert [(kv.key, kv.version) for kv in store2.range(b"", b"\0").kvs] == [(b"a", 3), (b"c", 1)]
    store2.put(b"b", b"again")
    assert store2.range(b"b").kvs[0].version == 1


def test_hash_equal_for_equal_histories(make_store):
    s1, s2 = make_store("m1"), make_store("m2")
    for s in (s1, s2):
        history(s)
    assert s1.hash_by_rev() == s2.hash_by_rev()
    s2.put(b"x", b"1")
    h1, h2 = s1.hash_by_rev(7), s2.hash_by_rev(7)
    assert h1[0] == h2[0]  # same history up to 7
    assert (h1.revision, h2.revision) == (7, 8)  # each reports its own current revision
    assert s1.hash_by_rev()[0] != s2.hash_by_rev()[0]


def test_hash_differs_when_a_value_differs(make_store):
    s1, s2 = make_store("m1"), make_store("m2")
    s1.put(b"a", b"1")
    s2.put(b"a", b"2")
    assert s1.hash_by_rev()[0] != s2.hash_by_rev()[0]


def test_hash_returns_current_and_compact_revision(store):
    history(store)
    store.compact(4).result(10)
    h = store.hash_by_rev(6)
    assert (h.compact_revision, h.revision) == (4, 7)
    assert tuple(h) == (h.hash, 4, 7)
    with pytest.raises(ErrCompacted):
        store.hash_by_rev(4)
    with pytest.raises(ErrFutureRev):
        store.hash_by_rev(8)


def test_hash_agrees_between_compacted_members_mid_compaction(make_store):
    s1, s2 = make_store("m1"), make_store("m2", compaction_batch_limit=1)
    for s in (s1, s2):
        history(s)
    s1.compact(5).result(10)
    fut = s2.compact(5)  # hash while the deletions may still be running
    h2 = s2.hash_by_rev(7)
    fut.result(10)
    assert h2 == s1.hash_by_rev(7) == s2.hash_by_rev(7)


def test_compact_then_defrag_gives_space_back(store):
    """The NOSPACE recovery path: compact the history away, then defragment."""
    value = b"v" * 2048
    for i in range(1500):
        store.put(b"k%d" % (i % 10), value)
    store.backend.force_commit()
    store.backend.defrag()
    full = store.backend.size()
    store.compact(store.rev()).result(30)
    store.backend.defrag()
    assert store.backend.size() < full / 4
    assert len(store.range(b"k", b"l").kvs) == 10
