"""``python -m mux --config FILE`` as a real process in front of a grpcio server, two aiohttp apps and a
TCP echo: real clients all at once (grpcio, curl over HTTP/1.1, h2c and HTTPS, ``openssl s_client`` with
SNI), reload under load without a failed request, a broken config that leaves the old one running,
drain on SIGTERM, and the load tester catching a config that misroutes."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
import pytest

from mux.loadtest.backends import STREAM, UNARY
from mux.loadtest.clients import Endpoint
from mux.loadtest.run import run_load
from tests.mux.gateway.support import (
    Upstreams,
    echo_roundtrip,
    http_get,
    run,
    start_gateway,
    start_upstreams,
    write_config,
)

if TYPE_CHECKING:
    from tests.mux.conftest import DevCerts


@pytest.fixture
async def upstreams(tmp_path: Path) -> AsyncIterator[Upstreams]:
    up = await start_upstreams(tmp_path)
    yield up
    await up.backends.close()


def full_config(up: Upstreams, certs: DevCerts, *, rest: str | None = None) -> dict[str, Any]:
    tls = {"cert": str(certs.server_cert), "key": str(certs.server_key)}
    return {
        "match_timeout": 2,
        "drain_grace": 5,
        "routes": [
            {"name": "grpc", "match": "grpc", "proxy": up.grpc},
            {"name": "rest", "match": "http1", "proxy": rest or up.rest_a},
            {"name": "h2c", "match": "h2c", "http1_required": True},
            {
                "name": "site",
                "match": {"tls": {"server_names": ["localhost"]}},
                "tls": {
                    **tls,
                    "routes": [
                        {"name": "site-grpc", "match": "grpc", "proxy": up.grpc},
                        {"name": "site-http", "match": "http1", "proxy": up.rest_b},
                    ],
                },
            },
            {
                "name": "other",
                "match": {"tls": {"server_names": ["other.test"]}},
                "tls": {**tls, "routes": [{"name": "other-http", "match": "http1", "proxy": up.rest_a}]},
            },
        ],
        "fallback": {"name": "echo", "proxy": up.echo},
    }


async def grpc_calls(port: int, ca: Path | None = None) -> tuple[bytes, list[bytes]]:
    target = f"127.0.0.1:{port}"
    if ca is None:
        channel = grpc.aio.insecure_channel(target)
    else:
        credentials = grpc.ssl_channel_credentials(root_certificates=ca.read_bytes())
        channel = grpc.aio.secure_channel(
            target, credentials, options=[("grpc.ssl_target_name_override", "localhost")]
        )
    async with channel:
        reply = await channel.unary_unary(UNARY)(b"ping", timeout=10)
        stream = [m async for m in channel.unary_stream(STREAM)(b"3", timeout=10)]
    return reply, stream


async def test_every_client_at_once_reaches_its_backend(
    tmp_path: Path, upstreams: Upstreams, dev_certs: DevCerts
) -> None:
    gw = await start_gateway(tmp_path, full_config(upstreams, dev_certs))
    try:
        p = gw.port
        request = b"GET /s-client HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n"
        results = await asyncio.gather(
            grpc_calls(p),
            grpc_calls(p, dev_certs.ca),
            run("curl", "-sS", "--max-time", "10", "--http1.1", f"http://127.0.0.1:{p}/plain"),
            run("curl", "-sS", "--max-time", "10", "--http2-prior-knowledge", f"http://127.0.0.1:{p}/h2c"),
            run(
                "curl",
                "-sS",
                "--max-time",
                "10",
                "--cacert",
                str(dev_certs.ca),
                "--resolve",
                f"localhost:{p}:127.0.0.1",
                f"https://localhost:{p}/tls",
            ),
            run(
                "openssl",
                "s_client",
                "-connect",
                f"127.0.0.1:{p}",
                "-servername",
                "other.test",
                "-quiet",
                stdin=request,
            ),
            echo_roundtrip(p, b"hello echo\n"),
        )
        plain_grpc, tls_grpc, curl1, curl_h2c, curl_tls, s_client, echo = results
        assert plain_grpc == (b"grpc-a|ping", [b"grpc-a|0", b"grpc-a|1", b"grpc-a|2"])
        assert tls_grpc == plain_grpc
        assert curl1[:2] == (0, "rest-a|/plain")
        assert curl_h2c[:2] == (0, "rest-a|/h2c")  # refused as h2c, repeated over HTTP/1.1 by curl
        assert curl_tls[:2] == (0, "rest-b|/tls")
        assert str(s_client[1]).endswith("rest-a|/s-client"), s_client
        assert echo == b"echo|hello echo\n"

        status, metrics = await http_get(gw.admin, "/metrics")
        assert status == 200
        for route in ("grpc", "rest", "h2c", "site", "site-grpc", "site-http", "other", "other-http", "echo"):
            assert f'mux_route_matched_total{{route="{route}"}}' in metrics
        assert 'mux_route_match_latency_seconds_count{route="echo"} 1.0' in metrics
        status, health = await http_get(gw.admin, "/health")
        assert status == 200 and json.loads(health)["health"] == "true"
    finally:
        assert await gw.stop() == 0
    lines = gw.access()
    routes = sorted({line["route"] for line in lines})
    assert routes == sorted(
        ["grpc", "rest", "h2c", "site>site-grpc", "site>site-http", "other>other-http", "echo"]
    )
    for line in lines:
        assert line["bytes_in"] > 0 and line["bytes_out"] > 0, line
        assert line["close"] in ("client_closed", "server_closed"), line
        assert line["duration_ms"] >= 0
    tls_line = next(line for line in lines if line["route"] == "other>other-http")
    assert tls_line["tls"]["sni"] == "other.test"
    assert next(line for line in lines if line["route"] == "grpc")["upstream"] == upstreams.grpc


async def test_reload_under_load_fails_no_request_and_a_broken_config_keeps_the_old_routes(
    tmp_path: Path, upstreams: Upstreams, dev_certs: DevCerts
) -> None:
    config = full_config(upstreams, dev_certs)
    gw = await start_gateway(tmp_path, config)
    try:
        endpoint = Endpoint("127.0.0.1", gw.port, sni="localhost", ca=str(dev_certs.ca))
        mix = {
            "grpc_unary": 2,
            "grpc_stream": 1,
            "http_keepalive": 2,
            "http_new_conn": 2,
            "https": 1,
            "h2c": 1,
        }
        expect = {
            "grpc_unary": "grpc-a",
            "grpc_stream": "grpc-a",
            "http_keepalive": "rest-a",
            "http_new_conn": "rest-a",
            "h2c": "rest-a",
            "https": "rest-b",
        }
        load = asyncio.create_task(run_load(endpoint, mix, 4.0, expect=expect))

        async def reload(new: dict[str, Any], generation: int | None) -> None:
            write_config(gw.config_path, {**json.loads(json.dumps(new)), **_fixed(gw)})
            gw.signal(signal.SIGHUP)
            if generation is not None:
                await gw.wait_event("reloaded", generation - 1)

        await asyncio.sleep(0.7)
        reordered = full_config(upstreams, dev_certs)
        reordered["routes"].insert(0, {"name": "ssh", "match": {"prefix": "SSH-"}, "close": True})
        await reload(reordered, 2)
        await asyncio.sleep(0.5)
        broken = full_config(upstreams, dev_certs)
        broken["routes"][1]["proxy"] = "127.0.0.1:notaport"
        await reload(broken, None)
        await gw.wait_event("reload failed; the old config keeps running")
        await asyncio.sleep(0.5)
        await reload(full_config(upstreams, dev_certs), 3)
        await asyncio.sleep(0.5)
        await reload(reordered, 4)
        result = await load
    finally:
        events_before_stop = gw.events()
        assert await gw.stop() == 0
    for kind, stats in result.kinds.items():
        assert stats.ok > 0, kind
        assert dict(stats.errors) == {}, kind
        assert stats.misroutes == 0, kind
    failed = [e for e in events_before_stop if e["msg"] == "reload failed; the old config keeps running"]
    assert failed[0]["key"] == "routes[1].proxy"
    assert "127.0.0.1:notaport" in failed[0]["error"]


def _fixed(gw: Any) -> dict[str, Any]:
    """The keys start_gateway filled in, kept on every rewrite."""
    import yaml

    written = yaml.safe_load(gw.config_path.read_text())
    return {k: written[k] for k in ("listen", "admin", "access_log")}


async def test_broken_config_on_sighup_is_reported_with_its_key_and_the_old_routes_serve(
    tmp_path: Path, upstreams: Upstreams, dev_certs: DevCerts
) -> None:
    gw = await start_gateway(tmp_path, full_config(upstreams, dev_certs))
    try:
        assert await http_get(gw.port, "/before") == (200, "rest-a|/before")
        broken = full_config(upstreams, dev_certs, rest=upstreams.rest_b)  # would move rest to rest-b...
        broken["routes"][3]["tls"]["cert"] = str(tmp_path / "missing.pem")  # ...but a cert is missing
        write_config(gw.config_path, {**broken, **_fixed(gw)})
        gw.signal(signal.SIGHUP)
        await gw.wait_event("reload failed; the old config keeps running")
        assert await http_get(gw.port, "/after") == (200, "rest-a|/after")
        status, body = await http_get(gw.admin, "/health")
        health = json.loads(body)
        assert status == 200 and health["generation"] == 1
        assert health["last_reload_error"].startswith("routes[3].tls.cert: cannot read file")
        _, metrics = await http_get(gw.admin, "/metrics")
        assert 'mux_gateway_reloads_total{result="error"} 1.0' in metrics
        # fixed: the next SIGHUP takes it
        write_config(
            gw.config_path, {**full_config(upstreams, dev_certs, rest=upstreams.rest_b), **_fixed(gw)}
        )
        gw.signal(signal.SIGHUP)
        await gw.wait_event("reloaded")
        assert await http_get(gw.port, "/fixed") == (200, "rest-b|/fixed")
    finally:
        assert await gw.stop() == 0


async def test_sigterm_drains_open_connections_within_the_grace(
    tmp_path: Path, upstreams: Upstreams, dev_certs: DevCerts
) -> None:
    config = {**full_config(upstreams, dev_certs), "drain_grace": 1.5}
    gw = await start_gateway(tmp_path, config)
    try:
        held_r, held_w = await asyncio.open_connection("127.0.0.1", gw.port)
        held_w.write(b"first\n")
        assert await asyncio.wait_for(held_r.readexactly(11), 5) == b"echo|first\n"
        ka_r, ka_w = await asyncio.open_connection("127.0.0.1", gw.port)
        ka_w.write(b"GET /ka HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"rest-a|/ka" in await asyncio.wait_for(ka_r.read(4096), 5)

        gw.signal(signal.SIGTERM)
        await gw.wait_event("draining")
        status, body = await http_get(gw.admin, "/health")
        assert status == 503 and json.loads(body)["reason"] == "draining"
        with pytest.raises(OSError):
            await http_get(gw.port, "/new")  # no longer accepting
        held_w.write(b"during grace\n")  # open connections still work
        assert await asyncio.wait_for(held_r.readexactly(18), 5) == b"echo|during grace\n"
        ka_w.close()  # this one ends by itself within the grace

        assert await asyncio.wait_for(gw.process.wait(), 10) == 0
        assert await asyncio.wait_for(held_r.read(), 5) == b""  # the held one was closed at the end
        held_w.close()
    finally:
        await gw.stop()
    stopped = await gw.wait_event("stopped")
    assert stopped["open_connections_at_start_of_drain"] == 2
    by_route = {line["route"]: line for line in gw.access()}
    assert by_route["echo"]["close"] == "drain_timeout"
    assert by_route["echo"]["duration_ms"] >= 1400
    assert by_route["rest"]["close"] == "client_closed"


async def test_the_load_tester_finds_a_misrouting_config(
    tmp_path: Path, upstreams: Upstreams, dev_certs: DevCerts
) -> None:
    wrong = full_config(upstreams, dev_certs, rest=upstreams.rest_b)  # HTTP/1.1 sent to the wrong app
    gw = await start_gateway(tmp_path, wrong)
    try:
        report_json, plot = tmp_path / "report.json", tmp_path / "report.png"
        code, out, err = await run(
            sys.executable, "-m", "mux.loadtest", "--target", f"127.0.0.1:{gw.port}", "--duration", "2",
            "--mix", "grpc_unary=1,http_keepalive=1,http_new_conn=1",
            "--expect", "grpc=grpc-a", "--expect", "http=rest-a",
            "--json", str(report_json), "--plot", str(plot),
            timeout=40,
        )  # fmt: skip
    finally:
        await gw.stop()
    assert code == 1, (out, err)
    assert "MISROUTES FOUND" in out
    assert "[" in err and "s/2s]" in err  # progress lines
    report = json.loads(report_json.read_text())
    kinds = {k["kind"]: k for k in report["kinds"]}
    assert kinds["grpc_unary"]["misroutes"] == 0 and kinds["grpc_unary"]["ok"] > 0
    for kind in ("http_keepalive", "http_new_conn"):
        assert kinds[kind]["ok"] == 0 and kinds[kind]["misroutes"] > 0
        assert set(kinds[kind]["backends"]) == {"rest-b"}
    assert report["misroutes"] == sum(k["misroutes"] for k in report["kinds"])
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
