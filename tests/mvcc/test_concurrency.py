"""Several threads writing, reading and watching at once, with the backend timer, the compactor and
the watch sync loop running: nothing is lost, torn or duplicated."""

from __future__ import annotations

import threading

from etcd.backend.backend import Backend
from etcd.mvcc.watchable_store import WatchableStore

WRITERS = 4
PUTS = 150


def test_concurrent_writers_readers_and_watchers(tmp_path):
    be = Backend(str(tmp_path / "db"), batch_interval=0.005, batch_limit=50, sync=False)
    store = WatchableStore(be, compaction_pause=0, sync_interval=0.01)
    errors: list[BaseException] = []
    try:
        ws = store.new_watch_stream(buf_len=4)  # small: watchers become victims and catch up
        live = ws.watch(b"k", b"l")
        past = ws.watch(b"k", b"l", start_rev=1)
        store.start()

        def writer(n: int) -> None:
            try:
                for i in range(PUTS):
                    with store.write() as txn:  # two keys per revision: a reader must see both or none
                        txn.put(b"k%d-a" % n, b"%d" % i)
                        txn.put(b"k%d-b" % n, b"%d" % i)
            except BaseException as err:
                errors.append(err)

        def reader() -> None:
            try:
                for _ in range(300):
                    kvs = {kv.key: kv.value for kv in store.range(b"k", b"l").kvs}
                    for n in range(WRITERS):
                        assert kvs.get(b"k%d-a" % n) == kvs.get(b"k%d-b" % n)
            except BaseException as err:
                errors.append(err)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
        threads += [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        got: dict[int, list[tuple[int, bytes]]] = {live: [], past: []}
        want = WRITERS * PUTS * 2
        for _ in range(100_000):  # bounded; each get waits at most 5 s
            if len(got[live]) >= want and len(got[past]) >= want:
                break
            resp = ws.get(timeout=5)
            assert resp is not None, "watch stalled"
            got[resp.watch_id].extend((e.kv.mod_revision, e.kv.key) for e in resp.events)
        for t in threads:
            t.join(30)
        assert not errors, errors
        assert store.rev() == 1 + WRITERS * PUTS
        for wid in (live, past):
            revs = [r for r, _ in got[wid]]
            assert revs == sorted(revs)
            assert len(got[wid]) == want and len(set(got[wid])) == want
    finally:
        store.close()
        be.close()
