"""Hypothesis: any run of saves, tail rewrites, snapshot markers and reopens reads back as a model says."""

from __future__ import annotations

import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etcd.raft.raftpb.raft_pb2 import Entry, HardState
from etcd.wal import WAL
from etcd.wal.walpb.record_pb2 import Snapshot as WalSnapshot

Op = tuple[str, int, int, int]

ops = st.lists(
    st.one_of(
        # ("save", how far back the first new entry starts, how many entries, payload size)
        st.tuples(st.just("save"), st.integers(0, 3), st.integers(0, 5), st.integers(0, 200)),
        st.tuples(st.just("state"), st.integers(0, 10), st.integers(0, 3), st.just(0)),
        st.tuples(st.just("snap"), st.integers(0, 3), st.just(0), st.just(0)),
        st.tuples(st.just("reopen"), st.just(0), st.just(0), st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_reads_back_what_was_saved(script: list[Op]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = f"{tmp}/wal"
        w = WAL.create(d, b"meta", segment_size_bytes=512)
        log: list[Entry] = []  # the model: entries 1..len(log)
        hs = HardState()
        term = 1
        try:
            for kind, a, b, c in script:
                if kind == "save":
                    first = max(1, len(log) + 1 - a)
                    term += 1 if a else 0
                    new = [
                        Entry(term=term, index=i, data=bytes([i % 256]) * c) for i in range(first, first + b)
                    ]
                    w.save(None, new, sync=False)
                    if new:
                        log = log[: first - 1] + new
                elif kind == "state":
                    hs = HardState(term=term, vote=b, commit=min(a, len(log)))
                    w.save(hs, [], sync=False)
                elif kind == "snap" and len(log) > a:
                    # A marker names an entry in the log, with that entry's term, as raft's snapshots do.
                    w.save_snapshot(WalSnapshot(index=len(log) - a, term=log[len(log) - a - 1].term))
                elif kind == "reopen":
                    w.close()
                    w = WAL.open(d)
                    assert w.read_all() == (b"meta", hs, log)
            w.close()
            with WAL.open_for_read(d) as r:
                assert r.read_all() == (b"meta", hs, log)
        finally:
            w.close()
