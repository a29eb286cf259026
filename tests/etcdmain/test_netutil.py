"""The default route's host (``etcd/pkg/netutil.py``), from /proc files written by the test."""

from __future__ import annotations

import socket
from pathlib import Path

from etcd.pkg import netutil

ROUTE_HEADER = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"


def test_ipv4_default_route_gives_the_interface_address(tmp_path: Path) -> None:
    (tmp_path / "route").write_text(
        ROUTE_HEADER
        + "lo\t0000007F\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n"
        + "lo\t00000000\t00000000\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
    )
    # the loopback interface stands in for a real one: its address is known everywhere
    assert netutil.default_host(str(tmp_path)) == "127.0.0.1"


def test_no_default_route_is_none(tmp_path: Path) -> None:
    loopback_only = "lo\t0000007F\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n"
    (tmp_path / "route").write_text(ROUTE_HEADER + loopback_only)
    assert netutil.default_host(str(tmp_path)) is None


def test_ipv6_default_route_when_there_is_no_ipv4_one(tmp_path: Path) -> None:
    (tmp_path / "route").write_text(ROUTE_HEADER)
    zero = "0" * 32
    (tmp_path / "ipv6_route").write_text(
        f"{zero} 00 {zero} 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth9\n"
    )
    address = "20010db8000000000000000000000002"
    (tmp_path / "if_inet6").write_text(f"{address} 05 40 00 80     eth9\n")
    assert netutil.default_host(str(tmp_path)) == socket.inet_ntop(socket.AF_INET6, bytes.fromhex(address))


def test_this_machine() -> None:
    host = netutil.default_host()
    assert host is None or socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
