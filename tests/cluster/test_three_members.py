"""Three `python -m etcd` processes on 127.0.0.1 forming one cluster over the peer transport, driven by the
real etcdctl: replication, linearizable reads on every member, failover after SIGKILL, catch-up after a
restart, leadership hand-over on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.etcdmain.process import Child, free_ports, spawn

ETCDCTL_TIMEOUT = 20.0
NAMES = ("a", "b", "c")


class Cluster:
    """Three members with fixed ports, so any of them can be restarted on its own data dir."""

    def __init__(self, base: Path) -> None:
        self.base = base
        ports = free_ports(6)
        self.client = dict(zip(NAMES, ports[:3], strict=True))
        self.peer = dict(zip(NAMES, ports[3:], strict=True))
        self.initial = ",".join(f"{n}=http://127.0.0.1:{self.peer[n]}" for n in NAMES)
        self.children: dict[str, Child] = {}

    def start(self, name: str) -> Child:
        c, p = self.client[name], self.peer[name]
        args = [
            f"--name={name}",
            f"--data-dir={self.base / name}",
            f"--listen-client-urls=http://127.0.0.1:{c}",
            f"--advertise-client-urls=http://127.0.0.1:{c}",
            f"--listen-peer-urls=http://127.0.0.1:{p}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{p}",
            f"--initial-cluster={self.initial}",
            "--heartbeat-interval=50",
            "--election-timeout=500",
        ]
        log = self.base / f"{name}-{time.monotonic_ns()}.log"
        child = Child(spawn(args, log), log, c, p)
        self.children[name] = child
        return child

    def endpoints(self, *names: str) -> str:
        return ",".join(f"127.0.0.1:{self.client[n]}" for n in (names or NAMES))

    def stop_all(self) -> None:
        for child in self.children.values():
            if child.proc.poll() is None:
                child.proc.send_signal(signal.SIGKILL)
                child.proc.wait(timeout=10)


def etcdctl(endpoints: str, *args: str) -> str:
    done = subprocess.run(
        ["etcdctl", f"--endpoints={endpoints}", "--dial-timeout=2s", "--command-timeout=8s", *args],
        capture_output=True,
        text=True,
        timeout=ETCDCTL_TIMEOUT,
        env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, f"etcdctl {args}: {done.stderr}"
    return done.stdout


def statuses(cl: Cluster, *names: str) -> dict[str, dict[str, int]]:
    out = {}
    for n in names or NAMES:
        doc = json.loads(etcdctl(cl.endpoints(n), "endpoint", "status", "-w", "json"))[0]["Status"]
        # -w json leaves out zero fields: no "leader" while there is none.
        out[n] = {"leader": doc.get("leader", 0), "id": doc["header"]["member_id"], "term": doc["raftTerm"]}
    return out


def leader_name(cl: Cluster, *names: str, timeout: float = 10.0) -> str:
    """The member every one of ``names`` names as leader, once they agree."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            st = statuses(cl, *names)
            leaders = {s["leader"] for s in st.values()}
            ids = {s["id"]: n for n, s in st.items()}
            if len(leaders) == 1 and leaders <= ids.keys():  # a dead member may still be named a while
                return ids[leaders.pop()]
        except AssertionError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no agreed leader among {names} after {timeout}s")
        time.sleep(0.2)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cl = Cluster(tmp_path)
    try:
        for n in NAMES:
            cl.start(n)
        for n in NAMES:
            cl.children[n].wait_serving()
        yield cl
    finally:
        cl.stop_all()


async def test_writes_replicate_and_reads_are_linearizable_on_every_member(cluster: Cluster) -> None:
    assert await asyncio.to_thread(etcdctl, cluster.endpoints("a"), "put", "k", "v") == "OK\n"
    for n in NAMES:
        got = await asyncio.to_thread(etcdctl, cluster.endpoints(n), "get", "k", "--print-value-only")
        assert got == "v\n", n
    members = await asyncio.to_thread(etcdctl, cluster.endpoints("b"), "member", "list")
    assert sorted(line.split(", ")[2] for line in members.splitlines()) == list(NAMES)


async def test_killed_leader_is_replaced_and_catches_up_after_restart(cluster: Cluster) -> None:
    await asyncio.to_thread(etcdctl, cluster.endpoints(), "put", "before", "1")
    old = await asyncio.to_thread(leader_name, cluster)
    cluster.children[old].proc.send_signal(signal.SIGKILL)
    cluster.children[old].proc.wait(timeout=10)
    rest = tuple(n for n in NAMES if n != old)
    new = await asyncio.to_thread(leader_name, cluster, *rest)
    assert new != old
    for i in range(5):
        await asyncio.to_thread(etcdctl, cluster.endpoints(*rest), "put", f"after{i}", str(i))
    cluster.start(old).wait_serving()
    got = await asyncio.to_thread(etcdctl, cluster.endpoints(old), "get", "after", "--prefix", "--keys-only")
    assert [line for line in got.splitlines() if line] == [f"after{i}" for i in range(5)]


async def test_sigterm_on_the_leader_hands_leadership_over(cluster: Cluster) -> None:
    old = await asyncio.to_thread(leader_name, cluster)
    before = (await asyncio.to_thread(statuses, cluster, old))[old]["term"]
    child = cluster.children[old]
    child.proc.send_signal(signal.SIGTERM)
    assert child.proc.wait(timeout=20) == -signal.SIGTERM
    assert "leadership transfer finished" in child.log_text()
    rest = tuple(n for n in NAMES if n != old)
    new = await asyncio.to_thread(leader_name, cluster, *rest)
    assert new != old
    after = (await asyncio.to_thread(statuses, cluster, new))[new]["term"]
    assert after == before + 1  # one hand-over, no election timeouts
    assert await asyncio.to_thread(etcdctl, cluster.endpoints(*rest), "put", "x", "y") == "OK\n"
