"""MemoryStorage against a plain dict of index -> term, under random appends, compactions and snapshots."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from etcd.raft import ErrCompacted, ErrSnapOutOfDate, ErrUnavailable, MemoryStorage
from etcd.raft.raftpb.raft_pb2 import ConfState, Entry, Snapshot, SnapshotMetadata


class StorageMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.s = MemoryStorage()
        self.snap_index = 0  # the dummy entry's index (snapshot or compaction point)
        self.terms: dict[int, int] = {0: 0}  # index -> term, from snap_index to the last index
        self.snapshot_index = 0  # index of the latest snapshot

    @property
    def last(self) -> int:
        return max(self.terms)

    @rule(data=st.data(), n=st.integers(1, 4), term=st.integers(1, 5))
    def append(self, data: st.DataObject, n: int, term: int) -> None:
        start = data.draw(st.integers(max(1, self.snap_index - 2), self.last + 1))
        ents = [Entry(index=start + i, term=term) for i in range(n)]
        self.s.append(ents)
        # Entries at or below the compaction point are skipped; the rest replace the tail from there.
        k = max(start, self.snap_index + 1)
        kept = [e for e in ents if e.index >= k]
        if kept:
            self.terms = {i: t for i, t in self.terms.items() if i < k}
            for e in kept:
                self.terms[e.index] = e.term

    @rule(data=st.data())
    def compact(self, data: st.DataObject) -> None:
        i = data.draw(st.integers(0, self.last + 1))
        if i <= self.snap_index:
            with pytest.raises(ErrCompacted):
                self.s.compact(i)
        elif i > self.last:
            with pytest.raises(AssertionError):
                self.s.compact(i)
        else:
            self.s.compact(i)
            self.terms = {k: v for k, v in self.terms.items() if k >= i}
            self.snap_index = i

    @rule(data=st.data())
    def create_snapshot(self, data: st.DataObject) -> None:
        if self.last <= self.snapshot_index or self.last < self.snap_index + 1:
            return
        i = data.draw(st.integers(max(self.snapshot_index + 1, self.snap_index), self.last))
        snap = self.s.create_snapshot(i, ConfState(voters=[1]), b"d%d" % i)
        assert (snap.metadata.index, snap.metadata.term) == (i, self.terms[i])
        self.snapshot_index = i
        with pytest.raises(ErrSnapOutOfDate):
            self.s.create_snapshot(i, None, b"")

    @rule(ahead=st.integers(-2, 5), term=st.integers(1, 9))
    def apply_snapshot(self, ahead: int, term: int) -> None:
        i = max(0, self.last + ahead)
        snap = Snapshot(metadata=SnapshotMetadata(index=i, term=term, conf_state=ConfState(voters=[1])))
        if i <= self.snapshot_index:
            with pytest.raises(ErrSnapOutOfDate):
                self.s.apply_snapshot(snap)
            return
        self.s.apply_snapshot(snap)
        self.snapshot_index = self.snap_index = i
        self.terms = {i: term}

    @invariant()
    def matches_oracle(self) -> None:
        s = self.s
        assert s.first_index() == self.snap_index + 1
        assert s.last_index() == self.last
        for i in range(max(0, self.snap_index - 2), self.last + 3):
            if i < self.snap_index:
                with pytest.raises(ErrCompacted):
                    s.term(i)
            elif i > self.last:
                with pytest.raises(ErrUnavailable):
                    s.term(i)
            else:
                assert s.term(i) == self.terms[i], i
        if self.last > self.snap_index:
            got = s.entries(self.snap_index + 1, self.last + 1)
            assert [(e.index, e.term) for e in got] == [
                (i, self.terms[i]) for i in range(self.snap_index + 1, self.last + 1)
            ]


TestStorageMachine = StorageMachine.TestCase
TestStorageMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
