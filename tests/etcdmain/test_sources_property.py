"""One configuration, three spellings: command-line flags, ETCD_* variables and a config file agree.

Hypothesis draws values for a mix of flag kinds, writes them as argv (every Go flag form), as an
environment and as YAML (durations in nanoseconds, as etcd 3.4 reads them), and checks that the three
Configs are equal field by field.
"""

from __future__ import annotations

import pathlib
import tempfile
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from etcd.embed.config import parse_url
from etcd.etcdmain.config import (
    is_proxy,
    is_readonly_proxy,
    may_be_proxy,
    parse,
    parse_go_int,
    parse_go_uint,
    should_fallback_to_proxy,
)

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
HOSTS = st.sampled_from(["127.0.0.1", "10.0.0.7", "[::1]", "localhost"])
PORTS = st.integers(min_value=1, max_value=65535)


@st.composite
def url_lists(draw: st.DrawFn) -> list[str]:
    n = draw(st.integers(min_value=1, max_value=3))
    return [f"{draw(st.sampled_from(['http', 'https']))}://{draw(HOSTS)}:{draw(PORTS)}" for _ in range(n)]


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    heartbeat = draw(st.integers(min_value=1, max_value=1000))
    values: dict[str, Any] = {
        "name": draw(NAMES),
        "heartbeat-interval": heartbeat,
        "election-timeout": draw(st.integers(min_value=5 * heartbeat, max_value=50000)),
        "snapshot-count": draw(st.integers(min_value=0, max_value=2**40)),
        "quota-backend-bytes": draw(st.integers(min_value=-(2**40), max_value=2**40)),
        "enable-v2": draw(st.booleans()),
        "pre-vote": draw(st.booleans()),
        "strict-reconfig-check": draw(st.booleans()),
        "initial-cluster-state": draw(st.sampled_from(["new", "existing"])),
        "auto-compaction-mode": draw(st.sampled_from(["periodic", "revision"])),
        "grpc-keepalive-interval": draw(st.integers(min_value=0, max_value=10**6)),  # ms
        "max-concurrent-streams": draw(st.integers(min_value=0, max_value=2**32 - 1)),
    }
    listen = draw(url_lists())
    values["listen-client-urls"] = ",".join(u.replace("localhost", "127.0.0.1") for u in listen)
    values["advertise-client-urls"] = ",".join(draw(url_lists()))
    return values


def as_text(flag: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if flag == "grpc-keepalive-interval":
        return f"{value}ms"
    return str(value)


def as_argv(values: dict[str, Any], form: int) -> list[str]:
    argv: list[str] = []
    for flag, value in values.items():
        text = as_text(flag, value)
        if isinstance(value, bool):
            argv.append(f"--{flag}" if value and form == 0 else f"--{flag}={text}")
        elif form == 0:
            argv += [f"--{flag}", text]
        elif form == 1:
            argv.append(f"--{flag}={text}")
        else:
            argv += [f"-{flag}", text]
    return argv


def as_env(values: dict[str, Any]) -> dict[str, str]:
    return {"ETCD_" + f.upper().replace("-", "_"): as_text(f, v) for f, v in values.items()}


def as_yaml(values: dict[str, Any]) -> str:
    doc = dict(values)
    doc["grpc-keepalive-interval"] = values["grpc-keepalive-interval"] * 1_000_000  # ns
    return yaml.safe_dump(doc)


@settings(max_examples=120, deadline=None)
@given(configs(), st.integers(min_value=0, max_value=2))
def test_flags_env_and_file_agree(values: dict[str, Any], form: int) -> None:
    from_flags = parse(as_argv(values, form), {})
    from_env = parse([], as_env(values))
    with tempfile.TemporaryDirectory() as d:
        path = pathlib.Path(d) / "etcd.yml"
        path.write_text(as_yaml(values))
        from_file = parse(["--config-file", str(path)], {})
    from_file.config_file = ""
    assert from_flags == from_env == from_file
    assert from_flags.name == values["name"]
    assert from_flags.grpc_keepalive_interval == values["grpc-keepalive-interval"] / 1000
    assert from_flags.election_ticks() == values["election-timeout"] // values["heartbeat-interval"]


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**64 - 1), st.sampled_from(["d", "x", "X", "o", "b", "0"]))
def test_go_integer_spellings(n: int, base: str) -> None:
    spellings = {"d": str(n), "x": f"0x{n:x}", "X": f"0X{n:X}", "o": f"0o{n:o}", "b": f"0b{n:b}"}
    text = spellings.get(base, f"0{n:o}")
    assert parse_go_uint(text) == n
    if n < 2**63:
        assert parse_go_int("-" + text) == -n


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["http", "https", "unix", "unixs"]), HOSTS, PORTS)
def test_url_round_trip(scheme: str, host: str, port: int) -> None:
    u = parse_url(f"{scheme}://{host}:{port}")
    assert str(u) == f"{scheme}://{host}:{port}"
    assert parse_url(str(u)) == u
    assert u.port == str(port)
    assert u.hostname == host.strip("[]")


def test_proxy_helpers() -> None:
    cfg = parse(["--proxy", "readonly"], {})
    assert is_proxy(cfg) and is_readonly_proxy(cfg) and may_be_proxy(cfg)
    cfg = parse([], {})
    assert not is_proxy(cfg) and not may_be_proxy(cfg) and should_fallback_to_proxy(cfg)
    cfg = parse(["--discovery", "http://d/t", "--discovery-fallback", "exit"], {})
    assert not may_be_proxy(cfg) and not should_fallback_to_proxy(cfg)
    assert may_be_proxy(parse(["--discovery", "http://d/t"], {}))
