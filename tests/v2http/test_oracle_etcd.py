"""The real etcd 3.4.23 (``/usr/bin/etcd --enable-v2``) as the oracle for parse -> apply -> render.

One scripted sequence of ``/v2/keys`` requests goes to the real etcd over HTTP and, through our three
functions, to a local v2 store. The local store is first padded under ``/0`` to the real store's index
(etcd's own membership writes), so indexes line up and bodies compare byte for byte once the
``expiration`` instants (two different clocks) are masked.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from etcd.api import v2error
from etcd.api.etcdserverpb.etcdserver_pb2 import Request
from etcd.api.v2http import (
    parse,
    parse_query,
    render,
    render_method_not_allowed,
    render_watch_event,
    render_watch_start,
)
from etcd.api.v2http.keys_request import ALLOWED_METHODS
from etcd.server import apply_v2
from etcd.server.apply_v2 import apply
from etcd.v2store import Event, Store
from tests.real_etcd import requires_etcd, running_etcd

pytestmark = requires_etcd

Q = dict[str, str]

# (method, path, query, body form). "{k}" in a value is the modifiedIndex step k answered with.
SEQUENCE: list[tuple[str, str, Q, Q]] = [
    ("GET", "/v2/keys/", {}, {}),
    ("GET", "/v2/keys/a", {}, {}),
    ("PUT", "/v2/keys/a", {"value": "1"}, {}),
    ("PUT", "/v2/keys/a", {}, {"value": "2"}),
    ("PUT", "/v2/keys/a", {"value": "q"}, {"value": "body<&>"}),
    ("GET", "/v2/keys/a", {}, {}),
    ("HEAD", "/v2/keys/a", {}, {}),
    ("HEAD", "/v2/keys/nope", {}, {}),
    ("PUT", "/v2/keys/a", {"value": "3", "prevExist": "false"}, {}),
    ("PUT", "/v2/keys/b", {"value": "1", "prevExist": "false"}, {}),
    ("PUT", "/v2/keys/c", {"value": "1", "prevExist": "true"}, {}),
    ("PUT", "/v2/keys/b", {"value": "2", "prevExist": "true"}, {}),
    ("PUT", "/v2/keys/b", {"value": "3", "prevValue": "2"}, {}),
    ("PUT", "/v2/keys/b", {"value": "4", "prevValue": "nope"}, {}),
    ("PUT", "/v2/keys/b", {"value": "4", "prevIndex": "{12}"}, {}),
    ("PUT", "/v2/keys/b", {"value": "4", "prevIndex": "1", "prevValue": "x"}, {}),
    ("PUT", "/v2/keys/b", {"value": "5", "prevIndex": "{12}", "prevExist": "true"}, {}),
    ("PUT", "/v2/keys/b", {"value": "6", "prevExist": "false", "prevValue": "5"}, {}),
    ("PUT", "/v2/keys/t", {"value": "v", "ttl": "1000"}, {}),
    ("GET", "/v2/keys/t", {}, {}),
    ("PUT", "/v2/keys/t", {"refresh": "true", "ttl": "2000"}, {}),
    ("PUT", "/v2/keys/t", {"refresh": "true", "ttl": "3000", "prevExist": "true"}, {}),
    ("PUT", "/v2/keys/t", {"value": "w", "ttl": ""}, {}),
    ("PUT", "/v2/keys/nt", {"refresh": "true", "ttl": "5"}, {}),
    ("PUT", "/v2/keys/t", {"value": "x", "ttl": "1000", "prevExist": "true"}, {}),
    ("PUT", "/v2/keys/t", {"value": "y", "prevExist": "true"}, {}),
    ("PUT", "/v2/keys/d", {"dir": "true"}, {}),
    ("PUT", "/v2/keys/d", {"value": "x"}, {}),
    ("PUT", "/v2/keys/d", {"dir": "true"}, {}),
    ("PUT", "/v2/keys/d", {"dir": "true", "prevExist": "false"}, {}),
    ("PUT", "/v2/keys/d", {"dir": "true", "ttl": "500", "prevExist": "true"}, {}),
    ("PUT", "/v2/keys/d/z", {"value": "z"}, {}),
    ("PUT", "/v2/keys/d/y/deep", {"value": "deep"}, {}),
    ("PUT", "/v2/keys/a/under", {"value": "x"}, {}),
    ("GET", "/v2/keys/d", {"sorted": "true"}, {}),
    ("GET", "/v2/keys/d", {"recursive": "true", "sorted": "true"}, {}),
    ("GET", "/v2/keys/d/", {"quorum": "true", "sorted": "1"}, {}),
    ("GET", "/v2/keys/", {"recursive": "true", "sorted": "true"}, {}),
    ("POST", "/v2/keys/q", {"value": "first"}, {}),
    ("POST", "/v2/keys/q", {}, {"value": "second", "ttl": "700"}),
    ("GET", "/v2/keys/q", {"sorted": "true"}, {}),
    ("POST", "/v2/keys/a", {"value": "x"}, {}),
    ("DELETE", "/v2/keys/d", {}, {}),
    ("DELETE", "/v2/keys/d", {"dir": "true"}, {}),
    ("DELETE", "/v2/keys/d/y", {"recursive": "true"}, {}),
    ("DELETE", "/v2/keys/a", {"prevValue": "nope"}, {}),
    ("DELETE", "/v2/keys/a", {"prevIndex": "1"}, {}),
    ("DELETE", "/v2/keys/a", {"prevValue": "body<&>"}, {}),
    ("DELETE", "/v2/keys/a", {}, {}),
    ("DELETE", "/v2/keys/d", {"recursive": "true"}, {}),
    ("DELETE", "/v2/keys/", {"recursive": "true"}, {}),
    ("PUT", "/v2/keys/", {"value": "x"}, {}),
    ("PUT", "/v2/keys/nv", {"value": "x", "noValueOnSuccess": "true"}, {}),
    ("PUT", "/v2/keys/nv", {"value": "y", "noValueOnSuccess": "true"}, {}),
    ("GET", "/v2/keys/nv", {"noValueOnSuccess": "true"}, {}),
    ("DELETE", "/v2/keys/nv", {"noValueOnSuccess": "true"}, {}),
    ("PUT", "/v2/keys/e", {"value": "\u00e9\u2028x"}, {}),
    ("PUT", "/v2/keys/x/z", {"value": "clean"}, {}),
    ("GET", "/v2/keys/x/z/", {}, {}),
    ("GET", "/v2/keys/e/under", {}, {}),
    ("PUT", "/v2/keys/e/under", {"value": "x"}, {}),
    ("PUT", "/v2/keys/x", {"value": "v", "prevValue": "v"}, {}),
    ("PUT", "/v2/keys/x", {"value": "v", "prevExist": "true"}, {}),
    ("DELETE", "/v2/keys/x", {"prevIndex": "1"}, {}),
    ("POST", "/v2/keys/x", {"dir": "true", "ttl": "900"}, {}),
    ("GET", "/v2/keys/x", {"recursive": "true", "sorted": "true"}, {}),
    ("DELETE", "/v2/keys/", {}, {}),
    ("PUT", "/v2/keys/e", {"value": "n", "prevIndex": "18446744073709551615"}, {}),
    ("PUT", "/v2/keys/e", {"value": "n", "prevIndex": "0", "prevValue": "\u00e9\u2028x"}, {}),
    ("PUT", "/v2/keys/f", {"value": "a", "value2": "b", "dir": "false", "sorted": "0", "stream": "F"}, {}),
    # Request errors.
    ("GET", "/v2/keys/a", {"prevIndex": "x"}, {}),
    ("GET", "/v2/keys/a", {"waitIndex": "-1"}, {}),
    ("GET", "/v2/keys/a", {"recursive": "yes"}, {}),
    ("GET", "/v2/keys/a", {"sorted": ""}, {}),
    ("PUT", "/v2/keys/a", {"dir": "2"}, {}),
    ("GET", "/v2/keys/a", {"quorum": "no"}, {}),
    ("GET", "/v2/keys/a", {"stream": "y"}, {}),
    ("PUT", "/v2/keys/a", {"wait": "true"}, {}),
    ("PUT", "/v2/keys/a", {"prevValue": ""}, {}),
    ("PUT", "/v2/keys/a", {"noValueOnSuccess": "maybe"}, {}),
    ("PUT", "/v2/keys/a", {"ttl": "abc"}, {}),
    ("PUT", "/v2/keys/a", {}, {"ttl": "-1"}),
    ("PUT", "/v2/keys/a", {"prevExist": "maybe"}, {}),
    ("PUT", "/v2/keys/a", {"refresh": "x"}, {}),
    ("PUT", "/v2/keys/a", {"refresh": "true", "ttl": "5", "value": "v"}, {}),
    ("PUT", "/v2/keys/a", {"refresh": "true"}, {}),
    ("PUT", "/v2/keys/a", {"prevIndex": "x", "ttl": "x"}, {}),
    ("PATCH", "/v2/keys/a", {}, {}),
]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names lowercased
    body: bytes
    names: frozenset[str] = frozenset()  # the etcd-specific header names as spelled on the wire


@pytest.fixture(scope="module")
def real_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    with running_etcd(tmp_path_factory.mktemp("etcd-v2"), "o", extra=("--enable-v2",)) as member:
        # The cluster version (one more v2 write after publishing) must be settled before comparing.
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", member.client_port, timeout=2)
                conn.request("GET", "/version")
                version = json.loads(conn.getresponse().read())
                conn.close()
                if version.get("etcdcluster") not in (None, "", "not_decided"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or member.proc.poll() is not None:
                pytest.fail(
                    f"real etcd did not settle (exit code {member.proc.poll()}):\n{member.log_tail()}"
                )
            time.sleep(0.05)
        yield "127.0.0.1", member.client_port


def _send(host: str, port: int, method: str, path: str, query: Q, form: Q) -> Answer:
    raw_form = urllib.parse.urlencode(form) if form else ""
    return _send_raw(host, port, method, path, urllib.parse.urlencode(query), raw_form)


def _send_raw(host: str, port: int, method: str, path: str, raw_query: str, raw_form: str) -> Answer:
    url = path + ("?" + raw_query if raw_query else "")
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if raw_form else {}
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request(method, url, body=raw_form or None, headers=headers)
        resp = conn.getresponse()
        return _answer(resp.status, dict(resp.getheaders()), resp.read())
    finally:
        conn.close()


def _answer(status: int, headers: dict[str, str], body: bytes) -> Answer:
    names = frozenset(k for k in headers if k.lower().startswith(("x-etcd", "x-raft")))
    return Answer(status, {k.lower(): v for k, v in headers.items()}, body, names)


def _local(store: Store, cluster_id: int, method: str, path: str, query: Q, form: Q) -> Answer:
    if method not in ALLOWED_METHODS:
        r = render_method_not_allowed()
    else:
        result: Event | BaseException
        nvos = False
        try:
            req, nvos = parse(method, path, query, form, time.time_ns())
            ev = apply(store, req)
            assert ev is not None
            result = ev
        except v2error.Error as e:
            result = e
        r = render(result, raft_index=0, raft_term=0, cluster_id=cluster_id, no_value_on_success=nvos)
    return _answer(r.status, r.headers, b"" if method == "HEAD" else r.body)


_EXPIRATION = re.compile(rb'"expiration":"[^"]+"')


def _fill(q: Q, indexes: list[int]) -> Q:
    return {k: re.sub(r"\{(\d+)\}", lambda m: str(indexes[int(m.group(1))]), v) for k, v in q.items()}


def _modified_index(a: Answer) -> int:
    try:
        return int(json.loads(a.body)["node"]["modifiedIndex"])
    except (ValueError, KeyError, TypeError):
        return -1


def test_same_answers_as_real_etcd(real_etcd: tuple[str, int]) -> None:
    host, port = real_etcd
    first = _send(host, port, "GET", "/v2/keys/", {}, {})
    start_index = int(first.headers["x-etcd-index"])
    cluster_id = int(first.headers["x-etcd-cluster-id"], 16)
    store = Store("/0", "/1", clock=time.time_ns)
    for i in range(start_index):  # etcd's own writes under /0 (members, version)
        store.set(f"/0/pad{i}", False, "")
    assert store.index() == start_index

    real_indexes: list[int] = []
    local_indexes: list[int] = []
    mismatches: list[str] = []
    for step, (method, path, query, form) in enumerate(SEQUENCE):
        real = _send(host, port, method, path, _fill(query, real_indexes), _fill(form, real_indexes))
        mine = _local(
            store, cluster_id, method, path, _fill(query, local_indexes), _fill(form, local_indexes)
        )
        real_indexes.append(_modified_index(real))
        local_indexes.append(_modified_index(mine))
        what = f"step {step}: {method} {path} {query} {form}"
        if real.status != mine.status:
            mismatches.append(f"{what}: status {real.status} != {mine.status}")
        real_body, my_body = (
            _EXPIRATION.sub(b'"expiration":"*"', real.body),
            _EXPIRATION.sub(b'"expiration":"*"', mine.body),
        )
        if real_body != my_body:
            mismatches.append(f"{what}:\n  real {real.body!r}\n  mine {mine.body!r}")
        for name in ("x-etcd-index", "x-etcd-cluster-id", "content-type", "allow", "x-content-type-options"):
            if real.headers.get(name) != mine.headers.get(name):
                mismatches.append(
                    f"{what}: header {name} {real.headers.get(name)!r} != {mine.headers.get(name)!r}"
                )
        if real.names != mine.names:
            mismatches.append(f"{what}: header names {sorted(real.names)} != {sorted(mine.names)}")
        for name in ("x-raft-index", "x-raft-term"):
            if (name in real.headers) != (name in mine.headers):
                mismatches.append(f"{what}: header {name} present in only one answer")
    assert mismatches == [], "\n".join(mismatches)
    assert store.index() == int(_send(host, port, "GET", "/v2/keys/", {}, {}).headers["x-etcd-index"])


def test_ttl_expiry_matches_real_etcd(real_etcd: tuple[str, int]) -> None:
    """A 1 s key expires on the real etcd through its leader's SYNC; a SYNC applied locally at the same
    moment gives the same answers and indexes."""
    host, port = real_etcd
    start = _send(host, port, "GET", "/v2/keys/", {}, {})
    cluster_id = int(start.headers["x-etcd-cluster-id"], 16)
    store = Store("/0", "/1", clock=time.time_ns)
    for i in range(int(start.headers["x-etcd-index"])):
        store.set(f"/0/pad{i}", False, "")
    steps: list[tuple[str, str, Q]] = [("PUT", "/v2/keys/exp/k", {"value": "v", "ttl": "1"})]
    for method, path, query in steps:
        real, mine = (
            _send(host, port, method, path, query, {}),
            _local(store, cluster_id, method, path, query, {}),
        )
        assert (real.status, _EXPIRATION.sub(b"*", real.body)) == (
            mine.status,
            _EXPIRATION.sub(b"*", mine.body),
        )
    put_ns = time.time_ns()
    deadline = time.monotonic() + 5
    while True:  # the real leader proposes SYNC every 500 ms
        real = _send(host, port, "GET", "/v2/keys/exp/k", {}, {})
        if real.status == 404 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert real.status == 404
    assert apply(store, parse_sync(put_ns + 2 * 1_000_000_000)) is None
    mine = _local(store, cluster_id, "GET", "/v2/keys/exp/k", {}, {})
    assert (mine.status, mine.body, mine.headers["x-etcd-index"]) == (
        real.status,
        real.body,
        real.headers["x-etcd-index"],
    )
    real_dir = _send(host, port, "GET", "/v2/keys/exp", {}, {})
    mine_dir = _local(store, cluster_id, "GET", "/v2/keys/exp", {}, {})
    assert (mine_dir.status, mine_dir.body) == (real_dir.status, real_dir.body)


def parse_sync(at_ns: int) -> Request:
    return Request(Method="SYNC", Time=at_ns)


# (method, path, raw query, raw urlencoded body): Go's own form parsing and its errors.
RAW: list[tuple[str, str, str, str]] = [
    ("PUT", "/v2/keys/r", "value=%zz", ""),
    ("PUT", "/v2/keys/r", "value=1;b=2", ""),
    ("PUT", "/v2/keys/r", "", "value=%zz"),
    ("PUT", "/v2/keys/r", "prevIndex=x", "value=%4"),
    ("PUT", "/v2/keys/r", "a=%zz&b=%yy", ""),
    ("PUT", "/v2/keys/r", "value=a+b%20c%2B", ""),
    ("PUT", "/v2/keys/r", "value=x", "value=zz&value=yy"),
    # Invalid UTF-8: Go writes the escape \ufffd, we the character itself (see keys_request).
    ("PUT", "/v2/keys/u8", "value=%e9%ff%C3%A9&&=&ttl", ""),
    ("GET", "/v2/keys/r", "", ""),
    ("POST", "/v2/keys/rq", "value=q", "ttl=&value=body"),
    ("DELETE", "/v2/keys/r", "", "value=%zz&prevValue=nope"),
]


def _local_raw(
    store: Store, cluster_id: int, method: str, path: str, raw_query: str, raw_form: str
) -> Answer:
    result: Event | BaseException
    nvos = False
    try:
        form = parse_query(raw_form) if method in ("POST", "PUT", "PATCH") else {}
        req, nvos = parse(method, path, parse_query(raw_query), form, time.time_ns())
        ev = apply(store, req)
        assert ev is not None
        result = ev
    except v2error.Error as e:
        result = e
    r = render(result, raft_index=0, raft_term=0, cluster_id=cluster_id, no_value_on_success=nvos)
    return _answer(r.status, r.headers, r.body)


def _padded_store(start: Answer) -> Store:
    store = Store("/0", "/1", clock=time.time_ns)
    for i in range(int(start.headers["x-etcd-index"])):  # etcd's own writes under /0
        store.set(f"/0/pad{i}", False, "")
    return store


def test_raw_forms_like_go(real_etcd: tuple[str, int]) -> None:
    host, port = real_etcd
    start = _send(host, port, "GET", "/v2/keys/", {}, {})
    cluster_id = int(start.headers["x-etcd-cluster-id"], 16)
    store = _padded_store(start)
    for method, path, raw_query, raw_form in RAW:
        real = _send_raw(host, port, method, path, raw_query, raw_form)
        mine = _local_raw(store, cluster_id, method, path, raw_query, raw_form)
        what = f"{method} {path}?{raw_query} body {raw_form!r}"
        assert mine.status == real.status, what
        assert mine.headers["x-etcd-index"] == real.headers["x-etcd-index"], what
        if path.endswith("/u8"):
            assert b"\\ufffd\\ufffd\xc3\xa9" in real.body, what
            assert json.loads(mine.body) == json.loads(real.body), what
        else:
            assert mine.body == real.body, what


def test_watch_from_history_like_real_etcd(real_etcd: tuple[str, int]) -> None:
    host, port = real_etcd
    start = _send(host, port, "GET", "/v2/keys/", {}, {})
    cluster_id = int(start.headers["x-etcd-cluster-id"], 16)
    store = _padded_store(start)
    first = -1
    for value in ("1", "2"):
        real = _send(host, port, "PUT", "/v2/keys/wd/k", {"value": value}, {})
        mine = _local(store, cluster_id, "PUT", "/v2/keys/wd/k", {"value": value}, {})
        assert real.body == mine.body
        first = first if first >= 0 else _modified_index(real)
    for path, query in (
        ("/v2/keys/wd/k", {"wait": "true", "waitIndex": str(first)}),
        ("/v2/keys/wd/k", {"wait": "true", "waitIndex": str(first + 1)}),
        ("/v2/keys/wd", {"wait": "true", "waitIndex": str(first), "recursive": "true"}),
    ):
        real = _send(host, port, "GET", path, query, {})
        req, _ = parse("GET", path, query, {}, time.time_ns())
        assert apply_v2.is_watch(req)
        w = apply_v2.watch(store, req)
        ev = w.next_event()
        assert ev is not None
        head = render_watch_start(w.start_index, raft_index=0, raft_term=0, cluster_id=cluster_id)
        mine = _answer(head.status, head.headers, render_watch_event(ev))
        w.remove()
        assert (mine.status, mine.body, mine.headers["x-etcd-index"], mine.names) == (
            real.status,
            real.body,
            real.headers["x-etcd-index"],
            real.names,
        ), f"{path} {query}"
    real = _send(host, port, "GET", "/v2/keys/wd/k", {"wait": "true", "waitIndex": "x"}, {})
    mine = _local(store, cluster_id, "GET", "/v2/keys/wd/k", {"wait": "true", "waitIndex": "x"}, {})
    assert (mine.status, mine.body) == (real.status, real.body)


def _random_request(rng: random.Random, base_index: int) -> tuple[str, str, Q, Q]:
    method = rng.choice(["GET", "PUT", "PUT", "PUT", "POST", "DELETE", "HEAD"])
    # Under its own directory: the other tests' keys stay in the real etcd.
    path = "/v2/keys/rnd" + rng.choice(["/k1", "/k2", "/d", "/d/x", "/d/y/z", "", "/k1/sub"])
    choices: dict[str, list[str]] = {
        "value": ["", "v", "w", "x y"],
        "ttl": ["", "1000", "2000", "x", "-1"],
        "prevValue": ["", "v", "w", "nope"],
        "prevIndex": ["", "x", "0", str(base_index + rng.randint(1, 40))],
        "prevExist": ["true", "false", "", "x"],
        "dir": ["true", "false", "x"],
        "recursive": ["true", "false", "y"],
        "sorted": ["true", "0", ""],
        "wait": ["false", "x"] if method == "GET" else ["true", "false", "x"],
        "waitIndex": ["1", "x"],
        "quorum": ["true", "false", "q"],
        "stream": ["false", "s"],
        "refresh": ["true", "false", "r"],
        "noValueOnSuccess": ["true", "false", "n"],
    }
    params = rng.sample(sorted(choices), rng.randint(0, 4))
    query = {p: rng.choice(choices[p]) for p in params}
    if method in ("PUT", "POST") and rng.random() < 0.3:
        return method, path, {}, query  # the same parameters as a body form
    return method, path, query, {}


def test_random_requests_like_real_etcd(real_etcd: tuple[str, int]) -> None:
    """Seeded random parameter mixes: etcd's order of checks, store dispatch and answers, 1:1."""
    host, port = real_etcd
    start = _send(host, port, "GET", "/v2/keys/", {}, {})
    cluster_id = int(start.headers["x-etcd-cluster-id"], 16)
    store = _padded_store(start)
    rng = random.Random(int(os.environ.get("ETCDPY_SEED", "20261125")))
    count = 10_000 if os.environ.get("ETCDPY_LONG") else 1000
    for i in range(count):
        method, path, query, form = _random_request(rng, store.index())
        real = _send(host, port, method, path, query, form)
        mine = _local(store, cluster_id, method, path, query, form)
        what = f"request {i}: {method} {path} query={query} form={form}"
        assert mine.status == real.status, f"{what}\n real {real.body!r}\n mine {mine.body!r}"
        assert _canonical(mine.body) == _canonical(real.body), what
        assert mine.headers["x-etcd-index"] == real.headers["x-etcd-index"], what


def _canonical(body: bytes) -> bytes:
    """The body with expirations masked and, since Go lists an unsorted directory in map order,
    every listing sorted by key."""
    body = _EXPIRATION.sub(b'"expiration":"*"', body)
    if b'"nodes"' not in body:
        return body

    def sort_nodes(node: dict[str, object]) -> None:
        children = node.get("nodes")
        if isinstance(children, list):
            children.sort(key=lambda n: str(n.get("key")))
            for child in children:
                sort_nodes(child)

    doc = json.loads(body)
    for name in ("node", "prevNode"):
        if isinstance(doc.get(name), dict):
            sort_nodes(doc[name])
    return json.dumps(doc).encode()
