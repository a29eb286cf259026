"""SIGKILL a process in the middle of a physical compaction; on reopen the compaction resumes, the
key space at the current revision is intact and nothing below the compaction is left behind."""

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
from etcd.mvcc.errors import ErrCompacted
from etcd.mvcc.kvstore import KVStore
from etcd.mvcc.kvstore_txn import RangeOptions
from etcd.mvcc.revision import bytes_to_rev

KEYS = 20
ROUNDS = 100  # revisions 2 .. 2001; key i holds its round number

CHILD = textwrap.dedent(
    f"""
    import sys
    from etcd.backend.backend import Backend
    from etcd.mvcc.kvstore import KVStore
    be = Backend(sys.argv[1], batch_interval=0)
    store = KVStore(be, compaction_batch_limit=20, compaction_pause=0.002)
    if store.rev() == 1:
        for r in range({ROUNDS}):
            with store.write() as txn:
                for i in range({KEYS}):
                    txn.put(b"k%02d" % i, b"%d" % r)
        be.force_commit()
    be.commit_hooks.append(lambda: print("batch", flush=True))  # each compaction batch commits
    fut = store.compact(store.rev() - 5)
    fut.result()
    print("finished", flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("after_batches", [1, 4, 40])
def test_sigkill_mid_compaction_resumes_on_open(tmp_path, after_batches):
    path = str(tmp_path / "db")
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    proc = subprocess.Popen([sys.executable, "-c", CHILD, path], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        seen = 0
        deadline = time.monotonic() + 30
        for line in proc.stdout:  # the kill lands after that many batches were committed
            seen += line.strip() == "batch"
            if seen >= after_batches or line.strip() == "finished" or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGKILL)
        assert seen >= 1
    finally:
        proc.kill()
        proc.wait(10)
    be = Backend(path, batch_interval=0)
    store = KVStore(be)
    try:
        compact_at = 1 + ROUNDS - 5
        assert store.compact_main_rev == compact_at
        if store.resumed_compaction is not None:
            assert store.resumed_compaction.result(60) is True
        assert store.rev() == 1 + ROUNDS
        kvs = store.range(b"k", b"l").kvs
        assert [(kv.key, kv.value, kv.version) for kv in kvs] == [
            (b"k%02d" % i, b"%d" % (ROUNDS - 1), ROUNDS) for i in range(KEYS)
        ]
        with pytest.raises(ErrCompacted):
            store.range(b"k00", ro=RangeOptions(rev=compact_at - 1))
        assert store.range(b"k00", ro=RangeOptions(rev=compact_at)).kvs[0].value == b"%d" % (ROUNDS - 6)
        with be.read_tx() as tx:
            mains = [bytes_to_rev(k).main for k, _ in tx.unsafe_range(buckets.KEY, b"", b"\xff")]
        assert min(mains) == compact_at  # only the kept revision of each key is left below
        assert len([m for m in mains if m == compact_at]) == KEYS
    finally:
        store.close()
        be.close()
