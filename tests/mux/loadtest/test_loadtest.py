"""The routing load tester: its parsing and statistics, each client against real backends (directly and
through an in-process gateway, TLS and h2c included), misroute and error counting, and the report."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mux.gateway.app import Gateway
from mux.gateway.config import parse
from mux.loadtest import report
from mux.loadtest.backends import Backends, identity
from mux.loadtest.clients import Endpoint, Outcome
from mux.loadtest.run import KindStats, parse_expect, parse_mix, run_load
from tests.real_etcd import free_ports

if TYPE_CHECKING:
    from tests.mux.conftest import DevCerts


def test_mix_and_expectations_parse_with_aliases() -> None:
    assert parse_mix("grpc_unary=4,https=2") == {"grpc_unary": 4, "https": 2}
    assert parse_mix("grpc=3") == {"grpc_unary": 3, "grpc_stream": 3}
    assert set(parse_mix("all=1")) == {
        "grpc_unary",
        "grpc_stream",
        "http_keepalive",
        "http_new_conn",
        "https",
        "h2c",
    }
    with pytest.raises(ValueError, match="unknown kind 'quic'"):
        parse_mix("quic=1")
    with pytest.raises(ValueError, match="at least 1"):
        parse_mix("h2c=0")
    assert parse_expect(["http=rest", "tls=site"]) == {
        "http_keepalive": "rest",
        "http_new_conn": "rest",
        "h2c": "rest",
        "https": "site",
    }
    with pytest.raises(ValueError, match="KIND=BACKEND"):
        parse_expect(["http"])


def test_percentiles_are_nearest_rank_and_stats_split_misroutes_from_errors() -> None:
    values = [float(i) for i in range(1, 101)]
    assert [report.percentile(values, q) for q in (50, 90, 99, 100)] == [50.0, 90.0, 99.0, 100.0]
    assert report.percentile([3.0], 99) == 3.0
    stats = KindStats("http_keepalive", 1, expected="a")
    stats.record(Outcome(backend="a"), 0.001)
    stats.record(Outcome(backend="b"), 0.001)
    stats.record(Outcome(error="timeout"), 5.0)
    stats.record(Outcome(backend="a", downgraded=True), 0.002)
    assert (stats.requests, stats.ok, stats.misroutes, stats.downgraded) == (4, 2, 1, 1)
    assert dict(stats.errors) == {"timeout": 1} and dict(stats.backends) == {"a": 2, "b": 1}
    assert identity(b"grpc-a|x|y") == "grpc-a" and identity(b"no bar") is None


@pytest.fixture
async def backends(tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    b = Backends()
    http_port, echo_port = free_ports(2)
    addresses = {
        "grpc": f"unix:{tmp_path / 'g.sock'}",
        "http": f"127.0.0.1:{http_port}",
        "echo": f"127.0.0.1:{echo_port}",
    }
    await b.add_grpc("grpc-a", addresses["grpc"])
    await b.add_http("rest-a", addresses["http"])
    await b.add_echo("echo", addresses["echo"])
    yield addresses
    await b.close()


async def test_clients_against_the_backends_directly(backends: dict[str, str]) -> None:
    host, port = backends["http"].split(":")
    endpoint = Endpoint(host, int(port))
    lines: list[str] = []
    result = await run_load(
        endpoint,
        {"http_keepalive": 2, "http_new_conn": 1},
        1.2,
        expect={"http_keepalive": "rest-a", "http_new_conn": "rest-a"},
        progress=lines.append,
        interval=0.5,
    )
    assert 1.2 <= result.duration < 5
    for stats in result.kinds.values():
        assert stats.ok > 10 and stats.misroutes == 0 and not stats.errors
    assert lines and lines[0].startswith("[") and "http_keepalive" in lines[0]
    # the same load with the wrong expectation is all misroutes, and nothing else
    wrong = await run_load(endpoint, {"http_keepalive": 1}, 0.5, expect={"http_keepalive": "rest-b"})
    stats = wrong.kinds["http_keepalive"]
    assert stats.ok == 0 and stats.misroutes == stats.requests > 0


async def test_errors_are_counted_not_raised(backends: dict[str, str]) -> None:
    (nothing,) = free_ports(1)
    result = await run_load(Endpoint("127.0.0.1", nothing, timeout=1.0), {"http_new_conn": 1, "h2c": 1}, 0.4)
    for stats in result.kinds.values():
        assert stats.ok == 0 and sum(stats.errors.values()) == stats.requests > 0
        assert set(stats.errors) == {"ConnectionRefusedError"}
    # a TCP echo is not HTTP: a protocol error, per request
    host, port = backends["echo"].split(":")
    echo = await run_load(Endpoint(host, int(port), timeout=1.0), {"http_new_conn": 1}, 0.3)
    assert echo.kinds["http_new_conn"].ok == 0 and echo.errors > 0


async def test_every_kind_through_a_gateway_with_tls(
    backends: dict[str, str], dev_certs: DevCerts, tmp_path: Path
) -> None:
    (port,) = free_ports(1)
    tls = {"cert": str(dev_certs.server_cert), "key": str(dev_certs.server_key)}
    config = parse(
        {
            "listen": f"127.0.0.1:{port}",
            "access_log": "off",
            "routes": [
                {"name": "grpc", "match": "grpc", "proxy": backends["grpc"]},
                {"name": "rest", "match": "http1", "proxy": backends["http"]},
                {"name": "h2c", "match": "h2c", "http1_required": True},
                {
                    "name": "tls",
                    "match": "tls",
                    "tls": {
                        **tls,
                        "routes": [{"name": "tls-http", "match": "http1", "proxy": backends["http"]}],
                    },
                },
            ],
        }
    )
    gateway = Gateway(config)
    await gateway.start()
    try:
        endpoint = Endpoint("127.0.0.1", port, sni="localhost", ca=str(dev_certs.ca))
        result = await run_load(
            endpoint,
            parse_mix("all=1"),
            1.5,
            expect=parse_expect(["grpc=grpc-a", "http=rest-a", "tls=rest-a"]),
        )
    finally:
        await gateway.drain(0)
    for kind, stats in result.kinds.items():
        assert stats.ok > 0 and stats.misroutes == 0 and not stats.errors, (kind, stats)
    assert result.kinds["h2c"].downgraded == result.kinds["h2c"].ok  # refused as h2c, served over HTTP/1.1

    text = report.text(result)
    assert "grpc_stream" in text and "no misroutes" in text and "over HTTP/1.1 after h2c refusal" in text
    doc = report.to_json(result)
    assert json.loads(json.dumps(doc))["misroutes"] == 0
    first = doc["kinds"][0]
    assert first["p50_ms"] <= first["p90_ms"] <= first["p99_ms"] <= first["max_ms"]
    png = tmp_path / "plot.png"
    assert report.plot(result, png) is None
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
