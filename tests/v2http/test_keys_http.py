"""/v2/keys over real HTTP: our client app on 127.0.0.1 in front of a real in-process member.

The answers' semantics are pinned against the real etcd by test_oracle_etcd.py (pure functions); here
the HTTP layer is checked: form parsing, statuses and headers, HEAD, 405, Go's redirects, watches
(one-shot, history, streams, the client leaving), and the v2 HTTP metrics.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from prometheus_client import REGISTRY

from etcd.api.etcdserverpb.etcdserver_pb2 import Request
from tests.etcdhttp.support import Served, WatchStream, client_port, raw_exchange

pytestmark = pytest.mark.asyncio(loop_scope="module")

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    base: Path = tmp_path_factory.mktemp("keys")
    async with client_port(base / "m", enable_v2=True, heartbeat_interval=20, election_timeout=200) as s:
        yield s


async def put(s: Served, key: str, body: str) -> dict[str, object]:
    a = await raw_exchange(s.port, "PUT", f"/v2/keys/{key}", headers=FORM, body=body.encode())
    assert a.status in (200, 201), a.body
    result: dict[str, object] = json.loads(a.body)
    return result


async def test_put_then_get_has_etcd_headers_and_body(served: Served) -> None:
    a = await raw_exchange(served.port, "PUT", "/v2/keys/hk/a", headers=FORM, body=b"value=1")
    assert a.status == 201
    assert a.header("Content-Type") == "application/json"
    assert a.header("X-Etcd-Cluster-Id") == format(served.server.cluster_id, "x")
    index = int(a.header("X-Etcd-Index") or "0")
    assert int(a.header("X-Raft-Index") or "0") == served.server.commit_index()
    assert int(a.header("X-Raft-Term") or "0") == served.server.term()
    assert a.header("Server") is None
    assert a.body == (
        b'{"action":"set","node":{"key":"/hk/a","value":"1","modifiedIndex":%d,"createdIndex":%d}}\n'
        % (index, index)
    )
    g = await raw_exchange(served.port, "GET", "/v2/keys/hk/a")
    assert g.status == 200
    assert json.loads(g.body)["node"]["value"] == "1"
    assert g.header("X-Etcd-Index") == str(index)


async def test_head_has_the_get_headers_and_no_body(served: Served) -> None:
    await put(served, "hk/head", "value=abc")
    g = await raw_exchange(served.port, "GET", "/v2/keys/hk/head")
    h = await raw_exchange(served.port, "HEAD", "/v2/keys/hk/head")
    assert h.status == 200
    assert h.header("Content-Length") == str(len(g.body))
    assert h.header("X-Etcd-Index") == g.header("X-Etcd-Index")
    missing = await raw_exchange(served.port, "HEAD", "/v2/keys/hk/nope")
    assert missing.status == 404


async def test_form_body_comes_before_query(served: Served) -> None:
    a = await raw_exchange(served.port, "PUT", "/v2/keys/hk/order?value=q", headers=FORM, body=b"value=b")
    assert json.loads(a.body)["node"]["value"] == "b"
    # Without the urlencoded Content-Type the body is not a form: only the query counts.
    a = await raw_exchange(served.port, "PUT", "/v2/keys/hk/order?value=q", body=b"value=b")
    assert json.loads(a.body)["node"]["value"] == "q"


async def test_bad_form_is_error_210_with_go_text(served: Served) -> None:
    a = await raw_exchange(served.port, "PUT", "/v2/keys/hk/x", headers=FORM, body=b"value=%zz")
    assert a.status == 400
    assert json.loads(a.body) == {
        "errorCode": 210,
        "message": "Invalid POST form",
        "cause": 'invalid URL escape "%zz"',
        "index": 0,
    }


async def test_store_error_has_index_header_and_trimmed_cause(served: Served) -> None:
    a = await raw_exchange(served.port, "GET", "/v2/keys/hk/none/such")
    assert a.status == 404
    body = json.loads(a.body)
    assert body["errorCode"] == 100 and body["cause"] == "/hk/none"  # the first missing part
    assert a.header("X-Etcd-Index") == str(body["index"])
    assert a.header("X-Raft-Index") is None


async def test_other_methods_are_405_with_allow(served: Served) -> None:
    a = await raw_exchange(served.port, "PATCH", "/v2/keys/hk/a")
    assert a.status == 405
    assert a.header("Allow") == "HEAD,GET,PUT,POST,DELETE"
    assert a.header("X-Content-Type-Options") == "nosniff"
    assert a.header("X-Etcd-Cluster-Id") is None
    assert a.body == b"Method Not Allowed\n"


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/v2/keys//hk/../hk/a", "/v2/keys/hk/a"),
        ("/v2/keys/hk/./a?quorum=true", "/v2/keys/hk/a?quorum=true"),
        ("/v2//keys/a/", "/v2/keys/a/"),
    ],
)
async def test_unclean_paths_redirect_as_go(served: Served, target: str, location: str) -> None:
    a = await raw_exchange(served.port, "GET", target)
    assert a.status == 301
    assert a.header("Location") == location
    assert a.body == f'<a href="{location}">Moved Permanently</a>.\n\n'.encode()
    p = await raw_exchange(served.port, "PUT", target, headers=FORM, body=b"value=1")
    assert (p.status, p.header("Location"), p.body, p.header("Content-Type")) == (301, location, b"", None)


async def test_trailing_slash_is_the_key(served: Served) -> None:
    await put(served, "hk/slash", "value=s")
    a = await raw_exchange(served.port, "GET", "/v2/keys/hk/slash/")
    assert a.status == 200
    assert json.loads(a.body)["node"]["key"] == "/hk/slash"


async def test_no_value_on_success(served: Served) -> None:
    a = await raw_exchange(
        served.port, "PUT", "/v2/keys/hk/nv?noValueOnSuccess=true", headers=FORM, body=b"value=1"
    )
    assert a.body == b'{"action":"set"}\n'


async def test_in_order_create_with_post(served: Served) -> None:
    a = await raw_exchange(served.port, "POST", "/v2/keys/hk/queue", headers=FORM, body=b"value=job")
    assert a.status == 201
    node = json.loads(a.body)["node"]
    assert node["key"] == f"/hk/queue/{node['createdIndex']:020d}"


async def test_watch_waits_for_the_next_change(served: Served) -> None:
    w = await WatchStream(served.port, "/v2/keys/hk/w1?wait=true").open()
    try:
        assert w.status == 200
        start = int(w.header("X-Etcd-Index") or "0")
        assert w.header("Transfer-Encoding") == "chunked"
        assert w.header("Access-Control-Allow-Origin") == "*"
        written = await put(served, "hk/w1", "value=x")
        line = await w.line()
        assert line is not None and json.loads(line) == written
        assert json.loads(line)["node"]["modifiedIndex"] > start
        assert await w.line() is None  # a one-shot watch ends after its event
    finally:
        await w.close()


async def test_watch_from_history_answers_at_once(served: Served) -> None:
    first = await put(served, "hk/w2", "value=1")
    await put(served, "hk/w2", "value=2")
    index = first["node"]["modifiedIndex"]  # type: ignore[index]
    a = await raw_exchange(served.port, "GET", f"/v2/keys/hk/w2?wait=true&waitIndex={index}")
    assert a.status == 200 and a.chunked
    assert json.loads(a.body) == first


async def test_recursive_stream_watch_sends_each_event(served: Served) -> None:
    w = await WatchStream(served.port, "/v2/keys/hk/dir?wait=true&recursive=true&stream=true").open()
    try:
        sent = [await put(served, f"hk/dir/k{i}", f"value={i}") for i in range(3)]
        got = [json.loads(await w.line() or b"null") for _ in sent]
        assert got == sent
    finally:
        await w.close()


async def _wait_watchers(served: Served, n: int) -> None:
    async with asyncio.timeout(5):
        while served.server.v2_stats_store()["watchers"] != n:
            await asyncio.sleep(0.05)


async def test_client_leaving_ends_the_watch(served: Served) -> None:
    await _wait_watchers(served, 0)  # watches of earlier tests end once their clients are seen gone
    w = await WatchStream(served.port, "/v2/keys/hk/gone?wait=true&stream=true").open()
    assert served.server.v2_stats_store()["watchers"] == 1
    await w.close()
    await _wait_watchers(served, 0)


async def test_outdated_wait_index_is_error_401(served: Served) -> None:
    writes = [Request(Method="PUT", Path=f"/1/hk/fill/{i % 3}", Val="v") for i in range(1005)]
    await asyncio.gather(*(served.server.v2_do(r) for r in writes))  # past the 1000-event history
    a = await raw_exchange(served.port, "GET", "/v2/keys/hk/fill?wait=true&waitIndex=1")
    assert a.status == 400
    body = json.loads(a.body)
    assert body["errorCode"] == 401
    assert body["message"] == "The event in requested index is outdated and cleared"
    assert a.header("X-Etcd-Index") == str(body["index"])


async def test_wait_on_a_write_is_error_209(served: Served) -> None:
    a = await raw_exchange(served.port, "PUT", "/v2/keys/hk/x?wait=true", headers=FORM, body=b"value=1")
    assert a.status == 400
    assert json.loads(a.body)["cause"] == '"wait" can only be used with GET requests'


async def test_http_metrics_count_by_method_and_code(served: Served) -> None:
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    got_before = sample("etcd_http_received_total", method="GET")
    failed_before = sample("etcd_http_failed_total", method="GET", code="404")
    qget_before = sample("etcd_http_received_total", method="QGET")
    await raw_exchange(served.port, "GET", "/v2/keys/hk/metrics-none")
    await raw_exchange(served.port, "GET", "/v2/keys/hk?quorum=true")
    assert sample("etcd_http_received_total", method="GET") == got_before + 1
    assert sample("etcd_http_failed_total", method="GET", code="404") == failed_before + 1
    assert sample("etcd_http_received_total", method="QGET") == qget_before + 1


async def test_long_key_in_the_url(served: Served) -> None:
    # Go reads request lines and headers up to 1 MB; aiohttp's default line limit is 8 KiB.
    key = "k" * 20000
    a = await raw_exchange(served.port, "PUT", f"/v2/keys/hk/{key}", headers=FORM, body=b"value=long")
    assert a.status == 201
    assert json.loads(a.body)["node"]["key"] == f"/hk/{key}"
