"""The default route's host (etcd's ``pkg/netutil.GetDefaultHost``), advertised for ``0.0.0.0`` listeners.

Linux only, read from ``/proc``: the first IPv4 default route's interface and its address; failing that,
the first IPv6 default route's interface and its first address.
"""

from __future__ import annotations

import fcntl
import socket
import struct

SIOCGIFADDR = 0x8915  # linux/sockios.h


def default_host(proc: str = "/proc/net") -> str | None:
    """The address etcd would advertise for a wildcard listener, or None if there is no default route."""
    iface = _default_iface_v4(f"{proc}/route")
    if iface is not None:
        address = _ipv4_of(iface)
        if address is not None:
            return address
    iface = _default_iface_v6(f"{proc}/ipv6_route")
    if iface is not None:
        return _ipv6_of(iface, f"{proc}/if_inet6")
    return None


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().splitlines()
    except OSError:
        return []


def _default_iface_v4(path: str) -> str | None:
    for line in _read_lines(path)[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[1] == "00000000" and fields[7] == "00000000":
            return fields[0]
    return None


def _default_iface_v6(path: str) -> str | None:
    for line in _read_lines(path):
        fields = line.split()
        if len(fields) >= 10 and fields[0] == "0" * 32 and fields[1] == "00" and fields[9] != "lo":
            return fields[9]
    return None


def _ipv4_of(iface: str) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            packed = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, struct.pack("256s", iface.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(packed[20:24])


def _ipv6_of(iface: str, path: str) -> str | None:
    for line in _read_lines(path):
        fields = line.split()
        if len(fields) >= 6 and fields[5] == iface:
            return socket.inet_ntop(socket.AF_INET6, bytes.fromhex(fields[0]))
    return None
