"""The real etcd 3.4.23 (/usr/bin/etcd) as the oracle for the configuration layer.

Every case here is refused by etcd before it binds a port or touches a data dir, so no etcd server ever
starts: each run takes a few milliseconds, is bounded by a timeout and is killed by its PID if it
overruns (which fails the test). Skipped when etcd is not installed.
"""

from __future__ import annotations

import io
import os
import pathlib
import re
import shutil
import signal
import subprocess

import pytest

from etcd.etcdmain.config import load
from etcd.etcdmain.help import FLAG_GROUPS, HIDDEN_FLAGS, usage

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
pytestmark = pytest.mark.skipif(
    not os.path.exists(ETCD), reason="etcd 3.4 (Debian etcd-server) not installed"
)
TIMEOUT = 10.0


def run_etcd(argv: list[str], env: dict[str, str], cwd: pathlib.Path) -> tuple[int, str, str]:
    proc = subprocess.Popen(
        [ETCD, *argv],
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"etcd {argv} did not exit: it must refuse this configuration")
    return proc.returncode, out, err


_VERIFY = re.compile(r"error verifying flags, (.*)\. See 'etcd --help'\.")
_CRITICAL = re.compile(r" C \| pkg/flags: (.*)$", re.M)
_LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \S+ [A-Z] \| ")


def core_message(rc: int, err: str) -> str:
    """The message a user sees, without etcd's log prefix and its "See 'etcd --help'" tail."""
    if rc == 2:
        return err.splitlines()[0]
    m = _VERIFY.search(err) or _CRITICAL.search(err)
    if m:
        return m.group(1)
    last = [line for line in err.splitlines() if line and not line.startswith("[WARNING]")][-1]
    return _LOG_PREFIX.sub("", last)


CASES: list[tuple[list[str], dict[str, str], str | None]] = [
    (["--election-timeout", "50", "--heartbeat-interval", "100"], {}, None),
    (["--heartbeat-interval", "0"], {}, None),
    (["--election-timeout", "0"], {}, None),
    (["--election-timeout", "60000"], {}, None),
    (["--heartbeat-interval", "30", "--election-timeout", "149"], {}, None),
    (["--foo"], {}, None),
    (["--heartbeat-interval", "abc"], {}, None),
    (["--heartbeat-interval=-1"], {}, None),
    (["--snapshot-count", "1.5"], {}, None),
    (["--initial-cluster-state", "foo"], {}, None),
    (["--proxy", "foo"], {}, None),
    (["--discovery-fallback", "x"], {}, None),
    (["--enable-v2=foo"], {}, None),
    (["--enable-v2", "false"], {}, None),
    (["extra"], {}, None),
    (["--name"], {}, None),
    (["---name=x"], {}, None),
    (["--grpc-keepalive-min-time", "5"], {}, None),
    (["--max-concurrent-streams", "4294967296"], {}, None),
    (["--listen-peer-urls", "ftp://x:1"], {}, None),
    (["--listen-peer-urls", "http://x"], {}, None),
    (["--listen-peer-urls", "http://x:1/p"], {}, None),
    (["--listen-peer-urls", "127.0.0.1:2380"], {}, None),
    (["--listen-peer-urls", "http://example.com:1"], {}, None),
    (["--listen-peer-urls", "http://[::1]:2380", "--listen-client-urls", "http://:2379"], {}, None),
    (["--listen-client-urls", "http://127.0.0.1:23790"], {}, None),
    (["--initial-advertise-peer-urls", "http://:2380"], {}, None),
    (["--discovery", "http://x/y", "--initial-cluster", "a=http://1.2.3.4:1"], {}, None),
    (["--discovery-srv", "example.com", "--discovery", "http://x/y"], {}, None),
    (["--auto-compaction-mode", "foo"], {}, None),
    (["--listen-peer-urls=http://127.0.0.1:1,"], {}, None),
    (["--listen-peer-urls=", "http://127.0.0.1:1", "--heartbeat-interval", "0"], {}, None),
    (["--cors", "foo"], {}, None),
    (["--cors", "http://a:1,*"], {}, None),
    (["--cors", "http://b.com,http://a.com:80"], {}, None),
    (["--cors="], {}, None),
    (["--host-whitelist=", "--heartbeat-interval", "0"], {}, None),
    (["--log-outputs=", "--heartbeat-interval", "0"], {}, None),
    (["-", "--heartbeat-interval", "0"], {}, None),
    (["--experimental-enable-lease-checkpoint-persist"], {}, None),
    (["--experimental-enable-lease-checkpoint-persist", "--auto-compaction-mode", "foo"], {}, None),
    (["--logger", "foo"], {}, None),
    (["--log-outputs", "stdout,default"], {}, None),
    (["--logger", "zap", "--log-outputs", "stdout,default"], {}, None),
    (["--log-outputs", "foo"], {}, None),
    (["--snapshot-count", "0x10", "--heartbeat-interval", "0"], {}, None),
    ([], {"ETCD_HEARTBEAT_INTERVAL": "0", "ETCD_FOO": "1"}, None),
    ([], {"ETCD_HEARTBEAT_INTERVAL": "abc"}, None),
    (["--heartbeat-interval", "0"], {"ETCD_HEARTBEAT_INTERVAL": "0"}, None),
    (["--name", "y"], {"ETCD_NAME": "x"}, None),
    ([], {"ETCD_LISTEN_CLIENT_URLS": "http://127.0.0.1:23790"}, None),
    ([], {"ETCD_ENABLE_V2": "foo"}, None),
    ([], {"ETCD_LISTEN_PEER_URLS": "ftp://x:1"}, None),
    ([], {"ETCD_PROXY": "foo"}, None),
    ([], {"ETCD_SNAPSHOT_COUNT": "0x"}, None),
    ([], {"ETCD_CONFIG_FILE": "/nonexistent/etcd.yml"}, None),
    ([], {}, "name: cf\nheartbeat-interval: 0\n"),
    (["--election-timeout", "5"], {}, "heartbeat-interval: 10\nelection-timeout: 20\nnosuch: 1\n"),
    ([], {}, "heartbeat-interval: abc\n"),
    ([], {}, "listen-peer-urls: ftp://127.0.0.1:23791\n"),
    ([], {}, "grpc-keepalive-interval: 2h\nheartbeat-interval: 0\n"),
    ([], {}, "grpc-keepalive-interval: 7200000000000\nheartbeat-interval: 0\n"),
    ([], {}, "proxy: foo\nheartbeat-interval: 0\n"),
    ([], {}, "proxy: foo\n"),
    ([], {}, "discovery-fallback: foo\n"),
    ([], {}, "initial-cluster-state: foo\n"),
    ([], {}, 'initial-cluster-state: ""\nheartbeat-interval: 0\n'),
    ([], {}, "log-outputs: stdout\nheartbeat-interval: 0\n"),
    ([], {}, 'enable-v2: "true"\nheartbeat-interval: 0\n'),
    ([], {}, "snapshot-count: -1\n"),
    ([], {}, "heartbeat-interval: 1.5\n"),
    ([], {}, "heartbeat-interval: true\n"),
    ([], {}, "heartbeat-interval: [1]\n"),
    ([], {}, "name: 12\nheartbeat-interval: 0\n"),
    ([], {}, "Heartbeat-Interval: 0\n"),
    ([], {}, "max-concurrent-streams: 4294967296\nheartbeat-interval: 0\n"),
    ([], {}, "client-transport-security:\n  cert-file: 1\nheartbeat-interval: 0\n"),
    ([], {}, "proxy-failure-wait: abc\nlisten-client-urls: http://127.0.0.1:23917\n"
     "listen-peer-urls: http://127.0.0.1:23918\n"),
]


@pytest.mark.parametrize(
    ("argv", "env", "conf"), CASES, ids=[" ".join(c[0]) or str(c[1] or c[2]) for c in CASES]
)
def test_refusals_match_etcd(
    tmp_path: pathlib.Path, argv: list[str], env: dict[str, str], conf: str | None
) -> None:
    full = ["--data-dir", str(tmp_path / "d"), *argv]
    if conf is not None:
        (tmp_path / "c.yml").write_text(conf)
        full = ["--config-file", str(tmp_path / "c.yml"), *argv]
    rc, _, err = run_etcd(full, env, tmp_path)
    assert rc in (1, 2), err
    out_buf, err_buf = io.StringIO(), io.StringIO()
    ours = load(full, env, out_buf, err_buf)
    assert ours == rc, err_buf.getvalue()
    ours_text = err_buf.getvalue()
    m = _VERIFY.search(ours_text)
    ours_msg = m.group(1) if m else ours_text.splitlines()[0]
    assert ours_msg == core_message(rc, err)
    assert not (tmp_path / "d").exists()


def test_missing_config_file_matches_etcd(tmp_path: pathlib.Path) -> None:
    rc, _, err = run_etcd(["--config-file", "nonexist.yml"], {}, tmp_path)
    out_buf, err_buf = io.StringIO(), io.StringIO()
    assert load(["--config-file", "nonexist.yml"], {}, out_buf, err_buf) == rc == 1
    assert "open nonexist.yml: no such file or directory" in core_message(rc, err)
    assert _VERIFY.search(err_buf.getvalue()).group(1) == core_message(rc, err)  # type: ignore[union-attr]


def test_help_and_version_exit_codes(tmp_path: pathlib.Path) -> None:
    for argv in (["--help"], ["-h"], ["--version"]):
        rc, out, _ = run_etcd(argv, {}, tmp_path)
        assert load(argv, {}, io.StringIO(), io.StringIO()) == rc == 0
        assert out


def _etcd_help(tmp_path: pathlib.Path) -> list[tuple[str, str]]:
    _, out, _ = run_etcd(["--help"], {}, tmp_path)
    return [
        (m.group(1), m.group(2).strip("'"))
        for m in re.finditer(r"^  --([a-z0-9-]+) ('[^']*'|\S+)?", out, re.M)
        if m.group(2) is not None
    ]


def test_help_lists_etcds_flags_in_etcds_order_with_its_defaults(tmp_path: pathlib.Path) -> None:
    theirs = _etcd_help(tmp_path)
    ours = [
        (m.group(1), m.group(2).strip("'"))
        for m in re.finditer(r"^  --([a-z0-9-]+) ('[^']*')", usage(), re.M)
    ]
    assert [name for name, _ in ours] == [name for name, _ in theirs]
    assert dict(ours) == dict(theirs)


def test_help_groups_match_etcds(tmp_path: pathlib.Path) -> None:
    _, out, _ = run_etcd(["--help"], {}, tmp_path)
    titles = [t for t, _ in FLAG_GROUPS]
    positions = [out.index(f"\n{t}:\n") if f"\n{t}:\n" in out else out.index(f"\n{t}:") for t in titles]
    assert positions == sorted(positions)


def test_hidden_flags_exist_in_etcd(tmp_path: pathlib.Path) -> None:
    for flag in HIDDEN_FLAGS:
        if flag in ("version", "config-file"):
            continue
        rc, _, err = run_etcd([f"--{flag}=@@"], {}, tmp_path)
        assert rc == 2
        assert err.splitlines()[0] == f'invalid boolean value "@@" for -{flag}: parse error'
        assert load([f"--{flag}=@@"], {}, io.StringIO(), io.StringIO()) == 2
