"""systemd's readiness notification (``sd_notify``), as etcd sends ``READY=1`` with go-systemd."""

from __future__ import annotations

import socket
from collections.abc import Mapping

READY = "READY=1"


def notify(state: str, environ: Mapping[str, str]) -> bool:
    """Send ``state`` (e.g. ``READY``) as one datagram to ``$NOTIFY_SOCKET``.

    A name starting with ``@`` is in Linux's abstract namespace (``@`` stands for the leading NUL byte),
    as sd_notify(3) says. Returns False without doing anything when the variable is unset or empty (not
    run by systemd), True once the datagram is sent.

    Raises:
        OSError: the socket cannot be reached; etcd logs this and goes on serving.
    """
    address = environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.connect(address)
        sock.sendall(state.encode())
    return True
