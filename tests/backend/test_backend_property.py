"""The backend against a dict: puts, deletes, commits, ranges and reopens in any order."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from etcd.backend import buckets
from etcd.backend.backend import Backend

BUCKETS = st.sampled_from([buckets.KEY, buckets.META, buckets.AUTH, buckets.AUTH_USERS])
KEYS = st.binary(min_size=0, max_size=3)
VALUES = st.binary(max_size=8)


# ETCDPY_LONG=1 runs many more examples (minutes rather than seconds).
LONG = os.environ.get("ETCDPY_LONG") == "1"
pytestmark = pytest.mark.timeout(3600 if LONG else 120)


class BackendMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="backend-prop-")
        self.path = self.dir + "/db"
        self.be = Backend(self.path, batch_interval=0, batch_limit=5, sync=False)
        self.model: dict[bytes, dict[bytes, bytes]] = {b: {} for b in (buckets.KEY, buckets.META,
                                                                       buckets.AUTH, buckets.AUTH_USERS)}
        self.committed = {b: dict(d) for b, d in self.model.items()}
        self.steps_since_reopen = 0

    def teardown(self) -> None:
        self.be.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _note_commit(self) -> None:
        self.committed = {b: dict(d) for b, d in self.model.items()}

    @rule(bucket=BUCKETS, key=KEYS, value=VALUES)
    def put(self, bucket, key, value):
        before = self.be.commits
        with self.be.batch_tx() as tx:
            tx.unsafe_put(bucket, key, value)
        self.model[bucket][key] = value
        if self.be.commits != before:
            self._note_commit()

    @rule(bucket=BUCKETS, key=KEYS)
    def delete(self, bucket, key):
        before = self.be.commits
        with self.be.batch_tx() as tx:
            tx.unsafe_delete(bucket, key)
        self.model[bucket].pop(key, None)
        if self.be.commits != before:
            self._note_commit()

    @rule()
    def commit(self):
        self.be.force_commit()
        self._note_commit()

    @precondition(lambda self: self.steps_since_reopen >= 4)  # opening RocksDB costs ~50 ms
    @rule()
    def reopen_after_close(self):
        self.steps_since_reopen = 0
        self.be.close()
        self.be = Backend(self.path, batch_interval=0, batch_limit=5, sync=False)
        self._note_commit()

    @rule(bucket=BUCKETS, start=KEYS, end=KEYS, limit=st.integers(0, 4))
    def range_matches(self, bucket, start, end, limit):
        with self.be.read_tx() as tx:
            got = tx.unsafe_range(bucket, start, end, limit)
        if end:
            want = sorted((k, v) for k, v in self.model[bucket].items() if start <= k < end)
        else:  # an empty end is the single key, as etcd's UnsafeRange
            want = [(start, self.model[bucket][start])] if start in self.model[bucket] else []
        if limit:
            want = want[:limit]
        assert got == want

    @rule(bucket=BUCKETS, key=KEYS)
    def get_matches(self, bucket, key):
        with self.be.read_tx() as tx:
            got = tx.unsafe_range(bucket, key)
        assert got == ([(key, self.model[bucket][key])] if key in self.model[bucket] else [])

    @invariant()
    def count_steps(self):
        self.steps_since_reopen += 1

    @invariant()
    def for_each_matches(self):
        for bucket, want in self.model.items():
            out: list[tuple[bytes, bytes]] = []
            with self.be.read_tx() as tx:
                tx.unsafe_for_each(bucket, lambda k, v, out=out: out.append((k, v)))
            assert out == sorted(want.items())

    @rule()
    def committed_data_is_on_disk(self):
        """What a crash now would leave: only committed batches, read by a fresh snapshot."""
        with self.be._lock:
            for bucket, want in self.committed.items():
                prefix = bytes((len(bucket),)) + bucket
                on_disk = {
                    k[len(prefix):]: v
                    for k, v in self.be._db.items(from_key=prefix)
                    if k.startswith(prefix)
                }
                assert on_disk == want


BackendMachine.TestCase.settings = settings(
    max_examples=500 if LONG else 25, stateful_step_count=30, deadline=None
)
TestBackend = BackendMachine.TestCase
