"""SIGKILL a single-member RaftNode process mid-stream: every proposal it acknowledged survives the restart.

The child prints an entry's index and data only after ``propose`` resolved (the entry was fsynced in the WAL
and applied), with many proposals in flight so the kill lands among saves. The parent then restarts the
member from the same data dir with an empty state machine and checks that every acknowledged entry is
replayed, at its index, once, in order.
"""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.server.harness import Cluster
from tests.server.state_machine import Recorder

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(60)

CHILD = r"""
import asyncio, sys
from pathlib import Path
from tests.server.harness import Cluster
from tests.server.state_machine import Recorder

async def main(base, tag):
    c = Cluster(Path(base), [1])
    node = c.start(1, sm=Recorder())
    await node.wait_leader()
    n = 0
    async def worker(w):
        nonlocal n
        while True:
            n += 1
            data = b"%s-%d" % (tag.encode(), n)
            res = await node.propose(data)
            sys.stdout.write("%d %s\n" % (res.index, data.decode()))
            sys.stdout.flush()
    await asyncio.gather(*(worker(w) for w in range(32)))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def run_and_kill(base: Path, tag: str, acks_wanted: int) -> dict[int, bytes]:
    """Run the child until it has acknowledged ``acks_wanted`` proposals (or 10 s), then SIGKILL it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(base), tag],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    acked: dict[int, bytes] = {}
    buf = b""
    deadline = time.monotonic() + 10
    try:
        while len(acked) < acks_wanted and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                idx, data = line.split(b" ")
                acked[int(idx)] = data
    finally:
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=10)
    assert len(acked) >= acks_wanted, err.decode()[-2000:]
    return acked


async def test_sigkill_loses_no_acknowledged_proposal(tmp_path: Path) -> None:
    acked: dict[int, bytes] = {}
    for round_ in range(3):
        acked.update(await asyncio.to_thread(run_and_kill, tmp_path, f"r{round_}", 300 * (round_ + 1)))

        fresh = Recorder()
        c = Cluster(tmp_path, [1])
        node = c.start(1, sm=fresh)
        try:
            async with asyncio.timeout(10):
                await node.wait_applied(max(acked))
        finally:
            await node.stop()
        replayed = dict(fresh.items)
        missing = {i: d for i, d in acked.items() if replayed.get(i) != d}
        assert not missing, f"round {round_}: acknowledged but lost or changed: {sorted(missing)[:10]}"
        assert fresh.indexes == sorted(set(fresh.indexes))
