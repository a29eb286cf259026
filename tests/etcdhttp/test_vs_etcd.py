"""Our client port's HTTP answers against etcd 3.4.23's, request by request.

One real etcd (``--enable-v2``, a metrics port) and one in-process member behind our client app serve
the module. Each request goes to both; the status, the header names (less Date and Server), the values
of the headers clients read, and the body must match, after putting aside what differs by nature
(cluster and member IDs, store and raft indexes, times). Our app's /v3 gateway dials the real etcd's
gRPC port here, so gateway answers through our access controller are compared on the same store.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from etcd.api.etcdhttp.app import make_client_app, make_metrics_app
from tests.etcdhttp.support import (
    Answer,
    WatchStream,
    cluster_version_decided,
    raw_exchange,
    serving,
)
from tests.real_etcd import Member, free_ports, requires_etcd, running_etcd
from tests.server.member import running_member

pytestmark = [requires_etcd, pytest.mark.asyncio(loop_scope="module")]

IGNORED_HEADERS = {"date", "server"}
COMPARED_VALUES = (
    "Content-Type",
    "Allow",
    "Location",
    "X-Content-Type-Options",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Headers",
    "Transfer-Encoding",
    "Content-Encoding",
)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
INDEX_FIELDS = re.compile(rb'"(modifiedIndex|createdIndex|index)":\d+')


class Sides:
    def __init__(self, real: Member, real_metrics: int, ours: int, ours_metrics: int) -> None:
        self.real = real
        self.real_metrics = real_metrics
        self.ours = ours
        self.ours_metrics = ours_metrics


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Member, int]]:
    metrics = free_ports(1)[0]
    extra = ("--enable-v2", f"--listen-metrics-urls=http://127.0.0.1:{metrics}")
    with running_etcd(tmp_path_factory.mktemp("real"), extra=extra) as member:
        yield member, metrics


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sides(real: tuple[Member, int], tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Sides]:
    member, real_metrics = real
    base: Path = tmp_path_factory.mktemp("ours")
    async with running_member(base / "m", enable_v2=True, heartbeat_interval=20, election_timeout=200) as srv:
        await cluster_version_decided(srv)
        app = make_client_app(srv, grpc_target=f"127.0.0.1:{member.client_port}")
        async with serving(app) as port, serving(make_metrics_app(srv)) as mport:
            yield Sides(member, real_metrics, port, mport)


# A known difference of the /v3 gateway (etcd/api/gateway): a failed call is answered chunked with an
# HTTP trailer by grpc-gateway; aiohttp cannot write trailers, so ours is a plain body (same JSON).
GATEWAY_GAPS = {"trailer", "transfer-encoding", "content-length"}
# Go's promhttp streams /metrics (chunked); we send it whole. Both are valid HTTP.
FRAMING = {"content-length", "transfer-encoding"}


def assert_same(
    real: Answer, ours: Answer, *, body: bool = True, what: str = "", ignore: frozenset[str] = frozenset()
) -> None:
    assert ours.status == real.status, what
    real_names = real.header_names() - IGNORED_HEADERS - ignore
    our_names = ours.header_names() - IGNORED_HEADERS - ignore
    assert our_names == real_names, what
    for name in COMPARED_VALUES:
        if name.lower() not in ignore:
            assert ours.header(name) == real.header(name), f"{what}: {name}"
    if body:
        assert ours.body == real.body, what


async def both(sides: Sides, method: str, target: str, **kw: object) -> tuple[Answer, Answer]:
    real = await raw_exchange(sides.real.client_port, method, target, **kw)  # type: ignore[arg-type]
    ours = await raw_exchange(sides.ours, method, target, **kw)  # type: ignore[arg-type]
    return real, ours


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("GET", "/version"),
        ("POST", "/version"),
        ("GET", "/health"),
        ("PUT", "/health"),
        ("GET", "/nope"),
        ("GET", "/v2"),
        ("GET", "/v2/stats"),
        ("GET", "/v2/stats/self/"),
        ("GET", "/v3alpha/kv/range"),
        ("OPTIONS", "/nope"),
        ("OPTIONS", "/v2/keys/a"),
        ("GET", "/v3"),
        ("GET", "/v2/keys//a/../b?x=1&y=%20"),
        ("PUT", "/v2/keys//a/../b?x=1"),
        ("DELETE", "/v2//keys/a/"),
        ("GET", "/v2/keys/./a/b/"),
        ("PATCH", "/v2/keys/x"),
        ("POST", "/v2/stats/store"),
        ("PUT", "/v2/machines"),
        ("GET", "/v2/members/foo"),
        ("HEAD", "/v2/members"),
        ("DELETE", "/v2/members"),
        ("DELETE", "/v2/members/zz"),
        ("POST", "/v2/members"),
        ("GET", "/v3/kv/range"),
        ("POST", "/v3/nope"),
        ("POST", "/debug/vars"),
        ("GET", "/config/local/log"),
        ("GET", "/v2/keys//%E2%98%83/x%20y"),
        ("GET", "/v2/keys/a/..%2F..%2Fb"),
        ("GET", "/v2/keys/a/%2E%2E/b"),
        ("GET", "/v2/keys/a/b/..?a=%zz&b"),
        ("GET", "/%7Ev2/keys"),
    ],
)
async def test_static_answers_match(sides: Sides, method: str, target: str) -> None:
    real, ours = await both(sides, method, target)
    ignore = frozenset(GATEWAY_GAPS if target.startswith("/v3/") else ())
    assert_same(real, ours, what=f"{method} {target}", ignore=ignore)


async def test_head_redirect_matches_but_for_length(sides: Sides) -> None:
    # Go writes no Content-Length on a HEAD redirect; aiohttp gives the GET body's. Both are valid HTTP.
    real, ours = await both(sides, "HEAD", "/v2/keys//a")
    assert (ours.status, ours.header("Location"), ours.header("Content-Type")) == (
        real.status,
        real.header("Location"),
        real.header("Content-Type"),
    )


def normalise(body: bytes) -> bytes:
    return INDEX_FIELDS.sub(rb'"\1":N', body)


@pytest.mark.parametrize(
    ("method", "target", "form"),
    [
        ("PUT", "/v2/keys/vs/a", b"value=1"),
        ("PUT", "/v2/keys/vs/a", b"value=2"),
        ("GET", "/v2/keys/vs/a", b""),
        ("HEAD", "/v2/keys/vs/a", b""),
        ("GET", "/v2/keys/vs", b""),
        ("GET", "/v2/keys/vs/nope", b""),
        ("HEAD", "/v2/keys/vs/nope", b""),
        ("PUT", "/v2/keys/vs/a?prevExist=false", b"value=3"),
        ("PUT", "/v2/keys/vs/a", b"value=%zz"),
        ("PUT", "/v2/keys/vs/a?wait=true", b"value=1"),
        ("PUT", "/v2/keys/vs/a?noValueOnSuccess=true", b"value=4"),
        ("DELETE", "/v2/keys/vs/a?prevValue=nope", b""),
        ("DELETE", "/v2/keys/vs/a", b""),
        ("GET", "/v2/keys/vs?recursive=true&sorted=true", b""),
        ("PUT", "/v2/keys/vs/%E2%98%83", b"value=%E2%98%83"),
        ("GET", "/v2/keys/vs/%E2%98%83", b""),
        ("PUT", "/v2/keys/vs/a%2Fb", b"value=slash"),
        ("GET", "/v2/keys/vs/a/b", b""),
        ("PUT", "/v2/keys/vs/sp%20ace?value=q", b"value=r"),
        ("GET", "/v2/keys/vs/sp%20ace", b""),
        ("PUT", "/v2/keys/vs/a?ttl=abc", b"value=1"),
        ("GET", "/v2/keys/vs?recursive=maybe", b""),
        ("GET", "/v2/keys/vs?x=%zz", b""),
        ("POST", "/v2/keys/vs/q", b"value=job"),
        ("DELETE", "/v2/keys/vs?recursive=true", b""),
    ],
)
async def test_v2_keys_answers_match(sides: Sides, method: str, target: str, form: bytes) -> None:
    headers = FORM if form else None
    real, ours = await both(sides, method, target, headers=headers, body=form)
    assert_same(real, ours, body=False, what=f"{method} {target}")
    assert normalise(ours.body) == normalise(real.body)


async def test_v2_stream_watch_matches(sides: Sides) -> None:
    lines: dict[str, list[bytes]] = {}
    for name, port in (("real", sides.real.client_port), ("ours", sides.ours)):
        w = await WatchStream(port, "/v2/keys/vsw?wait=true&recursive=true&stream=true").open()
        try:
            for v in ("1", "2"):
                await raw_exchange(port, "PUT", "/v2/keys/vsw/k", headers=FORM, body=f"value={v}".encode())
            got = [await w.line() for _ in range(2)]
            lines[name] = [normalise(x or b"") for x in got]
            assert w.status == 200 and w.header("Transfer-Encoding") == "chunked"
        finally:
            await w.close()
    assert lines["ours"] == lines["real"]


async def test_members_shape_matches(sides: Sides) -> None:
    real, ours = await both(sides, "GET", "/v2/members")
    assert_same(real, ours, body=False)
    (real_member,) = json.loads(real.body)["members"]
    (our_member,) = json.loads(ours.body)["members"]
    assert list(our_member) == list(real_member)
    assert real.body.endswith(b"\n") and ours.body.endswith(b"\n")
    real, ours = await both(sides, "GET", "/v2/members/leader")
    assert_same(real, ours, body=False)
    real, ours = await both(sides, "GET", "/v2/machines")
    assert_same(real, ours, body=False)


@pytest.mark.parametrize("which", ["self", "leader", "store"])
async def test_stats_shape_matches(sides: Sides, which: str) -> None:
    real, ours = await both(sides, "GET", f"/v2/stats/{which}")
    assert_same(real, ours, body=False)

    def shape(v: object) -> object:
        if isinstance(v, dict):
            return {k: shape(x) for k, x in v.items()}
        return type(v).__name__

    assert shape(json.loads(ours.body)) == shape(json.loads(real.body))
    assert not ours.body.endswith(b"\n") and not real.body.endswith(b"\n")


async def test_gateway_through_our_access_controller(sides: Sides) -> None:
    body = b'{"key":"Zm9v"}'
    for target in ("/v3/kv/range", "/v3beta/kv/range"):
        real, ours = await both(sides, "POST", target, body=body)
        assert_same(real, ours, what=target, ignore=frozenset(GATEWAY_GAPS))


async def test_metrics_ports_match(sides: Sides) -> None:
    for target, compare_body in (("/health", True), ("/version", True), ("/nope", True), ("/metrics", False)):
        real = await raw_exchange(sides.real_metrics, "GET", target)
        ours = await raw_exchange(sides.ours_metrics, "GET", target)
        ignore = frozenset(FRAMING if target == "/metrics" else ())
        assert_same(real, ours, body=compare_body, what=target, ignore=ignore)


@pytest.mark.parametrize(
    "body",
    [
        b'{"Level":"INFO"}',
        b'{"level":"warning"}',
        b'{"Level":"n"}',
        b'{"Level":"nope"}',
        b"{}",
        b'{"Level":1}',
        b"not json",
        b"null",
        b'{"Level":"INFO"}',
    ],
)
async def test_log_level_answers_match(sides: Sides, body: bytes) -> None:
    real, ours = await both(sides, "PUT", "/config/local/log", body=body)
    assert_same(real, ours, what=body.decode())


async def test_debug_vars_has_etcds_raft_status(sides: Sides) -> None:
    real, ours = await both(sides, "GET", "/debug/vars")
    assert_same(real, ours, body=False, ignore=frozenset(FRAMING))
    real_vars, our_vars = json.loads(real.body), json.loads(ours.body)
    assert set(our_vars) == {"cmdline", "raft.status"} and set(our_vars) <= set(real_vars)
    assert list(our_vars["raft.status"]) == list(real_vars["raft.status"])
    (real_progress,) = real_vars["raft.status"]["progress"].values()
    (our_progress,) = our_vars["raft.status"]["progress"].values()
    assert list(our_progress) == list(real_progress)
    assert our_vars["raft.status"]["raftState"] == real_vars["raft.status"]["raftState"] == "StateLeader"
    assert ours.body.startswith(b'{\n"cmdline": [') and ours.body.endswith(b"}\n}\n")
