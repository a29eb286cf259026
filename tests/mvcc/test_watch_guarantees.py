"""etcd's watch guarantees under a seeded random workload with slow readers:
ordered, unique, reliable (no gaps), atomic (a revision's events never split) and resumable.

The oracle is the key bucket itself: after the run every event the store wrote is read back in
revision order, and each watcher must have received exactly the ones in its range since its start.
"""

from __future__ import annotations

import os
import random

import pytest

from etcd.backend import buckets
from etcd.mvcc.mvccpb.kv_pb2 import Event, KeyValue
from etcd.mvcc.revision import bytes_to_rev, is_tombstone

KEYS = [b"a", b"b", b"c", b"d", b"e"]
SEEDS = range(int(os.environ.get("ETCDPY_WATCH_SEEDS", "25")))


def all_events(store) -> list[tuple[int, int, int, bytes]]:
    """(main, sub, type, key) of every write, in revision order."""
    out = []
    with store.backend.read_tx() as tx:
        for k, v in tx.unsafe_range(buckets.KEY, b"", b"\xff"):
            rev = bytes_to_rev(k)
            kv = KeyValue.FromString(v)
            out.append((rev.main, rev.sub, Event.DELETE if is_tombstone(k) else Event.PUT, kv.key))
    return out


class Spec:
    """One watcher as the test sees it: what it asked for and what it got."""

    def __init__(self, stream, key, end, start_rev, wid):
        self.stream, self.key, self.end, self.start_rev, self.id = stream, key, end, start_rev, wid
        self.responses = []

    def covers(self, key: bytes) -> bool:
        if self.end is None:
            return key == self.key
        if self.end == b"\0":
            return key >= self.key
        return self.key <= key < self.end


def events_of(spec: Spec) -> list[tuple[int, int, bytes]]:
    return [(e.kv.mod_revision, e.type, e.kv.key) for r in spec.responses for e in r.events]


def random_op(rng: random.Random, store) -> None:
    r = rng.random()
    if r < 0.5:
        store.put(rng.choice(KEYS), b"%d" % rng.randrange(100))
    elif r < 0.7:
        k = rng.choice(KEYS)
        store.delete_range(k, rng.choice([None, k + b"\xff", b"\0"]))
    else:
        with store.write() as txn:
            for _ in range(rng.randint(1, 4)):
                if rng.random() < 0.7:
                    txn.put(rng.choice(KEYS), b"t")
                else:
                    txn.delete_range(rng.choice(KEYS))


def drain(rng: random.Random, streams, specs_by_stream, partial: bool) -> None:
    for ws in streams:
        n = rng.randint(0, 2) if partial else 0
        for resp in ws.poll(n):
            spec = specs_by_stream[ws][resp.watch_id]
            spec.responses.append(resp)


@pytest.mark.parametrize("seed", SEEDS)
def test_watch_guarantees(store, seed):
    rng = random.Random(seed)
    streams = [store.new_watch_stream(buf_len=rng.randint(1, 4)) for _ in range(3)]
    specs_by_stream = {ws: {} for ws in streams}
    specs: list[Spec] = []
    resumed: list[tuple[Spec, Spec]] = []

    def add_watcher(start_rev: int | None = None, key=None, end=None, ws=None):
        ws = ws or rng.choice(streams)
        if key is None:
            key = rng.choice(KEYS)
            end = rng.choice([None, b"\0", key + b"\xff", b"z"])
        if start_rev is None:
            start_rev = rng.choice([0, 0, max(1, store.rev() - rng.randint(0, 10))])
        first = store.rev() + 1 if start_rev == 0 else start_rev
        wid = ws.watch(key, end, start_rev)
        spec = Spec(ws, key, end, first, wid)
        specs_by_stream[ws][wid] = spec
        specs.append(spec)
        return spec

    for _ in range(4):
        add_watcher()
    for step in range(150):
        random_op(rng, store)
        if rng.random() < 0.1:
            add_watcher()
        if rng.random() < 0.05 and specs:
            # Resumable: cancel a watcher and resume from the revision after its last event.
            old = rng.choice([s for s in specs if s not in [o for o, _ in resumed]] or specs)
            if old not in [o for o, _ in resumed]:
                drain(rng, streams, specs_by_stream, partial=False)
                old.stream.cancel(old.id)
                drain(rng, streams, specs_by_stream, partial=False)
                last = max((m for m, _, _ in events_of(old)), default=old.start_rev - 1)
                new = add_watcher(last + 1, old.key, old.end, old.stream)
                resumed.append((old, new))
        drain(rng, streams, specs_by_stream, partial=True)
        if step % 3 == 0:
            store.sync_victims()
        if step % 5 == 0:
            store.sync_watchers()
    for _ in range(200):  # bounded catch-up: drain and sync until everyone is synced
        drain(rng, streams, specs_by_stream, partial=False)
        store.sync_victims()
        store.sync_watchers()
        if not store.victims and not store.unsynced.watchers and all(ws.pending() == 0 for ws in streams):
            break
    drain(rng, streams, specs_by_stream, partial=False)
    assert not store.victims and not store.unsynced.watchers

    history = all_events(store)
    by_rev: dict[int, list[tuple[int, int, int, bytes]]] = {}
    for ev in history:
        by_rev.setdefault(ev[0], []).append(ev)
    cancelled = {id(o) for o, _ in resumed}
    for spec in specs:
        got = events_of(spec)
        # ordered (unique and reliable follow from the exact comparison with the oracle below, which
        # holds every event once; a txn may write one key twice, so events alone cannot be deduplicated)
        revs = [g[0] for g in got]
        assert revs == sorted(revs), f"seed {seed}: out of order"
        # atomic: every response holds whole revisions of this watcher's events
        for r in spec.responses:
            for rev in {e.kv.mod_revision for e in r.events}:
                want = [(t, k) for _, _, t, k in by_rev[rev] if spec.covers(k)]
                have = [(e.type, e.kv.key) for e in r.events if e.kv.mod_revision == rev]
                assert have == want, f"seed {seed}: revision {rev} split"
            assert all(e.kv.mod_revision <= r.revision for e in r.events)
        # reliable: exactly the events in range since the start revision (up to cancellation)
        want_all = [(m, t, k) for m, _, t, k in history if m >= spec.start_rev and spec.covers(k)]
        if id(spec) in cancelled:
            assert got == want_all[: len(got)], f"seed {seed}: gap before cancel"
        else:
            assert got == want_all, f"seed {seed}: watcher {spec.id} missed or invented events"
    # resumable: the old watcher's events then the new one's make the whole stream
    for old, new in resumed:
        both = events_of(old) + events_of(new)
        want_all = [(m, t, k) for m, _, t, k in history if m >= old.start_rev and old.covers(k)]
        if id(new) not in cancelled:
            assert both == want_all, f"seed {seed}: resume lost or repeated events"

