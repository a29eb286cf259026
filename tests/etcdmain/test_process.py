"""``python -m etcd`` as users and systemd run it: one port for etcdctl and curl, JSON logs, READY=1,
SIGTERM, refusals at start-up, and acknowledged writes surviving ``kill -9``.

Expected texts and exit statuses come from etcd 3.4.23 (recorded next to each test).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from etcd.etcdmain.datadir import ERR_BOTH_DIRS
from etcd.pkg.netutil import default_host
from tests.etcdmain.process import (
    REPO,
    Child,
    etcd_command,
    free_ports,
    member_flags,
    run_once,
    running,
    spawn,
)

ETCDCTL = shutil.which("etcdctl")
requires_etcdctl = pytest.mark.skipif(ETCDCTL is None, reason="etcdctl 3.4 is not installed (etcd-client)")


def etcdctl(endpoint: str, *args: str, cwd: Path | None = None) -> str:
    assert ETCDCTL is not None
    done = subprocess.run(
        cwd=cwd,
        args=[ETCDCTL, f"--endpoints={endpoint}", "--dial-timeout=3s", "--command-timeout=5s", *args],
        env={**os.environ, "ETCDCTL_API": "3"},
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, dict(r.headers), r.read()


def wait_version(url: str, timeout: float = 10.0) -> dict[str, str]:
    """GET /version until the cluster version is decided (the leader sets it just after publishing)."""
    deadline = time.monotonic() + timeout
    while True:
        status, _, body = get(f"{url}/version")
        assert status == 200
        version: dict[str, str] = json.loads(body)
        if version["etcdcluster"] != "not_decided" or time.monotonic() > deadline:
            return version
        time.sleep(0.05)


@requires_etcdctl
def test_serves_curl_and_etcdctl_on_one_port_then_exits_by_sigterm(tmp_path: Path) -> None:
    with running(tmp_path) as child:
        assert wait_version(child.client_url) == {"etcdserver": "3.4.23", "etcdcluster": "3.4.0"}
        status, _, body = get(f"{child.client_url}/health")
        assert (status, json.loads(body)["health"]) == (200, "true")
        assert etcdctl(child.client_url, "put", "greeting", "hello") == "OK\n"
        assert etcdctl(child.client_url, "get", "greeting") == "greeting\nhello\n"
        # the peer port answers etcd's peer handler
        status, headers, body = get(f"http://127.0.0.1:{child.peer_port}/members")
        members = json.loads(body)
        assert [(m["name"], m["peerURLs"], m["clientURLs"]) for m in members] == [
            ("default", [f"http://127.0.0.1:{child.peer_port}"], [child.client_url])
        ]
        assert headers["X-Etcd-Cluster-Id"] == format(int(headers["X-Etcd-Cluster-Id"], 16), "x")
        child.proc.send_signal(signal.SIGTERM)
        # etcd 3.4.23: after SIGTERM the process re-raises the signal, so the status is "killed by 15".
        assert child.wait() == -signal.SIGTERM
        entries = child.log_entries()
    msgs = [e["msg"] for e in entries]
    assert "ready to serve client requests" in msgs
    assert "received signal; shutting down" in msgs
    assert msgs.index("closing etcd server") < msgs.index("closed etcd server")
    assert msgs[-1] == "closed etcd server"
    for entry in entries:
        assert list(entry)[:4] == ["level", "ts", "caller", "msg"], entry
    signal_entry = next(e for e in entries if e["msg"] == "received signal; shutting down")
    assert signal_entry["signal"] == "terminated"


def test_sigint_exits_by_sigint(tmp_path: Path) -> None:
    with running(tmp_path) as child:
        child.proc.send_signal(signal.SIGINT)
        assert child.wait() == -signal.SIGINT
        signal_entry = next(e for e in child.log_entries() if e["msg"] == "received signal; shutting down")
        assert signal_entry["signal"] == "interrupt"


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_ready_is_sent_to_notify_socket(tmp_path: Path, abstract: bool) -> None:
    name = f"@etcd-test-notify-{os.getpid()}-{tmp_path.name}" if abstract else str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name[1:] if abstract else name)
        listener.settimeout(20)
        with running(tmp_path, env={"NOTIFY_SOCKET": name}, wait=False) as child:
            assert listener.recv(64) == b"READY=1"
            child.wait_serving(timeout=5)  # READY=1 means clients are being served
            child.proc.send_signal(signal.SIGTERM)
            assert child.wait() == -signal.SIGTERM


def test_version_flag(tmp_path: Path) -> None:
    code, out = run_once(["--version"], tmp_path)
    assert code == 0
    assert out.splitlines()[0] == "etcd Version: 3.4.23"


def test_both_member_and_proxy_dirs_are_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "member").mkdir(parents=True)
    (data / "proxy").mkdir()
    code, out = run_once([f"--data-dir={data}"], tmp_path)
    assert code == 1
    entry = json.loads(out.strip().splitlines()[-1])
    # etcd 3.4.23 (capnslog, its default logger): "C | etcdmain: invalid datadir. Both member and proxy
    # directories exist." and exit status 1.
    assert (entry["level"], entry["msg"]) == ("fatal", ERR_BOTH_DIRS)
    code, out = run_once([f"--data-dir={data}", "--logger=zap"], tmp_path)
    assert code == 1
    # etcd 3.4.23 with --logger=zap words it so.
    zap_text = "invalid datadir; both member and proxy directories exist"
    assert json.loads(out.strip().splitlines()[-1])["msg"] == zap_text


def test_proxy_data_dir_says_the_proxy_is_not_there_yet(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "proxy").mkdir(parents=True)
    code, out = run_once([f"--data-dir={data}"], tmp_path)
    assert code == 1
    assert "v2 proxy is not available yet (issue 9)" in out
    code, out = run_once([f"--data-dir={tmp_path / 'empty'}", "--proxy=on"], tmp_path)
    assert code == 1
    assert "v2 proxy is not available yet (issue 9)" in out
    assert not (tmp_path / "empty" / "member").exists()


def test_taken_port_fails_the_start_with_gos_text(tmp_path: Path) -> None:
    client_port, peer_port = free_ports(2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", client_port))
        taken.listen()
        code, out = run_once(member_flags(tmp_path / "data", client_port, peer_port), tmp_path)
    assert code == 1
    entries = [json.loads(line) for line in out.splitlines()]
    # etcd 3.4.23: "failed to start etcd" (warn), then "discovery failed" (fatal), both with this error.
    error = f"listen tcp 127.0.0.1:{client_port}: bind: address already in use"
    assert [(e["level"], e["msg"], e["error"]) for e in entries[-2:]] == [
        ("warn", "failed to start etcd", error),
        ("fatal", "discovery failed", error),
    ]
    # the peer port bound before the failure was released
    with socket.socket() as again:
        again.bind(("127.0.0.1", peer_port))


def test_https_client_url_without_certificate_is_refused(tmp_path: Path) -> None:
    client_port, peer_port = free_ports(2)
    flags = member_flags(tmp_path / "data", client_port, peer_port)
    flags = [f.replace(f"http://127.0.0.1:{client_port}", f"https://127.0.0.1:{client_port}") for f in flags]
    code, out = run_once(flags, tmp_path)
    assert code == 1
    # etcd 3.4.23's text, exit status 1.
    assert json.loads(out.splitlines()[-1])["error"] == (
        "TLS key/cert (--cert-file, --key-file) must be provided for client url "
        f"https://127.0.0.1:{client_port} with HTTPS scheme"
    )


def test_log_outputs_and_level(tmp_path: Path) -> None:
    log_file = tmp_path / "etcd.log"
    with running(tmp_path, extra=["--logger=zap", f"--log-outputs={log_file}", "--log-level=warn"]) as child:
        child.proc.send_signal(signal.SIGTERM)
        assert child.wait() == -signal.SIGTERM
        assert child.log_text() == ""  # nothing on stderr
    # at warn, the info lines of a clean start and stop are filtered out
    assert log_file.read_text() == ""
    with running(tmp_path, extra=["--logger=zap", f"--log-outputs={log_file}"]) as child:
        child.proc.send_signal(signal.SIGTERM)
        assert child.wait() == -signal.SIGTERM
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert lines[-1]["msg"] == "closed etcd server"
    assert oct(log_file.stat().st_mode & 0o777) == oct(0o600)


@requires_etcdctl
def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    data = tmp_path / "data"
    client_port, peer_port = free_ports(2)
    ports = (client_port, peer_port)
    n = 25
    with running(tmp_path, data_dir=data, ports=ports) as child:
        for i in range(n):
            assert etcdctl(child.client_url, "put", f"k{i:03d}", f"v{i}") == "OK\n"
        child.proc.send_signal(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
    assert (data / "member" / "wal").is_dir()
    with running(tmp_path, data_dir=data, ports=ports) as child:
        out = etcdctl(child.client_url, "get", "k", "--prefix", "--print-value-only")
        assert out.split() == [f"v{i}" for i in range(n)]
        log = child.log_entries()
        started = next(e for e in log if e["msg"] == "starting an etcd server")
        assert started["member-initialized"] is True
        assert any(e["msg"] == "server has been already initialized" for e in log)


def test_make_run_starts_python_m_etcd() -> None:
    makefile = (REPO / "Makefile").read_text()
    run = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "-m etcd" in run


def test_help_prints_etcds_usage(tmp_path: Path) -> None:
    code, out = run_once(["--help"], tmp_path)
    assert code == 0
    assert out.startswith("Usage:")
    assert "--listen-client-urls" in out


def test_sigterm_during_start_up_still_exits_by_the_signal(tmp_path: Path) -> None:
    """Whether the signal lands before the handlers exist or while the member starts, the status is -15
    and nothing is left behind."""
    with running(tmp_path, wait=False) as child:
        deadline = time.monotonic() + 20
        while "configuring peer listeners" not in child.log_text() and time.monotonic() < deadline:
            time.sleep(0.01)
        child.proc.send_signal(signal.SIGTERM)
        assert child.wait() == -signal.SIGTERM


@requires_etcdctl
def test_unix_client_url_serves_etcdctl_and_its_socket_file_goes(tmp_path: Path) -> None:
    tcp_port, peer_port, unix_port = free_ports(3)
    unix_url = f"unix://localhost:{unix_port}"
    extra = [f"--listen-client-urls=http://127.0.0.1:{tcp_port},{unix_url}"]
    with running(tmp_path, ports=(tcp_port, peer_port), extra=extra) as child:
        socket_file = tmp_path / f"localhost:{unix_port}"  # etcd names it by host:port, in the cwd
        assert socket_file.is_socket()
        # etcdctl too takes the socket file relative to its working directory
        assert etcdctl(unix_url, "put", "over-unix", "yes", cwd=tmp_path) == "OK\n"
        assert etcdctl(child.client_url, "get", "over-unix", "--print-value-only") == "yes\n"
        child.proc.send_signal(signal.SIGTERM)
        assert child.wait() == -signal.SIGTERM
    assert not socket_file.exists()


def test_too_low_fd_limit_is_refused(tmp_path: Path) -> None:
    import resource

    client_port, peer_port = free_ports(2)

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (120, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    done = subprocess.run(
        [*etcd_command(), *member_flags(tmp_path / "data", client_port, peer_port)],
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=low_limit,
        cwd=tmp_path,
    )
    assert done.returncode == 1
    # etcd 3.4.23 (capnslog): "C | embed: file descriptor limit[120] of etcd process is too low, and should
    # be set higher than 150 to ensure internal usage", exit status 1.
    last = json.loads(done.stderr.splitlines()[-1])
    assert last["error"] == (
        "file descriptor limit[120] of etcd process is too low, and should be set higher than 150 to ensure "
        "internal usage"
    )


def test_wildcard_peer_listener_advertises_the_default_host(tmp_path: Path) -> None:
    """etcd 3.4.23 with --listen-peer-urls=http://0.0.0.0:P and no --initial-advertise-peer-urls logs
    "detected default host for advertise" and advertises http://<default host>:P."""
    host = default_host()
    if host is None or ":" in host:
        pytest.skip("no IPv4 default route here")
    client_port, peer_port = free_ports(2)
    client = f"http://127.0.0.1:{client_port}"
    flags = [
        f"--data-dir={tmp_path / 'data'}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls=http://0.0.0.0:{peer_port}",
        f"--initial-cluster=default=http://{host}:{peer_port}",
    ]
    log_path = tmp_path / "wild.log"
    proc = spawn(flags, log_path, cwd=tmp_path)
    try:
        child = Child(proc, log_path, client_port, peer_port)
        child.wait_serving()
        _, _, body = get(f"http://127.0.0.1:{peer_port}/members")
        assert [m["peerURLs"] for m in json.loads(body)] == [[f"http://{host}:{peer_port}"]]
        detected = [e for e in child.log_entries() if e["msg"] == "detected default host for advertise"]
        assert [e["host"] for e in detected] == [host]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == -signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
