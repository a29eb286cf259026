"""SIGKILL a process appending to a WAL with sync=True: every entry it acknowledged survives the reopen.

The child prints an index only after a ``save(..., sync=True)`` covering it returned, so a printed index is
an acknowledged write. Most saves do not sync and batches reach ~450 KiB, so the kill often lands inside a
``write``, which Linux may leave partly done (a torn tail), and segments are small so some kills land in a
segment cut. Each round
reopens the same WAL (cutting whatever tail the kill tore) and keeps appending.
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

from etcd.raft.raftpb.raft_pb2 import Entry, HardState
from etcd.wal import WAL

REPO = Path(__file__).resolve().parents[2]
SEGMENT_BYTES = 64 * 1024

CHILD = r"""
import os, random, sys
from etcd.raft.raftpb.raft_pb2 import Entry, HardState
from etcd.wal import WAL, exist

def payload(i):
    return (b"%d:" % i) * (i % 97)

d, seed, segment = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if exist(d):
    w = WAL.open(d, segment_size_bytes=segment)
    _, hs, ents = w.read_all()
    nxt = (ents[-1].index if ents else 0) + 1
else:
    w = WAL.create(d, b"crash-test", segment_size_bytes=segment)
    nxt = 1
rng = random.Random(seed)
# One write(2) per line: a pipe write this small is atomic, so a kill never leaves half a line.
os.write(1, b"ready\n")
while True:
    k = rng.choice((1, 5, 50, 300, 3000))
    sync = rng.random() < 0.3
    batch = [Entry(term=1, index=i, data=payload(i)) for i in range(nxt, nxt + k)]
    w.save(HardState(term=1, vote=1, commit=nxt + k - 1), batch, sync=sync)
    nxt += k
    if sync:
        os.write(1, b"%d\n" % (nxt - 1))
"""


def payload(i: int) -> bytes:
    return (b"%d:" % i) * (i % 97)


def run_and_kill(d: str, seed: int, kill_after: float) -> int:
    """Runs the child until ``kill_after`` seconds after it is ready, SIGKILLs it; returns the last ack."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, d, str(seed), str(SEGMENT_BYTES)],
        stdout=subprocess.PIPE,
        env=env,
        cwd=str(REPO),
    )
    assert proc.stdout is not None
    acked = 0
    buf = b""
    deadline = time.monotonic() + 30
    ready_at: float | None = None
    try:
        while time.monotonic() < deadline:
            if ready_at is not None and time.monotonic() >= ready_at + kill_after:
                break
            r, _, _ = select.select([proc.stdout], [], [], 0.01)
            if not r:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, f"child exited early with {proc.poll()}"
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line == b"ready":
                    ready_at = time.monotonic()
                else:
                    acked = int(line)
        assert ready_at is not None, "child never became ready"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    # Acks already in the pipe were printed after their save returned: they count.
    *lines, _partial = (buf + proc.stdout.read()).split(b"\n")
    proc.stdout.close()
    for line in lines:
        if line != b"ready":
            acked = int(line)
    assert proc.returncode == -signal.SIGKILL
    return acked


def test_every_acknowledged_entry_survives_sigkill(tmp_path: Path) -> None:
    d = str(tmp_path / "wal")
    rng = random.Random(20261125)
    rounds = 12 if os.environ.get("ETCDPY_LONG") else 4
    # Floors: what a reopen must find. Acks raise them; so does what an earlier reopen read back, since a
    # process kill (unlike a power loss) cannot take back what reached the page cache.
    entries_floor = commit_floor = 0
    acks = 0
    for r in range(rounds):
        acked = run_and_kill(d, seed=r, kill_after=rng.uniform(0.05, 0.5))
        acks += acked > 0
        with WAL.open(d, segment_size_bytes=SEGMENT_BYTES) as w:
            meta, hs, ents = w.read_all()
        assert meta == b"crash-test"
        assert [e.index for e in ents] == list(range(1, len(ents) + 1))
        assert len(ents) >= max(entries_floor, acked), f"round {r}: acked {acked}, found {len(ents)}"
        assert all(e.data == payload(e.index) and e.term == 1 for e in ents)
        # The hard state follows its batch's entries, so a kill may leave the entries without it.
        assert hs.term == 1 and max(commit_floor, acked) <= hs.commit <= len(ents)
        entries_floor, commit_floor = len(ents), hs.commit
    assert acks > 0
    assert len([n for n in os.listdir(d) if n.endswith(".wal")]) >= 2


def test_entries_of_a_reopened_log_are_exactly_the_saved_ones(tmp_path: Path) -> None:
    # The same check without a kill: what the child would have written reads back byte for byte.
    d = str(tmp_path / "wal")
    with WAL.create(d, b"crash-test", segment_size_bytes=SEGMENT_BYTES) as w:
        w.save(
            HardState(term=1, commit=500),
            [Entry(term=1, index=i, data=payload(i)) for i in range(1, 501)],
            sync=True,
        )
    with WAL.open(d) as w:
        _, hs, ents = w.read_all()
    assert hs.commit == 500
    assert [e.data for e in ents] == [payload(i) for i in range(1, 501)]
