"""``sd_notify`` (``etcd/pkg/systemd.py``): READY=1 to a path or an abstract socket, nothing without one."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from etcd.pkg import systemd


def test_no_notify_socket_is_a_no_op() -> None:
    assert systemd.notify(systemd.READY, {}) is False
    assert systemd.notify(systemd.READY, {"NOTIFY_SOCKET": ""}) is False


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_ready_datagram(tmp_path: Path, abstract: bool) -> None:
    name = f"@etcd-sd-test-{os.getpid()}" if abstract else str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name[1:] if abstract else name)
        listener.settimeout(5)
        assert systemd.notify(systemd.READY, {"NOTIFY_SOCKET": name}) is True
        assert listener.recv(64) == b"READY=1"


def test_unreachable_socket_raises(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        systemd.notify(systemd.READY, {"NOTIFY_SOCKET": str(tmp_path / "nobody")})
