"""The MVCC store against a simple model: the whole key space at every revision, as a list of dicts,
and the events of every revision.

Puts, deletes (single key and ranges), txns with a version compare, compactions and reopens in any
order; every range at any revision must equal the model's, or fail with etcd's errors where the model
says the revision is compacted or in the future. A watcher on every key, with a tiny buffer and drained
at random, must always have received a prefix of the model's events since it started, and all of them
once caught up; it resumes after each reopen from the revision after its last event, and after a
compaction overtakes it, from the revision after the compacted one.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from etcd.backend.backend import Backend
from etcd.mvcc.apply import Applier
from etcd.mvcc.errors import ErrCompacted, ErrFutureRev
from etcd.mvcc.kvstore_txn import RangeOptions
from etcd.mvcc.mvccpb.kv_pb2 import Event
from etcd.mvcc.request import (
    Compare,
    CompareResult,
    CompareTarget,
    DeleteRangeRequest,
    PutRequest,
    RequestOp,
    TxnRequest,
)
from etcd.mvcc.watchable_store import WatchableStore

KEYS = st.sampled_from([b"a", b"b", b"c", b"d"])
ENDS = st.sampled_from([None, b"c", b"\0", b"e"])
VALUES = st.sampled_from([b"", b"x", b"yy"])

# key -> (value, create_revision, mod_revision, version)
State = dict[bytes, tuple[bytes, int, int, int]]


def in_range(k: bytes, key: bytes, end: bytes | None) -> bool:
    if end is None:
        return k == key
    if end == b"\0":
        return k >= key
    return key <= k < end


# ETCDPY_LONG=1 runs many more examples (minutes rather than seconds).
LONG = os.environ.get("ETCDPY_LONG") == "1"
pytestmark = pytest.mark.timeout(3600 if LONG else 120)


class MVCCMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="mvcc-prop-")
        self._open()
        self.states: list[State] = [{}, {}]  # index = revision; revision 1 is the empty store
        # (revision, type, key, value) of every write, in order
        self.events: list[tuple[int, int, bytes, bytes]] = []
        self.compacted = 0
        self.reopened_at = 0
        self._watch(1)

    def _open(self) -> None:
        self.be = Backend(self.dir + "/db", batch_interval=0, batch_limit=7, sync=False)
        self.store = WatchableStore(self.be, compaction_batch_limit=3, compaction_pause=0)
        self.app = Applier(self.store)

    def _watch(self, start: int) -> None:
        self.ws = self.store.new_watch_stream(buf_len=2)
        self.ws.watch(b"", b"\0", start_rev=start)
        self.watch_from = start
        self.received: list[tuple[int, int, bytes, bytes]] = []

    def _drain(self, n: int = 0) -> None:
        for resp in self.ws.poll(n):
            if resp.compact_revision:
                # a later compaction may have happened since this response was queued
                assert resp.compact_revision <= self.compacted
                assert self.received_upto() < resp.compact_revision
                # A tombstone at the compacted revision itself is gone; resume after the latest one.
                self._watch(self.compacted + 1)
                return
            assert resp.events
            for e in resp.events:
                self.received.append((e.kv.mod_revision, e.type, e.kv.key, e.kv.value))

    def received_upto(self) -> int:
        return self.received[-1][0] if self.received else self.watch_from - 1

    def expected(self) -> list[tuple[int, int, bytes, bytes]]:
        return [e for e in self.events if e[0] >= self.watch_from]

    def teardown(self) -> None:
        self.store.close()
        self.be.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def rev(self) -> int:
        return len(self.states) - 1

    def _apply(self, writes: list[tuple[bytes, bytes | None, bytes | None]]) -> None:
        """Applies (key, end, value-or-None-for-delete) writes as one revision in the model."""
        state = dict(self.states[-1])
        rev = self.rev + 1
        changed = False
        for key, end, value in writes:
            if value is None:
                for k in sorted(k for k in state if in_range(k, key, end)):
                    del state[k]
                    self.events.append((rev, Event.DELETE, k, b""))
                    changed = True
            else:
                old = state.get(key)
                state[key] = (value, old[1] if old else rev, rev, old[3] + 1 if old else 1)
                self.events.append((rev, Event.PUT, key, value))
                changed = True
        if changed:
            self.states.append(state)

    @rule(key=KEYS, value=VALUES)
    def put(self, key, value):
        assert self.store.put(key, value) == self.rev + 1
        self._apply([(key, None, value)])

    @rule(key=KEYS, end=ENDS)
    def delete(self, key, end):
        before = self.rev
        n, rev = self.store.delete_range(key, end)
        self._apply([(key, end, None)])
        assert rev == self.rev
        assert n == len([k for k in self.states[before] if in_range(k, key, end)])

    @rule(key=KEYS, version=st.integers(0, 3), k1=KEYS, k2=KEYS, value=VALUES)
    def txn(self, key, version, k1, k2, value):
        ok = self.states[-1].get(key, (b"", 0, 0, 0))[3] == version
        req = TxnRequest(
            compare=[
                Compare(key=key, target=CompareTarget.VERSION, result=CompareResult.EQUAL, version=version)
            ],
            success=[RequestOp(request_put=PutRequest(key=k1, value=value)),
                     RequestOp(request_delete_range=DeleteRangeRequest(key=k2))],
            failure=[RequestOp(request_put=PutRequest(key=k2, value=value))],
        )
        resp = self.app.txn(req)
        assert resp.succeeded is ok
        self._apply([(k1, None, value), (k2, None, None)] if ok else [(k2, None, value)])
        assert resp.revision == self.rev

    @rule(data=st.data())
    def compact(self, data):
        if self.compacted >= self.rev:
            with pytest.raises(ErrCompacted):
                self.store.compact(self.compacted)
            return
        at = data.draw(st.integers(self.compacted + 1, self.rev))
        self._drain()
        assert self.store.compact(at).result(10) is True
        self.compacted = at
        if self.received_upto() < at:
            # Compaction keeps only the newest event per key of revision ``at`` itself, so a watcher
            # that has not seen it yet would get part of it (as etcd's would); the client moves on.
            self.ws.close()
            self._watch(at + 1)

    @precondition(lambda self: self.rev - self.reopened_at >= 4)  # opening RocksDB costs ~50 ms
    @rule()
    def reopen(self):
        self.reopened_at = self.rev
        self._drain()
        resume = max(self.received_upto() + 1, self.compacted + 1)
        self.store.close()
        self.be.close()
        self._open()
        self._watch(resume)

    @rule(n=st.integers(0, 2))
    def drain_some(self, n):
        self._drain(n)

    @rule()
    def sync_watchers(self):
        self.store.sync_victims()
        self.store.sync_watchers()

    @rule()
    def watch_catches_up(self):
        for _ in range(100):  # bounded; each pass moves at least one batch forward
            self._drain()
            self.store.sync_victims()
            self.store.sync_watchers()
            if self.ws.pending() == 0 and not self.store.victims and not self.store.unsynced.watchers:
                break
        self._drain()
        assert self.received == self.expected()

    @invariant()
    def watch_received_a_prefix(self):
        assert self.received == self.expected()[: len(self.received)]

    @rule(key=KEYS, end=ENDS, data=st.data(), limit=st.integers(0, 3))
    def range_at(self, key, end, data, limit):
        at = data.draw(st.integers(max(0, self.compacted - 2), self.rev + 2))
        ro = RangeOptions(rev=at, limit=limit)
        if at > self.rev:
            with pytest.raises(ErrFutureRev):
                self.store.range(key, end, ro)
            return
        if 0 < at < self.compacted:
            with pytest.raises(ErrCompacted):
                self.store.range(key, end, ro)
            return
        state = self.states[at or self.rev]
        want = sorted((k, *v) for k, v in state.items() if in_range(k, key, end))
        rr = self.store.range(key, end, ro)
        got = [(kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version) for kv in rr.kvs]
        assert got == (want[:limit] if limit else want)
        assert rr.count == len(want)
        assert rr.rev == self.rev

    @invariant()
    def revision_matches(self):
        assert self.store.rev() == self.rev


MVCCMachine.TestCase.settings = settings(
    max_examples=500 if LONG else 25, stateful_step_count=80 if LONG else 40, deadline=None
)
TestMVCC = MVCCMachine.TestCase
