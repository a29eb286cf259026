"""RaftStorage and open_raft on real files: the order of snapshot saves, the two bootstrap cases."""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path

import pytest

from etcd.api.etcdserverpb.etcdserver_pb2 import Metadata
from etcd.raft import Peer
from etcd.raft.raftpb.raft_pb2 import ConfState, Entry, HardState, Snapshot, SnapshotMetadata
from etcd.server import ErrStopped, open_raft
from etcd.server.bootstrap import member_dirs
from etcd.snap import Snapshotter
from etcd.wal import WAL, ErrClosed, valid_snapshot_entries
from tests.server.harness import Cluster

pytestmark = pytest.mark.timeout(30)


def boot(data_dir: Path, node_id: int = 7, peers: tuple[int, ...] = (7,)):  # type: ignore[no-untyped-def]
    return open_raft(
        str(data_dir),
        node_id=node_id,
        cluster_id=0xC1,
        peers=[Peer(p) for p in peers],
        election_tick=10,
        heartbeat_tick=1,
        rand=random.Random(1),
    )


def test_new_member_writes_wal_metadata_and_bootstraps_its_peers(tmp_path: Path) -> None:
    b = boot(tmp_path, 7, (7, 8, 9))
    try:
        assert b.is_new and b.snapshot is None and (b.node_id, b.cluster_id) == (7, 0xC1)
        rd = b.raw_node.ready()
        assert [e.index for e in rd.entries] == [1, 2, 3]
        assert len(rd.committed_entries) == 3
    finally:
        b.raft_storage.close()
    waldir, snapdir = member_dirs(str(tmp_path))
    assert os.path.isdir(snapdir)
    with WAL.open_for_read(waldir) as w:
        meta, _, ents = w.read_all()
    assert Metadata.FromString(meta) == Metadata(NodeID=7, ClusterID=0xC1)
    assert ents == []


def test_new_member_without_peers_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        boot(tmp_path, 7, ())


def test_restart_takes_ids_from_the_wal_and_reloads_the_log(tmp_path: Path) -> None:
    b = boot(tmp_path)
    rd = b.raw_node.ready()
    b.raft_storage.save(rd.hard_state, rd.entries, sync=True)
    b.raft_storage.save(
        HardState(term=1, vote=7, commit=3),
        [Entry(term=1, index=2), Entry(term=1, index=3, data=b"x")],
        sync=True,
    )
    b.raft_storage.close()

    again = open_raft(
        str(tmp_path),
        node_id=99,
        cluster_id=1,
        peers=[],
        election_tick=10,
        heartbeat_tick=1,
        rand=random.Random(2),
    )
    try:
        assert not again.is_new and (again.node_id, again.cluster_id) == (7, 0xC1)
        ms = again.memory_storage
        assert ms.last_index() == 3 and ms.entries(3, 4)[0].data == b"x"
        assert ms.hard_state() == HardState(term=1, vote=7, commit=3)
        # Nothing applied yet (no snapshot): raft hands out every committed entry again.
        assert [e.index for e in again.raw_node.ready().committed_entries] == [1, 2, 3]
    finally:
        again.raft_storage.close()


def test_save_snap_writes_the_file_then_the_wal_marker(tmp_path: Path) -> None:
    b = boot(tmp_path)
    rd = b.raw_node.ready()
    st = b.raft_storage
    st.save(rd.hard_state, rd.entries, sync=True)
    st.save(HardState(term=1, vote=7, commit=5), [Entry(term=1, index=i) for i in range(2, 6)], sync=True)
    meta = SnapshotMetadata(index=4, term=1, conf_state=ConfState(voters=[7]))
    st.save_snap(Snapshot(data=b"state@4", metadata=meta))
    st.save_snap(Snapshot())  # empty: ignored
    st.close()
    waldir, snapdir = member_dirs(str(tmp_path))
    marks = [(s.index, s.term) for s in valid_snapshot_entries(waldir)]
    assert marks == [(0, 0), (4, 1)]
    assert Snapshotter(snapdir).load().data == b"state@4"

    again = boot(tmp_path)
    try:
        assert again.snapshot is not None and again.snapshot.metadata.index == 4
        assert again.memory_storage.first_index() == 5 and again.memory_storage.last_index() == 5
        assert again.raw_node.raft.raft_log.applied == 4
    finally:
        again.raft_storage.close()


async def test_a_failed_wal_write_stops_the_node(tmp_path: Path) -> None:
    c = Cluster(tmp_path, [1])
    node = c.start(1)
    try:
        async with asyncio.timeout(5):
            await node.wait_leader()
            await node.propose(b"ok")
            # Close the WAL under the node: the next save fails as a dead disk would.
            node_storage = c.net.nodes[1]._storage
            node_storage.wal.close()
            with pytest.raises(ErrStopped):
                await node.propose(b"lost")
        assert isinstance(node.error, ErrClosed)
        assert node.stopped
    finally:
        await node.stop()
    assert c.sms[1].datas == [b"ok"]


async def test_a_failing_apply_callback_stops_the_node(tmp_path: Path) -> None:
    c = Cluster(tmp_path, [1])
    node = c.start(1)
    try:
        async with asyncio.timeout(5):
            await node.wait_leader()
            await node.propose(b"ok")
            c.sms[1].fail_with = RuntimeError("state machine broke")
            with pytest.raises(ErrStopped):
                await node.propose(b"boom")
        assert isinstance(node.error, RuntimeError)
        with pytest.raises(ErrStopped):
            await node.read_index()
    finally:
        await node.stop()
    assert c.sms[1].datas == [b"ok"]
