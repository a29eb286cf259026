"""The store: revisions, ranges at a revision, deletes, restore on open, consistent index, leases."""

from __future__ import annotations

import pytest

from etcd.backend import buckets
from etcd.mvcc.errors import ErrCompacted, ErrFutureRev
from etcd.mvcc.kvstore_txn import RangeOptions
from etcd.mvcc.revision import Revision, rev_to_bytes

from .conftest import LeaseNotFound, RecordingLessor


def kv_tuple(kv):
    return (kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version, kv.lease)


def test_empty_store_is_at_revision_one(store):
    assert store.rev() == 1
    rr = store.range(b"a", b"\0")
    assert (rr.kvs, rr.count, rr.rev) == ([], 0, 1)


def test_each_put_is_a_revision_and_versions_count_up(store):
    assert store.put(b"a", b"1") == 2
    assert store.put(b"a", b"2") == 3
    assert [kv_tuple(kv) for kv in store.range(b"a").kvs] == [(b"a", b"2", 2, 3, 2, 0)]


def test_delete_writes_tombstone_and_recreate_starts_version_over(store):
    store.put(b"a", b"1")
    assert store.delete_range(b"a") == (1, 3)
    assert store.range(b"a").kvs == []
    store.put(b"a", b"2")
    assert [kv_tuple(kv) for kv in store.range(b"a").kvs] == [(b"a", b"2", 4, 4, 1, 0)]
    with store.backend.read_tx() as tx:
        assert tx.unsafe_range(buckets.KEY, rev_to_bytes(Revision(3, 0)) + b"t")


def test_delete_of_nothing_keeps_the_revision(store):
    store.put(b"a", b"1")
    assert store.delete_range(b"zz") == (0, 2)
    assert store.rev() == 2


def test_range_at_old_revision_sees_old_values(store):
    store.put(b"a", b"1")
    store.put(b"b", b"1")
    store.put(b"a", b"2")
    store.delete_range(b"b")
    rr = store.range(b"a", b"\0", RangeOptions(rev=3))
    assert [(kv.key, kv.value) for kv in rr.kvs] == [(b"a", b"1"), (b"b", b"1")]
    assert rr.rev == 5  # the header revision is the current one


def test_range_end_is_exclusive_and_from_key_is_open(store):
    for k in (b"a", b"b", b"c"):
        store.put(k, b"v")
    assert [kv.key for kv in store.range(b"a", b"c").kvs] == [b"a", b"b"]
    assert [kv.key for kv in store.range(b"b", b"\0").kvs] == [b"b", b"c"]
    assert store.range(b"c", b"a").kvs == []


def test_limit_truncates_but_count_is_total(store):
    for k in (b"a", b"b", b"c"):
        store.put(k, b"v")
    rr = store.range(b"a", b"\0", RangeOptions(limit=2))
    assert [kv.key for kv in rr.kvs] == [b"a", b"b"]
    assert rr.count == 3


def test_count_only_returns_no_kvs(store):
    for k in (b"a", b"b"):
        store.put(k, b"v")
    rr = store.range(b"a", b"\0", RangeOptions(count=True))
    assert (rr.kvs, rr.count) == ([], 2)


def test_future_revision_error_text(store):
    with pytest.raises(ErrFutureRev, match=r"^mvcc: required revision is a future revision$"):
        store.range(b"a", ro=RangeOptions(rev=2))


def test_compacted_revision_error_text(store):
    store.put(b"a", b"1")
    store.put(b"a", b"2")
    store.compact(3).result(10)
    with pytest.raises(ErrCompacted, match=r"^mvcc: required revision has been compacted$"):
        store.range(b"a", ro=RangeOptions(rev=2))
    assert store.range(b"a", ro=RangeOptions(rev=3)).kvs[0].value == b"2"


def test_write_txn_is_one_revision_with_sub_revisions(store):
    with store.write() as txn:
        assert txn.put(b"a", b"1") == 2
        assert txn.put(b"b", b"1") == 2
        assert txn.delete_range(b"a") == (1, 2)
        assert [kv.key for kv in txn.range(b"a", b"\0").kvs] == [b"b"]  # sees its own writes
    assert store.rev() == 2
    with store.backend.read_tx() as tx:
        keys = [k for k, _ in tx.unsafe_range(buckets.KEY, b"", b"\xff")]
    assert keys == [rev_to_bytes(Revision(2, 0)), rev_to_bytes(Revision(2, 1)),
                    rev_to_bytes(Revision(2, 2)) + b"t"]


def test_read_only_write_txn_keeps_revision(store):
    with store.write() as txn:
        txn.range(b"a")
    assert store.rev() == 1


def test_restore_on_open_rebuilds_index_and_revision(opener, store):
    store.put(b"a", b"1")
    store.put(b"b", b"1")
    store.delete_range(b"a")
    store.put(b"a", b"2")
    store.put(b"a", b"3")
    before = [kv_tuple(kv) for kv in store.range(b"", b"\0").kvs]
    old = [kv_tuple(kv) for kv in store.range(b"", b"\0", RangeOptions(rev=3)).kvs]
    store2 = opener.reopen(store)
    assert store2.rev() == 6
    assert [kv_tuple(kv) for kv in store2.range(b"", b"\0").kvs] == before
    assert [kv_tuple(kv) for kv in store2.range(b"", b"\0", RangeOptions(rev=3)).kvs] == old
    assert store2.put(b"c", b"1") == 7


def test_restore_after_compaction_keeps_compact_revision(opener, store):
    for i in range(5):
        store.put(b"a", b"%d" % i)
    store.compact(4).result(10)
    store2 = opener.reopen(store)
    assert store2.compact_main_rev == 4
    with pytest.raises(ErrCompacted):
        store2.range(b"a", ro=RangeOptions(rev=3))
    assert store2.range(b"a").kvs[0].version == 5


def test_revision_never_goes_back_after_everything_is_compacted(opener, store):
    store.put(b"a", b"1")
    store.delete_range(b"a")
    store.compact(3).result(10)
    store2 = opener.reopen(store)
    assert store2.rev() == 3
    assert store2.put(b"b", b"1") == 4


def test_consistent_index_written_with_the_changes(opener):
    ci = [0]
    store = opener(consistent_index=lambda: ci[0])
    ci[0] = 11
    store.put(b"a", b"1")
    ci[0] = 12
    with store.write() as txn:
        txn.range(b"a")  # no change: the index is not written
    store.backend.force_commit()
    assert store.consistent_index() == 11
    store.commit()
    assert store.consistent_index() == 12


def test_lease_attach_detach_follow_puts_and_deletes(opener):
    lessor = RecordingLessor(1, 2)
    store = opener(lease_attacher=lessor)
    store.put(b"a", b"1", lease=1)
    assert lessor.items == {1: {b"a"}, 2: set()}
    store.put(b"a", b"2", lease=2)
    assert lessor.items == {1: set(), 2: {b"a"}}
    assert store.range(b"a").kvs[0].lease == 2
    store.delete_range(b"a")
    assert lessor.items == {1: set(), 2: set()}


def test_put_with_unknown_lease_raises_the_lessors_error(opener):
    store = opener(lease_attacher=RecordingLessor())
    with pytest.raises(LeaseNotFound):
        store.put(b"a", b"1", lease=9)
    assert store.rev() == 1
    assert store.range(b"a").kvs == []


def test_restore_reattaches_live_keys(opener):
    store = opener(lease_attacher=RecordingLessor(1))
    store.put(b"a", b"1", lease=1)
    store.put(b"b", b"1", lease=1)
    store.delete_range(b"b")
    lessor = RecordingLessor(1)
    opener.reopen(store, lease_attacher=lessor)
    assert lessor.items == {1: {b"a"}}
