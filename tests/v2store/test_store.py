"""The v2 store's operations, one behaviour per test, as etcd 3.4's ``v2store`` does them."""

from __future__ import annotations

import pytest

from etcd.api import v2error
from etcd.v2store import PERMANENT, Store, TTLOptionSet

from .conftest import SECOND, T0, ManualClock


def error_of(fn, *args, **kwargs) -> v2error.Error:  # type: ignore[no-untyped-def]
    with pytest.raises(v2error.Error) as info:
        fn(*args, **kwargs)
    return info.value


def ttl(seconds: float) -> TTLOptionSet:
    return TTLOptionSet(expire_time=T0 + int(seconds * SECOND))


# -- set / create / update ----------------------------------------------------------------------


def test_set_new_key_is_created_at_next_index(store: Store) -> None:
    e = store.set("/1/foo", False, "bar")
    assert (e.action, e.node.key, e.node.value, e.node.created_index, e.node.modified_index) == (
        "set",
        "/1/foo",
        "bar",
        1,
        1,
    )
    assert e.is_created() and e.prev_node is None and e.etcd_index == 1 == store.index()


def test_set_existing_key_reports_prev_node(store: Store) -> None:
    store.set("/1/foo", False, "bar")
    e = store.set("/1/foo", False, "baz")
    assert not e.is_created()
    assert e.prev_node is not None and (e.prev_node.value, e.prev_node.modified_index) == ("bar", 1)
    assert store.get("/1/foo").node.value == "baz"


def test_set_over_directory_is_not_a_file(store: Store) -> None:
    store.set("/1/d", True, "")
    err = error_of(store.set, "/1/d", False, "x")
    assert (err.error_code, err.cause, err.index) == (102, "/1/d", 1)


def test_set_below_a_key_is_not_a_directory(store: Store) -> None:
    store.set("/1/k", False, "v")
    err = error_of(store.set, "/1/k/child", False, "x")
    assert (err.error_code, err.cause, err.index) == (104, "/1/k", 1)


def test_create_existing_key_already_exists(store: Store) -> None:
    store.create("/1/foo", False, "a", False)
    err = error_of(store.create, "/1/foo", False, "b", False)
    assert (err.error_code, err.message, err.cause, err.index, err.status_code()) == (
        105,
        "Key already exists",
        "/1/foo",
        1,
        412,
    )


def test_create_makes_missing_directories_at_the_new_index(store: Store) -> None:
    store.set("/1/x", False, "")
    store.create("/1/a/b/c", False, "v", False)
    d = store.get("/1/a/b").node
    assert (d.dir, d.created_index, d.modified_index) == (True, 2, 2)


def test_in_order_create_names_keys_by_zero_padded_index(store: Store) -> None:
    store.set("/1/other", False, "")
    first = store.create("/1/q", False, "job1", True)
    second = store.create("/1/q", False, "job2", True)
    assert first.node.key == "/1/q/00000000000000000002"
    assert second.node.key == "/1/q/00000000000000000003"
    listed = store.get("/1/q", sort=True).node.nodes
    assert [n.value for n in listed or []] == ["job1", "job2"]


def test_create_directory_has_no_value(store: Store) -> None:
    e = store.create("/1/dir", True, "", False)
    assert e.node.dir and e.node.value is None
    assert e.to_dict()["node"] == {"key": "/1/dir", "dir": True, "modifiedIndex": 1, "createdIndex": 1}


@pytest.mark.parametrize("path", ["/", "/0", "/1", "/1/.."])
def test_root_and_namespaces_are_read_only(store: Store, path: str) -> None:
    for op in (
        lambda: store.set(path, True, ""),
        lambda: store.update(path, ""),
        lambda: store.delete(path, True, True),
        lambda: store.compare_and_swap(path, "a", 0, "b"),
    ):
        err = error_of(op)
        assert (err.error_code, err.cause) == (107, "/")


def test_update_missing_key_is_not_found(store: Store) -> None:
    err = error_of(store.update, "/1/nope", "v")
    assert (err.error_code, err.cause, err.index, err.status_code()) == (100, "/1/nope", 0, 404)


def test_update_changes_value_and_keeps_created_index(store: Store) -> None:
    store.set("/1/foo", False, "a")
    e = store.update("/1/foo", "b")
    assert (e.action, e.node.value, e.node.created_index, e.node.modified_index) == ("update", "b", 1, 2)
    assert e.prev_node is not None and e.prev_node.value == "a"


def test_update_directory_with_value_is_not_a_file(store: Store) -> None:
    store.set("/1/d", True, "")
    assert error_of(store.update, "/1/d", "v").error_code == 102


def test_update_directory_ttl_keeps_its_modified_index(store: Store) -> None:
    # etcd 3.4: node.Write ignores directories, so only the event carries the new index.
    store.set("/1/d", True, "")
    e = store.update("/1/d", "", ttl(10))
    assert (e.node.dir, e.node.ttl, e.node.modified_index) == (True, 10, 2)
    assert store.get("/1/d").node.modified_index == 1


# -- compare and swap / delete ------------------------------------------------------------------


def test_compare_and_swap_on_matching_value(store: Store) -> None:
    store.set("/1/foo", False, "bar")
    e = store.compare_and_swap("/1/foo", "bar", 0, "baz")
    assert (e.action, e.node.value, e.node.modified_index, e.node.created_index) == (
        "compareAndSwap",
        "baz",
        2,
        1,
    )
    assert e.prev_node is not None and e.prev_node.value == "bar"


def test_compare_and_swap_value_mismatch_cause(store: Store) -> None:
    store.set("/1/foo", False, "bar2")
    err = error_of(store.compare_and_swap, "/1/foo", "nope", 0, "x")
    assert (err.error_code, err.cause, err.index, err.status_code()) == (101, "[nope != bar2]", 1, 412)


def test_compare_and_swap_index_mismatch_cause(store: Store) -> None:
    store.set("/1/foo", False, "bar")
    assert error_of(store.compare_and_swap, "/1/foo", "", 7, "x").cause == "[7 != 1]"


def test_compare_and_swap_both_mismatch_cause(store: Store) -> None:
    store.set("/1/foo", False, "bar")
    assert error_of(store.compare_and_swap, "/1/foo", "no", 7, "x").cause == "[no != bar] [7 != 1]"


def test_compare_and_swap_on_directory_is_not_a_file(store: Store) -> None:
    store.set("/1/d", True, "")
    assert error_of(store.compare_and_swap, "/1/d", "a", 0, "b").error_code == 102


def test_compare_and_delete_matching_index(store: Store) -> None:
    store.set("/1/foo", False, "bar")
    e = store.compare_and_delete("/1/foo", "", 1)
    assert (e.action, e.node.modified_index, e.etcd_index) == ("compareAndDelete", 2, 2)
    assert error_of(store.get, "/1/foo").error_code == 100


def test_compare_and_delete_mismatch_keeps_key(store: Store) -> None:
    store.set("/1/foo", False, "bar")
    err = error_of(store.compare_and_delete, "/1/foo", "x", 0)
    assert (err.error_code, err.cause) == (101, "[x != bar]")
    assert store.get("/1/foo").node.value == "bar"


# -- delete ---------------------------------------------------------------------------------------


def test_delete_key_reports_prev_node(store: Store) -> None:
    store.set("/1/foo", False, "bar")
    e = store.delete("/1/foo")
    assert (e.action, e.node.key, e.node.modified_index, e.node.created_index) == ("delete", "/1/foo", 2, 1)
    assert e.prev_node is not None and e.prev_node.value == "bar"
    assert e.to_dict()["node"] == {"key": "/1/foo", "modifiedIndex": 2, "createdIndex": 1}


def test_delete_directory_needs_dir_flag(store: Store) -> None:
    store.set("/1/d", True, "")
    err = error_of(store.delete, "/1/d")
    assert (err.error_code, err.cause, err.status_code()) == (102, "/1/d", 403)


def test_delete_non_empty_directory_needs_recursive(store: Store) -> None:
    store.set("/1/d/k", False, "v")
    err = error_of(store.delete, "/1/d", True)
    assert (err.error_code, err.message, err.cause, err.status_code()) == (
        108,
        "Directory not empty",
        "/1/d",
        403,
    )
    assert store.get("/1/d/k").node.value == "v"


def test_recursive_delete_removes_subtree(store: Store) -> None:
    store.set("/1/d/a/b", False, "v")
    store.set("/1/d/c", False, "v")
    e = store.delete("/1/d", recursive=True)
    assert e.node.dir and e.prev_node is not None and e.prev_node.dir
    assert error_of(store.get, "/1/d/a/b").error_code == 100
    assert store.get("/1").node.nodes == []


def test_delete_missing_key_is_not_found(store: Store) -> None:
    err = error_of(store.delete, "/1/a/b")
    assert (err.error_code, err.cause) == (100, "/1/a")


# -- get ------------------------------------------------------------------------------------------


def test_get_missing_key_reports_full_path_and_index(store: Store) -> None:
    store.set("/1/x", False, "")
    err = error_of(store.get, "/1/nope")
    assert (err.error_code, err.cause, err.index) == (100, "/1/nope", 1)


def test_get_directory_lists_one_level_without_recursive(store: Store) -> None:
    store.set("/1/d/sub/k", False, "v")
    store.set("/1/d/k", False, "w")
    nodes = store.get("/1/d").node.nodes or []
    assert [(n.key, n.dir, n.nodes) for n in nodes] == [("/1/d/sub", True, None), ("/1/d/k", False, None)]


def test_recursive_get_lists_subtrees(store: Store) -> None:
    store.set("/1/d/sub/k", False, "v")
    (sub,) = store.get("/1/d", recursive=True).node.nodes or []
    assert [(n.key, n.value) for n in sub.nodes or []] == [("/1/d/sub/k", "v")]


def test_sorted_get_orders_children_by_key(store: Store) -> None:
    for name in ["c", "a", "b"]:
        store.set(f"/1/d/{name}", False, name)
    assert [n.key for n in store.get("/1/d", sort=True).node.nodes or []] == ["/1/d/a", "/1/d/b", "/1/d/c"]


def test_hidden_keys_are_not_listed_but_can_be_read(store: Store) -> None:
    store.set("/1/d/_hidden", False, "h")
    store.set("/1/d/shown", False, "s")
    assert [n.key for n in store.get("/1/d", recursive=True).node.nodes or []] == ["/1/d/shown"]
    assert store.get("/1/d/_hidden").node.value == "h"


def test_get_json_shape_matches_etcd(store: Store) -> None:
    store.set("/1/foo", False, "bar")
    store.set("/1/dir/x", False, "1")
    assert store.get("/1", sort=True).to_json() == (
        '{"action":"get","node":{"key":"/1","dir":true,"nodes":['
        '{"key":"/1/dir","dir":true,"modifiedIndex":2,"createdIndex":2},'
        '{"key":"/1/foo","value":"bar","modifiedIndex":1,"createdIndex":1}]}}'
    )


def test_get_empty_directory_has_no_nodes_field(store: Store) -> None:
    store.set("/1/d", True, "")
    assert "nodes" not in store.get("/1/d").to_dict()["node"]


def test_empty_value_is_still_printed(store: Store) -> None:
    assert store.set("/1/k", False, "").to_dict()["node"]["value"] == ""


# -- TTL ------------------------------------------------------------------------------------------


def test_ttl_key_shows_expiration_and_seconds_left(store: Store, clock: ManualClock) -> None:
    e = store.set("/1/t", False, "v", ttl(100))
    assert e.to_dict()["node"]["expiration"] == "2026-01-01T00:01:40Z" and e.node.ttl == 100
    clock.advance(30.5)
    assert store.get("/1/t").node.ttl == 70


def test_key_is_not_expired_before_cutoff(store: Store) -> None:
    store.set("/1/t", False, "v", ttl(10))
    assert store.delete_expired_keys(T0 + 10 * SECOND - 1) == []
    assert store.get("/1/t").node.value == "v"


def test_expired_key_is_removed_with_expire_event(store: Store) -> None:
    store.set("/1/t", False, "v", ttl(10))
    (e,) = store.delete_expired_keys(T0 + 10 * SECOND)
    assert (e.action, e.node.key, e.node.modified_index, e.node.created_index, e.etcd_index) == (
        "expire",
        "/1/t",
        2,
        1,
        2,
    )
    assert e.prev_node is not None and e.prev_node.value == "v"
    assert error_of(store.get, "/1/t").error_code == 100
    assert store.stats.expire_count == 1


def test_keys_expire_soonest_first(store: Store) -> None:
    store.set("/1/late", False, "", ttl(20))
    store.set("/1/early", False, "", ttl(5))
    store.set("/1/mid", False, "", ttl(10))
    events = store.delete_expired_keys(T0 + 60 * SECOND)
    assert [(e.node.key, e.node.modified_index) for e in events] == [
        ("/1/early", 4),
        ("/1/mid", 5),
        ("/1/late", 6),
    ]


def test_expiring_directory_removes_its_subtree(store: Store) -> None:
    store.set("/1/d", True, "", ttl(5))
    store.set("/1/d/k", False, "v", ttl(50))
    (e,) = store.delete_expired_keys(T0 + 5 * SECOND)
    assert e.node.dir and not store.has_ttl_keys()
    assert error_of(store.get, "/1/d/k").error_code == 100


def test_update_without_ttl_makes_key_permanent(store: Store) -> None:
    store.set("/1/t", False, "v", ttl(5))
    e = store.update("/1/t", "w", TTLOptionSet(expire_time=PERMANENT))
    assert e.node.expiration is None and "ttl" not in e.to_dict()["node"]
    assert store.delete_expired_keys(T0 + 60 * SECOND) == [] and not store.has_ttl_keys()


def test_update_with_ttl_moves_expiry(store: Store) -> None:
    store.set("/1/t", False, "v", ttl(5))
    store.update("/1/t", "v", ttl(50))
    assert store.delete_expired_keys(T0 + 10 * SECOND) == []
    assert [e.node.key for e in store.delete_expired_keys(T0 + 50 * SECOND)] == ["/1/t"]


def test_refresh_keeps_value_and_resets_ttl(store: Store) -> None:
    store.set("/1/t", False, "v", ttl(5))
    e = store.set("/1/t", False, "", TTLOptionSet(expire_time=T0 + 30 * SECOND, refresh=True))
    assert (e.node.value, e.node.ttl, e.refresh) == ("v", 30, True)
    assert e.to_dict()["refresh"] is True
    assert store.delete_expired_keys(T0 + 10 * SECOND) == []


def test_refresh_of_missing_key_is_not_found(store: Store) -> None:
    err = error_of(store.set, "/1/nope", False, "", TTLOptionSet(expire_time=T0, refresh=True))
    assert err.error_code == 100


def test_expire_time_before_2000_means_permanent(store: Store) -> None:
    e = store.set("/1/k", False, "v", TTLOptionSet(expire_time=5 * SECOND))
    assert e.node.expiration is None and not store.has_ttl_keys()


def test_replacing_ttl_key_drops_old_expiry(store: Store) -> None:
    store.set("/1/k", False, "v", ttl(5))
    store.set("/1/k", False, "w")
    assert not store.has_ttl_keys()
    assert store.delete_expired_keys(T0 + 60 * SECOND) == []


def test_deleting_ttl_key_drops_its_expiry(store: Store) -> None:
    store.set("/1/k", False, "v", ttl(5))
    store.delete("/1/k")
    assert not store.has_ttl_keys()


# -- stats ----------------------------------------------------------------------------------------


def test_stats_count_successes_and_failures(store: Store) -> None:
    store.set("/1/a", False, "1")
    store.get("/1/a")
    error_of(store.get, "/1/b")
    error_of(store.create, "/1/a", False, "", False)
    store.compare_and_swap("/1/a", "1", 0, "2")
    error_of(store.compare_and_swap, "/1/a", "1", 0, "2")
    store.delete("/1/a")
    assert store.stats.to_dict() == {
        "getsSuccess": 1,
        "getsFail": 1,
        "setsSuccess": 1,
        "setsFail": 0,
        "deleteSuccess": 1,
        "deleteFail": 0,
        "updateSuccess": 0,
        "updateFail": 0,
        "createSuccess": 0,
        "createFail": 1,
        "compareAndSwapSuccess": 1,
        "compareAndSwapFail": 1,
        "compareAndDeleteSuccess": 0,
        "compareAndDeleteFail": 0,
        "expireCount": 0,
        "watchers": 0,
    }


def test_json_stats_include_watcher_count(store: Store) -> None:
    store.watch("/1/a")
    assert b'"watchers":1' in store.json_stats()


def test_failed_writes_do_not_advance_index(store: Store) -> None:
    store.set("/1/a", False, "1")
    error_of(store.create, "/1/a", False, "", False)
    error_of(store.compare_and_swap, "/1/a", "x", 0, "2")
    error_of(store.delete, "/1/missing")
    assert store.index() == 1


def test_some_failures_count_as_successes_like_etcd(store: Store) -> None:
    # etcd 3.4 compat: these error paths in store.go skip its stats' failure branch.
    store.set("/1/k", False, "v")
    store.set("/1/d", True, "")
    error_of(store.compare_and_delete, "/1/k", "other", 0)
    error_of(store.compare_and_delete, "/1/d", "", 0)
    error_of(store.compare_and_delete, "/1/missing", "", 0)
    error_of(store.update, "/1", "")
    error_of(store.update, "/1/d", "value")
    error_of(store.delete, "/1", True, True)
    error_of(store.compare_and_swap, "/1", "a", 0, "b")
    error_of(store.compare_and_swap, "/1/k", "other", 0, "b")
    s = store.stats
    assert (s.compare_and_delete_success, s.compare_and_delete_fail) == (2, 1)
    assert (s.update_success, s.update_fail) == (2, 0)
    assert (s.delete_success, s.delete_fail) == (1, 0)
    assert (s.compare_and_swap_success, s.compare_and_swap_fail) == (1, 1)


def test_metrics_count_reads_writes_expiries_and_watchers(store: Store) -> None:
    from prometheus_client import REGISTRY

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    names = [
        ("etcd_debugging_store_reads_total", {"action": "get"}),
        ("etcd_debugging_store_reads_total", {"action": "getRecursive"}),
        ("etcd_debugging_store_writes_total", {"action": "set"}),
        ("etcd_debugging_store_writes_total", {"action": "compareAndSwap"}),
        ("etcd_debugging_store_expires_total", {}),
        ("etcd_debugging_store_watch_requests_total", {}),
        ("etcd_debugging_store_watchers", {}),
    ]
    before = [sample(n, **lbl) for n, lbl in names]
    store.set("/1/k", False, "v", ttl(1))
    store.get("/1/k")
    error_of(store.get, "/1/missing", recursive=True)
    error_of(store.compare_and_swap, "/1/k", "x", 0, "y")
    w = store.watch("/1/other")
    store.watch("/1/another")
    w.remove()
    store.delete_expired_keys(T0 + SECOND)
    assert [sample(n, **lbl) - b for (n, lbl), b in zip(names, before, strict=True)] == [1, 1, 1, 1, 1, 2, 1]
