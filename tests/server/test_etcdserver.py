"""EtcdServer end to end in one process: real WAL, real RocksDB, a single member electing itself."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb.etcdserver_pb2 import Request
from etcd.api.v2error import Error as V2Error
from etcd.backend.quota import ErrNoSpace
from etcd.mvcc.errors import ErrCompacted
from etcd.server.errors import ErrRequestTooLarge, ErrStopped
from etcd.server.etcdserver import EtcdServer
from etcd.v2store import Event, Watcher
from tests.server.member import member_config, running_member


async def test_put_then_range_sees_it_with_etcds_header(tmp_path: Path) -> None:
    async with running_member(tmp_path) as srv:
        put = await srv.put(pb.PutRequest(key=b"a", value=b"1"))
        assert put.header.revision == 2
        assert put.header.member_id == srv.id and put.header.cluster_id == srv.cluster_id
        assert put.header.raft_term >= 2
        got = await srv.range(pb.RangeRequest(key=b"a"))
        assert [(kv.key, kv.value, kv.create_revision) for kv in got.kvs] == [(b"a", b"1", 2)]
        serial = await srv.range(pb.RangeRequest(key=b"a", serializable=True))
        assert serial.kvs[0].value == b"1"


async def test_members_publish_before_ready_and_the_cluster_version_settles(tmp_path: Path) -> None:
    async with running_member(tmp_path, name="alpha") as srv:
        [m] = srv.cluster.members()
        assert (m.id, m.name, m.client_urls) == (srv.id, "alpha", ["http://localhost:2379"])
        # The leader settles the version as soon as it leads, so the first user write is v2 index 4 as in
        # etcd 3.4 (the member's raft attributes, its attributes, the version).
        ev = await srv.v2_do(Request(Method="PUT", Path="/1/first", Val="x"))
        assert srv.cluster.version == "3.4.0"
        assert isinstance(ev, Event) and ev.node.modified_index == 4


async def test_concurrent_puts_share_raft_batches(tmp_path: Path) -> None:
    async with running_member(tmp_path) as srv:
        n = 500
        puts = [srv.put(pb.PutRequest(key=b"k%03d" % i, value=b"v")) for i in range(n)]
        resps = await asyncio.gather(*puts)
        assert sorted(r.header.revision for r in resps) == list(range(2, n + 2))
        assert srv.node.stats.proposal_batches < n
        count = await srv.range(pb.RangeRequest(key=b"k", range_end=b"l", count_only=True))
        assert count.count == n


async def test_restart_keeps_acknowledged_writes_v3_v2_and_leases(tmp_path: Path) -> None:
    async with running_member(tmp_path) as srv:
        for i in range(20):
            await srv.put(pb.PutRequest(key=b"x%d" % i, value=b"%d" % i))
        await srv.v2_do(Request(Method="PUT", Path="/1/foo", Val="bar"))
        lease = await srv.lease_grant(pb.LeaseGrantRequest(TTL=600))
    async with running_member(tmp_path) as srv:
        got = await srv.range(pb.RangeRequest(key=b"x", range_end=b"y"))
        assert sorted(kv.value for kv in got.kvs) == sorted(b"%d" % i for i in range(20))
        ev = await srv.v2_do(Request(Method="GET", Path="/1/foo"))
        assert isinstance(ev, Event) and ev.node.value == "bar"
        assert [le.ID for le in (await srv.lease_leases()).leases] == [lease.ID]


async def test_restart_after_snapshots_keeps_everything(tmp_path: Path) -> None:
    async with running_member(tmp_path, snapshot_count=10) as srv:
        for i in range(60):
            await srv.put(pb.PutRequest(key=b"s%02d" % i, value=b"v"))
        await srv.v2_do(Request(Method="PUT", Path="/1/after", Val="snap"))
        assert srv.node.stats.snapshots >= 1
    async with running_member(tmp_path, snapshot_count=10) as srv:
        count = await srv.range(pb.RangeRequest(key=b"s", range_end=b"t", count_only=True))
        assert count.count == 60
        ev = await srv.v2_do(Request(Method="GET", Path="/1/after"))
        assert isinstance(ev, Event) and ev.node.value == "snap"
        assert [m.name for m in srv.cluster.members()] == ["m1"]


async def test_lease_revoke_deletes_its_keys_and_ttl_reports_them(tmp_path: Path) -> None:
    async with running_member(tmp_path) as srv:
        lease = await srv.lease_grant(pb.LeaseGrantRequest(TTL=60))
        assert lease.TTL == 60 and lease.ID > 0
        await srv.put(pb.PutRequest(key=b"held", value=b"v", lease=lease.ID))
        ttl = await srv.lease_time_to_live(pb.LeaseTimeToLiveRequest(ID=lease.ID, keys=True))
        assert ttl.grantedTTL == 60 and 0 < ttl.TTL <= 60 and list(ttl.keys) == [b"held"]
        assert await srv.lease_renew(lease.ID) == 60
        await srv.lease_revoke(pb.LeaseRevokeRequest(ID=lease.ID))
        assert (await srv.range(pb.RangeRequest(key=b"held"))).count == 0
        gone = await srv.lease_time_to_live(pb.LeaseTimeToLiveRequest(ID=lease.ID))
        assert gone.TTL == -1


async def test_the_leader_revokes_expired_leases(tmp_path: Path) -> None:
    # Minimum TTL with a 100 ms election timeout is 1 s.
    expired_before = REGISTRY.get_sample_value("etcd_debugging_server_lease_expired_total") or 0
    async with running_member(tmp_path, heartbeat_interval=10, election_timeout=100) as srv:
        lease = await srv.lease_grant(pb.LeaseGrantRequest(TTL=1))
        await srv.put(pb.PutRequest(key=b"temp", value=b"v", lease=lease.ID))
        for _ in range(60):
            if (await srv.range(pb.RangeRequest(key=b"temp"))).count == 0:
                break
            await asyncio.sleep(0.1)
        assert (await srv.range(pb.RangeRequest(key=b"temp"))).count == 0
        assert (await srv.lease_leases()).leases == []
    assert REGISTRY.get_sample_value("etcd_debugging_server_lease_expired_total") == expired_before + 1


async def test_v2_ttl_keys_expire_through_sync(tmp_path: Path) -> None:
    async with running_member(tmp_path) as srv:
        expires = time.time_ns() + 500_000_000
        await srv.v2_do(Request(Method="PUT", Path="/1/ttl", Val="x", Expiration=expires))
        for _ in range(40):
            try:
                await srv.v2_do(Request(Method="GET", Path="/1/ttl"))
            except V2Error as e:
                assert e.error_code == 100
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the TTL key did not expire")


async def test_v2_watch_gets_the_next_write(tmp_path: Path) -> None:
    async with running_member(tmp_path) as srv:
        woken = asyncio.Event()
        w = await srv.v2_do(Request(Method="GET", Path="/1/w", Wait=True), notify=woken.set)
        assert isinstance(w, Watcher)
        await srv.v2_do(Request(Method="PUT", Path="/1/w", Val="1"))
        await asyncio.wait_for(woken.wait(), 5)
        ev = w.next_event()
        assert ev is not None and ev.action == "set" and ev.node.value == "1"


async def test_compaction_and_errors_surface_as_the_inner_exceptions(tmp_path: Path) -> None:
    async with running_member(tmp_path, max_request_bytes=1024) as srv:
        for i in range(5):
            await srv.put(pb.PutRequest(key=b"c", value=b"%d" % i))
        resp = await srv.compact(pb.CompactionRequest(revision=4, physical=True))
        assert resp.header.revision == 6
        with pytest.raises(ErrCompacted):
            await srv.range(pb.RangeRequest(key=b"c", revision=3))
        with pytest.raises(ErrRequestTooLarge):
            await srv.put(pb.PutRequest(key=b"big", value=b"x" * 2000))


async def test_quota_raises_nospace_alarm_and_refuses_puts(tmp_path: Path) -> None:
    async with running_member(tmp_path, quota_backend_bytes=40_000) as srv:
        with pytest.raises(ErrNoSpace):
            for i in range(200):
                await srv.put(pb.PutRequest(key=b"q%d" % i, value=b"x" * 1000))
        alarms = srv.alarms()
        assert [(a.memberID, a.alarm) for a in alarms] == [(srv.id, pb.NOSPACE)]
        with pytest.raises(ErrNoSpace):
            await srv.put(pb.PutRequest(key=b"more", value=b"x"))
        # Reads and deletes still work under the alarm.
        assert (await srv.range(pb.RangeRequest(key=b"q0"))).count == 1
        await srv.alarm(pb.AlarmRequest(action=pb.AlarmRequest.DEACTIVATE, memberID=srv.id, alarm=pb.NOSPACE))
        assert srv.alarms() == []


async def test_a_failed_apply_stops_the_server(tmp_path: Path) -> None:
    srv = await EtcdServer.open(member_config(tmp_path))
    srv.start()
    try:
        await asyncio.wait_for(srv.ready.wait(), 10)
        srv.backend.close()  # the store fails under the applier: the member must not run on
        with pytest.raises(ErrStopped):
            await srv.put(pb.PutRequest(key=b"a", value=b"1"))
        await asyncio.wait_for(srv.stopped.wait(), 10)
        assert srv.stopping.is_set() and srv.error is not None
    finally:
        await srv.stop()
