"""MVCC and backend metrics move with the operations they count (names as etcd 3.4's)."""

from __future__ import annotations

from prometheus_client import REGISTRY


def sample(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    assert value is not None, name
    return value


def test_operation_counters(store):
    before = {n: sample(n) for n in ("etcd_mvcc_put_total", "etcd_mvcc_range_total", "etcd_mvcc_delete_total",
                                      "etcd_mvcc_txn_total")}
    store.put(b"a", b"1")
    store.range(b"a")
    store.delete_range(b"a")
    with store.write() as txn:
        txn.put(b"b", b"1")
        txn.range(b"b")
    assert sample("etcd_mvcc_put_total") - before["etcd_mvcc_put_total"] == 2
    assert sample("etcd_mvcc_range_total") - before["etcd_mvcc_range_total"] == 2
    assert sample("etcd_mvcc_delete_total") - before["etcd_mvcc_delete_total"] == 1
    assert sample("etcd_mvcc_txn_total") - before["etcd_mvcc_txn_total"] == 1


def test_revision_gauges_and_commit_histogram(store):
    commits = sample("etcd_disk_backend_commit_duration_seconds_count")
    store.put(b"a", b"1")
    store.put(b"a", b"2")
    store.compact(2).result(10)
    store.backend.force_commit()
    assert sample("etcd_debugging_mvcc_current_revision") == 3
    assert sample("etcd_debugging_mvcc_compact_revision") == 2
    assert sample("etcd_disk_backend_commit_duration_seconds_count") > commits
    assert sample("etcd_mvcc_db_total_size_in_bytes") == store.backend.size()


def test_watch_gauges(store):
    streams = sample("etcd_debugging_mvcc_watch_stream_total")
    watchers = sample("etcd_debugging_mvcc_watcher_total")
    events = sample("etcd_debugging_mvcc_events_total")
    ws = store.new_watch_stream()
    ws.watch(b"a")
    ws.watch(b"b")
    store.put(b"a", b"1")
    assert sample("etcd_debugging_mvcc_watch_stream_total") == streams + 1
    assert sample("etcd_debugging_mvcc_watcher_total") == watchers + 2
    assert sample("etcd_debugging_mvcc_events_total") == events + 1
    ws.close()
    assert sample("etcd_debugging_mvcc_watch_stream_total") == streams
    assert sample("etcd_debugging_mvcc_watcher_total") == watchers
