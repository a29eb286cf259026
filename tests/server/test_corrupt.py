"""The corruption checks over the real peer protocol: two members' stores, HashKV served over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.server.apply import ErrCorrupt
from etcd.server.corrupt import (
    HASHKV_PATH,
    CorruptionError,
    check_hash_kv,
    check_initial_hash_kv,
    hash_kv_handler,
)
from etcd.server.etcdserver import EtcdServer
from etcd.server.membership import Member
from tests.real_etcd import free_ports
from tests.server.member import running_member


async def _serve_hashkv(srv: EtcdServer) -> tuple[web.AppRunner, str]:
    async def handle(request: web.Request) -> web.Response:
        status, body = await hash_kv_handler(srv, await request.read())
        return web.Response(status=status, body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get(HASHKV_PATH, handle)
    runner = web.AppRunner(app)
    await runner.setup()
    [port] = free_ports(1)
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def _fill(srv: EtcdServer, values: list[bytes]) -> None:
    for i, v in enumerate(values):
        await srv.put(pb.PutRequest(key=b"k%d" % i, value=v))


@pytest.fixture
async def peer_dirs(tmp_path: Path) -> AsyncIterator[tuple[Path, Path]]:
    yield tmp_path / "a", tmp_path / "b"


async def test_same_history_passes_and_a_changed_value_is_found(peer_dirs: tuple[Path, Path]) -> None:
    a_dir, b_dir = peer_dirs
    async with running_member(a_dir) as a, running_member(b_dir) as b:
        await _fill(a, [b"1", b"2", b"3"])
        await _fill(b, [b"1", b"2", b"3"])
        runner, url = await _serve_hashkv(b)
        try:
            peer = Member(b.id, [url])
            await check_initial_hash_kv(a, peers=[peer])  # identical data: passes

            await a.put(pb.PutRequest(key=b"k2", value=b"X"))
            await b.put(pb.PutRequest(key=b"k2", value=b"Y"))
            with pytest.raises(CorruptionError, match=f"{a.id:x} found data inconsistency with peers"):
                await check_initial_hash_kv(a, peers=[peer])
        finally:
            await runner.cleanup()


async def test_an_unreachable_peer_is_only_a_warning(peer_dirs: tuple[Path, Path]) -> None:
    a_dir, _ = peer_dirs
    [port] = free_ports(1)
    async with running_member(a_dir) as a:
        await _fill(a, [b"1"])
        await check_initial_hash_kv(a, peers=[Member(0x1234, [f"http://127.0.0.1:{port}"])])


async def test_hashkv_handler_answers_etcds_errors(peer_dirs: tuple[Path, Path]) -> None:
    a_dir, _ = peer_dirs
    async with running_member(a_dir) as a:
        await _fill(a, [b"1", b"2"])
        status, body = await hash_kv_handler(a, b'{"revision": 99}')
        assert (status, body) == (400, b"mvcc: required revision is a future revision\n")
        status, body = await hash_kv_handler(a, b"{not json")
        assert status == 400
        status, body = await hash_kv_handler(a, b'{"revision": 0}')
        assert status == 200
        doc = json.loads(body)
        # Never compacted: etcd's store reports compact revision -1.
        assert int(doc["compact_revision"]) == -1 and int(doc["header"]["revision"]) == 3
        assert doc["hash"] == (await a.hash_kv(0)).hash


async def test_periodic_check_raises_the_corrupt_alarm_and_kv_stops(peer_dirs: tuple[Path, Path]) -> None:
    a_dir, b_dir = peer_dirs
    async with running_member(a_dir) as a, running_member(b_dir) as b:
        await _fill(a, [b"1", b"2"])
        await _fill(b, [b"1", b"2"])
        runner, url = await _serve_hashkv(b)
        try:
            peer = Member(b.id, [url])
            assert await check_hash_kv(a, peers=[peer]) is False
            await a.put(pb.PutRequest(key=b"k1", value=b"X"))
            await b.put(pb.PutRequest(key=b"k1", value=b"Y"))
            assert await check_hash_kv(a, peers=[peer]) is True
        finally:
            await runner.cleanup()
        assert [(m.memberID, m.alarm) for m in a.alarms()] == [(0, pb.CORRUPT)]
        with pytest.raises(ErrCorrupt, match="etcdserver: corrupt cluster"):
            await a.put(pb.PutRequest(key=b"k9", value=b"v"))
