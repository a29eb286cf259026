"""The member benchmark (ours vs the real etcd 3.4) runs end to end in a tiny configuration.

Speed is never asserted (the machine is shared and noisy): only that every quantity was measured on both
sides with answers checked right (values read, revisions grown, gRPC replies rather than errors, no
non-2xx HTTP answers, no watch event lost), and that the results file and the table hold what was measured.
The parsers are checked on real reports of h2load, wrk and py-spy.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

# benchmarks/ is not an installed package: import it from the repository root (pytest's importlib mode
# does not put the root on sys.path).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import __main__ as runner
from benchmarks import etcd_bench
from benchmarks import etcd_bench_load as load
from benchmarks import etcd_bench_profile as profile
from benchmarks.etcd_bench_servers import ETCD, REPO
from etcd.api.etcdserverpb import rpc_pb2

HAVE_TOOLS = all(os.access(t, os.X_OK) for t in (ETCD, load.H2LOAD, load.WRK))
requires_tools = pytest.mark.skipif(
    not HAVE_TOOLS, reason=f"needs {ETCD}, {load.H2LOAD} and {load.WRK} (scripts/install-tools.sh --bench)"
)
HAVE_OURS = (REPO / "etcd" / "__main__.py").is_file()


def check_results(results: dict[str, Any], names: tuple[str, ...], *, errors_allowed: bool = False) -> None:
    """Every quantity measured once on each side; with ``errors_allowed`` (our member under a load it
    does not yet bear without errors) error notes may remain, as long as replies were counted."""
    assert [m["name"] for m in results["metrics"]] == list(names)
    for m in results["metrics"]:
        if errors_allowed:
            problems = [e for e in m["errors"] if "not measured" in e or "lost" in e]
        else:
            problems = [e for e in m["errors"] if "not measured" in e or "error" in e or "failed" in e]
        assert not problems, (m["name"], m["errors"])
        for side in ("ours", "etcd"):
            got = m[side]
            assert len(got["rps"]) == 1 and got["rps"][0] > 0, (m["name"], side, got)
            assert 0 < got["p50_ms"][0] <= got["p99_ms"][0], (m["name"], side, got)
            assert got["cpu_us"][0] > 0, (m["name"], side, got)
        assert m["ratio"] == m["ours"]["rps"][0] / m["etcd"]["rps"][0]
        assert m["meets_floor"] in (True, False)
        if m["name"] == "watch":
            for side in ("ours", "etcd"):
                (fan,) = m[side]["extra"]
                assert m[side]["lost"] == [0] and fan["received"] == fan["expected"] == 10 * 100
        else:
            assert m["commands"] and "127.0.0.1:PORT" in m["commands"][0]


@requires_tools
def test_quick_run_with_etcd_on_both_sides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The benchmark's own machinery, independent of our member: the real etcd stands in for ours."""
    out = tmp_path / "etcd.json"
    assert etcd_bench.main(["--quick", "--quiet", "--ours-command", ETCD, "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    check_results(results, etcd_bench.SPEC_NAMES)
    assert results["machine"]["etcd"].startswith("etcd Version: 3.4")
    printed = capsys.readouterr().out
    for name in etcd_bench.SPEC_NAMES:
        assert f"\n  {name} " in printed
    assert "lost 0 ok" in printed


@requires_tools
@pytest.mark.skipif(not HAVE_OURS, reason="our member (python -m etcd) is not there yet")
def test_quick_run_against_our_member_with_a_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "etcd.json"
    argv = ["--quick", "--quiet", "--json", str(out)]
    if profile.py_spy() is not None:
        argv += ["--profile", "--profile-seconds", "1"]
    assert etcd_bench.main(argv) == 0
    results = json.loads(out.read_text())
    check_results(results, etcd_bench.SPEC_NAMES, errors_allowed=True)
    if profile.py_spy() is not None:
        prof = results["profile"]
        assert "error" not in prof, prof
        assert prof["samples"] > 0 and prof["by_self"] and prof["by_total"]
        assert (tmp_path / "etcd-profile.txt").is_file()
        assert "py-spy:" in capsys.readouterr().out


def test_only_and_commands_from_the_command_line() -> None:
    args = etcd_bench._parse(["--quick", "--only", "put,watch", "--ours-command", "/usr/bin/etcd --x 1"])
    settings = etcd_bench.settings_from(args)
    assert settings.only == ("put", "watch") and settings.rounds == 1
    assert settings.ours_command == ("/usr/bin/etcd", "--x", "1")
    with pytest.raises(SystemExit):
        etcd_bench.settings_from(etcd_bench._parse(["--only", "put,nope"]))
    assert etcd_bench.missing_tools(etcd_bench.Settings(etcd_command=("/no/such/etcd",))) == ["/no/such/etcd"]


def test_grpc_body_and_wrk_script(tmp_path: Path) -> None:
    request = rpc_pb2.PutRequest(key=b"benchkey", value=b"v" * 8)
    body = load.grpc_body(request)
    assert body[0] == 0 and int.from_bytes(body[1:5], "big") == len(body) - 5
    assert rpc_pb2.PutRequest.FromString(body[5:]) == request
    script = load.post_script(tmp_path / "s.lua", '{"key":"Zm9v"}').read_text()
    assert 'wrk.method = "POST"' in script and 'wrk.body = \'{"key":"Zm9v"}\'' in script


def test_parsers_read_real_reports() -> None:
    h2load = (
        "finished in 3.00s, 29092.50 req/s, 1.85MB/s\n"
        "requests: 58185 total, 58185 started, 58185 done, 58180 succeeded, 5 failed, 0 errored, 0 timeout\n"
        "status codes: 58185 2xx, 0 3xx, 0 4xx, 0 5xx\n"
        "traffic: 3.70MB (3884670) total, 170.58KB (174674) headers (space savings 94.73%), "
        "2.90MB (3036931) data\n"
    )
    assert load.parse_h2load(h2load) == (29092.50, 58180, 5, 3036931)
    log = "1795581397714143\t200\t39568\n1795581397714143\t200\t1000\n1795581397714143\t-1\t5\n"
    assert load.h2load_latencies_ms(log) == [1.0, 39.568]
    wrk = (
        "Running 1s test @ http://127.0.0.1:1/v3/kv/range\n  1 threads and 32 connections\n"
        "  Latency Distribution\n     50%    3.60ms\n     75%    5.08ms\n     90%    7.37ms\n"
        "     99%   12.06ms\n  7290 requests in 1.01s, 3.89MB read\n"
        "  Non-2xx or 3xx responses: 7\nRequests/sec:   7253.05\nTransfer/sec:      3.87MB\n"
    )
    run = load.parse_wrk(wrk)
    assert (run.rps, run.requests, run.non2xx, run.p50_ms, run.p99_ms) == (7253.05, 7290, 7, 3.6, 12.06)
    assert load.parse_wrk(wrk.replace("3.60ms", "812.00us")).p50_ms == pytest.approx(0.812)
    with pytest.raises(RuntimeError):
        load.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")
    assert load.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert load.percentile([float(i) for i in range(1, 101)], 0.99) == 99.0
    assert load.percentile([], 0.5) == 0.0


def test_profile_summary_of_py_spy_stacks() -> None:
    repo = Path(profile.__file__).resolve().parent.parent  # the checkout's own root, wherever it is
    raw = (
        f"<module> (etcd/__main__.py:3);run (asyncio/runners.py:118);put ({repo}/etcd/server/x.py:10) 30\n"
        "<module> (etcd/__main__.py:3);run (asyncio/runners.py:118);_fsync (etcd/wal/wal.py:99) 70\n"
        "not a stack line\n"
    )
    samples, by_self, by_total = profile.summarize(raw, top=5)
    assert samples == 100
    assert [(c.function, c.self_fraction) for c in by_self] == [
        ("_fsync (etcd/wal/wal.py)", 0.7), ("put (etcd/server/x.py)", 0.3)
    ]  # fmt: skip
    assert by_total[0].total_fraction == 1.0 and by_total[0].self_fraction == 0.0
    assert "70.0%" in profile.format_costs(samples, by_self, by_total)


def test_runner_finds_the_etcd_benchmark_and_not_its_helpers() -> None:
    found = runner.discover()
    assert found.get("etcd") == "etcd_bench"
    assert not any(m.startswith("etcd_bench_") for m in found.values())
