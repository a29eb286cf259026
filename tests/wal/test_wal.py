"""WAL behaviours, one per test, on real files in tmp_path (etcd's wal/wal_test.go covers the same ground)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from etcd.raft.raftpb.raft_pb2 import ConfState, Entry, HardState
from etcd.wal import (
    WAL,
    ErrClosed,
    ErrDecoderNotFound,
    ErrExist,
    ErrFileNotFound,
    ErrLocked,
    ErrMetadataConflict,
    ErrNotRead,
    ErrSliceOutOfRange,
    ErrSnapshotMismatch,
    ErrSnapshotNotFound,
    purge_files,
    valid_snapshot_entries,
)
from etcd.wal.decoder import decode
from etcd.wal.encoder import ENTRY_TYPE, METADATA_TYPE, Encoder
from etcd.wal.names import parse_wal_name, read_wal_names
from etcd.wal.walpb.record_pb2 import Snapshot as WalSnapshot


def ents(first: int, last: int, term: int = 1) -> list[Entry]:
    return [Entry(term=term, index=i, data=f"e{i}t{term}".encode()) for i in range(first, last + 1)]


def reopen(d: str, walsnap: WalSnapshot | None = None) -> tuple[bytes, HardState, list[Entry]]:
    with WAL.open(d, walsnap) as w:
        return w.read_all()


@pytest.fixture
def d(tmp_path: Path) -> str:
    return str(tmp_path / "member" / "wal")


def test_create_then_read_all_returns_metadata_only(d: str) -> None:
    WAL.create(d, b"cluster-meta").close()
    assert reopen(d) == (b"cluster-meta", HardState(), [])


def test_create_names_first_segment_and_leaves_no_tmp_dir(d: str) -> None:
    WAL.create(d, b"m").close()
    assert os.listdir(d) == ["0000000000000000-0000000000000000.wal"]
    assert not os.path.exists(d + ".tmp")
    assert sorted(os.listdir(os.path.dirname(d))) == ["wal"]


def test_create_refuses_a_directory_with_segments(d: str) -> None:
    WAL.create(d, b"m").close()
    with pytest.raises(ErrExist, match=r"^file already exists"):
        WAL.create(d, b"m")


def test_create_replaces_an_empty_directory(d: str) -> None:
    os.makedirs(d)
    Path(d, "stray").write_bytes(b"x")
    WAL.create(d, b"m").close()
    assert os.listdir(d) == ["0000000000000000-0000000000000000.wal"]


def test_saved_entries_and_state_survive_reopen(d: str) -> None:
    with WAL.create(d, b"m") as w:
        w.save(HardState(term=1, vote=1, commit=0), ents(1, 3), sync=True)
        w.save(HardState(term=2, vote=3, commit=3), ents(4, 5, term=2), sync=False)
    assert reopen(d) == (b"m", HardState(term=2, vote=3, commit=3), ents(1, 3) + ents(4, 5, term=2))


def test_entry_at_existing_index_replaces_it_and_all_after(d: str) -> None:
    with WAL.create(d, b"m") as w:
        w.save(HardState(term=1, commit=1), ents(1, 5), sync=True)
        w.save(HardState(term=2, commit=1), ents(3, 3, term=2), sync=True)
    _, st, got = reopen(d)
    assert got == ents(1, 2) + ents(3, 3, term=2)
    assert st == HardState(term=2, commit=1)


def test_entries_after_a_replaced_tail_append_normally(d: str) -> None:
    with WAL.create(d, b"m") as w:
        w.save(None, ents(1, 5), sync=True)
        w.save(None, ents(2, 2, term=3), sync=True)
        w.save(None, ents(3, 4, term=3), sync=True)
    assert reopen(d)[2] == ents(1, 1) + ents(2, 4, term=3)


def test_index_gap_is_reported(d: str) -> None:
    with WAL.create(d, b"m") as w:
        w.save(None, ents(1, 3), sync=True)
        w.save(None, ents(5, 5), sync=True)
    with pytest.raises(ErrSliceOutOfRange, match=r"^wal: slice bounds out of range"):
        reopen(d)


def test_open_at_snapshot_returns_only_later_entries(d: str) -> None:
    snap = WalSnapshot(index=5, term=1, conf_state=ConfState(voters=[1, 2, 3]))
    with WAL.create(d, b"m") as w:
        w.save(HardState(term=1, commit=5), ents(1, 10), sync=True)
        w.save_snapshot(snap)
        w.save(HardState(term=1, commit=12), ents(11, 12), sync=True)
    assert reopen(d, WalSnapshot(index=5, term=1)) == (b"m", HardState(term=1, commit=12), ents(6, 12))


def test_open_at_unknown_snapshot_is_not_found(d: str) -> None:
    with WAL.create(d, b"m") as w:
        w.save(HardState(term=1, commit=5), ents(1, 10), sync=True)
    with pytest.raises(ErrSnapshotNotFound, match=r"^wal: snapshot not found"):
        reopen(d, WalSnapshot(index=5, term=1))


def test_open_at_snapshot_with_other_term_is_a_mismatch(d: str) -> None:
    with WAL.create(d, b"m") as w:
        w.save(None, ents(1, 5), sync=True)
        w.save_snapshot(WalSnapshot(index=5, term=1))
    with pytest.raises(ErrSnapshotMismatch, match=r"^wal: snapshot mismatch"):
        reopen(d, WalSnapshot(index=5, term=2))


def test_open_without_segments_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(ErrFileNotFound, match=r"^wal: file not found"):
        WAL.open(str(tmp_path / "nothing"))
    os.makedirs(tmp_path / "empty")
    with pytest.raises(ErrFileNotFound):
        WAL.open(str(tmp_path / "empty"))


def test_read_all_twice_is_refused(d: str) -> None:
    WAL.create(d, b"m").close()
    with WAL.open(d) as w:
        w.read_all()
        with pytest.raises(ErrDecoderNotFound, match=r"^wal: decoder not found"):
            w.read_all()


def test_save_before_read_all_is_refused(d: str) -> None:
    WAL.create(d, b"m").close()
    with WAL.open(d) as w, pytest.raises(ErrNotRead):
        w.save(None, ents(1, 1), sync=True)


def test_save_after_close_is_refused(d: str) -> None:
    w = WAL.create(d, b"m")
    w.close()
    w.close()
    with pytest.raises(ErrClosed):
        w.save(None, ents(1, 1), sync=True)


def test_empty_save_writes_nothing(d: str) -> None:
    with WAL.create(d, b"m") as w:
        path = os.path.join(d, w.segment_names[-1])
        size = os.path.getsize(path)
        w.save(HardState(), [], sync=True)
        w.save(None, [], sync=False)
        assert os.path.getsize(path) == size


def test_appending_after_reopen_continues_the_log(d: str) -> None:
    with WAL.create(d, b"m") as w:
        w.save(HardState(term=1, commit=2), ents(1, 2), sync=True)
    with WAL.open(d) as w:
        w.read_all()
        assert w.last_index == 2
        w.save(HardState(term=1, commit=4), ents(3, 4), sync=True)
    assert reopen(d) == (b"m", HardState(term=1, commit=4), ents(1, 4))


def test_segments_are_cut_and_named_for_their_first_index(d: str) -> None:
    with WAL.create(d, b"m", segment_size_bytes=1024) as w:
        for i in range(1, 101):
            w.save(HardState(term=1, commit=i - 1), ents(i, i), sync=False)
    names = read_wal_names(d)
    assert len(names) > 3
    parsed = [parse_wal_name(n) for n in names]
    assert [seq for seq, _ in parsed] == list(range(len(names)))
    assert parsed[0][1] == 0
    assert sorted(os.listdir(d)) == names  # no *.tmp left behind
    assert reopen(d) == (b"m", HardState(term=1, commit=99), ents(1, 100))
    # A segment's name carries the index of the first entry it holds.
    for name, (_, index) in zip(names[1:], parsed[1:], strict=True):
        records = decode([(name, Path(d, name).read_bytes())], prev_crc=None).records
        first_entry = next(data for rec_type, data in records if rec_type == ENTRY_TYPE)
        assert Entry.FromString(first_entry).index == index


def test_a_new_segment_repeats_metadata_and_hard_state(d: str) -> None:
    with WAL.create(d, b"m", segment_size_bytes=512) as w:
        w.save(HardState(term=3, vote=2, commit=7), ents(1, 40), sync=True)
        assert w.segment_names[-1] == "0000000000000001-0000000000000029.wal"  # first index 41
        w.save(None, ents(41, 42), sync=True)
        w.save_snapshot(WalSnapshot(index=41, term=1))
    assert len(purge_files(d, ".wal", 1)) == 1
    expected = (b"m", HardState(term=3, vote=2, commit=7), ents(42, 42))
    assert reopen(d, WalSnapshot(index=41, term=1)) == expected


def test_a_second_open_of_a_locked_wal_fails(d: str) -> None:
    WAL.create(d, b"m").close()
    with WAL.open(d) as w:
        with pytest.raises(ErrLocked, match=r"^fileutil: file already locked"):
            WAL.open(d)
        assert w.read_all()[0] == b"m"
    WAL.open(d).close()


def test_create_holds_the_lock_too(d: str) -> None:
    with WAL.create(d, b"m"), pytest.raises(ErrLocked):
        WAL.open(d)


def test_open_for_read_takes_no_lock_and_cannot_save(d: str) -> None:
    with WAL.create(d, b"m") as w:
        w.save(HardState(term=1, commit=1), ents(1, 1), sync=True)
        with WAL.open_for_read(d) as r:
            assert r.read_all() == (b"m", HardState(term=1, commit=1), ents(1, 1))
            with pytest.raises(ErrClosed):
                r.save(None, ents(2, 2), sync=True)


def test_purge_never_removes_a_locked_segment(d: str) -> None:
    with WAL.create(d, b"m", segment_size_bytes=256) as w:
        for i in range(1, 41):
            w.save(HardState(term=1, commit=i), ents(i, i), sync=False)
        n = len(w.segment_names)
        assert n >= 4
        assert purge_files(d, ".wal", 1) == []
        w.save_snapshot(WalSnapshot(index=40, term=1))
        w.release_lock_to(40)
        assert len(w.segment_names) == 2  # the tail and, as etcd keeps, the one before it
        removed = purge_files(d, ".wal", 1)
        assert len(removed) == n - 2
        assert read_wal_names(d) == w.segment_names
    assert reopen(d, WalSnapshot(index=40, term=1))[1] == HardState(term=1, commit=40)


def test_release_lock_to_keeps_the_segment_with_the_index(d: str) -> None:
    with WAL.create(d, b"m", segment_size_bytes=256) as w:
        for i in range(1, 41):
            w.save(None, ents(i, i), sync=False)
        names = w.segment_names
        w.release_lock_to(0)
        assert w.segment_names == names
        target = parse_wal_name(names[2])[1]
        w.release_lock_to(target)
        assert w.segment_names == names[1:]


def test_valid_snapshot_entries_keeps_only_committed_markers(d: str) -> None:
    with WAL.create(d, b"m") as w:
        w.save(HardState(term=1, commit=5), ents(1, 10), sync=True)
        w.save_snapshot(WalSnapshot(index=3, term=1))
        w.save_snapshot(WalSnapshot(index=5, term=1))
        w.save_snapshot(WalSnapshot(index=8, term=1))
    got = valid_snapshot_entries(d)
    assert [(s.index, s.term) for s in got] == [(0, 0), (3, 1), (5, 1)]


def test_missing_segment_in_the_sequence_is_file_not_found(d: str) -> None:
    with WAL.create(d, b"m", segment_size_bytes=256) as w:
        for i in range(1, 41):
            w.save(None, ents(i, i), sync=False)
    names = read_wal_names(d)
    os.remove(os.path.join(d, names[1]))
    with pytest.raises(ErrFileNotFound):
        WAL.open(d)
    with pytest.raises(ErrFileNotFound):
        valid_snapshot_entries(d)


def test_conflicting_metadata_is_reported(d: str) -> None:
    WAL.create(d, b"m").close()
    path = os.path.join(d, read_wal_names(d)[0])
    content = Path(path).read_bytes()
    buf = bytearray()
    Encoder(decode([(path, content)]).crc).encode(buf, METADATA_TYPE, b"other")
    Path(path).write_bytes(content + bytes(buf))
    with pytest.raises(ErrMetadataConflict, match=r"^wal: conflicting metadata found"):
        reopen(d)


def test_stale_segment_tmp_file_is_ignored(d: str) -> None:
    with WAL.create(d, b"m") as w:
        w.save(None, ents(1, 2), sync=True)
    Path(d, "0000000000000001-0000000000000003.wal.tmp").write_bytes(b"half a header")
    assert reopen(d)[2] == ents(1, 2)


def test_another_process_cannot_open_a_wal_in_use(d: str) -> None:
    WAL.create(d, b"m").close()
    repo = Path(__file__).resolve().parents[2]
    holder = (
        "import sys\nfrom etcd.wal import WAL\nw = WAL.open(sys.argv[1])\nw.read_all()\n"
        "print('holding', flush=True)\nsys.stdin.read()\nw.close()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", holder, d],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=repo,
        env=dict(os.environ, PYTHONPATH=str(repo)),
    )
    try:
        assert proc.stdout is not None and proc.stdin is not None
        assert proc.stdout.readline() == b"holding\n"
        with pytest.raises(ErrLocked):
            WAL.open(d)
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    WAL.open(d).close()
