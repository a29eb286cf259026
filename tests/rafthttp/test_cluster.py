"""Two and three RaftNodes, each with a real WAL on tmp_path, talking through rafthttp over 127.0.0.1:
elections, replication, a member killed and restarted, a partition healed, a snapshot to a lagging member."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from etcd.raft import ErrProposalDropped
from etcd.server import Applied
from tests.rafthttp.cluster import Member, NetCluster

pytestmark = pytest.mark.timeout(60)


async def propose(
    c: NetCluster, data: bytes, among: list[Member] | None = None, attempts: int = 40
) -> Applied:
    """Propose on the current leader, retrying (bounded) while leadership moves."""
    for _ in range(attempts):
        lead = await c.wait_leader(among)
        try:
            return await asyncio.wait_for(lead.node.propose(data), 2.0)
        except (ErrProposalDropped, TimeoutError):
            continue
    raise AssertionError(f"{data!r} never applied")


async def all_applied(members: list[Member], index: int, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        await asyncio.gather(*(m.node.wait_applied(index) for m in members))


async def test_two_members_elect_a_leader_and_replicate_over_streams(tmp_path: Path) -> None:
    c = NetCluster(tmp_path, [1, 2])
    try:
        for i in c.ids:
            await c.start(i)
        lead = await c.wait_leader()
        res = [await propose(c, b"v%d" % i) for i in range(20)]
        await all_applied(c.live(), res[-1].index)
        for m in c.live():
            assert m.sm.datas == [b"v%d" % i for i in range(20)]
        follower = next(m for m in c.live() if m is not lead)
        # Once both streams are up, raft traffic rides them, not the pipeline.
        assert lead.tr.peer(follower.node.id).writer.frames > 20  # type: ignore[union-attr]
        assert lead.tr.active_since(follower.node.id) is not None
        fwd = await asyncio.wait_for(follower.node.propose(b"from-follower"), 5)
        await all_applied(c.live(), fwd.index)
        assert lead.sm.datas[-1] == b"from-follower"
    finally:
        await c.stop_all()


async def test_three_members_commit_on_all_and_a_killed_member_rejoins(tmp_path: Path) -> None:
    c = NetCluster(tmp_path, [1, 2, 3])
    try:
        for i in c.ids:
            await c.start(i)
        old = await c.wait_leader()
        first = [await propose(c, b"a%d" % i) for i in range(10)]
        await all_applied(c.live(), first[-1].index)

        await old.kill()  # the leader goes away: raft, transport and port
        new = await c.wait_leader()
        assert new.node.id != old.node.id
        second = [await propose(c, b"b%d" % i) for i in range(10)]
        await all_applied(c.live(), second[-1].index)
        await c.wait_until(lambda: new.tr.active_since(old.node.id) is None)

        back = await c.start(old.node.id)  # same port, same WAL
        await all_applied([back], second[-1].index)
        await c.wait_until(lambda: new.tr.active_since(back.node.id) is not None)
        last = await propose(c, b"c")
        await all_applied(c.live(), last.index)
        want = [b"a%d" % i for i in range(10)] + [b"b%d" % i for i in range(10)] + [b"c"]
        for m in c.live():
            assert m.sm.datas == want
        assert len(c.live()) == 3
    finally:
        await c.stop_all()


async def test_partitioned_leader_is_replaced_and_catches_up_after_heal(tmp_path: Path) -> None:
    c = NetCluster(tmp_path, [1, 2, 3])
    try:
        for i in c.ids:
            await c.start(i)
        old = await c.wait_leader()
        before = await propose(c, b"before")
        await all_applied(c.live(), before.index)

        others = [m for m in c.live() if m is not old]
        old.tr.faults.isolate(m.node.id for m in others)
        majority_lead = await c.wait_leader(others)
        during = [await propose(c, b"during%d" % i, among=others) for i in range(5)]
        await all_applied(others, during[-1].index)
        # The isolated member heard none of it.
        assert old.node.applied_index < during[-1].index
        assert b"during0" not in old.sm.datas

        old.tr.faults.heal()
        await c.wait_leader(timeout=15)
        await all_applied([old], during[-1].index)
        assert old.sm.datas == majority_lead.sm.datas
        assert old.tr.faults.dropped > 0
    finally:
        await c.stop_all()


async def test_lagging_member_receives_a_snapshot_with_the_backend_data(tmp_path: Path) -> None:
    c = NetCluster(tmp_path, [1, 2, 3], snapshot_count=5, snapshot_catch_up_entries=2)
    for i in c.ids:
        c.db_file(i).write_bytes(b"db-of-%d:" % i + bytes(range(256)) * 2048)  # 512 KiB each
    try:
        for i in c.ids:
            await c.start(i)
        lead = await c.wait_leader()
        lagging = next(m for m in c.live() if m is not lead)
        await lagging.kill()
        res = [await propose(c, b"s%d" % i) for i in range(30)]
        await all_applied(c.live(), res[-1].index)
        new_lead = await c.wait_leader()
        # The leader's log no longer holds what the lagging member misses: only a snapshot can help.
        assert new_lead.node.raw_node.raft.raft_log.first_index() > lagging.sm.applied + 1

        back = await c.start(lagging.node.id)
        await all_applied([back], res[-1].index)
        assert back.sm.snapshots_restored == 1
        assert back.sm.datas == new_lead.sm.datas
        # It came from the member that led when the snapshot was sent, with that member's backend data.
        assert len(back.received_db) == 1
        sender, index, data = back.received_db[0]
        assert data == c.db_file(sender).read_bytes()
        assert index == back.node.snapshot_index
        assert c.members[sender].tr.peer(back.node.id).snapshots.sent == 1  # type: ignore[union-attr]
    finally:
        await c.stop_all()
