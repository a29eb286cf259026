"""v2 watchers: one-shot and stream, recursive, hidden keys, history and its 1000-event limit."""

from __future__ import annotations

import pytest

from etcd.api import v2error
from etcd.v2store import Store, TTLOptionSet, Watcher

from .conftest import SECOND, T0


def drain(w: Watcher) -> list[tuple[str, str, int]]:
    out = []
    for _ in range(1000):
        e = w.next_event()
        if e is None:
            break
        out.append((e.action, e.node.key, e.node.modified_index))
    return out


def test_one_shot_watcher_gets_next_change_then_ends(store: Store) -> None:
    w = store.watch("/1/foo")
    store.set("/1/foo", False, "a")
    store.set("/1/foo", False, "b")
    assert drain(w) == [("set", "/1/foo", 1)]
    assert w.removed and store.watcher_hub.count == 0


def test_watcher_ignores_other_keys(store: Store) -> None:
    w = store.watch("/1/foo")
    store.set("/1/bar", False, "a")
    store.set("/1/foo/", False, "x")  # cleaned to /1/foo
    assert drain(w) == [("set", "/1/foo", 2)]


def test_non_recursive_watcher_ignores_children(store: Store) -> None:
    w = store.watch("/1/d")
    store.set("/1/d/k", False, "a")
    assert drain(w) == [] and not w.removed


def test_recursive_watcher_gets_child_changes(store: Store) -> None:
    w = store.watch("/1/d", recursive=True)
    store.set("/1/d/a/b", False, "x")
    assert drain(w) == [("set", "/1/d/a/b", 1)]


def test_hidden_child_is_not_seen_by_recursive_watcher(store: Store) -> None:
    w = store.watch("/1/d", recursive=True, stream=True)
    store.set("/1/d/_h", False, "x")
    store.set("/1/d/_hd/k", False, "x")
    store.set("/1/d/k", False, "x")
    assert drain(w) == [("set", "/1/d/k", 3)]


def test_watcher_on_hidden_key_sees_it(store: Store) -> None:
    w = store.watch("/1/d/_h")
    store.set("/1/d/_h", False, "x")
    assert drain(w) == [("set", "/1/d/_h", 1)]


def test_stream_watcher_gets_every_change(store: Store) -> None:
    w = store.watch("/1/k", stream=True)
    store.set("/1/k", False, "a")
    store.update("/1/k", "b")
    store.compare_and_swap("/1/k", "b", 0, "c")
    assert drain(w) == [("set", "/1/k", 1), ("update", "/1/k", 2), ("compareAndSwap", "/1/k", 3)]
    assert not w.removed and store.watcher_hub.count == 1


def test_stream_watcher_too_far_behind_is_dropped(store: Store) -> None:
    w = store.watch("/1/k", stream=True)
    for i in range(101):
        store.set("/1/k", False, str(i))
    assert w.removed and w.pending() == 100 and store.watcher_hub.count == 0


def test_removed_watcher_gets_nothing(store: Store) -> None:
    w = store.watch("/1/k", stream=True)
    w.remove()
    w.remove()
    store.set("/1/k", False, "a")
    assert drain(w) == [] and store.watcher_hub.count == 0


def test_notify_callback_runs_per_event(store: Store) -> None:
    calls: list[int] = []
    w = store.watch("/1/k", stream=True, notify=lambda: calls.append(store.index()))
    store.set("/1/k", False, "a")
    store.set("/1/k", False, "b")
    assert len(calls) == 2 and w.pending() == 2


def test_watch_from_past_index_returns_event_from_history(store: Store) -> None:
    store.set("/1/a", False, "1")
    store.set("/1/b", False, "2")
    store.set("/1/a", False, "3")
    w = store.watch("/1/a", since_index=2)
    e = w.next_event()
    assert e is not None and (e.node.modified_index, e.node.value, e.etcd_index) == (3, "3", 3)
    assert w.start_index == 3 and store.watcher_hub.count == 0


def test_watch_of_future_index_waits(store: Store) -> None:
    store.set("/1/a", False, "1")
    w = store.watch("/1/a", since_index=3)
    store.set("/1/a", False, "2")
    assert drain(w) == []
    store.set("/1/a", False, "3")
    assert drain(w) == [("set", "/1/a", 3)]


def test_watch_of_cleared_index_is_error_401(store: Store) -> None:
    for i in range(1036):
        store.set("/1/k", False, str(i))
    with pytest.raises(v2error.Error) as info:
        store.watch("/1/k", since_index=2)
    assert info.value.to_json() == (
        '{"errorCode":401,"message":"The event in requested index is outdated and cleared",'
        '"cause":"the requested history has been cleared [37/2]","index":1036}'
    )
    assert info.value.status_code() == 400


def test_history_keeps_last_1000_events(store: Store) -> None:
    for i in range(1036):
        store.set("/1/k", False, str(i))
    e = store.watch("/1/k", since_index=37).next_event()
    assert e is not None and e.node.value == "36"


def test_deleting_directory_notifies_watchers_below_it(store: Store) -> None:
    store.set("/1/d/k", False, "v")
    w = store.watch("/1/d/k")
    store.delete("/1/d", recursive=True)
    assert drain(w) == [("delete", "/1/d", 2)]


def test_history_scan_finds_deletion_of_parent_directory(store: Store) -> None:
    store.set("/1/d/k", False, "v")
    store.delete("/1/d", recursive=True)
    e = store.watch("/1/d/k", since_index=2).next_event()
    assert e is not None and (e.action, e.node.key) == ("delete", "/1/d")


def test_expiry_notifies_watcher(store: Store) -> None:
    store.set("/1/t", False, "v", TTLOptionSet(expire_time=T0 + SECOND))
    w = store.watch("/1/t")
    store.delete_expired_keys(T0 + SECOND)
    assert drain(w) == [("expire", "/1/t", 2)]


def test_refresh_is_not_seen_by_watchers_or_history_scan(store: Store) -> None:
    store.set("/1/t", False, "v", TTLOptionSet(expire_time=T0 + SECOND))
    w = store.watch("/1/t", stream=True)
    store.set("/1/t", False, "", TTLOptionSet(expire_time=T0 + 9 * SECOND, refresh=True))
    assert drain(w) == []
    assert store.watch("/1/t", since_index=2).next_event() is None


def test_stream_watcher_hears_deletion_of_its_key_twice(store: Store) -> None:
    # etcd 3.4 compat: the removal callback and the walk up the path both reach the key's watchers.
    store.set("/1/k", False, "v")
    w = store.watch("/1/k", stream=True)
    store.delete("/1/k")
    assert drain(w) == [("delete", "/1/k", 2), ("delete", "/1/k", 2)]
