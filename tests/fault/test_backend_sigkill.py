"""SIGKILL a process in the middle of writing batches; after reopening, every batch is wholly there or
wholly absent, and the consistent index names exactly the last batch whose data is there."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from etcd.backend import buckets
from etcd.backend.backend import Backend
from etcd.backend.consistent_index import read_consistent_index

KEYS_PER_BATCH = 50

# Each batch i writes KEYS_PER_BATCH keys "i/j" = "i" and the consistent index i, in one `with` block,
# then commits; the child prints i after the commit returns, so the parent knows a lower bound.
CHILD = textwrap.dedent(
    f"""
    import sys
    from etcd.backend.backend import Backend
    from etcd.backend.consistent_index import write_consistent_index
    be = Backend(sys.argv[1], batch_interval=0.001, batch_limit=10**9)
    i = 0
    while True:
        i += 1
        with be.batch_tx() as tx:
            for j in range({KEYS_PER_BATCH}):
                tx.unsafe_put(b"key", b"%08d/%04d" % (i, j), b"%d" % i)
            write_consistent_index(tx, i)
        if i % 7 == 0:
            be.force_commit()
        print(i, flush=True)
    """
)


def _run_and_kill(path: str, after_batches: int) -> int:
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, path], stdout=subprocess.PIPE, text=True, env=env
    )
    last = 0
    deadline = time.monotonic() + 30
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            last = int(line)
            if last >= after_batches or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    return last


@pytest.mark.slow
@pytest.mark.parametrize("after_batches", [5, 40, 200])
def test_sigkill_mid_batch_leaves_whole_batches_and_matching_index(tmp_path, after_batches):
    path = str(tmp_path / "db")
    printed = _run_and_kill(path, after_batches)
    assert printed >= after_batches
    be = Backend(path, batch_interval=0)
    try:
        counts: dict[int, int] = {}
        with be.read_tx() as tx:
            index = read_consistent_index(tx)

            def count(k: bytes, v: bytes) -> None:
                batch = int(k.split(b"/")[0])
                assert int(v) == batch
                counts[batch] = counts.get(batch, 0) + 1

            tx.unsafe_for_each(buckets.KEY, count)
    finally:
        be.close()
    # every batch present is complete, batches are a prefix 1..index, and the index matches the data
    assert all(n == KEYS_PER_BATCH for n in counts.values()), counts
    assert sorted(counts) == list(range(1, index + 1))
    # batches force-committed before the last print are durable (the last multiple of 7 printed)
    assert index >= printed - printed % 7
