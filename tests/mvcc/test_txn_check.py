"""etcd's pre-proposal txn checks (v3rpc/key.go): op counts, empty keys, duplicate keys."""

from __future__ import annotations

import pytest

from etcd.mvcc.errors import ErrDuplicateKey, ErrEmptyKey, ErrLeaseProvided, ErrTooManyOps, ErrValueProvided
from etcd.mvcc.request import Compare, DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest
from etcd.mvcc.txn_check import check_txn_request


def put(k: bytes, **kw) -> RequestOp:
    return RequestOp(request_put=PutRequest(key=k, value=b"v", **kw))


def dele(k: bytes, end: bytes = b"") -> RequestOp:
    return RequestOp(request_delete_range=DeleteRangeRequest(key=k, range_end=end))


def txn(success=(), failure=(), compare=()) -> RequestOp:
    req = TxnRequest(compare=list(compare), success=list(success), failure=list(failure))
    return RequestOp(request_txn=req)


def test_too_many_ops_text():
    req = TxnRequest(success=[put(b"%d" % i) for i in range(129)])
    with pytest.raises(ErrTooManyOps, match=r"^etcdserver: too many operations in txn request$"):
        check_txn_request(req)
    check_txn_request(TxnRequest(success=[put(b"%d" % i) for i in range(128)]))


def test_max_ops_is_configurable():
    with pytest.raises(ErrTooManyOps):
        check_txn_request(TxnRequest(success=[put(b"a"), put(b"b")]), max_txn_ops=1)


def test_nested_txn_counts_against_what_the_parent_leaves():
    inner = txn(success=[put(b"x"), put(b"y")])
    with pytest.raises(ErrTooManyOps):
        check_txn_request(TxnRequest(success=[inner, put(b"a")]), max_txn_ops=3)
    check_txn_request(TxnRequest(success=[inner]), max_txn_ops=3)


def test_duplicate_put_text():
    with pytest.raises(ErrDuplicateKey, match=r"^etcdserver: duplicate key given in txn request$"):
        check_txn_request(TxnRequest(success=[put(b"a"), put(b"a")]))


def test_put_inside_deleted_range_is_duplicate():
    with pytest.raises(ErrDuplicateKey):
        check_txn_request(TxnRequest(success=[dele(b"a", b"c"), put(b"b")]))
    with pytest.raises(ErrDuplicateKey):
        check_txn_request(TxnRequest(success=[dele(b"a", b"\0"), put(b"zzz")]))
    check_txn_request(TxnRequest(success=[dele(b"a", b"c"), put(b"c")]))


def test_same_key_in_success_and_failure_is_fine():
    check_txn_request(TxnRequest(success=[put(b"a")], failure=[put(b"a")]))


def test_nested_then_and_else_may_share_a_key_but_not_with_the_parent():
    check_txn_request(TxnRequest(success=[txn(success=[put(b"a")], failure=[put(b"a")])]))
    with pytest.raises(ErrDuplicateKey):
        check_txn_request(TxnRequest(success=[txn(success=[put(b"a")]), put(b"a")]))
    with pytest.raises(ErrDuplicateKey):
        check_txn_request(TxnRequest(success=[dele(b"a"), txn(failure=[put(b"a")])]))


def test_two_deletes_of_the_same_key_are_fine():
    check_txn_request(TxnRequest(success=[dele(b"a"), dele(b"a")]))


def test_empty_keys_are_refused():
    with pytest.raises(ErrEmptyKey, match=r"^etcdserver: key is not provided$"):
        check_txn_request(TxnRequest(compare=[Compare(key=b"")]))
    with pytest.raises(ErrEmptyKey):
        check_txn_request(TxnRequest(success=[RequestOp(request_range=RangeRequest(key=b""))]))


def test_ignore_value_with_value_and_ignore_lease_with_lease():
    with pytest.raises(ErrValueProvided, match=r"^etcdserver: value is provided$"):
        check_txn_request(TxnRequest(success=[put(b"a", ignore_value=True)]))
    with pytest.raises(ErrLeaseProvided, match=r"^etcdserver: lease is provided$"):
        check_txn_request(TxnRequest(success=[RequestOp(request_put=PutRequest(key=b"a", lease=1,
                                                                               ignore_lease=True))]))
