"""``keys_response.render``: statuses, headers and bodies as etcd 3.4's ``writeKeyEvent`` and
``writeKeyError`` write them."""

from __future__ import annotations

import json

from etcd.api import v2error
from etcd.api.v2http import render, render_method_not_allowed, render_watch_event, render_watch_start
from etcd.v2store import Store, TTLOptionSet

from .conftest import SECOND, T0


def test_created_set_is_201_with_raft_headers(store: Store) -> None:
    ev = store.set("/1/a", False, "v")
    r = render(ev, raft_index=42, raft_term=3, cluster_id=0x0ABC)
    assert r.status == 201
    assert r.headers == {
        "X-Etcd-Cluster-Id": "abc",
        "Content-Type": "application/json",
        "X-Etcd-Index": "1",
        "X-Raft-Index": "42",
        "X-Raft-Term": "3",
    }
    assert r.body == b'{"action":"set","node":{"key":"/a","value":"v","modifiedIndex":1,"createdIndex":1}}\n'


def test_replacing_set_is_200_and_trims_prev_node(store: Store) -> None:
    store.set("/1/a", False, "v")
    r = render(store.set("/1/a", False, "w"), raft_index=1, raft_term=1, cluster_id=1)
    assert r.status == 200
    body = json.loads(r.body)
    assert (body["node"]["key"], body["prevNode"]["key"], body["prevNode"]["value"]) == ("/a", "/a", "v")


def test_get_root_lists_trimmed_children_without_key(store: Store) -> None:
    store.set("/1/d/x", False, "1")
    r = render(store.get("/1", recursive=True), raft_index=1, raft_term=1, cluster_id=1)
    assert r.status == 200
    assert json.loads(r.body) == {
        "action": "get",
        "node": {
            "dir": True,
            "nodes": [{"key": "/d", "dir": True, "nodes": [{"key": "/d/x", "value": "1", "modifiedIndex": 1,
                                                             "createdIndex": 1}],
                       "modifiedIndex": 1, "createdIndex": 1}],
        },
    }  # fmt: skip


def test_render_leaves_the_history_event_untouched(store: Store) -> None:
    ev = store.set("/1/a", False, "v", TTLOptionSet(expire_time=T0 + 5 * SECOND))
    ev2 = store.set("/1/a", False, "", TTLOptionSet(expire_time=T0 + 9 * SECOND, refresh=True))
    r = render(ev2, raft_index=1, raft_term=1, cluster_id=1)
    assert b"refresh" not in r.body  # Go's Event.Clone drops it
    assert ev2.refresh and ev2.node.key == "/1/a" and ev.node.key == "/1/a"


def test_no_value_on_success_only_for_writes(store: Store) -> None:
    writes = [store.set("/1/a", False, "v"), store.update("/1/a", "w")]
    writes += [store.create("/1/b", False, "", False), store.compare_and_swap("/1/a", "w", 0, "x")]
    for ev in writes:
        r = render(ev, raft_index=1, raft_term=1, cluster_id=1, no_value_on_success=True)
        assert r.body == f'{{"action":"{ev.action}"}}\n'.encode()
    for ev in (store.get("/1/a"), store.delete("/1/a")):
        r = render(ev, raft_index=1, raft_term=1, cluster_id=1, no_value_on_success=True)
        assert json.loads(r.body)["node"]["key"] == "/a"


def test_store_error_trims_cause_and_uses_its_index(store: Store) -> None:
    store.set("/1/a", False, "v")
    try:
        store.create("/1/a", False, "v", False)
    except v2error.Error as e:
        r = render(e, raft_index=9, raft_term=9, cluster_id=255)
    assert r.status == 412
    assert r.headers == {"X-Etcd-Cluster-Id": "ff", "X-Etcd-Index": "1", "Content-Type": "application/json"}
    assert r.body == b'{"errorCode":105,"message":"Key already exists","cause":"/a","index":1}\n'


def test_error_statuses_and_index_override() -> None:
    for code, status in ((100, 404), (101, 412), (102, 403), (104, 400), (108, 403), (203, 400), (300, 500)):
        r = render(v2error.Error(code, "c", 7), raft_index=0, raft_term=0, cluster_id=1, etcd_index=11)
        assert r.status == status and r.headers["X-Etcd-Index"] == "11"
        assert json.loads(r.body) == {
            "errorCode": code,
            "message": v2error.MESSAGES[code],
            "cause": "c",
            "index": 7,
        }


def test_other_exceptions_are_raft_internal_errors() -> None:
    r = render(TimeoutError("etcdserver: request timed out"), raft_index=0, raft_term=0, cluster_id=1)
    assert r.status == 500
    assert r.body == (
        b'{"errorCode":300,"message":"Raft Internal Error",'
        b'"cause":"etcdserver: request timed out","index":0}\n'
    )


def test_method_not_allowed() -> None:
    r = render_method_not_allowed()
    assert (r.status, r.body, r.headers["Allow"]) == (
        405,
        b"Method Not Allowed\n",
        "HEAD,GET,PUT,POST,DELETE",
    )
    assert "X-Etcd-Cluster-Id" not in r.headers


def test_watch_start_and_events(store: Store) -> None:
    w = store.watch("/1/w", recursive=True)
    store.set("/1/w/a", False, "1")
    store.set("/1/w/a", False, "", TTLOptionSet(expire_time=T0 + 5 * SECOND, refresh=True))
    head = render_watch_start(w.start_index, raft_index=8, raft_term=2, cluster_id=16)
    assert head == (
        200,
        {
            "X-Etcd-Cluster-Id": "10",
            "Content-Type": "application/json",
            "X-Etcd-Index": "0",
            "X-Raft-Index": "8",
            "X-Raft-Term": "2",
        },
        b"",
    )
    ev = w.next_event()
    assert ev is not None
    assert render_watch_event(ev) == (
        b'{"action":"set","node":{"key":"/w/a","value":"1","modifiedIndex":1,"createdIndex":1}}\n'
    )
    assert w.next_event() is None  # a refresh is never delivered
