"""Our transport against the real etcd 3.4 as the oracle: one etcd member and one of our RaftNodes form a
two-member cluster over the peer port. etcd accepts our headers, dials our stream, takes our stream and
pipeline messages; its writes commit only with our votes and acknowledgements, so they show up in our log."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from etcd.embed.config import cluster_id, member_id
from etcd.raft import Peer
from etcd.rafthttp import Transport
from etcd.server import RaftNode, open_raft
from tests.rafthttp.peers import Endpoint, url
from tests.real_etcd import ETCD, free_ports, requires_etcd
from tests.server.state_machine import Recorder

pytestmark = [requires_etcd, pytest.mark.timeout(60)]

TOKEN = "rafthttp-interop"


@contextlib.asynccontextmanager
async def real_etcd(
    base: Path, client: int, peer: int, initial: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    log = open(base / "real.log", "wb")  # noqa: SIM115 - closed below, after the process
    proc = await asyncio.create_subprocess_exec(
        ETCD,
        "--name=real",
        f"--data-dir={base / 'real'}",
        f"--listen-client-urls={url(client)}",
        f"--advertise-client-urls={url(client)}",
        f"--listen-peer-urls={url(peer)}",
        f"--initial-advertise-peer-urls={url(peer)}",
        f"--initial-cluster={initial}",
        "--initial-cluster-state=new",
        f"--initial-cluster-token={TOKEN}",
        "--heartbeat-interval=50",
        "--election-timeout=500",
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await asyncio.wait_for(proc.wait(), 10)
        log.close()


async def etcdctl(client: int, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "etcdctl",
        f"--endpoints={url(client)}",
        "--command-timeout=5s",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def test_a_real_etcd_member_and_ours_form_a_cluster(tmp_path: Path) -> None:
    client, real_peer, our_peer = free_ports(3)
    real_id = member_id([url(real_peer)], TOKEN)
    our_id = member_id([url(our_peer)], TOKEN)
    cid = cluster_id([real_id, our_id])
    sm = Recorder()
    boot = open_raft(
        str(tmp_path / "ours"),
        node_id=our_id,
        cluster_id=cid,
        peers=[Peer(i) for i in sorted([real_id, our_id])],
        election_tick=10,
        heartbeat_tick=1,
        rand=random.Random(7),
    )
    tr = Transport(our_id, cid, [url(our_peer)])
    node = RaftNode(boot, tr, sm.apply, heartbeat_interval=0.05)
    tr.add_peer(real_id, [url(real_peer)])
    ep = Endpoint(tr, our_peer)
    await ep.serve()
    tr.start(node)
    node.start()
    try:
        initial = f"real={url(real_peer)},py={url(our_peer)}"
        async with real_etcd(tmp_path, client, real_peer, initial) as proc:
            peer = tr.peer(real_id)
            assert peer is not None
            # etcd publishes its name through raft: with two members that needs us.
            async with asyncio.timeout(30):
                while not any(b"real" in d for d in sm.datas):
                    assert proc.returncode is None, (tmp_path / "real.log").read_text()[-3000:]
                    await asyncio.sleep(0.05)
            assert node.leader in (real_id, our_id)
            await etcdctl(client, "put", "interop-key", "interop-value")
            async with asyncio.timeout(10):
                # (RaftNode takes the first 8 bytes of an entry for its request id: look at the value.)
                while not any(b"interop-value" in d for d in sm.datas):
                    await asyncio.sleep(0.05)
            assert "interop-value" in await etcdctl(client, "get", "interop-key")
            # Both directions ride streams: etcd dialed ours, we dialed etcd's.
            assert peer.writer.working
            assert peer.reader.connects >= 1
            assert peer.writer.frames > 0
            assert tr.active_since(real_id) is not None
            log = (tmp_path / "real.log").read_text()
            assert "cluster ID mismatch" not in log and "incompatible version" not in log
            # etcd's msgappv2 stream is answered (with heartbeats only), so etcd never marks us inactive.
            assert "(stream MsgApp v2 reader)" in log
            assert "failed to dial" not in log and "became inactive" not in log
    finally:
        await ep.close()
        await node.stop()
