"""Restart from WAL + snapshot files restores exactly what was saved, following etcd 3.4's boot path:
``wal.ValidSnapshotEntries`` -> ``Snapshotter.LoadNewestAvailable`` -> ``wal.Open`` at it -> ``ReadAll``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from etcd.raft.raftpb.raft_pb2 import ConfState, Entry, HardState, Snapshot, SnapshotMetadata
from etcd.snap import ErrNoSnapshot, Snapshotter
from etcd.wal import WAL, purge_files, valid_snapshot_entries
from etcd.wal.walpb.record_pb2 import Snapshot as WalSnapshot

CONF = ConfState(voters=[1, 2, 3], learners=[4])


@dataclass
class Member:
    """Just enough of a server's storage to save a raft Ready the way etcd's ``raftNode`` does."""

    wal: WAL
    snapshotter: Snapshotter
    entries: dict[int, Entry] = field(default_factory=dict)
    hard_state: HardState = field(default_factory=HardState)

    def save(self, hs: HardState, ents: list[Entry]) -> None:
        self.wal.save(hs, ents, sync=True)
        self.hard_state = hs
        for e in ents:
            self.entries = {i: x for i, x in self.entries.items() if i < e.index}
            self.entries[e.index] = e

    def snapshot(self, index: int, data: bytes) -> Snapshot:
        term = self.entries[index].term
        snap = Snapshot(data=data, metadata=SnapshotMetadata(index=index, term=term, conf_state=CONF))
        # Snapshot file first, then the WAL marker: a marker never names a missing file.
        self.snapshotter.save_snap(snap)
        self.wal.save_snapshot(WalSnapshot(index=index, term=term, conf_state=CONF))
        self.wal.release_lock_to(index)
        return snap


def boot(wal_dir: str, snap_dir: str) -> tuple[Snapshot | None, bytes, HardState, list[Entry]]:
    walsnaps = valid_snapshot_entries(wal_dir)
    ss = Snapshotter(snap_dir)
    try:
        snap: Snapshot | None = ss.load_newest_available(walsnaps)
    except ErrNoSnapshot:
        snap = None
    walsnap = WalSnapshot()
    if snap is not None:
        walsnap = WalSnapshot(index=snap.metadata.index, term=snap.metadata.term)
    with WAL.open(wal_dir, walsnap) as w:
        meta, hs, ents = w.read_all()
    return snap, meta, hs, ents


def entries(first: int, last: int, term: int) -> list[Entry]:
    return [Entry(term=term, index=i, data=b"put k%d" % i) for i in range(first, last + 1)]


def test_restart_restores_snapshot_state_and_entries(tmp_path: Path) -> None:
    wal_dir, snap_dir = str(tmp_path / "member/wal"), tmp_path / "member/snap"
    snap_dir.mkdir(parents=True)
    m = Member(WAL.create(wal_dir, b"node-1/cluster-7", segment_size_bytes=2048), Snapshotter(str(snap_dir)))
    m.save(HardState(term=1, vote=1, commit=0), entries(1, 30, term=1))
    m.save(HardState(term=1, vote=1, commit=30), [])
    snap1 = m.snapshot(20, b"store@20")
    m.save(HardState(term=2, vote=2, commit=30), entries(31, 60, term=2))
    m.save(HardState(term=3, vote=3, commit=45), entries(50, 70, term=3))  # a new leader rewrote 50..
    m.save(HardState(term=3, vote=3, commit=60), [])
    snap2 = m.snapshot(55, b"store@55")
    m.save(HardState(term=3, vote=3, commit=70), entries(71, 75, term=3))
    m.wal.close()

    snap, meta, hs, ents = boot(wal_dir, str(snap_dir))
    assert snap == snap2 != snap1
    assert meta == b"node-1/cluster-7"
    assert hs == m.hard_state == HardState(term=3, vote=3, commit=70)
    assert ents == [m.entries[i] for i in range(56, 76)]
    assert [e.term for e in ents[:3]] == [3, 3, 3]


def test_restart_ignores_a_snapshot_the_wal_has_not_committed(tmp_path: Path) -> None:
    wal_dir, snap_dir = str(tmp_path / "wal"), tmp_path / "snap"
    snap_dir.mkdir()
    m = Member(WAL.create(wal_dir, b"m"), Snapshotter(str(snap_dir)))
    m.save(HardState(term=1, commit=10), entries(1, 20, term=1))
    m.snapshot(8, b"store@8")
    m.snapshot(15, b"store@15")  # past the committed index 10: the WAL does not vouch for it
    m.wal.close()
    snap, _, hs, ents = boot(wal_dir, str(snap_dir))
    assert snap is not None and snap.metadata.index == 8
    assert hs == HardState(term=1, commit=10)
    assert [e.index for e in ents] == list(range(9, 21))


def test_restart_after_a_snapshot_file_without_its_wal_marker(tmp_path: Path) -> None:
    wal_dir, snap_dir = str(tmp_path / "wal"), tmp_path / "snap"
    snap_dir.mkdir()
    m = Member(WAL.create(wal_dir, b"m"), Snapshotter(str(snap_dir)))
    m.save(HardState(term=1, commit=20), entries(1, 20, term=1))
    m.snapshot(5, b"store@5")
    # A crash between the snapshot file and the WAL marker leaves a file the WAL never names.
    m.snapshotter.save_snap(Snapshot(data=b"store@18", metadata=SnapshotMetadata(index=18, term=1)))
    m.wal.close()
    snap, _, _, ents = boot(wal_dir, str(snap_dir))
    assert snap is not None and snap.data == b"store@5"
    assert [e.index for e in ents] == list(range(6, 21))


def test_restart_after_purging_old_segments(tmp_path: Path) -> None:
    wal_dir, snap_dir = str(tmp_path / "wal"), tmp_path / "snap"
    snap_dir.mkdir()
    m = Member(WAL.create(wal_dir, b"m", segment_size_bytes=1024), Snapshotter(str(snap_dir)))
    for i in range(1, 201, 10):
        m.save(HardState(term=1, commit=i + 9), entries(i, i + 9, term=1))
        if i % 50 == 1:
            m.snapshot(i + 9, b"store@%d" % (i + 9))
    purged = purge_files(wal_dir, ".wal", 2)
    assert purged
    assert len(purge_files(str(snap_dir), ".snap", 1)) == 3
    m.wal.close()
    snap, _, hs, ents = boot(wal_dir, str(snap_dir))
    assert snap is not None and snap.metadata.index == 160
    assert hs == HardState(term=1, commit=200)
    assert [e.index for e in ents] == list(range(161, 201))
