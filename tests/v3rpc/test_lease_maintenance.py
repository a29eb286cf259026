"""Lease and Maintenance services over a real gRPC connection."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import grpc
import pytest

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb import rpc_pb2_grpc as pb_grpc
from etcd.api.v3rpc import rpctypes
from etcd.backend import buckets
from etcd.backend.backend import Backend
from etcd.backend.snapshot import MAGIC
from etcd.version import SERVER_VERSION as version
from tests.v3rpc.conftest import Served, stub

T = 5.0


async def _error(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await call  # type: ignore[misc]
    return ei.value.code(), ei.value.details() or ""


async def test_lease_grant_keepalive_ttl_list_revoke(served: Served) -> None:
    lease = stub(pb_grpc.LeaseStub, served.channel)
    kv = stub(pb_grpc.KVStub, served.channel)
    g = await lease.LeaseGrant(pb.LeaseGrantRequest(TTL=30), timeout=T)
    assert g.ID > 0 and g.TTL == 30 and g.header.member_id == served.srv.id
    await kv.Put(pb.PutRequest(key=b"leased", value=b"v", lease=g.ID), timeout=T)
    ttl = await lease.LeaseTimeToLive(pb.LeaseTimeToLiveRequest(ID=g.ID, keys=True), timeout=T)
    assert (ttl.ID, ttl.grantedTTL, list(ttl.keys)) == (g.ID, 30, [b"leased"])
    assert 28 <= ttl.TTL <= 30
    call = lease.LeaseKeepAlive()
    await call.write(pb.LeaseKeepAliveRequest(ID=g.ID))
    ka = await asyncio.wait_for(call.read(), T)
    assert (ka.ID, ka.TTL) == (g.ID, 30)
    assert ka.header.revision > 0
    await call.write(pb.LeaseKeepAliveRequest(ID=424242))  # unknown: TTL 0, the stream goes on
    ka = await asyncio.wait_for(call.read(), T)
    assert (ka.ID, ka.TTL) == (424242, 0)
    await call.done_writing()
    assert await asyncio.wait_for(call.code(), T) == grpc.StatusCode.OK
    leases = await lease.LeaseLeases(pb.LeaseLeasesRequest(), timeout=T)
    assert [le.ID for le in leases.leases] == [g.ID]
    await lease.LeaseRevoke(pb.LeaseRevokeRequest(ID=g.ID), timeout=T)
    assert (await kv.Range(pb.RangeRequest(key=b"leased"), timeout=T)).count == 0
    gone = await lease.LeaseTimeToLive(pb.LeaseTimeToLiveRequest(ID=g.ID), timeout=T)
    assert (gone.ID, gone.TTL) == (g.ID, -1)
    assert gone.header.member_id == served.srv.id
    err = await _error(lease.LeaseRevoke(pb.LeaseRevokeRequest(ID=g.ID), timeout=T))
    assert err == (rpctypes.ErrGRPCLeaseNotFound.code, rpctypes.ErrGRPCLeaseNotFound.message)
    err = await _error(lease.LeaseGrant(pb.LeaseGrantRequest(ID=7, TTL=9_000_000_001), timeout=T))
    assert err == (rpctypes.ErrGRPCLeaseTTLTooLarge.code, rpctypes.ErrGRPCLeaseTTLTooLarge.message)


async def test_status_hash_hashkv_alarm_defrag(served: Served) -> None:
    m = stub(pb_grpc.MaintenanceStub, served.channel)
    kv = stub(pb_grpc.KVStub, served.channel)
    rev = (await kv.Put(pb.PutRequest(key=b"a", value=b"1"), timeout=T)).header.revision
    st = await m.Status(pb.StatusRequest(), timeout=T)
    assert (st.version, st.leader, st.header.member_id, list(st.errors)) == (
        version,
        served.srv.id,
        served.srv.id,
        [],
    )
    assert st.raftIndex >= st.raftAppliedIndex > 0 and st.dbSize > 0
    h1 = await m.HashKV(pb.HashKVRequest(revision=rev), timeout=T)
    h2 = await m.HashKV(pb.HashKVRequest(revision=rev), timeout=T)
    assert h1.hash == h2.hash and h1.header.revision == rev
    assert (await m.Hash(pb.HashRequest(), timeout=T)).hash != 0
    err = await _error(m.HashKV(pb.HashKVRequest(revision=rev + 100), timeout=T))
    assert err == (rpctypes.ErrGRPCFutureRev.code, rpctypes.ErrGRPCFutureRev.message)
    alarms = await m.Alarm(pb.AlarmRequest(action=pb.AlarmRequest.GET), timeout=T)
    assert list(alarms.alarms) == [] and not alarms.HasField("header")  # etcd 3.4: no header on Alarm
    assert await m.Defragment(pb.DefragmentRequest(), timeout=T) == pb.DefragmentResponse()


async def test_snapshot_stream_ends_with_its_sha256(served: Served, tmp_path: Path) -> None:
    kv = stub(pb_grpc.KVStub, served.channel)
    for i in range(40):  # ~80 KB of values: several 32 KiB chunks
        await kv.Put(pb.PutRequest(key=b"s%d" % i, value=bytes([i]) * 2000), timeout=T)
    msgs = [
        r
        async for r in stub(pb_grpc.MaintenanceStub, served.channel).Snapshot(pb.SnapshotRequest(), timeout=T)
    ]
    data = b"".join(r.blob for r in msgs[:-1])
    assert len(msgs) >= 4
    assert all(len(r.blob) == 32 * 1024 for r in msgs[:-2])
    assert [r.remaining_bytes for r in msgs[:-1]] == [
        len(data) - sum(len(x.blob) for x in msgs[: i + 1]) for i in range(len(msgs) - 1)
    ]
    assert msgs[-1].remaining_bytes == 0 and msgs[-1].blob == hashlib.sha256(data).digest()
    assert data.startswith(MAGIC)
    assert len(data) % 512 == 0  # etcdctl's check on a saved snapshot
    restored = tmp_path / "restored"
    Backend.restore_from([data], str(restored))  # the zero padding after the backend's digest is ignored
    with Backend(str(restored)) as be, be.read_tx() as tx:
        assert tx.unsafe_range(buckets.KEY, b"", b"\xff", 1000)
    assert not msgs[0].HasField("header")


async def test_move_leader(served: Served) -> None:
    m = stub(pb_grpc.MaintenanceStub, served.channel)
    # etcd 3.4.23: to itself is OK (it leads already), to a member that does not exist a bad transferee.
    assert (
        await m.MoveLeader(pb.MoveLeaderRequest(targetID=served.srv.id), timeout=T) == pb.MoveLeaderResponse()
    )
    err = await _error(m.MoveLeader(pb.MoveLeaderRequest(targetID=5), timeout=T))
    assert err == (rpctypes.ErrGRPCBadLeaderTransferee.code, rpctypes.ErrGRPCBadLeaderTransferee.message)
