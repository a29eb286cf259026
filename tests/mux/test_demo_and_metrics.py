"""`make run`'s demo as a user meets it (a real process, curl and a gRPC call), and the Prometheus view."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

import mux
from mux.metrics import MuxCollector


def serving_port(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    """The port the demo bound, from its first JSON log line (it was started on port 0)."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # bounded: readline returns b"" if the demo dies
        line = proc.stderr.readline()
        if not line:
            break
        message = json.loads(line).get("msg", "")
        if message.startswith("serving gRPC and HTTP on "):
            return int(message.split()[5].rstrip(";").rsplit(":", 1)[1])
    raise AssertionError(f"the demo did not report serving within {timeout}s")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_demo_serves_grpc_and_http_on_one_port_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mux.demo", "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        check_demo(serving_port(proc))
    except AssertionError as failure:
        proc.kill()
        _, stderr = proc.communicate(timeout=10)
        raise AssertionError(f"{failure}\n--- demo's log ---\n{stderr.decode()[-3000:]}") from None
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0
    assert b"shutting down" in proc.stderr.read()  # type: ignore[union-attr]


def check_demo(port: int) -> None:
    """What a newcomer does after `make run`: curl, a gRPC call, a look at /metrics."""
    http = subprocess.run(["curl", "-sS", f"http://127.0.0.1:{port}/hello"], capture_output=True, timeout=10)
    assert http.stdout.decode().startswith("hello from aiohttp (mux route 'http'"), http.stderr
    call = subprocess.run(
        [sys.executable, "-m", "mux.demo", "--call", f"127.0.0.1:{port}", "tester"],
        capture_output=True,
        timeout=20,
    )
    assert call.returncode == 0, call.stderr
    assert call.stdout.decode().startswith("hello tester (gRPC via mux route")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    matched = {
        s.labels["route"]: s.value
        for family in text_string_to_metric_families(text)
        if family.name == "mux_route_matched"
        for s in family.samples
        if s.name == "mux_route_matched_total"
    }
    assert matched["grpc"] == 1 and matched["http"] == 2


def test_demo_refuses_a_bad_listen_address_with_a_hint() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mux.demo", "--listen", "nonsense"], capture_output=True, timeout=20
    )
    assert result.returncode == 2
    assert b"expected host:port" in result.stderr


async def test_collector_reports_route_counters_and_latency() -> None:
    m = mux.Mux()
    listener = m.listen("raw", mux.prefix(b"ping"))
    port = (await m.start()).sockets[0].getsockname()[1]
    try:
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"ping")
            _, server_writer = await asyncio.wait_for(listener.accept(), 2)
            server_writer.close()
            writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"nope")
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()
        registry = CollectorRegistry()
        registry.register(MuxCollector(m, prefix="edge"))
        families = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}
        matched = [s for s in families["edge_route_matched"].samples if s.name.endswith("_total")]
        assert [(s.labels["route"], s.value) for s in matched] == [("raw", 3.0)]
        count = [s for s in families["edge_route_match_latency_seconds"].samples if s.name.endswith("_count")]
        assert count[0].value == 3.0
        assert [s.value for s in families["edge_unmatched"].samples if s.name.endswith("_total")] == [1.0]
    finally:
        await m.close(grace=0.5)


def test_env_has_no_python_etcd_client() -> None:
    """Our package is `etcd`; the old python-etcd client would shadow it and must never be installed."""
    import etcd

    assert os.path.dirname(etcd.__file__ or "").endswith("etcd")
    assert not hasattr(etcd, "Client")
