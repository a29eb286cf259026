"""The Lock and Election services over a real gRPC connection."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb import rpc_pb2_grpc as pb_grpc
from etcd.api.v3electionpb import v3election_pb2 as epb
from etcd.api.v3electionpb import v3election_pb2_grpc as epb_grpc
from etcd.api.v3lockpb import v3lock_pb2 as lockpb
from etcd.api.v3lockpb import v3lock_pb2_grpc as lockpb_grpc
from etcd.api.v3rpc import rpctypes
from tests.v3rpc.conftest import Served, stub

T = 5.0


async def _grant(served: Served, ttl: int = 30) -> int:
    resp = await stub(pb_grpc.LeaseStub, served.channel).LeaseGrant(pb.LeaseGrantRequest(TTL=ttl), timeout=T)
    return int(resp.ID)


async def test_lock_waits_for_the_holder_to_unlock(served: Served) -> None:
    lock = stub(lockpb_grpc.LockStub, served.channel)
    l1, l2 = await _grant(served), await _grant(served)
    first = await lock.Lock(lockpb.LockRequest(name=b"mylock", lease=l1), timeout=T)
    assert first.key == b"mylock/%x" % l1
    assert first.header.member_id == served.srv.id
    second = asyncio.ensure_future(lock.Lock(lockpb.LockRequest(name=b"mylock", lease=l2), timeout=T))
    await asyncio.sleep(0.3)
    assert not second.done()
    unlocked = await lock.Unlock(lockpb.UnlockRequest(key=first.key), timeout=T)
    got = await asyncio.wait_for(second, T)
    assert got.key == b"mylock/%x" % l2
    assert got.header.revision > unlocked.header.revision - 1


async def test_lock_released_by_revoking_the_lease_and_unknown_lease(served: Served) -> None:
    lock = stub(lockpb_grpc.LockStub, served.channel)
    l1, l2 = await _grant(served), await _grant(served)
    await lock.Lock(lockpb.LockRequest(name=b"l", lease=l1), timeout=T)
    second = asyncio.ensure_future(lock.Lock(lockpb.LockRequest(name=b"l", lease=l2), timeout=T))
    await asyncio.sleep(0.2)
    await stub(pb_grpc.LeaseStub, served.channel).LeaseRevoke(pb.LeaseRevokeRequest(ID=l1), timeout=T)
    assert (await asyncio.wait_for(second, T)).key == b"l/%x" % l2
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await lock.Lock(lockpb.LockRequest(name=b"l", lease=0x77), timeout=T)
    # etcd 3.4.23: v3lock's errors come from its client, so they go out UNKNOWN with etcd's text.
    assert (ei.value.code(), ei.value.details()) == (
        grpc.StatusCode.UNKNOWN,
        rpctypes.ErrGRPCLeaseNotFound.message,
    )
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await lock.Unlock(lockpb.UnlockRequest(), timeout=T)
    assert (ei.value.code(), ei.value.details()) == (
        grpc.StatusCode.UNKNOWN,
        rpctypes.ErrGRPCEmptyKey.message,
    )


async def test_cancelled_lock_wait_removes_its_key(served: Served) -> None:
    lock = stub(lockpb_grpc.LockStub, served.channel)
    kv = stub(pb_grpc.KVStub, served.channel)
    l1, l2 = await _grant(served), await _grant(served)
    await lock.Lock(lockpb.LockRequest(name=b"c", lease=l1), timeout=T)
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await lock.Lock(lockpb.LockRequest(name=b"c", lease=l2), timeout=0.5)
    assert ei.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    for _ in range(50):  # the server notices the cancellation and deletes the waiter's key
        keys = [
            kv_.key for kv_ in (await kv.Range(pb.RangeRequest(key=b"c/", range_end=b"c0"), timeout=T)).kvs
        ]
        if keys == [b"c/%x" % l1]:
            break
        await asyncio.sleep(0.05)
    assert keys == [b"c/%x" % l1]


async def test_campaign_proclaim_leader_observe_resign(served: Served) -> None:
    e = stub(epb_grpc.ElectionStub, served.channel)
    l1, l2 = await _grant(served), await _grant(served)
    won = await e.Campaign(epb.CampaignRequest(name=b"el", lease=l1, value=b"one"), timeout=T)
    assert (won.leader.name, won.leader.key, won.leader.lease) == (b"el", b"el/%x" % l1, l1)
    assert won.leader.rev == won.header.revision
    leader = await e.Leader(epb.LeaderRequest(name=b"el"), timeout=T)
    assert (leader.kv.key, leader.kv.value) == (b"el/%x" % l1, b"one")

    observe = e.Observe(epb.LeaderRequest(name=b"el"))
    first = await asyncio.wait_for(observe.read(), T)
    assert first.kv.value == b"one"
    await e.Proclaim(epb.ProclaimRequest(leader=won.leader, value=b"uno"), timeout=T)
    assert (await asyncio.wait_for(observe.read(), T)).kv.value == b"uno"

    challenger = asyncio.ensure_future(
        e.Campaign(epb.CampaignRequest(name=b"el", lease=l2, value=b"two"), timeout=T)
    )
    await asyncio.sleep(0.2)
    assert not challenger.done()
    await e.Resign(epb.ResignRequest(leader=won.leader), timeout=T)
    second = await asyncio.wait_for(challenger, T)
    assert second.leader.key == b"el/%x" % l2
    nxt = await asyncio.wait_for(observe.read(), T)
    assert (nxt.kv.key, nxt.kv.value) == (b"el/%x" % l2, b"two")
    observe.cancel()

    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await e.Proclaim(epb.ProclaimRequest(leader=won.leader, value=b"x"), timeout=T)
    assert (ei.value.code(), ei.value.details()) == (grpc.StatusCode.UNKNOWN, "election: not leader")
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await e.Leader(epb.LeaderRequest(name=b"nobody"), timeout=T)
    assert (ei.value.code(), ei.value.details()) == (grpc.StatusCode.UNKNOWN, "election: no leader")
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await e.Resign(epb.ResignRequest(), timeout=T)
    assert (ei.value.code(), ei.value.details()) == (
        grpc.StatusCode.UNKNOWN,
        '"leader" field must be provided',
    )
