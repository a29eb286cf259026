"""The real etcdctl 3.4 (ETCDCTL_API=3) against our gRPC server on a plain TCP port: its output, as
etcdctl prints it against etcd 3.4.23 (formats from the surface reference §19.2)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.v3rpc.conftest import Served

ETCDCTL = shutil.which("etcdctl")
pytestmark = pytest.mark.skipif(
    ETCDCTL is None, reason="etcdctl 3.4 is not installed (apt-get install etcd-client)"
)
T = 20.0


async def ctl(served: Served, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert ETCDCTL is not None
    env = dict(os.environ, ETCDCTL_API="3")
    return await asyncio.to_thread(
        subprocess.run,
        [ETCDCTL, f"--endpoints={served.endpoint}", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=T,
    )


async def ok(served: Served, *args: str, stdin: str | None = None) -> str:
    r = await ctl(served, *args, stdin=stdin)
    assert r.returncode == 0, r.stderr
    return r.stdout


async def test_put_get_del_txn_compaction(served: Served) -> None:
    assert await ok(served, "put", "foo", "bar") == "OK\n"
    assert await ok(served, "put", "foo2", "baz") == "OK\n"
    assert await ok(served, "get", "foo") == "foo\nbar\n"
    assert await ok(served, "get", "foo", "--prefix", "--keys-only") == "foo\n\nfoo2\n\n"
    assert await ok(served, "get", "foo", "--prefix", "--print-value-only", "--order=DESCEND") == "baz\nbar\n"
    assert await ok(served, "get", "foo", "--prefix", "--limit=1") == "foo\nbar\n"
    assert await ok(served, "get", "foo", "--consistency=s") == "foo\nbar\n"
    txn = 'value("foo") = "bar"\n\nput foo qux\n\nget foo\n\n'
    assert await ok(served, "txn", stdin=txn) == "SUCCESS\n\nOK\n"
    assert await ok(served, "txn", stdin=txn) == "FAILURE\n\nfoo\nqux\n"
    assert await ok(served, "del", "foo", "--prefix") == "2\n"
    assert await ok(served, "compaction", "3") == "compacted revision 3\n"
    r = await ctl(served, "compaction", "2")
    assert r.returncode != 0
    assert r.stderr.strip().endswith("Error: etcdserver: mvcc: required revision has been compacted")
    r = await ctl(served, "txn", stdin="\nput a 1\nput a 2\n\n\n")
    assert r.stderr.strip().endswith("Error: etcdserver: duplicate key given in txn request")


async def test_watch_prints_events(served: Served) -> None:
    assert ETCDCTL is not None
    proc = await asyncio.create_subprocess_exec(
        ETCDCTL,
        f"--endpoints={served.endpoint}",
        "watch",
        "w",
        "--prefix",
        env=dict(os.environ, ETCDCTL_API="3"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await asyncio.sleep(1.0)  # etcdctl has created its watch
        await ok(served, "put", "w1", "v1")
        await ok(served, "del", "w1")
        assert proc.stdout is not None
        lines = [(await asyncio.wait_for(proc.stdout.readline(), T)).decode() for _ in range(5)]
        assert lines == ["PUT\n", "w1\n", "v1\n", "DELETE\n", "w1\n"]
    finally:
        proc.kill()
        await proc.wait()


async def test_lease_commands(served: Served) -> None:
    out = await ok(served, "lease", "grant", "100")
    assert out.startswith("lease ") and out.endswith(" granted with TTL(100s)\n")
    lid = out.split()[1]
    assert await ok(served, "put", "leased", "v", f"--lease={lid}") == "OK\n"
    ttl = await ok(served, "lease", "timetolive", lid, "--keys")
    assert ttl.startswith(f"lease {lid} granted with TTL(100s), remaining(") and ttl.endswith(
        "attached keys([leased])\n"
    )
    assert await ok(served, "lease", "keep-alive", "--once", lid) == f"lease {lid} keepalived with TTL(100)\n"
    assert await ok(served, "lease", "list") == f"found 1 leases\n{lid}\n"
    assert await ok(served, "lease", "revoke", lid) == f"lease {lid} revoked\n"
    assert await ok(served, "get", "leased") == ""


async def test_endpoint_member_alarm_defrag(served: Served) -> None:
    r = await ctl(served, "endpoint", "health")
    assert r.returncode == 0
    # etcdctl 3.4 prints the health line on stderr (checked against etcd 3.4.23).
    assert r.stderr.startswith(f"{served.endpoint} is healthy: successfully committed proposal: took = ")
    status = (await ok(served, "endpoint", "status")).strip().split(", ")
    assert status[0] == served.endpoint and status[1] == f"{served.srv.id:x}" and status[2] == "3.4.23"
    assert status[4:6] == ["true", "false"]
    hashkv = await ok(served, "endpoint", "hashkv")
    assert hashkv.startswith(f"{served.endpoint}, ")
    members = await ok(served, "member", "list")
    assert members == f"{served.srv.id:x}, started, m1, http://localhost:2380, http://localhost:2379, false\n"
    assert await ok(served, "alarm", "list") == ""
    assert await ok(served, "defrag") == f"Finished defragmenting etcd member[{served.endpoint}]\n"


async def test_snapshot_save_verifies_the_sha256(served: Served, tmp_path: Path) -> None:
    for i in range(20):
        await ok(served, "put", f"s{i}", "x" * 5000)
    path = tmp_path / "snap.db"
    out = await ok(served, "snapshot", "save", str(path))
    assert out.strip().endswith(f"Snapshot saved at {path}")
    data = path.read_bytes()
    # etcdctl checked the trailer and kept it: the file is the stream, then its SHA-256.
    assert hashlib.sha256(data[:-32]).digest() == data[-32:]


async def test_lock_and_elect(served: Served) -> None:
    out = await ok(served, "lock", "mylock", "--", "sh", "-c", "echo $ETCD_LOCK_KEY")
    assert out.startswith("mylock/")
    assert ETCDCTL is not None
    proc = await asyncio.create_subprocess_exec(
        ETCDCTL,
        f"--endpoints={served.endpoint}",
        "elect",
        "myelection",
        "p1",
        env=dict(os.environ, ETCDCTL_API="3"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), T)).decode()
        second = (await asyncio.wait_for(proc.stdout.readline(), T)).decode()
        assert first.startswith("myelection/") and second == "p1\n"
        observed = await ok(served, "get", "myelection", "--prefix", "--print-value-only")
        assert observed == "p1\n"
    finally:
        proc.kill()
        await proc.wait()
