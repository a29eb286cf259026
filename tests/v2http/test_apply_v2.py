"""``apply_v2.apply`` over a real v2 store: each (method, prevExist, prev*, dir, refresh) case picks
etcd's store operation, and store errors come back unchanged."""

from __future__ import annotations

import pytest

from etcd.api import v2error
from etcd.api.etcdserverpb.etcdserver_pb2 import Request
from etcd.api.v2http.keys_request import parse
from etcd.server import apply_v2
from etcd.server.apply_v2 import UnknownMethodError, apply
from etcd.v2store import Event, Store

from .conftest import SECOND, T0, ManualClock


def do(store: Store, method: str, key: str, now: int = T0, **q: str) -> Event | None:
    return apply(store, parse(method, "/v2/keys" + key, q, {}, now).request)


def fails(store: Store, method: str, key: str, **q: str) -> v2error.Error:
    with pytest.raises(v2error.Error) as info:
        do(store, method, key, **q)
    return info.value


def test_put_set_then_replace(store: Store) -> None:
    e = do(store, "PUT", "/a", value="1")
    assert e is not None and (e.action, e.node.key, e.node.value, e.prev_node) == ("set", "/1/a", "1", None)
    assert e.is_created()
    e = do(store, "PUT", "/a", value="2")
    assert e is not None and e.action == "set" and e.prev_node is not None and e.prev_node.value == "1"
    assert not e.is_created()


def test_put_dir_set(store: Store) -> None:
    e = do(store, "PUT", "/d", dir="true")
    assert e is not None and e.action == "set" and e.node.dir and e.node.value is None
    assert fails(store, "PUT", "/d", value="x").error_code == v2error.EcodeNotFile


def test_put_prev_exist_false_is_create(store: Store) -> None:
    e = do(store, "PUT", "/a", value="1", prevExist="false")
    assert e is not None and e.action == "create"
    err = fails(store, "PUT", "/a", value="1", prevExist="false")
    assert (err.error_code, err.cause, err.index) == (105, "/1/a", 1)
    e = do(store, "PUT", "/dd", dir="true", prevExist="false")
    assert e is not None and e.action == "create" and e.node.dir


def test_put_prev_exist_true_is_update(store: Store) -> None:
    err = fails(store, "PUT", "/a", value="1", prevExist="true")
    assert (err.error_code, err.cause) == (100, "/1/a")
    do(store, "PUT", "/a", value="1", ttl="10")
    e = do(store, "PUT", "/a", value="2", prevExist="true")
    assert e is not None and e.action == "update" and e.node.value == "2"
    assert e.node.expiration is None and e.prev_node is not None and e.prev_node.ttl == 10


def test_put_prev_exist_true_with_prev_is_cas(store: Store) -> None:
    do(store, "PUT", "/a", value="1")
    e = do(store, "PUT", "/a", value="2", prevExist="true", prevValue="1")
    assert e is not None and e.action == "compareAndSwap"
    err = fails(store, "PUT", "/a", value="3", prevExist="true", prevIndex="1")
    assert (err.error_code, err.cause, err.index) == (101, "[1 != 2]", 2)


def test_put_prev_value_and_index_is_cas(store: Store) -> None:
    do(store, "PUT", "/a", value="1")
    e = do(store, "PUT", "/a", value="2", prevValue="1", prevIndex="1")
    assert e is not None and e.action == "compareAndSwap" and e.node.modified_index == 2
    err = fails(store, "PUT", "/a", value="3", prevValue="x", prevIndex="9")
    assert (err.error_code, err.cause) == (101, "[x != 2] [9 != 2]")
    assert fails(store, "PUT", "/missing", value="3", prevValue="x").error_code == 100


def test_prev_exist_false_wins_over_prev_value(store: Store) -> None:
    # etcd checks PrevExist first: prevExist=false with prevValue is a create.
    e = do(store, "PUT", "/a", value="1", prevExist="false", prevValue="zzz")
    assert e is not None and e.action == "create"


def test_post_in_order(store: Store) -> None:
    e1 = do(store, "POST", "/q", value="a")
    e2 = do(store, "POST", "/q", value="b", ttl="5")
    assert e1 is not None and e2 is not None
    assert (e1.action, e1.node.key, e2.node.key) == (
        "create",
        "/1/q/00000000000000000001",
        "/1/q/00000000000000000002",
    )
    assert e2.node.ttl == 5 and e1.is_created()


def test_delete_kinds(store: Store) -> None:
    do(store, "PUT", "/a", value="1")
    do(store, "PUT", "/d/x", value="1")
    do(store, "PUT", "/e", dir="true")
    assert fails(store, "DELETE", "/d").error_code == v2error.EcodeNotFile
    assert fails(store, "DELETE", "/d", dir="true").error_code == v2error.EcodeDirNotEmpty
    e = do(store, "DELETE", "/e", dir="true")
    assert e is not None and e.action == "delete" and e.node.dir
    e = do(store, "DELETE", "/d", recursive="true")
    assert e is not None and e.action == "delete"
    err = fails(store, "DELETE", "/a", prevValue="2")
    assert (err.error_code, err.cause) == (101, "[2 != 1]")
    e = do(store, "DELETE", "/a", prevIndex="1")
    assert e is not None and e.action == "compareAndDelete" and e.prev_node is not None
    assert fails(store, "DELETE", "/a").error_code == 100


def test_refresh_keeps_value_and_resets_ttl(store: Store, clock: ManualClock) -> None:
    do(store, "PUT", "/a", value="v", ttl="5")
    clock.now += 3 * SECOND
    e = do(store, "PUT", "/a", now=clock.now, refresh="true", ttl="10")
    assert e is not None and e.action == "set" and e.refresh and e.node.value == "v" and e.node.ttl == 10
    e = do(store, "PUT", "/a", now=clock.now, refresh="true", ttl="20", prevExist="true")
    assert e is not None and e.action == "update" and e.node.value == "v" and e.node.ttl == 20
    assert fails(store, "PUT", "/nope", refresh="true", ttl="1").error_code == 100


def test_gets(store: Store) -> None:
    do(store, "PUT", "/d/b", value="2")
    do(store, "PUT", "/d/a", value="1")
    do(store, "PUT", "/d/s/x", value="3")
    for method, extra in (("GET", {}), ("HEAD", {}), ("GET", {"quorum": "true"})):
        e = do(store, method, "/d", sorted="true", **extra)
        assert e is not None and e.action == "get" and e.node.nodes is not None
        assert [n.key for n in e.node.nodes] == ["/1/d/a", "/1/d/b", "/1/d/s"]
        assert e.node.nodes[2].nodes is None
    e = do(store, "GET", "/d", recursive="true", sorted="true")
    assert e is not None and e.node.nodes is not None and e.node.nodes[2].nodes is not None
    assert fails(store, "GET", "/zz").error_code == 100
    qget = parse("GET", "/v2/keys/d/a", {}, {}, T0).request
    qget.Method = "QGET"
    e = apply(store, qget)
    assert e is not None and e.node.value == "1"


def test_wait_is_a_watch(store: Store) -> None:
    r = parse("GET", "/v2/keys/w", {"wait": "true"}, {}, T0).request
    assert apply_v2.is_watch(r)
    with pytest.raises(ValueError):
        apply(store, r)
    w = apply_v2.watch(store, r)
    do(store, "PUT", "/w", value="x")
    ev = w.next_event()
    assert ev is not None and (ev.action, ev.node.key, ev.node.value) == ("set", "/1/w", "x")
    assert not apply_v2.is_watch(parse("GET", "/v2/keys/w", {"wait": "true", "quorum": "1"}, {}, T0).request)


def test_sync_expires_at_request_time(store: Store) -> None:
    do(store, "PUT", "/t", value="v", ttl="5")
    assert apply(store, Request(Method="SYNC", Time=T0 + 4 * SECOND)) is None
    assert store.index() == 1
    assert apply(store, Request(Method="SYNC", Time=T0 + 5 * SECOND)) is None
    assert store.index() == 2
    assert fails(store, "GET", "/t").error_code == 100


def test_ttl_empty_removes_ttl(store: Store) -> None:
    do(store, "PUT", "/a", value="v", ttl="5")
    e = do(store, "PUT", "/a", value="v", ttl="")
    assert e is not None and e.node.expiration is None and e.node.ttl == 0


def test_root_and_namespace_are_read_only(store: Store) -> None:
    assert fails(store, "PUT", "/", value="x", prevExist="true").error_code == 107
    assert fails(store, "DELETE", "/", recursive="true").error_code == 107


def test_unknown_method(store: Store) -> None:
    with pytest.raises(UnknownMethodError, match="etcdserver: unknown method"):
        apply(store, Request(Method="PATCH", Path="/1/a"))


def test_head_is_a_plain_get_even_with_wait(store: Store) -> None:
    do(store, "PUT", "/h", value="x")
    e = apply(store, Request(Method="HEAD", Path="/1/h", Wait=True))
    assert e is not None and (e.action, e.node.value) == ("get", "x")


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (Request(Method="PUT", Path="/0/members/8e9e05c52164694d/attributes", Val="{}"), True),
        (Request(Method="PUT", Path="/0/version", Val="3.4.0"), True),
        # Unanchored as etcd's regexp: a client key can look like a member's attributes.
        (Request(Method="PUT", Path="/1/0/members/1/attributes", Val="{}"), True),
        (Request(Method="PUT", Path="/0/members/xyz/attributes", Val="{}"), False),
        (Request(Method="PUT", Path="/0/version", Val="3.4.0", PrevExist=True), False),
        (Request(Method="PUT", Path="/0/version", Val="3.4.0", PrevIndex=1), False),
        (Request(Method="POST", Path="/0/version", Val="3.4.0"), False),
        (Request(Method="PUT", Path="/1/0/version", Val="3.4.0"), False),
    ],
)
def test_is_membership_put(request_: Request, expected: bool) -> None:
    assert apply_v2.is_membership_put(request_) is expected
