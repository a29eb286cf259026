"""The mux benchmarks run end to end with tiny sizes and give well-formed, positive results.

Speed is never asserted here (the machine is shared and noisy); only that every benchmark measures
something real: the sniffers chose the route the bytes call for, the servers answered every request
(wrk, h2load or the grpcio client load), the bulk sink counted every byte.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# benchmarks/ is not an installed package: import it from the repository root (pytest's importlib mode
# does not put the root on sys.path).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import __main__ as runner
from benchmarks import mux_bench
from benchmarks.mux_bench import BenchServers, PairResult, Sink

HAVE_WRK = os.access(mux_bench.WRK, os.X_OK)
HAVE_H2LOAD = os.access(mux_bench.H2LOAD, os.X_OK)


def assert_pair(pair: PairResult, rounds: int, *, direct_cpu: bool = True) -> None:
    assert len(pair.direct) == rounds and len(pair.mux) == rounds
    assert all(v > 0 for v in pair.direct + pair.mux)
    assert len(pair.direct_cpu) == (rounds if direct_cpu else 0) and len(pair.mux_cpu) == rounds
    assert all(v >= 0 for v in pair.direct_cpu + pair.mux_cpu)
    assert pair.ratio > 0 and pair.ratio_of_medians > 0
    assert len(pair.round_ratios) == rounds
    out = pair.to_json()
    assert out["ratio"] == pair.ratio and out["direct_median"] > 0 and out["mux_median"] > 0
    cpu_ratio = pair.cpu_ratio
    assert cpu_ratio is not None and cpu_ratio > 0 if direct_cpu else cpu_ratio is None
    assert out["meets_target"] in ((None,) if pair.target_ratio is None else (True, False))
    json.dumps(out)  # what the results file holds must serialise


def test_sniff_measures_every_kind_and_picks_the_right_route() -> None:
    results = mux_bench.bench_sniff(rounds=2, round_time=0.005)
    kinds = {(r.group, r.subject) for r in results}
    assert {("matcher", "http1"), ("matcher", "grpc"), ("matcher", "tls")} <= kinds
    assert {("route set", "etcd"), ("runtime", "mux")} <= kinds
    for r in results:
        assert r.us_median > 0 and r.us_min > 0 and r.calls_per_round >= 1
        assert len(r.rounds) == 2 and r.sample_bytes > 0 and r.chunks >= 1
        # Each matcher matches its own kind; the route set and the runtime route each kind to its route.
        assert r.outcome == ("match" if r.group == "matcher" else r.kind), r
    targets = [r for r in results if r.target_us is not None]
    assert targets and all(r.meets_target in (True, False) for r in targets)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BenchServers, Sink]]:
    directory = tmp_path_factory.mktemp("mux-bench")
    sink = Sink(directory)
    try:
        with BenchServers(directory, sink=f"unix:{sink.unix_path}") as bench_servers:
            yield bench_servers, sink
    finally:
        sink.close()


@pytest.mark.skipif(not HAVE_WRK, reason=f"{mux_bench.WRK} is not installed")
@pytest.mark.parametrize("close", [True, False], ids=["connection-close", "keep-alive"])
def test_http_pairs(servers: tuple[BenchServers, Sink], close: bool) -> None:
    pair = mux_bench.bench_http(servers[0], close=close, rounds=1, duration=1, connections=4, warmup=False)
    assert_pair(pair, 1)
    assert pair.commands and all(c.startswith(mux_bench.WRK) for c in pair.commands)
    assert pair.unit == ("conn/s" if close else "req/s")


@pytest.mark.skipif(not HAVE_H2LOAD, reason=f"{mux_bench.H2LOAD} is not installed")
def test_grpc_pair_with_h2load(servers: tuple[BenchServers, Sink]) -> None:
    calls_before = servers[0].echo_calls()
    pair = mux_bench.bench_grpc(servers[0], rounds=1, requests=300, clients=2, streams=4, client="h2load")
    assert_pair(pair, 1)
    assert pair.tool == "h2load" and not pair.errors
    # The trial (200 each way) and the round (300 each way) all reached the servicer.
    assert servers[0].echo_calls() - calls_before == 2 * 200 + 2 * 300


def test_grpc_pair_with_grpcio_client(servers: tuple[BenchServers, Sink]) -> None:
    pair = mux_bench.bench_grpc(servers[0], rounds=1, requests=100, clients=2, streams=2, client="grpcio")
    assert_pair(pair, 1)
    assert pair.tool.startswith("grpcio")


def test_bulk_pair(servers: tuple[BenchServers, Sink]) -> None:
    pair = mux_bench.bench_bulk(servers[0], servers[1], rounds=2, size=4 << 20)
    assert_pair(pair, 2, direct_cpu=False)
    assert pair.unit == "MB/s"


def test_send_bulk_checks_the_count(servers: tuple[BenchServers, Sink]) -> None:
    assert mux_bench.send_bulk(servers[1].port, 1 << 20) > 0
    assert mux_bench.send_bulk(servers[0].ports["mux"], 1 << 20) > 0


def test_parsers_read_real_reports() -> None:
    wrk = (
        "Running 1s test @ http://127.0.0.1:1/\n  1 threads and 4 connections\n"
        "  4321 requests in 1.00s, 500.00KB read\n  Socket errors: connect 0, read 3, write 0, timeout 0\n"
        "Requests/sec:   4315.27\nTransfer/sec:    499.00KB\n"
    )
    assert mux_bench.parse_wrk(wrk) == (4315.27, 4321, "Socket errors: connect 0, read 3, write 0, timeout 0")
    h2load = (
        "finished in 57.76ms, 3462.78 req/s, 557.17KB/s\n"
        "requests: 200 total, 200 started, 200 done, 199 succeeded, 1 failed, 1 errored, 0 timeout\n"
    )
    assert mux_bench.parse_h2load(h2load) == (3462.78, 199, 1)
    with pytest.raises(RuntimeError):
        mux_bench.parse_wrk("wrk: connection refused")
    assert mux_bench.grpc_message(b"abc") == b"\x00\x00\x00\x00\x03abc"


def test_main_writes_json_and_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mux.json"
    assert mux_bench.main(["--quick", "--quiet", "--only", "sniff", "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["name"] == "mux" and results["sniff"] and results["pairs"] == []
    assert all(s["us_median"] > 0 for s in results["sniff"])
    printed = capsys.readouterr().out
    assert "Sniff cost per connection" in printed and "route set" in printed


def test_runner_finds_the_mux_benchmark(tmp_path: Path) -> None:
    found = runner.discover()
    assert found.get("mux") == "mux_bench"
    assert runner.resolve(["mux", "mux_bench"], found) == ["mux_bench", "mux_bench"]
    with pytest.raises(KeyError):
        runner.resolve(["no-such"], found)
    (tmp_path / "a_bench.py").write_text("def main(argv):\n    return 0\n")
    (tmp_path / "b_bench.py").write_text("def helper():\n    pass\n")
    (tmp_path / "c_bench.py").write_text("def main(:\n")  # broken: not listed, never imported
    assert runner.discover(tmp_path) == {"a": "a_bench"}
    listed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--list"],
        cwd=mux_bench.REPO, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "mux" in listed.stdout and "benchmarks/mux_bench.py" in listed.stdout
