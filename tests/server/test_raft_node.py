"""RaftNode with one member: real WAL and snapshot files on tmp_path, real asyncio, bounded waits."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from etcd.server import Applied, ErrStopped
from tests.server.harness import Cluster
from tests.server.state_machine import Recorder

pytestmark = pytest.mark.timeout(30)


async def test_single_member_elects_itself_and_applies_proposals_in_order(tmp_path: Path) -> None:
    c = Cluster(tmp_path, [1])
    node = c.start(1)
    try:
        async with asyncio.timeout(5):
            assert await node.wait_leader() == 1
            assert node.is_leader
            results = []
            for i in range(20):
                res = await node.propose(b"v%d" % i)
                # Resolved only once applied: the state machine already holds it.
                assert c.sms[1].applied >= res.index
                assert c.sms[1].items[-1] == (res.index, b"v%d" % i)
                results.append(res)
        indexes = [r.index for r in results]
        assert indexes == sorted(indexes) and len(set(indexes)) == 20
        assert results[0].result == ("applied", results[0].index)
        assert c.sms[1].datas == [b"v%d" % i for i in range(20)]
        assert node.applied_index == indexes[-1]
    finally:
        await c.stop_all()
    assert node.error is None


async def test_concurrent_proposals_share_wal_saves(tmp_path: Path) -> None:
    c = Cluster(tmp_path, [1])
    node = c.start(1)
    try:
        async with asyncio.timeout(10):
            await node.wait_leader()
            saves_before = node.stats.saves
            n = 300
            results = await asyncio.gather(*(node.propose(b"p%d" % i) for i in range(n)))
        saves = node.stats.saves - saves_before
        assert sorted(r.index for r in results) == [r.index for r in sorted(results, key=lambda r: r.index)]
        assert len({r.index for r in results}) == n
        assert sorted(c.sms[1].datas) == sorted(b"p%d" % i for i in range(n))
        # Each batch costs two saves (entries, then the commit); one save per proposal would be 300+.
        assert node.stats.proposal_batches < n / 5, node.stats
        assert saves < n / 5, (saves, node.stats)
    finally:
        await c.stop_all()


async def test_restart_from_wal_keeps_applied_entries_and_applies_nothing_twice(tmp_path: Path) -> None:
    c = Cluster(tmp_path, [1])
    node = c.start(1)
    try:
        async with asyncio.timeout(5):
            await node.wait_leader()
            first = [await node.propose(b"a%d" % i) for i in range(10)]
    finally:
        await node.stop()
    persisted = Recorder(str(tmp_path / "m1.sm.json"))
    assert persisted.datas == [b"a%d" % i for i in range(10)]

    # The persisted state machine restarts at its own applied index: nothing is handed to it twice.
    node = c.start(1, sm=persisted)
    try:
        async with asyncio.timeout(5):
            await node.wait_leader()
            more = [await node.propose(b"b%d" % i) for i in range(5)]
    finally:
        await node.stop()
    assert persisted.datas == [b"a%d" % i for i in range(10)] + [b"b%d" % i for i in range(5)]
    assert persisted.indexes == sorted(set(persisted.indexes))
    assert more[0].index > first[-1].index

    # An empty state machine gets every entry again from the WAL, once each, in the same order.
    fresh = Recorder()
    node = c.start(1, sm=fresh)
    try:
        async with asyncio.timeout(5):
            await node.wait_applied(more[-1].index)
    finally:
        await node.stop()
    assert fresh.items == persisted.items


async def test_read_index_waits_for_apply(tmp_path: Path) -> None:
    c = Cluster(tmp_path, [1])
    node = c.start(1)
    sm = c.sms[1]
    sm.gate = asyncio.Event()
    sm.gate.set()
    try:
        async with asyncio.timeout(5):
            await node.wait_leader()
            await node.propose(b"before")
            sm.gate = asyncio.Event()
            write = asyncio.create_task(node.propose(b"held"))
            # The write is committed but not applied while the gate is shut.
            await c.wait_until(lambda: node.raw_node.raft.raft_log.committed > node.applied_index)
            committed = node.raw_node.raft.raft_log.committed
            reads = [asyncio.create_task(node.read_index()) for _ in range(5)]
            done, _ = await asyncio.wait(reads, timeout=0.2)
            assert not done, "a read returned before the write it must see was applied"
            assert sm.datas == [b"before"]
            sm.gate.set()
            indexes = await asyncio.gather(*reads)
            assert all(i >= committed for i in indexes)
            # The five concurrent reads shared one ReadIndex round.
            assert len(set(indexes)) == 1
            assert sm.datas == [b"before", b"held"]
            assert (await write).index <= indexes[0]
    finally:
        sm.gate.set()
        await c.stop_all()


async def test_snapshot_every_n_entries_then_restart_from_snapshot_and_wal_tail(tmp_path: Path) -> None:
    c = Cluster(tmp_path, [1], snapshot_count=10, snapshot_catch_up_entries=3)
    node = c.start(1)
    try:
        async with asyncio.timeout(10):
            await node.wait_leader()
            res = [await node.propose(b"s%d" % i) for i in range(35)]
    finally:
        await node.stop()
    assert node.stats.snapshots >= 2
    snap_dir = tmp_path / "m1" / "member" / "snap"
    snaps = sorted(p for p in os.listdir(snap_dir) if p.endswith(".snap"))
    assert snaps, os.listdir(snap_dir)
    snap_index = int(snaps[-1].split("-")[1].split(".")[0], 16)
    assert snap_index == node.snapshot_index
    assert res[-1].index - snap_index <= 11

    # An empty state machine: restored from the snapshot file, then the WAL tail after it.
    fresh = Recorder()
    node = c.start(1, sm=fresh)
    try:
        assert node.raw_node.raft.raft_log.first_index() == snap_index + 1
        async with asyncio.timeout(5):
            await node.wait_applied(res[-1].index)
            assert fresh.snapshots_restored == 1
            assert fresh.batches[0].snapshot is not None
            assert fresh.batches[0].snapshot.metadata.index == snap_index
            assert fresh.datas == [b"s%d" % i for i in range(35)]
            await node.wait_leader()
            after = await node.propose(b"after")
            assert after.index > res[-1].index
            assert fresh.datas[-1] == b"after"
    finally:
        await node.stop()


async def test_stop_fails_pending_requests_and_refuses_new_ones(tmp_path: Path) -> None:
    c = Cluster(tmp_path, [1])
    node = c.start(1)
    sm = c.sms[1]
    async with asyncio.timeout(5):
        await node.wait_leader()
        sm.gate = asyncio.Event()
        pending = asyncio.create_task(node.propose(b"x"))
        await c.wait_until(lambda: node.raw_node.raft.raft_log.committed > node.applied_index)
        stopping = asyncio.create_task(node.stop())
        await asyncio.sleep(0)
        sm.gate.set()
        await stopping
        # Already committed and queued: applied before the stop completed.
        result = await pending
        assert isinstance(result, Applied) and sm.datas == [b"x"]
    with pytest.raises(ErrStopped):
        await node.propose(b"y")
    with pytest.raises(ErrStopped):
        await node.read_index()
