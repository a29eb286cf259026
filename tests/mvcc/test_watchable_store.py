"""Watchable store behaviour, one per test; catch-up and victims are driven by explicit sync calls."""

from __future__ import annotations

import threading

import pytest

from etcd.backend.backend import Backend
from etcd.mvcc import watchable_store
from etcd.mvcc.errors import ErrEmptyWatcherRange, ErrWatcherDuplicateID, ErrWatcherNotExist
from etcd.mvcc.kvstore import KVStore
from etcd.mvcc.mvccpb.kv_pb2 import Event
from etcd.mvcc.watcher import FilterType

PUT, DELETE = Event.PUT, Event.DELETE


def evs(resps):
    return [(r.watch_id, e.type, e.kv.key, e.kv.value, e.kv.mod_revision) for r in resps for e in r.events]


def test_watch_from_now_sees_only_later_writes(store):
    store.put(b"a", b"old")
    ws = store.new_watch_stream()
    wid = ws.watch(b"a")
    store.put(b"a", b"new")
    resps = ws.poll()
    assert evs(resps) == [(wid, PUT, b"a", b"new", 3)]
    assert resps[0].revision == 3


def test_watch_from_past_revision_catches_up_then_follows(store):
    store.put(b"a", b"1")
    store.put(b"a", b"2")
    ws = store.new_watch_stream()
    wid = ws.watch(b"a", start_rev=2)
    assert ws.poll() == []
    assert store.sync_watchers() == 0
    assert evs(ws.poll()) == [(wid, PUT, b"a", b"1", 2), (wid, PUT, b"a", b"2", 3)]
    store.put(b"a", b"3")
    assert evs(ws.poll()) == [(wid, PUT, b"a", b"3", 4)]


def test_range_and_from_key_watchers_see_only_their_keys(store):
    ws = store.new_watch_stream()
    r = ws.watch(b"b", b"d")
    f = ws.watch(b"c", b"\0")
    for k in (b"a", b"b", b"c", b"d"):
        store.put(k, b"v")
    got = evs(ws.poll())
    # the order between watchers within one revision is unspecified
    assert sorted((w, k) for w, _, k, _, _ in got) == [(r, b"b"), (r, b"c"), (f, b"c"), (f, b"d")]


def test_a_txns_events_arrive_in_one_response(store):
    ws = store.new_watch_stream()
    wid = ws.watch(b"", b"\0")
    with store.write() as txn:
        txn.put(b"a", b"1")
        txn.put(b"b", b"1")
        txn.delete_range(b"a")
    resps = ws.poll()
    assert len(resps) == 1
    assert evs(resps) == [(wid, PUT, b"a", b"1", 2), (wid, PUT, b"b", b"1", 2), (wid, DELETE, b"a", b"", 2)]


def test_filters_drop_puts_or_deletes(store):
    ws = store.new_watch_stream()
    no_put = ws.watch(b"a", filters=[FilterType.NOPUT])
    no_del = ws.watch(b"a", filters=[FilterType.NODELETE])
    store.put(b"a", b"1")
    store.delete_range(b"a")
    got = evs(ws.poll())
    assert got == [(no_del, PUT, b"a", b"1", 2), (no_put, DELETE, b"a", b"", 3)]


def test_prev_kv_on_put_and_delete(store):
    store.put(b"a", b"1")
    ws = store.new_watch_stream()
    ws.watch(b"a", prev_kv=True)
    store.put(b"a", b"2")
    store.delete_range(b"a")
    resps = ws.poll()
    prevs = [(e.type, e.prev_kv.value, e.prev_kv.mod_revision) for r in resps for e in r.events]
    assert prevs == [(PUT, b"1", 2), (DELETE, b"2", 3)]


def test_prev_kv_during_catch_up(store):
    store.put(b"a", b"1")
    store.put(b"a", b"2")
    ws = store.new_watch_stream()
    ws.watch(b"a", start_rev=3, prev_kv=True)
    store.sync_watchers()
    assert [e.prev_kv.value for r in ws.poll() for e in r.events] == [b"1"]


def test_progress_for_synced_watcher_only(store):
    store.put(b"a", b"1")
    ws = store.new_watch_stream()
    synced = ws.watch(b"a")
    behind = ws.watch(b"a", start_rev=1)
    ws.request_progress(synced)
    ws.request_progress(behind)
    resps = ws.poll()
    assert [(r.watch_id, r.events, r.revision) for r in resps] == [(synced, [], 2)]


def test_compacted_start_revision_cancels_with_compact_revision(store):
    for i in range(4):
        store.put(b"a", b"%d" % i)
    store.compact(4).result(10)
    ws = store.new_watch_stream()
    wid = ws.watch(b"a", start_rev=2)
    store.sync_watchers()
    resps = ws.poll()
    assert [(r.watch_id, r.compact_revision, r.events) for r in resps] == [(wid, 4, [])]
    assert ws.watcher_ids() == []
    assert store.watcher_count() == 0


def test_start_at_compacted_revision_itself_is_fine(store):
    for i in range(4):
        store.put(b"a", b"%d" % i)
    store.compact(4).result(10)
    ws = store.new_watch_stream()
    ws.watch(b"a", start_rev=4)
    store.sync_watchers()
    assert [(e.kv.value, e.kv.mod_revision) for r in ws.poll() for e in r.events] == [(b"2", 4), (b"3", 5)]


def test_watch_from_compacted_revision_sees_the_delete_there(store):
    # etcd issue #18089: a delete at exactly the compaction revision must not vanish from a watch
    # starting there (fixed in etcd 3.4.34 by keeping that tombstone, PR #18274).
    store.put(b"a", b"1")
    store.delete_range(b"a")
    store.compact(3).result(10)
    ws = store.new_watch_stream()
    ws.watch(b"a", start_rev=3)
    store.sync_watchers()
    assert [(e.type, e.kv.mod_revision) for r in ws.poll() for e in r.events] == [(DELETE, 3)]


def test_slow_watcher_becomes_victim_and_loses_nothing(store):
    ws = store.new_watch_stream(buf_len=1)
    wid = ws.watch(b"a")
    for i in range(5):
        store.put(b"a", b"%d" % i)
    assert len(store.victims) == 1
    got = []
    for _ in range(20):  # bounded
        got += evs(ws.poll())
        store.sync_victims()
        store.sync_watchers()
        if len(got) == 5:
            break
    assert [v for _, _, _, v, _ in got] == [b"0", b"1", b"2", b"3", b"4"]
    assert {w for w, *_ in got} == {wid}
    assert store.watcher_count() == 1 and len(store.synced) == 1


def test_catch_up_in_several_passes_keeps_revisions_whole(store, monkeypatch):
    monkeypatch.setattr(watchable_store, "SYNC_MAX_REVS", 2)
    for i in range(3):
        with store.write() as txn:
            txn.put(b"a", b"%d" % i)
            txn.put(b"b", b"%d" % i)
    ws = store.new_watch_stream()
    ws.watch(b"a", b"c", start_rev=1)
    assert store.sync_watchers() == 1  # revisions 1-2 read, more to go
    assert store.sync_watchers() == 0
    resps = ws.poll()
    assert [[(e.kv.key, e.kv.mod_revision) for e in r.events] for r in resps] == [
        [(b"a", 2), (b"b", 2)],
        [(b"a", 3), (b"b", 3), (b"a", 4), (b"b", 4)],
    ]
    assert [r.revision for r in resps] == [2, 4]


def test_future_start_revision_waits_for_it(store):
    ws = store.new_watch_stream()
    ws.watch(b"a", start_rev=4)
    for i in range(4):
        store.put(b"a", b"%d" % i)
    assert [e.kv.mod_revision for r in ws.poll() for e in r.events] == [4, 5]


def test_cancel_stops_events(store):
    ws = store.new_watch_stream()
    wid = ws.watch(b"a")
    ws.cancel(wid)
    store.put(b"a", b"1")
    assert ws.poll() == []
    with pytest.raises(ErrWatcherNotExist):
        ws.cancel(wid)


def test_cancel_a_victim(store):
    ws = store.new_watch_stream(buf_len=1)
    wid = ws.watch(b"a")
    store.put(b"a", b"1")
    store.put(b"a", b"2")
    ws.cancel(wid)
    assert store.watcher_count() == 0
    ws.poll()
    store.sync_victims()
    assert ws.poll() == []


def test_watch_ids_auto_and_explicit(store):
    ws = store.new_watch_stream()
    assert ws.watch(b"a") == 0
    assert ws.watch(b"a", id=2) == 2
    assert ws.watch(b"a") == 1
    assert ws.watch(b"a") == 3
    with pytest.raises(ErrWatcherDuplicateID):
        ws.watch(b"a", id=2)


def test_empty_range_is_refused(store):
    ws = store.new_watch_stream()
    with pytest.raises(ErrEmptyWatcherRange):
        ws.watch(b"b", b"a")


def test_empty_range_end_watches_the_single_key(store):
    ws = store.new_watch_stream()
    ws.watch(b"a", b"")
    store.put(b"a", b"1")
    store.put(b"ab", b"1")
    assert [e.kv.key for r in ws.poll() for e in r.events] == [b"a"]


def test_close_cancels_every_watcher(store):
    ws = store.new_watch_stream()
    ws.watch(b"a")
    ws.watch(b"b", start_rev=1)
    ws.close()
    assert store.watcher_count() == 0


def test_on_ready_is_called_per_response(store):
    calls = []
    ws = store.new_watch_stream(on_ready=lambda: calls.append(1))
    ws.watch(b"a")
    store.put(b"a", b"1")
    store.put(b"a", b"2")
    assert len(calls) == 2 and ws.pending() == 2


def test_background_loop_catches_up(store):
    store.put(b"a", b"1")
    ready = threading.Event()
    ws = store.new_watch_stream(on_ready=ready.set)
    ws.watch(b"a", start_rev=1)
    store.start()
    assert ready.wait(5)
    resp = ws.get(timeout=5)
    assert resp is not None and [e.kv.value for e in resp.events] == [b"1"]


def test_restore_moves_watchers_to_catch_up_from_new_data(store, tmp_path):
    ws = store.new_watch_stream()
    ws.watch(b"a")
    other = Backend(str(tmp_path / "other"), batch_interval=0, sync=False)
    try:
        leader = KVStore(other)
        leader.put(b"a", b"from-leader")
        leader.put(b"a", b"again")
        leader.close()
        other.force_commit()
        old = store.backend
        store.restore(other)
        old.close()
        store.sync_watchers()
        assert [e.kv.value for r in ws.poll() for e in r.events] == [b"from-leader", b"again"]
    finally:
        store.close()
        other.close()
