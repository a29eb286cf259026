"""The client port's HTTP surface outside /v2/keys: our app on 127.0.0.1 in front of a real in-process
member. What etcd 3.4.23 answers byte for byte is pinned in test_vs_etcd.py; here each behaviour is
exercised on its own, including the configurations that test would need several etcds for."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from prometheus_client import REGISTRY

from etcd.api.etcdhttp.access import cve_2018_5702_text
from etcd.api.etcdhttp.version import version_body
from etcd.api.etcdserverpb import rpc_pb2 as pb
from tests.etcdhttp.support import Served, client_port, cluster_version_decided, metrics_port, raw_exchange

pytestmark = pytest.mark.asyncio(loop_scope="module")

FAST = {"heartbeat_interval": 20, "election_timeout": 200}
CORS = ("Access-Control-Allow-Methods", "Access-Control-Allow-Origin", "Access-Control-Allow-Headers")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    base: Path = tmp_path_factory.mktemp("app")
    async with client_port(base / "m", enable_v2=True, **FAST) as s:  # type: ignore[arg-type]
        yield s


async def test_version_before_the_cluster_version_is_decided() -> None:
    assert version_body(None) == b'{"etcdserver":"3.4.23","etcdcluster":"not_decided"}'


async def test_version(served: Served) -> None:
    await cluster_version_decided(served.server)
    a = await raw_exchange(served.port, "GET", "/version")
    assert (a.status, a.header("Content-Type"), a.body) == (
        200,
        "application/json",
        b'{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}',
    )
    p = await raw_exchange(served.port, "POST", "/version")
    assert (p.status, p.header("Allow"), p.body) == (405, "GET", b"Method Not Allowed\n")


async def test_health_counts_each_check(served: Served) -> None:
    before = REGISTRY.get_sample_value("etcd_server_health_success") or 0.0
    a = await raw_exchange(served.port, "GET", "/health")
    assert (a.status, a.header("Content-Type"), a.body) == (
        200,
        "text/plain; charset=utf-8",
        b'{"health":"true"}',
    )
    assert REGISTRY.get_sample_value("etcd_server_health_success") == before + 1
    p = await raw_exchange(served.port, "PUT", "/health")
    assert (p.status, p.header("Allow")) == (405, "GET")


async def test_health_with_an_alarm_unless_excluded(served: Served) -> None:
    srv = served.server
    alarm = pb.AlarmRequest(action=pb.AlarmRequest.ACTIVATE, memberID=srv.id, alarm=pb.NOSPACE)
    await srv.alarm(alarm)
    try:
        failures = REGISTRY.get_sample_value("etcd_server_health_failures") or 0.0
        a = await raw_exchange(served.port, "GET", "/health")
        assert (a.status, a.body) == (503, b'{"health":"false"}\n')
        assert a.header("Content-Type") == "text/plain; charset=utf-8"
        assert REGISTRY.get_sample_value("etcd_server_health_failures") == failures + 1
        ok = await raw_exchange(served.port, "GET", "/health?exclude=NOSPACE")
        assert (ok.status, ok.body) == (200, b'{"health":"true"}')
        other = await raw_exchange(served.port, "GET", "/health?exclude=CORRUPT")
        assert other.status == 503
    finally:
        alarm.action = pb.AlarmRequest.DEACTIVATE
        await srv.alarm(alarm)
    assert (await raw_exchange(served.port, "GET", "/health")).status == 200


async def test_metrics_have_etcds_server_names(served: Served) -> None:
    await cluster_version_decided(served.server)
    a = await raw_exchange(served.port, "GET", "/metrics")
    assert a.status == 200
    assert a.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    text = a.body.decode()
    lines = set(text.splitlines())
    srv = served.server
    for line in (
        "etcd_server_has_leader 1.0",
        "etcd_server_is_leader 1.0",
        "etcd_server_is_learner 0.0",
        'etcd_server_version{server_version="3.4.23"} 1.0',
        f'etcd_server_id{{server_id="{srv.id:x}"}} 1.0',
        'etcd_cluster_version{cluster_version="3.4"} 1.0',
        "etcd_server_quota_backend_bytes 2.147483648e+09",
        "# TYPE etcd_server_health_success counter",
        "# TYPE etcd_server_leader_changes_seen_total counter",
        "# TYPE etcd_server_proposals_committed_total gauge",
    ):
        assert line in lines, line
    committed = next(x for x in lines if x.startswith("etcd_server_proposals_committed_total "))
    assert float(committed.split()[1]) >= 1
    assert "_created" not in text  # Go's client has no created series
    for name in ("etcd_http_received_total", "etcd_mvcc_put_total", "etcd_debugging_mvcc_keys_total"):
        assert f"# TYPE {name} " in text, name


async def test_metrics_gzip_when_accepted(served: Served) -> None:
    a = await raw_exchange(served.port, "GET", "/metrics", headers={"Accept-Encoding": "gzip"})
    assert a.header("Content-Encoding") == "gzip"
    assert b"etcd_server_has_leader" in gzip.decompress(a.body)


async def test_unknown_paths_are_gos_404(served: Served) -> None:
    for target in ("/nope", "/v2", "/v2/stats", "/v2/stats/self/", "/v3alpha/kv/range", "/v2/auth/enable"):
        a = await raw_exchange(served.port, "GET", target)
        assert (a.status, a.body, a.header("X-Content-Type-Options")) == (
            404,
            b"404 page not found\n",
            "nosniff",
        )
        assert a.header("Access-Control-Allow-Origin") == "*"


async def test_v3_without_slash_redirects(served: Served) -> None:
    a = await raw_exchange(served.port, "GET", "/v3")
    assert (a.status, a.header("Location")) == (301, "/v3/")
    a = await raw_exchange(served.port, "GET", "/v3beta/kv/../kv/range")
    assert (a.status, a.header("Location")) == (301, "/v3/kv/range")


async def test_options_is_200_empty_with_cors(served: Served) -> None:
    a = await raw_exchange(served.port, "OPTIONS", "/anything/at/all")
    assert (a.status, a.body) == (200, b"")
    assert [a.header(h) for h in CORS] == [
        "POST, GET, OPTIONS, PUT, DELETE",
        "*",
        "accept, content-type, authorization",
    ]


async def test_members_list_and_leader(served: Served) -> None:
    srv = served.server
    me = {
        "id": f"{srv.id:x}",
        "name": "m1",
        "peerURLs": ["http://localhost:2380"],
        "clientURLs": ["http://localhost:2379"],
    }
    a = await raw_exchange(served.port, "GET", "/v2/members")
    assert (a.status, a.header("Content-Type")) == (200, "application/json")
    assert a.header("X-Etcd-Cluster-Id") == f"{srv.cluster_id:x}"
    assert a.body == json.dumps({"members": [me]}, separators=(",", ":")).encode() + b"\n"
    assert (await raw_exchange(served.port, "GET", "/v2/members/")).body == a.body
    leader = await raw_exchange(served.port, "GET", "/v2/members/leader")
    assert json.loads(leader.body) == me
    other = await raw_exchange(served.port, "GET", "/v2/members/foo")
    assert (other.status, other.body) == (404, b'{"message":"Not found"}')


async def test_member_changes_are_checked_then_refused(served: Served) -> None:
    async def send(
        method: str, target: str, body: bytes = b"", ctype: str = "application/json"
    ) -> tuple[int, bytes]:
        a = await raw_exchange(served.port, method, target, headers={"Content-Type": ctype}, body=body)
        return a.status, a.body

    assert await send("HEAD", "/v2/members") == (405, b"")
    assert await send("POST", "/v2/members", b"{}", "application/x-www-form-urlencoded") == (
        415,
        b'{"message":"Bad Content-Type application/x-www-form-urlencoded, accept application/json"}',
    )
    assert await send("POST", "/v2/members", b'{"peerURLs":[]}') == (
        400,
        b'{"message":"no valid URLs given"}',
    )
    assert await send("POST", "/v2/members", b'{"peerURLs":["ftp://a:1"]}') == (
        400,
        b'{"message":"URL scheme must be http, https, unix, or unixs: ftp://a:1"}',
    )
    status, _ = await send("POST", "/v2/members", b'{"peerURLs":["http://127.0.0.1:2999"]}')
    assert status == 501
    assert (await send("DELETE", "/v2/members"))[0] == 405
    assert await send("DELETE", "/v2/members/zz") == (404, b'{"message":"No such member: zz"}')
    assert (await send("DELETE", "/v2/members/1234"))[0] == 501


async def test_machines_and_stats(served: Served) -> None:
    a = await raw_exchange(served.port, "GET", "/v2/machines")
    assert (a.status, a.body, a.header("Content-Type")) == (
        200,
        b"http://localhost:2379",
        "text/plain; charset=utf-8",
    )
    assert (await raw_exchange(served.port, "PUT", "/v2/machines")).header("Allow") == "GET,HEAD"
    me = f"{served.server.id:x}"
    stats = json.loads((await raw_exchange(served.port, "GET", "/v2/stats/self")).body)
    assert (stats["id"], stats["state"], stats["leaderInfo"]["leader"]) == (me, "StateLeader", me)
    leader = await raw_exchange(served.port, "GET", "/v2/stats/leader")
    assert leader.body == f'{{"leader":"{me}","followers":{{}}}}'.encode()
    store = json.loads((await raw_exchange(served.port, "GET", "/v2/stats/store")).body)
    assert set(store) >= {"getsSuccess", "setsSuccess", "watchers", "expireCount"}
    assert (await raw_exchange(served.port, "POST", "/v2/stats/store")).status == 405


async def test_metrics_port_serves_metrics_and_health_only(served: Served) -> None:
    async with metrics_port(served.server) as port:
        assert (await raw_exchange(port, "GET", "/health")).body == b'{"health":"true"}'
        m = await raw_exchange(port, "GET", "/metrics")
        assert b"etcd_server_has_leader 1.0" in m.body
        assert m.header("Access-Control-Allow-Origin") is None
        for target in ("/version", "/v2/keys/a", "/v3/kv/range"):
            assert (await raw_exchange(port, "GET", target)).status == 404


async def test_v2_disabled_answers_404(tmp_path: Path) -> None:
    async with client_port(tmp_path / "m", enable_v2=False, **FAST) as s:  # type: ignore[arg-type]
        for target in ("/v2/keys/a", "/v2/members", "/v2/machines", "/v2/stats/self"):
            a = await raw_exchange(s.port, "GET", target)
            assert (a.status, a.body) == (404, b"404 page not found\n"), target
        assert (await raw_exchange(s.port, "GET", "/version")).status == 200


async def test_cors_list_and_host_whitelist(tmp_path: Path) -> None:
    cfg = {"cors": ["http://ok.example"], "host_whitelist": ["good.example", "127.0.0.1"], **FAST}
    async with client_port(tmp_path / "m", **cfg) as s:  # type: ignore[arg-type]
        a = await raw_exchange(s.port, "GET", "/version", headers={"Origin": "http://ok.example"})
        assert a.header("Access-Control-Allow-Origin") == "http://ok.example"
        a = await raw_exchange(s.port, "GET", "/version", headers={"Origin": "http://evil.example"})
        assert a.header("Access-Control-Allow-Origin") is None and a.status == 200
        ok = await raw_exchange(s.port, "GET", "/version", host="good.example:2379")
        assert ok.status == 200
        bad = await raw_exchange(s.port, "GET", "/version", host="evil.example:2379")
        assert bad.status == 421
        assert bad.body == (cve_2018_5702_text("evil.example") + "\n").encode()
        assert b'etcd --host-whitelist "evil.example"' in bad.body
        assert bad.header("Content-Type") == "text/plain; charset=utf-8"
