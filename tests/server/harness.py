"""Start members on real data directories and wait for cluster conditions without sleeping (tests only)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from etcd.raft import Peer, SoftState
from etcd.server import RaftNode, open_raft
from tests.server.local_network import LocalNetwork
from tests.server.state_machine import Recorder

CLUSTER_ID = 0x1C2D3E4F
HEARTBEAT = 0.01  # seconds per tick
ELECTION_TICK = 10


class Cluster:
    """Members on one LocalNetwork; ``changed`` is set on every leadership change anywhere."""

    def __init__(self, base: Path, ids: list[int], **node_kw: Any) -> None:
        self.base = base
        self.ids = ids
        self.net = LocalNetwork()
        self.sms: dict[int, Recorder] = {}
        self.node_kw = node_kw
        self.changed = asyncio.Event()
        self._seed = 0

    def data_dir(self, node_id: int) -> Path:
        return self.base / f"m{node_id}"

    def start(self, node_id: int, *, sm: Recorder | None = None, join: bool = False, **kw: Any) -> RaftNode:
        self._seed += 1
        d = self.data_dir(node_id)
        if sm is None:
            sm = Recorder(str(self.base / f"m{node_id}.sm.json"))
        self.sms[node_id] = sm
        boot = open_raft(
            str(d),
            node_id=node_id,
            cluster_id=CLUSTER_ID,
            peers=[Peer(i) for i in self.ids],
            join=join,
            election_tick=ELECTION_TICK,
            heartbeat_tick=1,
            rand=random.Random(node_id * 1000 + self._seed),
        )

        def on_soft_state(_ss: SoftState) -> None:
            self.changed.set()

        opts = {**self.node_kw, **kw}
        node = RaftNode(
            boot,
            self.net.transport(node_id),
            sm.apply,
            heartbeat_interval=HEARTBEAT,
            applied_index=sm.applied,
            snapshot_data=sm.snapshot,
            on_soft_state=on_soft_state,
            **opts,
        )
        self.net.nodes[node_id] = node
        node.start()
        return node

    def live(self) -> list[RaftNode]:
        return [n for n in self.net.nodes.values() if not n.stopped]

    async def wait_until(self, cond: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait for ``cond``: woken by leadership changes, and re-checked every tick for other progress."""
        async with asyncio.timeout(timeout):
            while not cond():
                self.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), HEARTBEAT)

    def stable_leader(self) -> RaftNode | None:
        live = self.live()
        leaders = [n for n in live if n.is_leader]
        if len(leaders) != 1:
            return None
        lead = leaders[0]
        return lead if all(n.leader == lead.id for n in live) else None

    async def wait_leader(self, timeout: float = 5.0) -> RaftNode:
        await self.wait_until(lambda: self.stable_leader() is not None, timeout)
        lead = self.stable_leader()
        assert lead is not None
        return lead

    async def stop_all(self) -> None:
        for n in list(self.net.nodes.values()):
            await n.stop()
