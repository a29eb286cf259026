"""The HTTP surface of a member that has no leader: one of a two-member cluster started alone, so it
never wins an election. etcd answers /health 503, /v2/members/leader 503 "During election",
/v2/stats/leader 403, and a v2 write times out as Raft Internal Error "etcdserver: request timed out"."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from prometheus_client import REGISTRY

from etcd.api.etcdhttp.app import make_client_app
from etcd.embed.config import parse_url
from etcd.server.etcdserver import EtcdServer
from tests.etcdhttp.support import raw_exchange, serving
from tests.server.member import member_config

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def port(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[int]:
    base: Path = tmp_path_factory.mktemp("alone")
    cfg = member_config(
        base / "m",
        name="a",
        initial_cluster="a=http://127.0.0.1:1,b=http://127.0.0.1:2",
        initial_advertise_peer_urls=[parse_url("http://127.0.0.1:1")],
        enable_v2=True,
        heartbeat_interval=20,
        election_timeout=200,
    )
    srv = await EtcdServer.open(cfg)
    srv.start()
    try:
        async with serving(make_client_app(srv, grpc_target="unix:/nonexistent")) as p:
            yield p
    finally:
        await srv.stop()


async def test_health_is_503(port: int) -> None:
    failures = REGISTRY.get_sample_value("etcd_server_health_failures") or 0.0
    a = await raw_exchange(port, "GET", "/health")
    assert (a.status, a.body) == (503, b'{"health":"false"}\n')
    assert REGISTRY.get_sample_value("etcd_server_health_failures") == failures + 1
    metrics = (await raw_exchange(port, "GET", "/metrics")).body.decode().splitlines()
    assert "etcd_server_has_leader 0.0" in metrics


async def test_members_leader_is_503_during_election(port: int) -> None:
    a = await raw_exchange(port, "GET", "/v2/members/leader")
    assert (a.status, a.body) == (503, b'{"message":"During election"}')


async def test_stats_leader_is_403(port: int) -> None:
    a = await raw_exchange(port, "GET", "/v2/stats/leader")
    assert (a.status, a.body) == (403, b'{"message":"not current leader"}')
    assert a.header("Content-Type") == "application/json"


@pytest.mark.timeout(30)
async def test_v2_write_times_out_as_raft_internal_error(port: int) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    a = await raw_exchange(port, "PUT", "/v2/keys/a", headers=headers, body=b"value=1", timeout=15.0)
    assert a.status == 500
    assert json.loads(a.body) == {
        "errorCode": 300,
        "message": "Raft Internal Error",
        "cause": "etcdserver: request timed out",
        "index": 0,
    }
