"""MVCC store throughput without raft: ``python -m benchmarks.mvcc_bench [--quick]``.

On a fresh store on this disk (backend batches of 100 ms / 10k writes, each commit fsynced), with
``--value-size`` byte values (default 256) over ``--keys`` keys (default 100k): puts/s (one store
transaction each, the way the server applies a Put), single-key ranges/s, 100-key ranges/s, txn/s
(a compare on the key's version, then a put) and watch fan-out (events delivered/s to ``--watchers``
synced watchers of one key, spread over 10 streams). Each figure is a median of ``--rounds`` timed runs
of about ``--seconds`` each. Results are printed and written to ``benchmarks/results/mvcc.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from etcd.backend.backend import Backend
from etcd.mvcc.apply import Applier
from etcd.mvcc.request import (
    Compare,
    CompareResult,
    CompareTarget,
    PutRequest,
    RangeRequest,
    RequestOp,
    TxnRequest,
)
from etcd.mvcc.watchable_store import WatchableStore

RESULTS = Path(__file__).resolve().parent / "results" / "mvcc.json"


def key_of(i: int) -> bytes:
    return b"key/%08d" % i


def timed(op: Callable[[int], None], seconds: float, limit: int) -> float:
    """Runs ``op(i)`` for i = 0, 1, ... for about ``seconds`` (at most ``limit`` calls); returns ops/s."""
    n = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while n < limit:
        op(n)
        n += 1
        if n % 64 == 0 and time.perf_counter() > deadline:
            break
    return n / (time.perf_counter() - t0)


def bench(root: str, keys: int, value_size: int, seconds: float, watchers: int) -> dict[str, float]:
    d = tempfile.mkdtemp(prefix="mvccbench-", dir=root)
    be = Backend(os.path.join(d, "db"))
    store = WatchableStore(be)
    app = Applier(store)
    rng = random.Random(1)
    value = os.urandom(value_size)
    out: dict[str, float] = {}
    try:
        # Load: every key once; this is also the put benchmark over a growing store.
        t0 = time.perf_counter()
        for i in range(keys):
            store.put(key_of(i), value)
        out["load_puts_per_s"] = keys / (time.perf_counter() - t0)
        out["puts_per_s"] = timed(
            lambda i: app.put(PutRequest(key=key_of(rng.randrange(keys)), value=value)), seconds, 10**7
        )
        out["range_1_per_s"] = timed(
            lambda i: app.range(RangeRequest(key=key_of(rng.randrange(keys)))), seconds, 10**7
        )

        def range_100(i: int) -> None:
            start = rng.randrange(max(1, keys - 100))
            resp = app.range(RangeRequest(key=key_of(start), range_end=key_of(start + 100)))
            assert len(resp.kvs) == 100

        out["range_100_per_s"] = timed(range_100, seconds, 10**7)

        def txn(i: int) -> None:
            k = key_of(rng.randrange(keys))
            exists = Compare(key=k, target=CompareTarget.VERSION, result=CompareResult.GREATER, version=0)
            put = RequestOp(request_put=PutRequest(key=k, value=value))
            app.txn(TxnRequest(compare=[exists], success=[put]))

        out["txn_per_s"] = timed(txn, seconds, 10**7)

        streams = [store.new_watch_stream(buf_len=1 << 20) for _ in range(10)]
        for n in range(watchers):
            streams[n % len(streams)].watch(b"hot")
        delivered = 0

        def put_hot(i: int) -> None:
            nonlocal delivered
            store.put(b"hot", value)
            for ws in streams:
                delivered += sum(len(r.events) for r in ws.poll())

        puts = timed(put_hot, seconds, 10**7)
        out["watch_puts_per_s"] = puts
        out["watch_events_per_s"] = puts * watchers
        assert delivered > 0
        t0 = time.perf_counter()
        store.hash_by_rev()
        out["hash_kv_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        store.compact(store.rev()).result()
        out["compact_s"] = time.perf_counter() - t0
    finally:
        store.close()
        be.close()
        shutil.rmtree(d, ignore_errors=True)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.mvcc_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dir", default=None, help="where to put the database (default: system temp dir)")
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--value-size", type=int, default=256)
    parser.add_argument("--watchers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement and round")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="10k keys, 0.5 s per measurement")
    args = parser.parse_args(argv)
    if args.quick:
        args.keys, args.seconds, args.rounds = 10_000, 0.5, 1
    root = args.dir or tempfile.gettempdir()
    rounds = [
        bench(root, args.keys, args.value_size, args.seconds, args.watchers) for _ in range(args.rounds)
    ]
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    print(f"keys {args.keys}, values {args.value_size} B, {args.watchers} watchers, dir {root}")
    for k, v in med.items():
        print(f"{k:>22} {v:>14,.1f}" if not k.endswith("_s") or "per" in k else f"{k:>22} {v:>14.3f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "keys": args.keys, "value_size": args.value_size, "watchers": args.watchers,
        "python": platform.python_version(), "median": med, "rounds": rounds,
    }, indent=2))
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
