"""Transports served on real 127.0.0.1 ports through the peer port's mux and aiohttp app (tests only).

``Endpoint`` is one member's network side: a ``Transport`` plus ``make_peer_app`` with the transport's
routes behind ``serve.http_mux``, as the embedder mounts them. ``Inbox`` is the raft side for tests that
look at messages rather than consensus: it records what is stepped and reported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from etcd.api.etcdhttp.peer import make_peer_app
from etcd.embed import serve
from etcd.raft.raftpb.raft_pb2 import Message
from etcd.rafthttp import Transport, peer_routes
from mux import Mux


@dataclass
class _NoMembers:
    """The peer app's /members and /version read these; these tests exercise /raft/* only."""

    version: str | None = None

    def members(self) -> Sequence[Any]:
        return []


@dataclass
class PeerInfo:
    cluster_id: int
    cluster: _NoMembers = field(default_factory=_NoMembers)


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


class Endpoint:
    """A transport and the peer port serving its routes."""

    def __init__(self, transport: Transport, port: int) -> None:
        self.tr = transport
        self.port = port
        self._runner: web.AppRunner | None = None
        self._mux: Mux | None = None

    async def serve(self) -> None:
        app = make_peer_app(PeerInfo(self.tr.cluster_id), peer_routes(self.tr))
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        assert self._runner.server is not None
        self._mux = serve.http_mux(self._runner.server)
        await self._mux.start("127.0.0.1", self.port)

    async def close(self) -> None:
        await self.tr.close()
        if self._mux is not None:
            await self._mux.close(0.5)
        if self._runner is not None:
            await self._runner.cleanup()


class Inbox:
    """Records what the transport gives raft; ``got`` is set on every step."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.unreachable: list[int] = []
        self.snapshots: list[tuple[int, bool]] = []
        self.got = asyncio.Event()

    def step(self, m: Message) -> None:
        self.messages.append(m)
        self.got.set()

    def report_unreachable(self, id_: int) -> None:
        self.unreachable.append(id_)

    def report_snapshot(self, id_: int, ok: bool) -> None:
        self.snapshots.append((id_, ok))
        self.got.set()

    async def wait_for(self, n: int, timeout: float = 5.0) -> None:
        """Wait until ``n`` messages arrived."""
        async with asyncio.timeout(timeout):
            while len(self.messages) < n:
                self.got.clear()
                await self.got.wait()


class Pair:
    """Two started endpoints; ``peered`` chooses who knows whom (both ways by default)."""

    def __init__(self, a: Endpoint, b: Endpoint, ia: Inbox, ib: Inbox) -> None:
        self.a, self.b, self.ia, self.ib = a, b, ia, ib

    async def close(self) -> None:
        await self.a.close()
        await self.b.close()


async def start_pair(
    ports: Sequence[int],
    *,
    cluster_ids: tuple[int, int] = (0xC1, 0xC1),
    a_knows_b: bool = True,
    b_knows_a: bool = True,
    a_kw: dict[str, Any] | None = None,
    b_kw: dict[str, Any] | None = None,
) -> Pair:
    pa, pb = ports
    ta = Transport(1, cluster_ids[0], [url(pa)], **(a_kw or {}))
    tb = Transport(2, cluster_ids[1], [url(pb)], **(b_kw or {}))
    ia, ib = Inbox(), Inbox()
    ea, eb = Endpoint(ta, pa), Endpoint(tb, pb)
    await ea.serve()
    await eb.serve()
    ta.start(ia)
    tb.start(ib)
    if a_knows_b:
        ta.add_peer(2, [url(pb)])
    if b_knows_a:
        tb.add_peer(1, [url(pa)])
    return Pair(ea, eb, ia, ib)
