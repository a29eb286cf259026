"""The KV service over a real gRPC connection: values, headers, and etcd's errors for bad requests."""

from __future__ import annotations

import grpc
import pytest

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb import rpc_pb2_grpc as pb_grpc
from etcd.api.v3rpc import rpctypes
from tests.v3rpc.conftest import Served, stub

T = 5.0


async def test_put_range_delete_values_and_headers(served: Served) -> None:
    kv = stub(pb_grpc.KVStub, served.channel)
    put = await kv.Put(pb.PutRequest(key=b"a", value=b"1"), timeout=T)
    assert put.header.cluster_id == served.srv.cluster_id
    assert put.header.member_id == served.srv.id
    assert put.header.raft_term >= 2
    rev = put.header.revision
    await kv.Put(pb.PutRequest(key=b"b", value=b"2"), timeout=T)
    got = await kv.Range(pb.RangeRequest(key=b"a", range_end=b"c"), timeout=T)
    assert [(x.key, x.value) for x in got.kvs] == [(b"a", b"1"), (b"b", b"2")]
    assert got.count == 2
    assert got.header.revision == rev + 1
    prev = await kv.Put(pb.PutRequest(key=b"a", value=b"3", prev_kv=True), timeout=T)
    assert prev.prev_kv.value == b"1"
    dele = await kv.DeleteRange(pb.DeleteRangeRequest(key=b"a", range_end=b"\0", prev_kv=True), timeout=T)
    assert dele.deleted == 2
    assert sorted(x.key for x in dele.prev_kvs) == [b"a", b"b"]


async def test_txn_compare_success_and_failure(served: Served) -> None:
    kv = stub(pb_grpc.KVStub, served.channel)
    await kv.Put(pb.PutRequest(key=b"k", value=b"v"), timeout=T)
    cmp = pb.Compare(key=b"k", target=pb.Compare.VALUE, result=pb.Compare.EQUAL, value=b"v")
    resp = await kv.Txn(
        pb.TxnRequest(
            compare=[cmp],
            success=[pb.RequestOp(request_put=pb.PutRequest(key=b"k", value=b"w"))],
            failure=[pb.RequestOp(request_range=pb.RangeRequest(key=b"k"))],
        ),
        timeout=T,
    )
    assert resp.succeeded
    resp = await kv.Txn(
        pb.TxnRequest(compare=[cmp], failure=[pb.RequestOp(request_range=pb.RangeRequest(key=b"k"))]),
        timeout=T,
    )
    assert not resp.succeeded
    assert resp.responses[0].response_range.kvs[0].value == b"w"


async def _error(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await call  # type: ignore[misc]
    return ei.value.code(), ei.value.details() or ""


def _pair(err: rpctypes.RPCError) -> tuple[grpc.StatusCode, str]:
    return err.code, err.message


async def test_bad_requests_get_etcds_errors(served: Served) -> None:
    kv = stub(pb_grpc.KVStub, served.channel)
    put = pb.RequestOp(request_put=pb.PutRequest(key=b"x", value=b"1"))
    too_many = pb.TxnRequest(
        success=[pb.RequestOp(request_put=pb.PutRequest(key=b"%d" % i)) for i in range(129)]
    )
    cases = [
        (kv.Range(pb.RangeRequest(), timeout=T), rpctypes.ErrGRPCEmptyKey),
        (kv.Put(pb.PutRequest(value=b"v"), timeout=T), rpctypes.ErrGRPCEmptyKey),
        (kv.DeleteRange(pb.DeleteRangeRequest(), timeout=T), rpctypes.ErrGRPCEmptyKey),
        (
            kv.Put(pb.PutRequest(key=b"k", value=b"v", ignore_value=True), timeout=T),
            rpctypes.ErrGRPCValueProvided,
        ),
        (
            kv.Put(pb.PutRequest(key=b"k", lease=5, ignore_lease=True), timeout=T),
            rpctypes.ErrGRPCLeaseProvided,
        ),
        (kv.Txn(pb.TxnRequest(success=[put, put]), timeout=T), rpctypes.ErrGRPCDuplicateKey),
        (kv.Txn(too_many, timeout=T), rpctypes.ErrGRPCTooManyOps),
        (
            kv.Put(pb.PutRequest(key=b"big", value=b"x" * 1_600_000), timeout=T),
            rpctypes.ErrGRPCRequestTooLarge,
        ),
        (kv.Range(pb.RangeRequest(key=b"a", revision=1000), timeout=T), rpctypes.ErrGRPCFutureRev),
        (kv.Put(pb.PutRequest(key=b"k", lease=12345), timeout=T), rpctypes.ErrGRPCLeaseNotFound),
    ]
    for call, want in cases:
        assert await _error(call) == _pair(want)
    # The member is still healthy afterwards.
    assert (await kv.Put(pb.PutRequest(key=b"ok", value=b"1"), timeout=T)).header.revision > 1


async def test_compact_then_old_revision_is_compacted(served: Served) -> None:
    kv = stub(pb_grpc.KVStub, served.channel)
    revs = [
        (await kv.Put(pb.PutRequest(key=b"c", value=b"%d" % i), timeout=T)).header.revision for i in range(3)
    ]
    resp = await kv.Compact(pb.CompactionRequest(revision=revs[1], physical=True), timeout=T)
    assert resp.header.revision == revs[2]
    assert await _error(kv.Range(pb.RangeRequest(key=b"c", revision=revs[0]), timeout=T)) == _pair(
        rpctypes.ErrGRPCCompacted
    )
    assert await _error(kv.Compact(pb.CompactionRequest(revision=revs[0]), timeout=T)) == _pair(
        rpctypes.ErrGRPCCompacted
    )
