"""Exceptions the mux raises or reports to its error hook, each with a ``mux:`` prefix as cmux's have."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mux.info import ConnectionInfo


class MuxError(Exception):
    """Base of everything the mux reports. ``info`` names the connection, when there is one."""

    def __init__(self, message: str, info: ConnectionInfo | None = None) -> None:
        super().__init__(f"mux: {message}")
        self.info = info


class NotMatched(MuxError):
    """No route wanted the connection (every matcher said NO, or the client closed first)."""


class DeadlineExpired(MuxError):
    """The client did not send enough bytes to decide before the match deadline."""


class SniffLimitExceeded(MuxError):
    """The client sent more than the sniff cap without any route deciding."""


class ConnectionLimit(MuxError):
    """The global or a route's connection limit was reached; the connection was closed."""


class HandoffFailed(MuxError):
    """The route matched but its target could not take the connection (e.g. the upstream refused)."""


class ListenerClosed(MuxError):
    """``accept()`` on a listener route that was closed (cmux: "mux: listener closed")."""

    def __init__(self) -> None:
        super().__init__("listener closed")


class ServerClosed(MuxError):
    """The mux was closed (cmux: "mux: server closed")."""

    def __init__(self) -> None:
        super().__init__("server closed")
