"""Backend behaviour, one per test, on a real RocksDB under tmp_path."""

from __future__ import annotations

import io
import threading

import pytest

from etcd.backend import buckets
from etcd.backend.backend import Backend
from etcd.backend.consistent_index import read_consistent_index, write_consistent_index
from etcd.backend.quota import BackendQuota, ErrNoSpace
from etcd.backend.snapshot import SnapshotError
from etcd.mvcc.request import PutRequest, RequestOp, TxnRequest


def put(be: Backend, bucket: bytes, key: bytes, value: bytes) -> None:
    with be.batch_tx() as tx:
        tx.unsafe_put(bucket, key, value)


def all_of(be: Backend, bucket: bytes) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    with be.read_tx() as tx:
        tx.unsafe_for_each(bucket, lambda k, v: out.append((k, v)))
    return out


def test_read_tx_sees_pending_batch(be):
    put(be, buckets.KEY, b"a", b"1")
    assert be.commits == 0
    with be.read_tx() as tx:
        assert tx.unsafe_range(buckets.KEY, b"a") == [(b"a", b"1")]


def test_pending_delete_hides_committed_value(be):
    put(be, buckets.KEY, b"a", b"1")
    be.force_commit()
    with be.batch_tx() as tx:
        tx.unsafe_delete(buckets.KEY, b"a")
    with be.read_tx() as tx:
        assert tx.unsafe_range(buckets.KEY, b"a") == []
        assert tx.unsafe_range(buckets.KEY, b"", b"\xff") == []


def test_range_merges_committed_and_pending_in_key_order(be):
    for k in (b"a", b"c", b"e"):
        put(be, buckets.KEY, k, b"old")
    be.force_commit()
    with be.batch_tx() as tx:
        tx.unsafe_put(buckets.KEY, b"b", b"new")
        tx.unsafe_put(buckets.KEY, b"c", b"new")
        tx.unsafe_delete(buckets.KEY, b"e")
        got = tx.unsafe_range(buckets.KEY, b"a", b"z")
    assert got == [(b"a", b"old"), (b"b", b"new"), (b"c", b"new")]


def test_empty_end_reads_the_single_key(be):
    put(be, buckets.KEY, b"a", b"1")
    put(be, buckets.KEY, b"ab", b"2")
    with be.read_tx() as tx:
        assert tx.unsafe_range(buckets.KEY, b"a", b"") == [(b"a", b"1")]
        assert tx.unsafe_range(buckets.KEY, b"zz", None) == []


def test_range_limit_and_end_are_exclusive(be):
    for i in range(10):
        put(be, buckets.KEY, b"%02d" % i, b"v")
    with be.read_tx() as tx:
        assert [k for k, _ in tx.unsafe_range(buckets.KEY, b"02", b"06")] == [b"02", b"03", b"04", b"05"]
        assert [k for k, _ in tx.unsafe_range(buckets.KEY, b"02", b"06", limit=2)] == [b"02", b"03"]
        assert tx.unsafe_range(buckets.KEY, b"06", b"02") == []


def test_buckets_do_not_leak_into_each_other(be):
    put(be, buckets.AUTH, b"Users", b"auth")
    put(be, buckets.AUTH_USERS, b"root", b"user")
    be.force_commit()
    assert all_of(be, buckets.AUTH) == [(b"Users", b"auth")]
    assert all_of(be, buckets.AUTH_USERS) == [(b"root", b"user")]


def test_empty_value_is_stored_not_missing(be):
    put(be, buckets.KEY, b"a", b"")
    be.force_commit()
    with be.read_tx() as tx:
        assert tx.unsafe_range(buckets.KEY, b"a") == [(b"a", b"")]


def test_force_commit_survives_reopen(open_backend):
    be = open_backend()
    put(be, buckets.KEY, b"a", b"1")
    be.force_commit()
    be.close()
    be2 = open_backend()
    assert all_of(be2, buckets.KEY) == [(b"a", b"1")]


def test_close_commits_pending_writes(open_backend):
    be = open_backend()
    put(be, buckets.KEY, b"a", b"1")
    be.close()
    assert all_of(open_backend(), buckets.KEY) == [(b"a", b"1")]


def test_batch_limit_commits_on_leaving_the_block(open_backend):
    be = open_backend(batch_limit=3)
    with be.batch_tx() as tx:
        tx.unsafe_put(buckets.KEY, b"a", b"1")
        tx.unsafe_put(buckets.KEY, b"b", b"1")
    assert be.commits == 0
    with be.batch_tx() as tx:
        tx.unsafe_put(buckets.KEY, b"c", b"1")
    assert be.commits == 1


def test_batch_interval_timer_commits(open_backend):
    be = open_backend(batch_interval=0.01)
    committed = threading.Event()
    be.commit_hooks.append(committed.set)
    put(be, buckets.KEY, b"a", b"1")
    assert committed.wait(5)
    assert be.commits >= 1
    with be._lock:  # nothing left pending once the timer committed
        assert be._buf.writes == 0


def test_index_and_data_commit_together(open_backend):
    be = open_backend()
    with be.batch_tx() as tx:
        tx.unsafe_put(buckets.KEY, b"a", b"1")
        write_consistent_index(tx, 7)
    be.close()
    be2 = open_backend()
    with be2.read_tx() as tx:
        assert read_consistent_index(tx) == 7
        assert tx.unsafe_range(buckets.KEY, b"a") == [(b"a", b"1")]


def test_consistent_index_is_eight_bytes_big_endian_in_meta(be):
    with be.batch_tx() as tx:
        write_consistent_index(tx, 0x0102)
        assert tx.unsafe_range(buckets.META, b"consistent_index") == [
            (b"consistent_index", b"\0\0\0\0\0\0\x01\x02")
        ]
        assert read_consistent_index(tx) == 0x0102


def test_consistent_index_missing_reads_zero(be):
    with be.read_tx() as tx:
        assert read_consistent_index(tx) == 0


def test_snapshot_restores_every_bucket(open_backend, tmp_path):
    be = open_backend()
    for b in buckets.ALL:
        put(be, b, b"k-" + b, b"v-" + b)
    with be.snapshot() as snap:
        buf = io.BytesIO()
        assert snap.write_to(buf) == snap.size
    Backend.restore_from(io.BytesIO(buf.getvalue()), str(tmp_path / "restored"))
    be2 = open_backend("restored")
    for b in buckets.ALL:
        assert all_of(be2, b) == [(b"k-" + b, b"v-" + b)]


def test_snapshot_is_point_in_time(open_backend, tmp_path):
    be = open_backend()
    put(be, buckets.KEY, b"a", b"1")
    with be.snapshot() as snap:
        put(be, buckets.KEY, b"b", b"2")
        be.force_commit()
        Backend.restore_from(iter(snap), str(tmp_path / "restored"))
    assert all_of(open_backend("restored"), buckets.KEY) == [(b"a", b"1")]


def test_truncated_snapshot_is_refused_and_leaves_nothing(be, tmp_path):
    put(be, buckets.KEY, b"a", b"1" * 1000)
    with be.snapshot() as snap:
        data = b"".join(snap)
    target = tmp_path / "restored"
    with pytest.raises(SnapshotError):
        Backend.restore_from([data[:-10]], str(target))
    assert not target.exists()


def test_corrupt_snapshot_fails_its_hash(be, tmp_path):
    put(be, buckets.KEY, b"a", b"1" * 100)
    with be.snapshot() as snap:
        data = bytearray(b"".join(snap))
    data[60] ^= 0xFF
    with pytest.raises(SnapshotError):
        Backend.restore_from([bytes(data)], str(tmp_path / "restored"))


def test_restore_refuses_a_non_empty_directory(be, tmp_path):
    with be.snapshot() as snap, pytest.raises(FileExistsError):
        Backend.restore_from(iter(snap), be.path)


def test_defrag_gives_deleted_space_back(be):
    value = b"x" * 4096
    for i in range(2000):
        put(be, buckets.KEY, b"%05d" % i, value)
    be.force_commit()
    be.defrag()
    full = be.size()
    with be.batch_tx() as tx:
        for i in range(2000):
            tx.unsafe_delete(buckets.KEY, b"%05d" % i)
    be.defrag()
    assert be.size() < full / 2
    assert all_of(be, buckets.KEY) == []


def test_size_in_use_never_exceeds_size(be):
    for i in range(100):
        put(be, buckets.KEY, b"%03d" % i, b"v" * 100)
    be.force_commit()
    be.defrag()
    assert 0 < be.size_in_use() <= be.size()


def test_quota_refuses_past_the_limit(be):
    quota = BackendQuota(be, quota_bytes=be.size() + 1000)
    assert quota.available(10)
    assert not quota.available(2000)
    assert str(ErrNoSpace()) == "etcdserver: mvcc: database space exceeded"


def test_quota_costs_as_etcd_estimates():
    assert BackendQuota.cost_put(b"k", b"vv") == 3 + 256
    txn = TxnRequest(
        success=[RequestOp(request_put=PutRequest(key=b"a", value=b"1"))],
        failure=[RequestOp(request_put=PutRequest(key=b"b", value=b"1" * 10)),
                 RequestOp(request_put=PutRequest(key=b"c", value=b""))],
    )
    assert BackendQuota.cost_txn(txn) == (1 + 10 + 256) + (1 + 256)


def test_quota_zero_means_two_gib_and_negative_disables(be):
    assert BackendQuota(be, 0).quota_bytes == 2 * 1024**3
    assert BackendQuota(be, -1).available(1 << 40)


def test_close_is_idempotent(open_backend):
    be = open_backend()
    be.close()
    be.close()


def test_nested_write_block_does_not_commit_inside_the_outer_one(tmp_path) -> None:
    """A nested `with batch_tx()` reaching the batch limit must leave the commit to the outermost block."""
    be = Backend(str(tmp_path / "db"), batch_interval=3600, batch_limit=2)
    try:
        tx = be.batch_tx()
        with tx:
            tx.unsafe_put(b"key", b"a", b"1")
            with tx:
                tx.unsafe_put(b"lease", b"b", b"2")
                tx.unsafe_put(b"lease", b"c", b"3")
            assert be._buf.writes == 3  # still pending: the outer block is open
            tx.unsafe_put(b"meta", b"consistent_index", b"\0" * 8)
        assert be._buf.writes == 0  # the outer exit committed everything in one batch
    finally:
        be.close()
