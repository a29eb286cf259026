"""A write that fails for real (the file size limit, as a full disk would) stops the WAL for good, and what
was saved before it reads back intact.

The child lowers RLIMIT_FSIZE (ignoring SIGXFSZ, so ``write`` fails with EFBIG instead of killing it) and
saves until a save raises; it reports what it saw as JSON. The parent then reopens the WAL without the limit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from etcd.raft.raftpb.raft_pb2 import HardState
from etcd.wal import WAL

REPO = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, resource, signal, sys
from etcd.raft.raftpb.raft_pb2 import Entry, HardState
from etcd.wal import WAL, WALError, ErrClosed

d, limit = sys.argv[1], int(sys.argv[2])
w = WAL.create(d, b"m")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
saved, error, after = 0, None, None
for i in range(1, 100000):
    try:
        w.save(HardState(term=1, commit=i), [Entry(term=1, index=i, data=b"x" * 100)], sync=True)
    except WALError as e:
        error = str(e)
        break
    saved = i
try:
    w.save(None, [Entry(term=1, index=saved + 1)], sync=True)
except ErrClosed as e:
    after = str(e)
w.close()
print(json.dumps({"saved": saved, "error": error, "after": after}))
"""


def test_failed_write_stops_the_wal_and_keeps_what_was_saved(tmp_path: Path) -> None:
    d = str(tmp_path / "wal")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, d, str(8 * 1024)],
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(out.stdout)
    assert report["saved"] > 10
    assert report["error"].startswith("wal: error: write failed")
    assert report["after"] == "wal: closed"
    with WAL.open(d) as w:
        meta, hs, ents = w.read_all()
    assert meta == b"m"
    # A save that failed may have left part of its records: never more than that one save.
    assert report["saved"] <= len(ents) <= report["saved"] + 1
    assert [e.index for e in ents] == list(range(1, len(ents) + 1))
    assert hs in (HardState(term=1, commit=report["saved"]), HardState(term=1, commit=report["saved"] + 1))
