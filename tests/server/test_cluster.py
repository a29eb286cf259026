"""Three RaftNodes in one process over LocalNetwork, each with real WAL and snapshot files on tmp_path."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from etcd.raft import ErrProposalDropped
from etcd.raft.raftpb import raft_pb2 as pb
from etcd.raft.raftpb.raft_pb2 import ConfChange
from etcd.server import Applied, RaftNode
from tests.server.harness import Cluster
from tests.server.state_machine import Recorder

pytestmark = pytest.mark.timeout(60)

IDS = [1, 2, 3]


async def propose_retrying(c: Cluster, data: bytes, attempts: int = 50) -> Applied:
    """Propose on the current leader, retrying (bounded) while leadership moves."""
    for _ in range(attempts):
        lead = await c.wait_leader()
        try:
            return await asyncio.wait_for(lead.propose(data), 1.0)
        except (ErrProposalDropped, TimeoutError):
            continue
    raise AssertionError(f"{data!r} never applied")


async def wait_all_applied(nodes: list[RaftNode], index: int) -> None:
    async with asyncio.timeout(5):
        await asyncio.gather(*(n.wait_applied(index) for n in nodes))


async def test_three_members_elect_one_leader_and_replicate(tmp_path: Path) -> None:
    c = Cluster(tmp_path, IDS)
    nodes = [c.start(i) for i in IDS]
    try:
        lead = await c.wait_leader()
        assert sum(n.is_leader for n in nodes) == 1
        assert all(n.leader == lead.id for n in nodes)
        res = [await propose_retrying(c, b"r%d" % i) for i in range(10)]
        await wait_all_applied(nodes, res[-1].index)
        for i in IDS:
            assert c.sms[i].datas == [b"r%d" % k for k in range(10)]
            assert c.sms[i].indexes == [r.index for r in res]
        # A follower's proposal is forwarded to the leader and resolves on the follower once applied there.
        follower = next(n for n in nodes if not n.is_leader)
        async with asyncio.timeout(5):
            fwd = await follower.propose(b"via-follower")
        assert c.sms[follower.id].items[-1] == (fwd.index, b"via-follower")
    finally:
        await c.stop_all()


async def test_leader_stop_new_leader_and_restarted_member_catches_up(tmp_path: Path) -> None:
    c = Cluster(tmp_path, IDS)
    for i in IDS:
        c.start(i)
    try:
        old = await c.wait_leader()
        before = [await propose_retrying(c, b"x%d" % i) for i in range(5)]
        await wait_all_applied(c.live(), before[-1].index)
        await old.stop()

        new = await c.wait_leader()
        assert new.id != old.id
        after = [await propose_retrying(c, b"y%d" % i) for i in range(5)]
        await wait_all_applied(c.live(), after[-1].index)

        # The old leader restarts from its WAL and its persisted state machine and catches up.
        sm = Recorder(str(tmp_path / f"m{old.id}.sm.json"))
        assert sm.datas == [b"x%d" % i for i in range(5)]
        back = c.start(old.id, sm=sm)
        await wait_all_applied([back], after[-1].index)
        assert sm.datas == c.sms[new.id].datas
        assert sm.indexes == sorted(set(sm.indexes))
        last = await propose_retrying(c, b"z")
        await wait_all_applied(c.live(), last.index)
        assert len(c.live()) == 3
        for i in IDS:
            assert c.sms[i].datas == [b"x%d" % k for k in range(5)] + [b"y%d" % k for k in range(5)] + [b"z"]
    finally:
        await c.stop_all()


async def test_linearizable_read_on_a_follower_sees_acknowledged_writes(tmp_path: Path) -> None:
    c = Cluster(tmp_path, IDS)
    nodes = [c.start(i) for i in IDS]
    try:
        await c.wait_leader()
        for i in range(5):
            w = await propose_retrying(c, b"w%d" % i)
            follower = next(n for n in nodes if not n.is_leader)
            async with asyncio.timeout(5):
                idx = await follower.read_index()
            assert idx >= w.index
            assert follower.applied_index >= w.index
            assert c.sms[follower.id].datas[-1] == b"w%d" % i
    finally:
        await c.stop_all()


async def test_lagging_member_catches_up_from_a_snapshot(tmp_path: Path) -> None:
    c = Cluster(tmp_path, IDS, snapshot_count=5, snapshot_catch_up_entries=2)
    for i in IDS:
        c.start(i)
    try:
        lead = await c.wait_leader()
        lagging = next(n for n in c.live() if n is not lead)
        await lagging.stop()
        res = [await propose_retrying(c, b"s%d" % i) for i in range(30)]
        await wait_all_applied(c.live(), res[-1].index)
        new_lead = await c.wait_leader()
        assert new_lead.snapshot_index > 0
        # The leader's log no longer holds what the lagging member misses: only a snapshot can help.
        assert new_lead.raw_node.raft.raft_log.first_index() > c.sms[lagging.id].applied + 1

        sm = Recorder(str(tmp_path / f"m{lagging.id}.sm.json"))
        back = c.start(lagging.id, sm=sm)
        await wait_all_applied([back], res[-1].index)
        assert sm.snapshots_restored == 1
        assert sm.datas == [b"s%d" % i for i in range(30)]
        assert back.snapshot_index > 0
    finally:
        await c.stop_all()


async def test_a_member_added_by_conf_change_joins_and_catches_up(tmp_path: Path) -> None:
    c = Cluster(tmp_path, IDS)
    for i in IDS:
        c.start(i)
    try:
        res = [await propose_retrying(c, b"j%d" % i) for i in range(5)]
        lead = await c.wait_leader()
        async with asyncio.timeout(5):
            added = await lead.propose_conf_change(ConfChange(type=pb.ConfChangeAddNode, node_id=4))
        assert added.index > res[-1].index
        assert 4 in lead.raw_node.raft.prs.voters
        seen = [e for b in c.sms[lead.id].batches for e in b.entries if e.conf_change is not None]
        assert [(e.index, e.conf_change.node_id) for e in seen][-1] == (added.index, 4)

        joined = c.start(4, join=True)
        await wait_all_applied([joined], added.index)
        assert 4 in joined.raw_node.raft.prs.voters and len(joined.raw_node.raft.prs.voters) == 4
        last = await propose_retrying(c, b"after-join")
        await wait_all_applied(c.live(), last.index)
        assert c.sms[4].datas == [b"j%d" % i for i in range(5)] + [b"after-join"]
    finally:
        await c.stop_all()


async def test_leadership_moves_on_request(tmp_path: Path) -> None:
    c = Cluster(tmp_path, IDS)
    for i in IDS:
        c.start(i)
    try:
        w = await propose_retrying(c, b"before")
        await wait_all_applied(c.live(), w.index)
        lead = await c.wait_leader()
        target = next(n for n in c.live() if n is not lead)
        lead.transfer_leader(target.id)
        await c.wait_until(lambda: c.stable_leader() is target)
        assert target.status().lead == target.id
        assert target.status().hard_state.term >= lead.status().hard_state.term
        after = await propose_retrying(c, b"after")
        assert after.index > w.index
    finally:
        await c.stop_all()
