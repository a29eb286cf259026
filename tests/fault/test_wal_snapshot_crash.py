"""SIGKILL a process that saves entries, takes snapshots and purges old files, then boot as etcd 3.4 does
(``valid_snapshot_entries`` -> ``load_newest_available`` -> ``WAL.open`` at it -> ``read_all``) and find a
consistent state holding every acknowledged write.

The child prints ``<last index> <commit>`` only after the synced save covering them returned. Snapshots are
saved in etcd's order (snapshot file, then WAL marker, then releasing WAL locks) and old WAL and snapshot
files are purged as the server's purge loop does, so the kill can land anywhere among those steps.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from etcd.raft.raftpb.raft_pb2 import Snapshot
from etcd.snap import ErrNoSnapshot, Snapshotter
from etcd.wal import WAL, valid_snapshot_entries
from etcd.wal.walpb.record_pb2 import Snapshot as WalSnapshot

REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import os, sys
from etcd.raft.raftpb.raft_pb2 import Entry, HardState, Snapshot, SnapshotMetadata, ConfState
from etcd.snap import Snapshotter
from etcd.wal import WAL, purge_files
from etcd.wal.walpb.record_pb2 import Snapshot as WalSnapshot

wal_dir, snap_dir = sys.argv[1], sys.argv[2]
w = WAL.create(wal_dir, b"snap-crash", segment_size_bytes=8192)
ss = Snapshotter(snap_dir)
conf = ConfState(voters=[1])
index = 0
for batch in range(100000):
    ents = [Entry(term=1, index=index + i + 1, data=b"e%d" % (index + i + 1) * 10) for i in range(20)]
    index += 20
    w.save(HardState(term=1, vote=1, commit=index), ents, sync=True)
    # One write(2) per line: a pipe write this small is atomic, so a kill never leaves half a line.
    os.write(1, b"%d %d\n" % (index, index))
    if batch % 3 == 2:
        meta = SnapshotMetadata(index=index, term=1, conf_state=conf)
        ss.save_snap(Snapshot(data=b"state@%d" % index, metadata=meta))
        w.save_snapshot(WalSnapshot(index=index, term=1, conf_state=conf))
        w.release_lock_to(index)
        purge_files(wal_dir, ".wal", 3)
        purge_files(snap_dir, ".snap", 3)
"""


def run_and_kill(wal_dir: str, snap_dir: str, kill_after: float) -> tuple[int, int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, wal_dir, snap_dir],
        stdout=subprocess.PIPE,
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert proc.stdout is not None
    last, commit = 0, 0
    buf = b""
    first_ack_at: float | None = None
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            if first_ack_at is not None and time.monotonic() >= first_ack_at + kill_after:
                break
            r, _, _ = select.select([proc.stdout], [], [], 0.01)
            if not r:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, f"child exited early with {proc.poll()}"
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                last, commit = map(int, line.split())
                if first_ack_at is None:
                    first_ack_at = time.monotonic()
        assert first_ack_at is not None, "child never acknowledged a save"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    *lines, _partial = (buf + proc.stdout.read()).split(b"\n")
    for line in lines:
        last, commit = map(int, line.split())
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return last, commit


def test_boot_after_sigkill_among_snapshots_and_purges(tmp_path: Path) -> None:
    rng = random.Random(4242)
    rounds = 8 if os.environ.get("ETCDPY_LONG") else 3
    for r in range(rounds):
        wal_dir, snap_dir = str(tmp_path / f"r{r}" / "wal"), tmp_path / f"r{r}" / "snap"
        snap_dir.mkdir(parents=True)
        last, commit = run_and_kill(wal_dir, str(snap_dir), kill_after=rng.uniform(0.1, 1.0))

        walsnaps = valid_snapshot_entries(wal_dir)
        try:
            snap: Snapshot | None = Snapshotter(str(snap_dir)).load_newest_available(walsnaps)
        except ErrNoSnapshot:
            snap = None
        start = WalSnapshot()
        if snap is not None:
            assert snap.data == b"state@%d" % snap.metadata.index
            start = WalSnapshot(index=snap.metadata.index, term=snap.metadata.term)
        with WAL.open(wal_dir, start) as w:
            meta, hs, ents = w.read_all()
        assert meta == b"snap-crash"
        assert [e.index for e in ents] == list(range(start.index + 1, start.index + 1 + len(ents)))
        assert all(e.data == b"e%d" % e.index * 10 for e in ents)
        assert start.index + len(ents) >= last, f"round {r}: acked {last}"
        assert commit <= hs.commit <= start.index + len(ents)
        assert not [n for n in os.listdir(snap_dir) if n.endswith(".broken")]
