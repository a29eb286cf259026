"""Snapshotter behaviours on real files (etcd's snap/snapshotter_test.go and db_test.go cover the same)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from etcd.raft.raftpb.raft_pb2 import ConfState, Snapshot, SnapshotMetadata
from etcd.snap import ErrCRCMismatch, ErrEmptySnapshot, ErrNoDBSnapshot, ErrNoSnapshot, Snapshotter, read_snap
from etcd.wal.walpb.record_pb2 import Snapshot as WalSnapshot


def snapshot(index: int, term: int, data: bytes = b"state") -> Snapshot:
    meta = SnapshotMetadata(index=index, term=term, conf_state=ConfState(voters=[1, 2, 3]))
    return Snapshot(data=data, metadata=meta)


@pytest.fixture
def ss(tmp_path: Path) -> Snapshotter:
    d = tmp_path / "snap"
    d.mkdir()
    return Snapshotter(str(d))


def files(ss: Snapshotter) -> list[str]:
    return sorted(os.listdir(ss.dir))


def test_save_writes_term_index_name_and_load_returns_it(ss: Snapshotter) -> None:
    s = snapshot(index=0x2A, term=3, data=b"v2 store json")
    ss.save_snap(s)
    assert files(ss) == ["0000000000000003-000000000000002a.snap"]
    assert ss.load() == s


def test_empty_snapshot_is_not_written(ss: Snapshotter) -> None:
    ss.save_snap(Snapshot())
    assert files(ss) == []
    with pytest.raises(ErrNoSnapshot, match=r"^snap: no available snapshot$"):
        ss.load()


def test_load_returns_the_newest(ss: Snapshotter) -> None:
    for i in (5, 20, 10):
        ss.save_snap(snapshot(index=i, term=1, data=b"%d" % i))
    assert ss.load().metadata.index == 20


def test_broken_newest_is_renamed_and_the_older_one_used(ss: Snapshotter) -> None:
    ss.save_snap(snapshot(index=1, term=1, data=b"old"))
    ss.save_snap(snapshot(index=2, term=1, data=b"new"))
    newest = Path(ss.dir, "0000000000000001-0000000000000002.snap")
    content = bytearray(newest.read_bytes())
    content[-1] ^= 0x01
    newest.write_bytes(content)
    assert ss.load().data == b"old"
    assert files(ss) == [
        "0000000000000001-0000000000000001.snap",
        "0000000000000001-0000000000000002.snap.broken",
    ]


def test_all_broken_is_no_snapshot(ss: Snapshotter) -> None:
    Path(ss.dir, "0000000000000001-0000000000000001.snap").write_bytes(b"")
    Path(ss.dir, "0000000000000001-0000000000000002.snap").write_bytes(b"\xff garbage")
    with pytest.raises(ErrNoSnapshot):
        ss.load()
    assert all(n.endswith(".broken") for n in files(ss))


def test_read_snap_errors_carry_etcd_messages(ss: Snapshotter) -> None:
    empty = Path(ss.dir, "e.snap")
    empty.write_bytes(b"")
    with pytest.raises(ErrEmptySnapshot, match=r"^snap: empty snapshot"):
        read_snap(str(empty))
    ss.save_snap(snapshot(index=3, term=1, data=b"payload"))
    good = Path(ss.dir, "0000000000000001-0000000000000003.snap")
    content = good.read_bytes()
    flipped = content.replace(b"payload", b"pAyload")
    assert flipped != content
    good.write_bytes(flipped)
    with pytest.raises(ErrCRCMismatch, match=r"^snap: crc mismatch"):
        read_snap(str(good))


def test_flip_at_every_offset_never_loads_a_wrong_snapshot(ss: Snapshotter) -> None:
    older, newer = snapshot(index=1, term=1, data=b"older"), snapshot(index=2, term=1, data=b"newer" * 9)
    ss.save_snap(older)
    ss.save_snap(newer)
    path = Path(ss.dir, "0000000000000001-0000000000000002.snap")
    original = path.read_bytes()
    for off in range(len(original)):
        damaged = bytearray(original)
        damaged[off] ^= 0x20
        path.write_bytes(damaged)
        assert ss.load() in (older, newer), f"flip at {off}"
        if os.path.exists(str(path) + ".broken"):
            os.rename(str(path) + ".broken", path)
    path.write_bytes(original)
    assert ss.load() == newer


def test_load_newest_available_matches_wal_markers(ss: Snapshotter) -> None:
    for i in (5, 10, 15):
        ss.save_snap(snapshot(index=i, term=2))
    walsnaps = [WalSnapshot(index=0, term=0), WalSnapshot(index=5, term=2), WalSnapshot(index=10, term=2)]
    assert ss.load_newest_available(walsnaps).metadata.index == 10
    assert "0000000000000002-000000000000000f.snap" in files(ss)  # skipped, not renamed
    with pytest.raises(ErrNoSnapshot):
        ss.load_newest_available([WalSnapshot(index=10, term=3)])


def test_save_leaves_no_temporary_file(ss: Snapshotter) -> None:
    ss.save_snap(snapshot(index=7, term=1))
    assert not [n for n in files(ss) if n.startswith("tmp")]


def test_save_db_file_from_bytes_and_reader(ss: Snapshotter) -> None:
    assert ss.save_db_file(b"rocks" * 1000, 0x10) == 5000
    path = ss.db_file_path(0x10)
    assert os.path.basename(path) == "0000000000000010.snap.db"
    assert Path(path).read_bytes() == b"rocks" * 1000
    big = os.urandom(3 * 1024 * 1024 + 5)
    assert ss.save_db_file(io.BytesIO(big), 0x11) == len(big)
    assert Path(ss.db_file_path(0x11)).read_bytes() == big
    assert not [n for n in files(ss) if n.startswith("tmp")]


def test_save_db_file_keeps_an_existing_file(ss: Snapshotter) -> None:
    ss.save_db_file(b"first", 3)
    ss.save_db_file(b"second", 3)
    assert Path(ss.db_file_path(3)).read_bytes() == b"first"
    assert files(ss) == ["0000000000000003.snap.db"]


def test_db_file_path_of_a_missing_file(ss: Snapshotter) -> None:
    with pytest.raises(ErrNoDBSnapshot, match=r"^snap: snapshot file doesn't exist"):
        ss.db_file_path(99)


def test_db_files_are_not_taken_for_snapshots(ss: Snapshotter) -> None:
    ss.save_db_file(b"db", 4)
    ss.save_snap(snapshot(index=4, term=1))
    assert ss.snap_names() == ["0000000000000001-0000000000000004.snap"]
    assert ss.load().metadata.index == 4


class _FailingReader:
    """A sender that breaks off mid-stream, as a peer connection does."""

    def __init__(self) -> None:
        self.calls = 0

    def read(self, size: int = -1, /) -> bytes:
        self.calls += 1
        if self.calls > 2:
            raise ConnectionResetError("peer went away")
        return b"x" * 1000


def test_save_db_file_interrupted_leaves_nothing_behind(ss: Snapshotter) -> None:
    with pytest.raises(ConnectionResetError):
        ss.save_db_file(_FailingReader(), 9)
    assert files(ss) == []
    with pytest.raises(ErrNoDBSnapshot):
        ss.db_file_path(9)
