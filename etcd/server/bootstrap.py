"""Open or create a member's raft state in ``<data-dir>/member/{wal,snap}`` (etcd's ``NewServer`` raft half).

Two cases, as etcd's ``startNode`` and ``restartNode``: with no WAL, a new member of a new cluster writes a
WAL whose metadata names it (``etcdserverpb.Metadata``) and bootstraps raft with every initial member; with a
WAL, the member reloads the newest snapshot the WAL vouches for, then the WAL from that snapshot on, into a
``MemoryStorage``, and restarts raft at the snapshot. Blocking: call it before the loop starts, or from the
I/O pool.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass

from etcd.api.etcdserverpb.etcdserver_pb2 import Metadata
from etcd.raft import Config, MemoryStorage, Peer, RawNode
from etcd.raft.raftpb.raft_pb2 import Snapshot
from etcd.server.storage import RaftStorage
from etcd.snap import ErrNoSnapshot, Snapshotter
from etcd.wal import WAL, exist, valid_snapshot_entries
from etcd.wal.walpb.record_pb2 import Snapshot as WalSnapshot

_DIR_MODE = 0o700


@dataclass
class BootstrappedRaft:
    """A member's raft state, opened and ready for ``RaftNode``; the caller owns ``raft_storage``.

    ``snapshot`` is the snapshot raft restarted from (None for a new member or a WAL-only restart): the
    state machine must hold at least its state before applying what raft hands out next.
    """

    node_id: int
    cluster_id: int
    raw_node: RawNode
    memory_storage: MemoryStorage
    raft_storage: RaftStorage
    snapshot: Snapshot | None
    is_new: bool


def member_dirs(data_dir: str) -> tuple[str, str]:
    """``(<data-dir>/member/wal, <data-dir>/member/snap)``, etcd 3.4's layout."""
    member = os.path.join(data_dir, "member")
    return os.path.join(member, "wal"), os.path.join(member, "snap")


def open_raft(
    data_dir: str,
    *,
    node_id: int,
    cluster_id: int,
    peers: Sequence[Peer],
    election_tick: int,
    heartbeat_tick: int,
    rand: random.Random,
    join: bool = False,
    pre_vote: bool = False,
    check_quorum: bool = True,
    max_size_per_msg: int = 1024 * 1024,
    max_inflight_msgs: int = 512,
) -> BootstrappedRaft:
    """Restart the member from ``data_dir`` if it has a WAL, else start a new cluster of ``peers``.

    Ticks are raft ticks (etcd: ``ElectionTick = election-timeout / heartbeat-interval``,
    ``HeartbeatTick = 1``); the size and in-flight limits default to etcd's ``raft.go`` values. On
    restart ``node_id``/``cluster_id``/``peers`` are ignored: the WAL's metadata names the member. With
    ``join`` a new member joins an existing cluster (``--initial-cluster-state=existing``): it bootstraps
    nothing and learns the members from the leader's log or snapshot, once the cluster has added it.

    Raises:
        ValueError: a new member of a new cluster without ``peers``.
        WALError, SnapError, OSError: the files cannot be created or read (the member must not start).
    """
    waldir, snapdir = member_dirs(data_dir)
    os.makedirs(snapdir, mode=_DIR_MODE, exist_ok=True)
    snapshotter = Snapshotter(snapdir)
    ms = MemoryStorage()

    def config(nid: int, applied: int) -> Config:
        return Config(
            id=nid,
            election_tick=election_tick,
            heartbeat_tick=heartbeat_tick,
            storage=ms,
            rand=rand,
            applied=applied,
            max_size_per_msg=max_size_per_msg,
            max_inflight_msgs=max_inflight_msgs,
            check_quorum=check_quorum,
            pre_vote=pre_vote,
        )

    if not exist(waldir):
        if not peers and not join:
            raise ValueError("a new member needs its cluster's peers")
        meta = Metadata(NodeID=node_id, ClusterID=cluster_id).SerializeToString()
        wal = WAL.create(waldir, meta)
        node = RawNode(config(node_id, 0))
        if not join:
            node.bootstrap(peers)
        return BootstrappedRaft(node_id, cluster_id, node, ms, RaftStorage(wal, snapshotter), None, True)

    snapshot: Snapshot | None
    try:
        snapshot = snapshotter.load_newest_available(valid_snapshot_entries(waldir))
    except ErrNoSnapshot:
        snapshot = None
    walsnap = WalSnapshot()
    if snapshot is not None:
        walsnap = WalSnapshot(index=snapshot.metadata.index, term=snapshot.metadata.term)
    wal = WAL.open(waldir, walsnap)
    try:
        raw_meta, hard_state, entries = wal.read_all()
        meta = Metadata.FromString(raw_meta)
        if snapshot is not None:
            ms.apply_snapshot(snapshot)
        ms.set_hard_state(hard_state)
        ms.append(entries)
        applied = snapshot.metadata.index if snapshot is not None else 0
        node = RawNode(config(meta.NodeID, applied))
    except BaseException:
        wal.close()
        raise
    return BootstrappedRaft(
        meta.NodeID, meta.ClusterID, node, ms, RaftStorage(wal, snapshotter), snapshot, False
    )
