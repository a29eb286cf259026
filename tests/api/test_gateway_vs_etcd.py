"""Our /v3 JSON gateway against etcd 3.4.23's own, both in front of the same real etcd.

One real etcd serves the module (free ports, tmp data dir, killed by PID). Our gateway runs on
127.0.0.1 in a thread with its own event loop, calling that etcd's gRPC port over a ``grpc.aio``
channel. Each test sends the same HTTP request to etcd's gateway and to ours and asserts the same
status and the same JSON. Reads are compared exactly (both reach the same store, so headers agree);
writes go to a key prefix per side and are compared after :func:`normalise` has put the side's prefix
and the revisions aside. Tests run in file order; compaction comes last.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from aiohttp import web

from etcd.api.gateway import make_gateway_app
from etcd.api.gateway.gateway import DISCONNECT_POLL
from tests.real_etcd import requires_etcd, running_etcd

T = 5.0  # seconds; every HTTP exchange's timeout

pytestmark = requires_etcd


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Gateways:
    etcd: str  # host:port of the real etcd (its gateway and its gRPC share the port)
    ours: str  # host:port of our gateway

    def send(self, host: str, path: str, body: bytes | None, method: str = "POST", **headers: str) -> Answer:
        conn = http.client.HTTPConnection(host, timeout=T)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            content_type = resp.getheader("Content-Type", "").split(";")[0]
            return Answer(resp.status, content_type, resp.read())
        finally:
            conn.close()

    def both(
        self, path: str, body: Any = None, method: str = "POST", **headers: str
    ) -> tuple[Answer, Answer]:
        """The same request to etcd's gateway, then to ours; a dict body is sent as JSON."""
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        return self.send(self.etcd, path, raw, method, **headers), self.send(
            self.ours, path, raw, method, **headers
        )

    def same(self, path: str, body: Any = None, method: str = "POST", **headers: str) -> Answer:
        """Sends to both and asserts identical status, content type and JSON (or text); returns etcd's."""
        theirs, ours = self.both(path, body, method, **headers)
        assert (ours.status, ours.content_type) == (theirs.status, theirs.content_type), (theirs, ours)
        if theirs.content_type == "application/json":
            assert ours.json() == theirs.json()
        else:
            assert ours.body == theirs.body
        return theirs

    def post_etcd(self, path: str, body: dict[str, Any]) -> Any:
        answer = self.send(self.etcd, path, json.dumps(body).encode())
        assert answer.status == 200, answer
        return answer.json()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def real_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real etcd's client address; its gateway answers once Status does (it has a leader)."""
    with running_etcd(tmp_path_factory.mktemp("gateway-etcd"), "gw") as member:
        yield f"127.0.0.1:{member.client_port}"


@pytest.fixture(scope="module")
def gw(real_etcd: str) -> Iterator[Gateways]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> tuple[web.AppRunner, grpc.aio.Channel, int]:
        channel = grpc.aio.insecure_channel(real_etcd)
        runner = web.AppRunner(make_gateway_app(channel))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return runner, channel, port

    async def stop(runner: web.AppRunner, channel: grpc.aio.Channel) -> None:
        await runner.cleanup()
        await channel.close()

    runner, channel, port = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=T)
    try:
        yield Gateways(etcd=real_etcd, ours=f"127.0.0.1:{port}")
    finally:
        asyncio.run_coroutine_threadsafe(stop(runner, channel), loop).result(timeout=T)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=T)
        loop.close()


REVISIONS = {"revision", "create_revision", "mod_revision"}


def normalise(value: Any, prefix: bytes) -> Any:
    """``value`` with revisions blanked and keys starting with ``prefix`` shown without it."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if k in REVISIONS:
                out[k] = "*"
            elif k in {"key", "range_end"} and isinstance(v, str):
                out[k] = base64.b64decode(v).removeprefix(prefix).decode(errors="replace")
            else:
                out[k] = normalise(v, prefix)
        return out
    if isinstance(value, list):
        return [normalise(v, prefix) for v in value]
    return value


def same_write(gw: Gateways, path: str, make_body: Any) -> tuple[Any, Any]:
    """``make_body(prefix)`` sent to etcd's gateway under /gw/etcd/, to ours under /gw/ours/; both
    answers must agree once normalised. Returns both decoded answers."""
    theirs = gw.send(gw.etcd, path, json.dumps(make_body(b"/gw/etcd/")).encode())
    ours = gw.send(gw.ours, path, json.dumps(make_body(b"/gw/ours/")).encode())
    assert ours.status == theirs.status, (theirs, ours)
    assert normalise(ours.json(), b"/gw/ours/") == normalise(theirs.json(), b"/gw/etcd/")
    return theirs.json(), ours.json()


# ---------------------------------------------------------------------------------------------------
# KV


def test_put_writes_the_same_answer(gw: Gateways) -> None:
    for i in range(3):
        theirs, _ = same_write(
            gw, "/v3/kv/put", lambda p, i=i: {"key": b64(p + b"k%d" % i), "value": b64(b"v%d" % i)}
        )
        assert "header" in theirs
    # prev_kv on an overwrite, and a camelCase field name, both sides.
    theirs, ours = same_write(
        gw, "/v3/kv/put", lambda p: {"key": b64(p + b"k0"), "value": b64(b"new"), "prevKv": True}
    )
    assert base64.b64decode(ours["prev_kv"]["value"]) == b"v0"
    assert theirs["prev_kv"]["version"] == "1"


def test_range_with_options_is_identical(gw: Gateways) -> None:
    start, end = b64(b"/gw/etcd/"), b64(b"/gw/etcd0")
    for body in [
        {"key": b64(b"/gw/etcd/k1")},
        {"key": start, "range_end": end},
        {"key": start, "range_end": end, "limit": 2, "sort_order": "DESCEND", "sort_target": "VALUE"},
        {"key": start, "range_end": end, "keys_only": True, "serializable": True},
        {"key": start, "range_end": end, "count_only": True},
        {"key": start, "rangeEnd": end, "limit": "1", "revision": "2"},
        {"key": start, "range_end": end, "min_mod_revision": "3", "unknown_field": {"x": [1]}},
        {"key": b64(b"/gw/nothing")},
    ]:
        answer = gw.same("/v3/kv/range", body)
        assert answer.status == 200
    counted = gw.same("/v3/kv/range", {"key": start, "range_end": end, "count_only": True}).json()
    assert counted["count"] == "3" and "kvs" not in counted
    assert gw.same("/v3beta/kv/range", {"key": start, "range_end": end}).json()["count"] == "3"
    # The Authorization header reaches etcd as the token metadata: a token it never issued is refused.
    refused = gw.same("/v3/kv/range", {"key": start}, Authorization="sometoken")
    assert (refused.status, refused.json()["error"]) == (401, "etcdserver: invalid auth token")


def test_txn_reads_identically_and_writes_alike(gw: Gateways) -> None:
    read_txn = {
        "compare": [{"key": b64(b"/gw/etcd/k1"), "target": "VALUE", "result": "EQUAL", "value": b64(b"v1")}],
        "success": [{"request_range": {"key": b64(b"/gw/etcd/k1")}}],
        "failure": [{"request_range": {"key": b64(b"/gw/etcd/k2")}}],
    }
    assert gw.same("/v3/kv/txn", read_txn).json()["succeeded"] is True

    def write_txn(p: bytes) -> dict[str, Any]:
        return {
            "compare": [{"key": b64(p + b"k2"), "target": "VERSION", "result": "GREATER", "version": "5"}],
            "success": [{"request_put": {"key": b64(p + b"never"), "value": b64(b"x")}}],
            "failure": [
                {"request_put": {"key": b64(p + b"t"), "value": b64(b"t"), "prev_kv": True}},
                {"request_range": {"key": b64(p + b"k2")}},
            ],
        }

    theirs, _ = same_write(gw, "/v3/kv/txn", write_txn)
    assert "succeeded" not in theirs and len(theirs["responses"]) == 2


def test_delete_range_alike(gw: Gateways) -> None:
    theirs, _ = same_write(
        gw,
        "/v3/kv/deleterange",
        lambda p: {"key": b64(p + b"t"), "range_end": b64(p + b"u"), "prev_kv": True},
    )
    assert theirs["deleted"] == "1" and base64.b64decode(theirs["prev_kvs"][0]["value"]) == b"t"


# ---------------------------------------------------------------------------------------------------
# Lease, cluster, maintenance, auth


def test_leases_alike(gw: Gateways) -> None:
    theirs = gw.send(gw.etcd, "/v3/lease/grant", json.dumps({"TTL": 300, "ID": 0x1E71}).encode())
    ours = gw.send(gw.ours, "/v3/lease/grant", json.dumps({"TTL": "300", "ID": 0x1E72}).encode())
    assert (theirs.status, ours.status) == (200, 200)
    assert (theirs.json()["ID"], ours.json()["ID"]) == (str(0x1E71), str(0x1E72))
    assert {**ours.json(), "ID": "*"} == {**theirs.json(), "ID": "*"}
    for _ in range(3):  # the remaining TTL may tick between the two calls; it is equal within a second
        a, b = gw.both("/v3/lease/timetolive", {"ID": 0x1E71, "keys": True})
        if a.json() == b.json():
            break
    assert (a.status, a.json()) == (b.status, b.json())
    leases = gw.same("/v3/lease/leases", {}).json()["leases"]
    assert {"ID": str(0x1E71)} in leases and {"ID": str(0x1E72)} in leases
    gw.same("/v3/kv/lease/leases", None)
    theirs = gw.send(gw.etcd, "/v3/lease/revoke", json.dumps({"ID": 0x1E71}).encode())
    ours = gw.send(gw.ours, "/v3/kv/lease/revoke", json.dumps({"ID": str(0x1E72)}).encode())
    assert (ours.status, ours.json()) == (theirs.status, theirs.json())
    error = gw.same("/v3/lease/revoke", {"ID": 0x1E71})
    assert (error.status, error.json()["code"]) == (404, grpc.StatusCode.NOT_FOUND.value[0])


def test_cluster_status_and_alarms_identical(gw: Gateways) -> None:
    members = gw.same("/v3/cluster/member/list", {}).json()["members"]
    assert [m["name"] for m in members] == ["gw"]
    for _ in range(3):  # an internal raft entry may land between the two calls
        a, b = gw.both("/v3/maintenance/status", {})
        if a.json() == b.json():
            break
    assert (a.status, a.json()) == (b.status, b.json())
    assert a.json()["version"] == "3.4.23"
    assert gw.same("/v3/maintenance/alarm", {}).status == 200
    assert gw.same("/v3/maintenance/alarm", {"action": "GET", "alarm": "NONE"}).status == 200


def test_authenticate_without_auth_fails_alike(gw: Gateways) -> None:
    answer = gw.same("/v3/auth/authenticate", {"name": "root", "password": "x"})
    assert answer.status == 412
    assert answer.json() == {
        "error": "etcdserver: authentication is not enabled",
        "message": "etcdserver: authentication is not enabled",
        "code": grpc.StatusCode.FAILED_PRECONDITION.value[0],
    }


# ---------------------------------------------------------------------------------------------------
# Errors


def test_malformed_bodies_fail_alike(gw: Gateways) -> None:
    bodies = [
        b"{bad",
        b'{"key":',
        b"[]",
        b'"s"',
        b"12",
        b'{"key":"!!!"}',
        b'{"key":"YQ"}',
        b'{"key":"YWJjYQ"}',
        b'{"key":5}',
        b'{"key":"YQ==","limit":"x"}',
        b'{"key":"YQ==","limit":""}',
        b'{"a":tru}',
        b'{"a":-}',
        b'{"a" 1}',
        b'{"a":1 2}',
        b'{"a":"\\q"}',
    ]
    for body in bodies:
        answer = gw.same("/v3/kv/range", body)
        assert answer.status == 400, body
        assert answer.json()["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert gw.same("/v3/kv/range", b"{bad").json()["error"] == (
        "invalid character 'b' looking for beginning of object key string"
    )
    # Values of the wrong type, as golang/protobuf's jsonpb words them (fields in declaration order).
    typed = [
        ("/v3/kv/range", b'{"key":"YQ==","sort_order":"BAD"}'),
        ("/v3/kv/range", b'{"key":"YQ==","sort_order":true}'),
        ("/v3/kv/range", b'{"key":"YQ==","sort_order":1.5}'),
        ("/v3/kv/range", b'{"key":"YQ==","keys_only":"true"}'),
        ("/v3/kv/range", b'{"key":"YQ==","limit":1.5}'),
        ("/v3/kv/range", b'{"key":"YQ==","limit":1e3}'),
        ("/v3/kv/range", b'{"key":"YQ==","limit":99999999999999999999}'),
        ("/v3/kv/range", b'{"key":"YQ==","limit":"true"}'),
        ("/v3/kv/range", b'{"key":"YQ==","keys_only":1,"limit":1.5}'),
        ("/v3/kv/range", b'{"key":{}}'),
        ("/v3/kv/txn", b'{"compare":"x"}'),
        ("/v3/kv/txn", b'{"compare":[5]}'),
        ("/v3/kv/txn", b'{"compare":[{"key":"YQ==","result":"NOPE"}]}'),
        ("/v3/kv/txn", b'{"success":[{"request_put":"x"}]}'),
        ("/v3/kv/txn", b'{"success":[{"request_put":{"key":"YQ==","lease":"1x"}}]}'),
    ]
    for path, body in typed:
        answer = gw.same(path, body)
        assert answer.status == 400, body
    assert gw.same("/v3/kv/range", b'{"key":"YQ==","sort_order":"BAD"}').json()["error"] == (
        'unknown value "BAD" for enum etcdserverpb.RangeRequest_SortOrder'
    )
    # and values jsonpb takes: an enum by number, integers quoted with spaces, negative, minus zero.
    for body in [
        b'{"key":"YQ==","sort_order":7}',
        b'{"key":"YQ==","limit":"  5 "}',
        b'{"key":"YQ==","limit":-1}',
        b'{"key":"YQ==","limit":"-0"}',
    ]:
        assert gw.same("/v3/kv/range", body).status == 200, body
    # A streaming route fails its first unreadable message as Unknown.
    assert gw.same("/v3/watch", b"{bad").status == 500


def test_request_errors_match(gw: Gateways) -> None:
    for body in [None, b"", b"null", b"{}", b'{"key":""}']:
        answer = gw.same("/v3/kv/range", body)
        assert answer.json()["error"] == "etcdserver: key is not provided"
    assert gw.same("/v3/kv/put", {"value": b64(b"x")}).status == 400
    future = gw.same("/v3/kv/range", {"key": b64(b"k"), "revision": 10**9})
    assert (future.status, future.json()["code"]) == (400, grpc.StatusCode.OUT_OF_RANGE.value[0])


def test_unknown_paths_and_methods_match(gw: Gateways) -> None:
    assert gw.same("/v3/kv/nothing", {}).body == b"Not Found\n"
    assert gw.same("/v3/kv/range/", {}).status == 404
    assert gw.same("/v3/kv/nothing", None, method="GET").status == 404
    for method in ["GET", "PUT", "DELETE"]:
        answer = gw.same("/v3/kv/range", None, method=method)
        assert (answer.status, answer.body) == (405, b"Method Not Allowed\n")


# ---------------------------------------------------------------------------------------------------
# Streams


def _open_stream(host: str, path: str, body: bytes) -> tuple[http.client.HTTPConnection, Any]:
    conn = http.client.HTTPConnection(host, timeout=T)
    conn.request("POST", path, body=body)
    resp = conn.getresponse()
    return conn, resp


def test_watch_streams_the_same_lines(gw: Gateways) -> None:
    key = b"/gw/watched"
    body = json.dumps({"create_request": {"key": b64(key), "prev_kv": True}}).encode()
    streams = [_open_stream(host, "/v3/watch", body) for host in (gw.etcd, gw.ours)]
    try:
        (_, theirs), (_, ours) = streams
        assert (ours.status, ours.getheader("Content-Type")) == (
            theirs.status,
            theirs.getheader("Content-Type"),
        )
        assert theirs.status == 200
        created = [json.loads(r.readline()) for r in (theirs, ours)]
        assert created[0] == created[1]
        assert created[0]["result"]["created"] is True
        gw.post_etcd("/v3/kv/put", {"key": b64(key), "value": b64(b"1")})
        events = [json.loads(r.readline()) for r in (theirs, ours)]
        assert events[0] == events[1]
        (event,) = events[0]["result"]["events"]
        assert base64.b64decode(event["kv"]["value"]) == b"1" and "type" not in event  # PUT is the default
    finally:
        for conn, _ in streams:
            conn.close()


def test_lease_keepalive_and_snapshot_stream_alike(gw: Gateways) -> None:
    gw.post_etcd("/v3/lease/grant", {"TTL": 300, "ID": 0x1E73})
    lines = []
    for host in (gw.etcd, gw.ours):
        conn, resp = _open_stream(host, "/v3/lease/keepalive", json.dumps({"ID": 0x1E73}).encode())
        try:
            lines.append(json.loads(resp.readline()))
        finally:
            conn.close()
    assert lines[0] == lines[1] and lines[0]["result"]["TTL"] == "300"
    shapes = []
    for host in (gw.etcd, gw.ours):
        conn, resp = _open_stream(host, "/v3/maintenance/snapshot", b"{}")
        try:
            assert resp.status == 200
            lines = [json.loads(line) for line in resp.read().splitlines()]  # the stream ends by itself
        finally:
            conn.close()
        assert 1 <= len(lines) < 100 and all(set(line) == {"result"} for line in lines)
        blob = b"".join(base64.b64decode(line["result"]["blob"]) for line in lines)
        # The file, then its sha256; the first 16 bytes are bolt's first page header.
        shapes.append((len(lines), [sorted(line["result"]) for line in lines], blob[:16], len(blob)))
    assert shapes[0] == shapes[1]


def _watch_streams(gw: Gateways) -> int:
    """The real etcd's count of open watch streams, from its /metrics."""
    answer = gw.send(gw.etcd, "/metrics", None, method="GET")
    for line in answer.body.decode().splitlines():
        if line.startswith("etcd_debugging_mvcc_watch_stream_total "):
            return int(float(line.split()[1]))
    raise AssertionError("etcd_debugging_mvcc_watch_stream_total not in /metrics")


def _wait_for_watch_streams(gw: Gateways, count: int) -> int:
    """Polls etcd's gauge until it shows ``count`` open watch streams or a few seconds pass."""
    deadline = time.monotonic() + 2 * DISCONNECT_POLL + T
    while (seen := _watch_streams(gw)) != count and time.monotonic() < deadline:
        time.sleep(0.05)
    return seen


def test_a_client_leaving_ends_its_watch_stream(gw: Gateways) -> None:
    # Streams of earlier tests (through both gateways) end once their clients have gone.
    assert _wait_for_watch_streams(gw, 0) == 0
    body = json.dumps({"create_request": {"key": b64(b"/gw/leaving")}}).encode()
    conn, resp = _open_stream(gw.ours, "/v3/watch", body)
    assert json.loads(resp.readline())["result"]["created"] is True
    assert _watch_streams(gw) == 1
    conn.close()
    assert _wait_for_watch_streams(gw, 0) == 0


def test_stream_errors_and_refusals_alike(gw: Gateways) -> None:
    # A failed stream before any message: the HTTP status of its code and grpc-gateway's error chunk.
    answers = [
        _read_stream(host, "/v3/maintenance/snapshot", b"{}", Authorization="sometoken")
        for host in (gw.etcd, gw.ours)
    ]
    assert answers[0] == answers[1]
    assert answers[0] == (
        500,
        [
            {
                "error": {
                    "grpc_code": grpc.StatusCode.UNKNOWN.value[0],
                    "http_code": 500,
                    "message": "auth: invalid auth token",
                    "http_status": "Internal Server Error",
                }
            }
        ],
    )
    # A watch etcd refuses is a canceled watch response, not an error.
    body = json.dumps({"create_request": {"key": b64(b"/gw/refused")}}).encode()
    lines = []
    for host in (gw.etcd, gw.ours):
        conn = http.client.HTTPConnection(host, timeout=T)
        try:
            conn.request("POST", "/v3/watch", body=body, headers={"Authorization": "sometoken"})
            lines.append(json.loads(conn.getresponse().readline()))
        finally:
            conn.close()
    assert lines[0] == lines[1] and lines[0]["result"]["canceled"] is True


def _read_stream(host: str, path: str, body: bytes, **headers: str) -> tuple[int, list[Any]]:
    """A stream that ends by itself: its status and its JSON lines."""
    conn = http.client.HTTPConnection(host, timeout=T)
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, [json.loads(line) for line in resp.read().splitlines()]
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------------
# Compaction: last, since it drops history.


def test_compaction_and_compacted_revision_alike(gw: Gateways) -> None:
    old = int(gw.post_etcd("/v3/kv/put", {"key": b64(b"/gw/c"), "value": b64(b"1")})["header"]["revision"])
    new = int(gw.post_etcd("/v3/kv/put", {"key": b64(b"/gw/c"), "value": b64(b"2")})["header"]["revision"])
    assert gw.send(gw.ours, "/v3/kv/compaction", json.dumps({"revision": new}).encode()).status == 200
    again = gw.same("/v3/kv/compaction", {"revision": new})
    assert (again.status, again.json()["error"]) == (
        400,
        "etcdserver: mvcc: required revision has been compacted",
    )
    compacted = gw.same("/v3/kv/range", {"key": b64(b"/gw/c"), "revision": old})
    assert compacted.json()["code"] == grpc.StatusCode.OUT_OF_RANGE.value[0]
