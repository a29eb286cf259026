"""Raft proposals committed per second in an in-memory 3-member cluster: ``python -m benchmarks.raft_bench``.

Measures the pure consensus core (``etcd/raft``), with no disk and no network: three ``RawNode``s persist
to ``MemoryStorage``, messages are handed from one node's ``Ready`` to the next node's ``step`` in FIFO
order, and committed entries are applied to a hash chain (``etcd.raft.rafttest.cluster``).

- ``batch=1``: one proposal, then the cluster runs until the leader has applied it (one consensus
  round trip per proposal, as an unbatched server would do).
- ``batch=N, mode=propose``: N ``propose`` calls before the cluster runs: one Ready, but each
  proposal still makes its own MsgApp to each follower (as etcd's raft does).
- ``batch=N, mode=batch``: one ``propose_batch`` of N entries: one append, one MsgApp per follower
  and one commit for the lot (the proposals that arrive while the previous Ready is being saved).

A proposal counts once every member has applied it. Each configuration runs for about ``--seconds``
in ``--rounds`` rounds (median reported). Results are printed and written to
``benchmarks/results/raft.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import time
from pathlib import Path

from etcd.raft.raftpb.raft_pb2 import Message
from etcd.raft.rafttest.cluster import Cluster

RESULTS = Path(__file__).resolve().parent / "results" / "raft.json"


def new_cluster() -> tuple[Cluster, int]:
    """A 3-member cluster with an elected leader; returns it and the leader's ID."""
    c = Cluster([1, 2, 3], seed=1)
    pump(c)  # persist and apply the bootstrap entries first: a node with unapplied ones will not campaign
    c.nodes[1].rawnode().campaign()
    pump(c)
    lead = c.leader()
    if lead is None:
        raise RuntimeError("no leader elected")
    return c, lead


def pump(c: Cluster) -> int:
    """Run every node's Ready loop and deliver every message until the cluster is quiet; returns messages."""
    queue: list[Message] = []
    for i in c.ids:
        msgs, _ = c.process_ready(i)
        queue.extend(msgs)
    delivered = 0
    head = 0
    while head < len(queue):
        m = queue[head]
        head += 1
        delivered += 1
        c.step(m)
        msgs, _ = c.process_ready(m.to)
        queue.extend(msgs)
        if delivered > 10_000_000:
            raise RuntimeError("cluster did not quiesce")
    return delivered


def bench(batch: int, payload: int, seconds: float, *, one_msg: bool) -> dict[str, float]:
    """Propose batches of ``batch`` entries for about ``seconds``; returns the rates of one round.

    ``one_msg``: the batch goes in as one MsgProp (``propose_batch``) instead of ``batch`` proposals.
    """
    c, lead = new_cluster()
    last_before = c.nodes[lead].rawnode().raft.raft_log.last_index()
    data = b"x" * payload
    proposed = 0
    messages = 0
    start = time.perf_counter()
    elapsed = 0.0
    rounds = 0
    while elapsed < seconds and rounds < 1_000_000:
        if one_msg:
            c.propose_batch(lead, [data] * batch)
        else:
            for _ in range(batch):
                c.propose(lead, data)
        proposed += batch
        messages += pump(c)
        rounds += 1
        elapsed = time.perf_counter() - start
    applied = min(cn.applied_index for cn in c.nodes.values())
    # Every proposal must be applied everywhere.
    if applied != last_before + proposed:
        raise RuntimeError(f"applied {applied - last_before} of {proposed} proposals")
    return {
        "proposals_per_s": proposed / elapsed,
        "round_ms": elapsed / rounds * 1e3,
        "messages_per_proposal": messages / proposed,
        "proposals": proposed,
    }


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.raft_bench", description=__doc__.splitlines()[0])
    p.add_argument("--batches", type=int, nargs="+", default=[1, 10, 100, 1000])
    p.add_argument("--payload", type=int, default=128, help="bytes of data per proposal")
    p.add_argument("--seconds", type=float, default=2.0, help="time per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    a = p.parse_args(argv)
    if a.quick:
        a.seconds, a.rounds, a.batches = 0.1, 1, [1, 10]
    logging.disable(logging.WARNING)
    results = []
    print(f"{'batch':>6} {'mode':>8} {'proposals/s':>12} {'round ms':>9} {'msgs/proposal':>14}")
    for batch in a.batches:
        for mode in ("propose", "batch") if batch > 1 else ("propose",):
            runs = [bench(batch, a.payload, a.seconds, one_msg=mode == "batch") for _ in range(a.rounds)]
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            results.append({"batch": batch, "mode": mode, "payload": a.payload, **med})
            print(
                f"{batch:>6} {mode:>8} {med['proposals_per_s']:>12.0f} {med['round_ms']:>9.3f} "
                f"{med['messages_per_proposal']:>14.2f}"
            )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"python": platform.python_version(), "cluster": 3, "results": results}, indent=2) + "\n"
    )
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
