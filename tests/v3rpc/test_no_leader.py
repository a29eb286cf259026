"""``hasleader`` metadata: refused calls on a member without a leader, and leader-requiring streams ended
when the member loses its leader for three election timeouts (etcd's ``monitorLeader``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import grpc
import pytest

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb import rpc_pb2_grpc as pb_grpc
from etcd.api.v3rpc import make_grpc_server, rpctypes
from etcd.embed.config import Config, parse_urls
from etcd.raft.raftpb.raft_pb2 import Message
from etcd.server.etcdserver import EtcdServer
from tests.server.local_network import LocalNetwork
from tests.server.member import member_config
from tests.v3rpc.conftest import stub

T = 5.0
HASLEADER = (("hasleader", "true"),)
CLUSTER = "a=http://127.0.0.1:1,b=http://127.0.0.1:2"


def _config(tmp_path: Path, name: str, port: int) -> Config:
    return member_config(
        tmp_path / name,
        name=name,
        initial_cluster=CLUSTER,
        initial_advertise_peer_urls=parse_urls(f"http://127.0.0.1:{port}"),
        listen_peer_urls=parse_urls(f"http://127.0.0.1:{port}"),
        heartbeat_interval=50,
        election_timeout=300,
    )


class _LateTransport:
    """A LocalNetwork transport whose member id is known only once the member is open."""

    def __init__(self, net: LocalNetwork) -> None:
        self.net = net
        self.node_id = 0

    def send(self, messages: Sequence[Message]) -> None:
        self.net.transport(self.node_id).send(messages)


@contextlib.asynccontextmanager
async def serving(srv: EtcdServer) -> AsyncIterator[grpc.aio.Channel]:
    server = make_grpc_server(srv)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield channel
    finally:
        await channel.close()
        await server.stop(None)


async def test_calls_asking_for_a_leader_are_refused_without_one(tmp_path: Path) -> None:
    # Member a of a two-member cluster whose b never starts: no leader is ever elected.
    srv = await EtcdServer.open(_config(tmp_path, "a", 1))
    srv.start()
    try:
        async with serving(srv) as ch:
            kv = stub(pb_grpc.KVStub, ch)
            with pytest.raises(grpc.aio.AioRpcError) as ei:
                await kv.Range(pb.RangeRequest(key=b"a"), metadata=HASLEADER, timeout=T)
            assert (ei.value.code(), ei.value.details()) == (
                rpctypes.ErrGRPCNoLeader.code,
                rpctypes.ErrGRPCNoLeader.message,
            )
            call = stub(pb_grpc.WatchStub, ch).Watch(metadata=HASLEADER, timeout=T)
            await call.write(pb.WatchRequest(create_request=pb.WatchCreateRequest(key=b"a")))
            assert await asyncio.wait_for(call.code(), T) == rpctypes.ErrGRPCNoLeader.code
            assert await call.details() == rpctypes.ErrGRPCNoLeader.message
            status = await stub(pb_grpc.MaintenanceStub, ch).Status(pb.StatusRequest(), timeout=T)
            assert (status.leader, list(status.errors)) == (0, ["etcdserver: no leader"])
    finally:
        await srv.stop()


async def test_a_leader_requiring_watch_ends_when_the_leader_is_lost(tmp_path: Path) -> None:
    net = LocalNetwork()
    ta, tb = _LateTransport(net), _LateTransport(net)
    a = await EtcdServer.open(_config(tmp_path, "a", 1), ta)
    b = await EtcdServer.open(_config(tmp_path, "b", 2), tb)
    srvs = [a, b]
    try:
        for s, t in ((a, ta), (b, tb)):
            t.node_id = s.id
            net.nodes[s.id] = s.node
            s.start()
        await asyncio.wait_for(asyncio.gather(a.ready.wait(), b.ready.wait()), 10)
        async with serving(a) as ch:
            call = stub(pb_grpc.WatchStub, ch).Watch(metadata=HASLEADER, timeout=20)
            await call.write(pb.WatchRequest(create_request=pb.WatchCreateRequest(key=b"w")))
            assert (await asyncio.wait_for(call.read(), T)).created
            await b.stop()  # a cannot keep (or win) leadership alone
            assert await asyncio.wait_for(call.code(), 10) == rpctypes.ErrGRPCNoLeader.code
            assert await call.details() == rpctypes.ErrGRPCNoLeader.message
    finally:
        for s in srvs:
            await s.stop()
