"""WAL append throughput with fdatasync, by batch size: ``python -m benchmarks.wal_bench [--quick]``.

For batches of 1, 10, 100 and 1000 entries per ``WAL.save(..., sync=True)`` (one fdatasync per batch, as the
raft driver saves one ``Ready`` per batch of proposals), measures entries/s, MB/s of WAL bytes written and
the mean save latency; the same without sync shows the CPU cost of encoding alone; and a raw
``write`` + ``fdatasync`` of one 4 KiB block gives the disk's own floor. Each configuration runs for a bounded
time (``--seconds``) in several rounds (``--rounds``, median reported). Files go to a temporary directory
under ``--dir`` (default: the system's temp dir, the same disk as the repository here) and are removed.
Results are printed as a table and written to ``benchmarks/results/wal.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from etcd.raft.raftpb.raft_pb2 import Entry, HardState
from etcd.wal import WAL, crc

RESULTS = Path(__file__).resolve().parent / "results" / "wal.json"


def bench_save(root: str, batch: int, payload: int, *, sync: bool, seconds: float) -> dict[str, float]:
    """Appends batches of ``batch`` entries for about ``seconds``; returns rates for one round."""
    d = tempfile.mkdtemp(prefix="walbench-", dir=root)
    try:
        w = WAL.create(os.path.join(d, "wal"), b"bench")
        data = os.urandom(payload)
        index = 0
        saves = 0
        written_before = _wal_bytes(d)
        # Only time inside save() counts: building Entry objects is raft's cost, not the WAL's.
        elapsed = 0.0
        while saves < 1_000_000 and elapsed < seconds:
            ents = [Entry(term=1, index=index + i + 1, data=data) for i in range(batch)]
            index += batch
            hs = HardState(term=1, vote=1, commit=index)
            t0 = time.perf_counter()
            w.save(hs, ents, sync=sync)
            elapsed += time.perf_counter() - t0
            saves += 1
        w.close()
        written = _wal_bytes(d) - written_before
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return {
        "entries_per_s": index / elapsed,
        "mb_per_s": written / elapsed / 1e6,
        "save_ms": elapsed / saves * 1e3,
        "saves": saves,
    }


def _wal_bytes(d: str) -> int:
    return sum(p.stat().st_size for p in Path(d).rglob("*.wal"))


def bench_raw_fdatasync(root: str, seconds: float) -> float:
    """Mean ms of one 4 KiB append plus fdatasync, straight on a file."""
    fd, path = tempfile.mkstemp(prefix="walbench-raw-", dir=root)
    try:
        block = os.urandom(4096)
        n = 0
        start = time.perf_counter()
        while n < 100_000 and time.perf_counter() - start < seconds:
            os.write(fd, block)
            os.fdatasync(fd)
            n += 1
        return (time.perf_counter() - start) / n * 1e3
    finally:
        os.close(fd)
        os.remove(path)


def _fmt(xs: list[float]) -> str:
    return " ".join(f"{x:,.0f}" if x >= 100 else f"{x:.2f}" for x in xs)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.wal_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dir", default=None, help="where to write the WAL (default: system temp dir)")
    parser.add_argument("--payload", type=int, default=256, help="bytes of data per entry (default 256)")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per configuration and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per configuration; medians reported")
    parser.add_argument("--batches", default="1,10,100,1000", help="entries per save, comma-separated")
    parser.add_argument("--quick", action="store_true", help="one round of 0.5 s each")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds = 0.5, 1
    batches = [int(b) for b in args.batches.split(",")]
    root = args.dir or tempfile.gettempdir()

    configs = [(sync, batch) for sync in (True, False) for batch in batches]
    # Rounds outermost: this disk's fsync latency drifts by several times within minutes (other tenants),
    # so each round measures every configuration once, close together in time, and medians are taken.
    raws: list[float] = []
    per_config: dict[tuple[bool, int], list[dict[str, float]]] = {c: [] for c in configs}
    for _ in range(args.rounds):
        raws.append(bench_raw_fdatasync(root, args.seconds / 2))
        for sync, batch in configs:
            per_config[(sync, batch)].append(
                bench_save(root, batch, args.payload, sync=sync, seconds=args.seconds)
            )
    raw = statistics.median(raws)
    print(f"crc32c implementation: {crc.IMPLEMENTATION}; payload {args.payload} B/entry; dir {root}")
    print(f"raw 4 KiB write + fdatasync: {raw:.2f} ms ({1e3 / raw:.0f}/s); per round: {_fmt(raws)}\n")
    header = f"{'batch':>6} {'sync':>5} {'entries/s':>12} {'MB/s':>8} {'ms/save':>9}   entries/s per round"
    print(header)
    print("-" * len(header))
    results = []
    for sync, batch in configs:
        rounds = per_config[(sync, batch)]
        med = {k: statistics.median(r[k] for r in rounds) for k in ("entries_per_s", "mb_per_s", "save_ms")}
        rate, mbps, ms = med["entries_per_s"], med["mb_per_s"], med["save_ms"]
        spread = _fmt([r["entries_per_s"] for r in rounds])
        print(f"{batch:>6} {sync!s:>5} {rate:>12,.0f} {mbps:>8.2f} {ms:>9.3f}   {spread}")
        results.append({"batch": batch, "sync": sync, "median": med, "rounds": rounds})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "crc": crc.IMPLEMENTATION,
                "payload_bytes": args.payload,
                "raw_fdatasync_ms": raw,
                "raw_fdatasync_ms_rounds": raws,
                "python": platform.python_version(),
                "machine": platform.machine(),
                "results": results,
            },
            indent=2,
        )
    )
    print(f"\nresults: {RESULTS}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
