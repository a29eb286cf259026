"""RaftNodes with real WAL directories talking through rafthttp over 127.0.0.1 (tests only).

Like ``tests/server/harness.Cluster``, but every member has its own ``Transport`` served on its own port
(``peers.Endpoint``), so a member can be killed (raft, transport and port closed) and restarted on the same
port and data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from etcd.raft import Peer, SoftState
from etcd.raft.raftpb.raft_pb2 import Message
from etcd.rafthttp import Transport, file_chunks
from etcd.server import RaftNode, open_raft
from tests.rafthttp.peers import Endpoint, url
from tests.real_etcd import free_ports
from tests.server.state_machine import Recorder

CLUSTER_ID = 0x1C2D3E4F
HEARTBEAT = 0.02  # seconds per tick: sockets and two busy cores need more slack than the in-memory network
ELECTION_TICK = 10


class Member:
    def __init__(self, node: RaftNode, endpoint: Endpoint, sm: Recorder) -> None:
        self.node = node
        self.ep = endpoint
        self.sm = sm
        self.received_db: list[tuple[int, int, bytes]] = []  # (sender, index, data) of snapshots received

    @property
    def tr(self) -> Transport:
        return self.ep.tr

    async def kill(self) -> None:
        await self.ep.close()
        await self.node.stop()


class NetCluster:
    def __init__(self, base: Path, ids: list[int], **node_kw: Any) -> None:
        self.base = base
        self.ids = ids
        self.ports = dict(zip(ids, free_ports(len(ids)), strict=True))
        self.members: dict[int, Member] = {}
        self.node_kw = node_kw
        self.changed = asyncio.Event()
        self._seed = 0

    def url(self, node_id: int) -> str:
        return url(self.ports[node_id])

    def db_file(self, node_id: int) -> Path:
        """The stand-in for a member's backend file, sent after every MsgSnap it sends."""
        return self.base / f"m{node_id}.db"

    async def start(self, node_id: int, **kw: Any) -> Member:
        self._seed += 1
        sm = Recorder(str(self.base / f"m{node_id}.sm.json"))
        boot = open_raft(
            str(self.base / f"m{node_id}"),
            node_id=node_id,
            cluster_id=CLUSTER_ID,
            peers=[Peer(i) for i in self.ids],
            election_tick=ELECTION_TICK,
            heartbeat_tick=1,
            rand=random.Random(node_id * 1000 + self._seed),
        )
        snap_dir = self.base / f"m{node_id}.incoming"
        snap_dir.mkdir(exist_ok=True)
        member: Member | None = None

        def source(m: Message) -> AsyncIterator[bytes]:
            return file_chunks(str(self.db_file(node_id)), 1 << 16)

        async def on_snapshot(m: Message, path: str) -> None:
            assert member is not None
            member.received_db.append((m.from_, m.snapshot.metadata.index, Path(path).read_bytes()))

        tr = Transport(
            node_id,
            CLUSTER_ID,
            [self.url(node_id)],
            snapshot_source=source,
            snapshot_dir=str(snap_dir),
            on_snapshot=on_snapshot,
            read_timeout=2.0,
            probe_interval=0.5,
        )

        def on_soft_state(_ss: SoftState) -> None:
            self.changed.set()

        node = RaftNode(
            boot,
            tr,
            sm.apply,
            heartbeat_interval=HEARTBEAT,
            applied_index=sm.applied,
            snapshot_data=sm.snapshot,
            on_soft_state=on_soft_state,
            **{**self.node_kw, **kw},
        )
        for other in self.ids:
            if other != node_id:
                tr.add_peer(other, [self.url(other)])
        ep = Endpoint(tr, self.ports[node_id])
        await ep.serve()
        tr.start(node)
        member = Member(node, ep, sm)
        self.members[node_id] = member
        node.start()
        return member

    def live(self) -> list[Member]:
        return [m for m in self.members.values() if not m.node.stopped]

    async def wait_until(self, cond: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while not cond():
                self.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), HEARTBEAT)

    def stable_leader(self, among: list[Member] | None = None) -> Member | None:
        group = among if among is not None else self.live()
        leaders = [m for m in group if m.node.is_leader]
        if len(leaders) != 1:
            return None
        lead = leaders[0]
        return lead if all(m.node.leader == lead.node.id for m in group) else None

    async def wait_leader(self, among: list[Member] | None = None, timeout: float = 10.0) -> Member:
        await self.wait_until(lambda: self.stable_leader(among) is not None, timeout)
        lead = self.stable_leader(among)
        assert lead is not None
        return lead

    async def stop_all(self) -> None:
        for m in list(self.members.values()):
            await m.kill()
