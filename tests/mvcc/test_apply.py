"""KV request semantics as etcd's applier: range options, put options, delete prev_kv, txn."""

from __future__ import annotations

import pytest

from etcd.mvcc.apply import Applier
from etcd.mvcc.errors import ErrCompacted, ErrFutureRev, ErrKeyNotFound
from etcd.mvcc.request import (
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    PutRequest,
    RangeRequest,
    RangeResponse,
    RequestOp,
    SortOrder,
    SortTarget,
    TxnRequest,
)

from .conftest import LeaseNotFound, RecordingLessor


@pytest.fixture
def app(store) -> Applier:
    return Applier(store)


def fill(app: Applier) -> None:
    # a=1 (rev 2), b=22 (3), c=3 (4), a=111 (5): a has version 2
    app.put(PutRequest(key=b"a", value=b"1"))
    app.put(PutRequest(key=b"b", value=b"22"))
    app.put(PutRequest(key=b"c", value=b"3"))
    app.put(PutRequest(key=b"a", value=b"111"))


def keys(resp: RangeResponse) -> list[bytes]:
    return [kv.key for kv in resp.kvs]


def test_range_limit_sets_more(app):
    fill(app)
    resp = app.range(RangeRequest(key=b"a", range_end=b"\0", limit=2))
    assert (keys(resp), resp.more, resp.count, resp.revision) == ([b"a", b"b"], True, 3, 5)
    resp = app.range(RangeRequest(key=b"a", range_end=b"\0", limit=3))
    assert (keys(resp), resp.more) == ([b"a", b"b", b"c"], False)


@pytest.mark.parametrize(
    ("target", "order", "want"),
    [
        (SortTarget.KEY, SortOrder.DESCEND, [b"c", b"b", b"a"]),
        (SortTarget.KEY, SortOrder.NONE, [b"a", b"b", b"c"]),
        (SortTarget.VERSION, SortOrder.DESCEND, [b"a", b"b", b"c"]),
        (SortTarget.CREATE, SortOrder.DESCEND, [b"c", b"b", b"a"]),
        (SortTarget.MOD, SortOrder.ASCEND, [b"b", b"c", b"a"]),
        (SortTarget.MOD, SortOrder.NONE, [b"b", b"c", b"a"]),  # a non-key target sorts ascending
        (SortTarget.VALUE, SortOrder.ASCEND, [b"a", b"b", b"c"]),
        (SortTarget.VALUE, SortOrder.DESCEND, [b"c", b"b", b"a"]),
    ],
)
def test_range_sort(app, target, order, want):
    fill(app)
    req = RangeRequest(key=b"a", range_end=b"\0", sort_target=target, sort_order=order)
    assert keys(app.range(req)) == want


def test_sorted_range_applies_limit_after_sorting(app):
    fill(app)
    req = RangeRequest(key=b"a", range_end=b"\0", sort_target=SortTarget.KEY, sort_order=SortOrder.DESCEND,
                       limit=1)
    resp = app.range(req)
    assert (keys(resp), resp.more) == ([b"c"], True)


@pytest.mark.parametrize(
    ("field", "value", "want"),
    [
        ("min_mod_revision", 4, [b"a", b"c"]),
        ("max_mod_revision", 4, [b"b", b"c"]),
        ("min_create_revision", 3, [b"b", b"c"]),
        ("max_create_revision", 3, [b"a", b"b"]),
    ],
)
def test_range_revision_filters(app, field, value, want):
    fill(app)
    assert keys(app.range(RangeRequest(key=b"a", range_end=b"\0", **{field: value}))) == want


def test_range_keys_only_and_count_only(app):
    fill(app)
    resp = app.range(RangeRequest(key=b"a", range_end=b"\0", keys_only=True))
    assert [kv.value for kv in resp.kvs] == [b"", b"", b""]
    assert resp.kvs[0].mod_revision == 5
    resp = app.range(RangeRequest(key=b"a", range_end=b"\0", count_only=True))
    assert (resp.kvs, resp.count) == ([], 3)


def test_range_at_revision(app):
    fill(app)
    assert [kv.value for kv in app.range(RangeRequest(key=b"a", revision=2)).kvs] == [b"1"]


def test_put_prev_kv(app):
    app.put(PutRequest(key=b"a", value=b"1"))
    resp = app.put(PutRequest(key=b"a", value=b"2", prev_kv=True))
    assert resp.prev_kv is not None and resp.prev_kv.value == b"1"
    assert resp.revision == 3
    assert app.put(PutRequest(key=b"new", value=b"x", prev_kv=True)).prev_kv is None


def test_put_ignore_value_keeps_value(app):
    app.put(PutRequest(key=b"a", value=b"1"))
    app.put(PutRequest(key=b"a", ignore_value=True))
    kv = app.range(RangeRequest(key=b"a")).kvs[0]
    assert (kv.value, kv.version) == (b"1", 2)


def test_put_ignore_value_on_missing_key_fails(app, store):
    with pytest.raises(ErrKeyNotFound, match=r"^etcdserver: key not found$"):
        app.put(PutRequest(key=b"a", ignore_value=True))
    assert store.rev() == 1


def test_put_ignore_lease_keeps_lease(opener):
    app = Applier(opener(lease_attacher=RecordingLessor(7)))
    app.put(PutRequest(key=b"a", value=b"1", lease=7))
    app.put(PutRequest(key=b"a", value=b"2", ignore_lease=True))
    kv = app.range(RangeRequest(key=b"a")).kvs[0]
    assert (kv.value, kv.lease) == (b"2", 7)


def test_delete_range_prev_kvs(app):
    fill(app)
    resp = app.delete_range(DeleteRangeRequest(key=b"a", range_end=b"c", prev_kv=True))
    assert resp.deleted == 2
    assert [(kv.key, kv.value) for kv in resp.prev_kvs] == [(b"a", b"111"), (b"b", b"22")]
    assert resp.revision == 6
    assert keys(app.range(RangeRequest(key=b"a", range_end=b"\0"))) == [b"c"]


def put_op(k: bytes, v: bytes) -> RequestOp:
    return RequestOp(request_put=PutRequest(key=k, value=v))


def cmp(target: int, result: int, key: bytes = b"a", **kw) -> Compare:
    return Compare(target=target, result=result, key=key, **kw)


@pytest.mark.parametrize(
    ("compare", "ok"),
    [
        (cmp(CompareTarget.VERSION, CompareResult.EQUAL, version=2), True),
        (cmp(CompareTarget.VERSION, CompareResult.GREATER, version=1), True),
        (cmp(CompareTarget.VERSION, CompareResult.LESS, version=2), False),
        (cmp(CompareTarget.VERSION, CompareResult.NOT_EQUAL, version=2), False),
        (cmp(CompareTarget.CREATE, CompareResult.EQUAL, create_revision=2), True),
        (cmp(CompareTarget.MOD, CompareResult.EQUAL, mod_revision=5), True),
        (cmp(CompareTarget.MOD, CompareResult.LESS, mod_revision=5), False),
        (cmp(CompareTarget.VALUE, CompareResult.EQUAL, value=b"111"), True),
        (cmp(CompareTarget.VALUE, CompareResult.GREATER, value=b"11"), True),
        (cmp(CompareTarget.LEASE, CompareResult.EQUAL, lease=0), True),
        (cmp(CompareTarget.CREATE, CompareResult.EQUAL, key=b"missing", create_revision=0), True),
        (cmp(CompareTarget.VERSION, CompareResult.EQUAL, key=b"missing", version=0), True),
        (cmp(CompareTarget.VALUE, CompareResult.EQUAL, key=b"missing", value=b""), False),
        (cmp(CompareTarget.VERSION, CompareResult.EQUAL, key=b"a", range_end=b"c", version=1), False),
        (cmp(CompareTarget.VERSION, CompareResult.GREATER, key=b"a", range_end=b"\0", version=0), True),
    ],
)
def test_txn_compare(app, compare, ok):
    fill(app)
    resp = app.txn(TxnRequest(compare=[compare], success=[put_op(b"s", b"1")], failure=[put_op(b"f", b"1")]))
    assert resp.succeeded is ok
    assert keys(app.range(RangeRequest(key=b"f", range_end=b"t"))) == ([b"s"] if ok else [b"f"])


def test_txn_is_one_revision_and_ranges_see_earlier_ops(app, store):
    resp = app.txn(TxnRequest(success=[
        put_op(b"a", b"1"),
        put_op(b"b", b"1"),
        RequestOp(request_range=RangeRequest(key=b"a", range_end=b"\0")),
        RequestOp(request_delete_range=DeleteRangeRequest(key=b"a")),
    ]))
    assert resp.succeeded and resp.revision == 2 and store.rev() == 2
    rng = resp.responses[2]
    assert keys(rng) == [b"a", b"b"] and rng.revision == 2
    assert resp.responses[3].deleted == 1
    assert [kv.create_revision for kv in store.range(b"b").kvs] == [2]


def test_nested_txn_compares_see_the_state_before_the_txn(app):
    app.put(PutRequest(key=b"a", value=b"1"))
    inner = TxnRequest(
        compare=[cmp(CompareTarget.VALUE, CompareResult.EQUAL, value=b"1")],
        success=[put_op(b"inner", b"then")],
        failure=[put_op(b"inner", b"else")],
    )
    resp = app.txn(TxnRequest(success=[put_op(b"a", b"2"), RequestOp(request_txn=inner)]))
    assert resp.succeeded and resp.responses[1].succeeded
    assert app.range(RangeRequest(key=b"inner")).kvs[0].value == b"then"
    assert resp.responses[1].revision == resp.revision == 3


def test_read_only_txn_keeps_revision(app, store):
    app.put(PutRequest(key=b"a", value=b"1"))
    resp = app.txn(TxnRequest(success=[RequestOp(request_range=RangeRequest(key=b"a"))]))
    assert resp.revision == 2 and store.rev() == 2


def test_txn_with_future_range_fails_and_writes_nothing(app, store):
    with pytest.raises(ErrFutureRev):
        app.txn(TxnRequest(success=[put_op(b"a", b"1"), RequestOp(request_range=RangeRequest(key=b"a",
                                                                                              revision=9))]))
    assert store.rev() == 1 and store.range(b"a").kvs == []


def test_txn_with_compacted_range_fails(app, store):
    fill(app)
    store.compact(4).result(10)
    with pytest.raises(ErrCompacted):
        app.txn(TxnRequest(success=[RequestOp(request_range=RangeRequest(key=b"a", revision=3))]))


def test_txn_with_unknown_lease_fails_before_writing(opener):
    store = opener(lease_attacher=RecordingLessor())
    app = Applier(store)
    with pytest.raises(LeaseNotFound):
        with_lease = RequestOp(request_put=PutRequest(key=b"b", lease=5))
        app.txn(TxnRequest(success=[put_op(b"a", b"1"), with_lease]))
    assert store.rev() == 1


def test_protobuf_requests_are_accepted(app):
    rpc_pb2 = pytest.importorskip("etcd.api.etcdserverpb.rpc_pb2")
    app.put(rpc_pb2.PutRequest(key=b"a", value=b"1"))
    t = rpc_pb2.TxnRequest(
        compare=[rpc_pb2.Compare(key=b"a", target=rpc_pb2.Compare.VALUE, result=rpc_pb2.Compare.EQUAL,
                                 value=b"1")],
        success=[rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"b", value=b"2"))],
    )
    resp = app.txn(t)
    assert resp.succeeded and resp.revision == 3
    rr = app.range(rpc_pb2.RangeRequest(key=b"a", range_end=b"\0",
                                        sort_order=rpc_pb2.RangeRequest.DESCEND))
    assert keys(rr) == [b"b", b"a"]
