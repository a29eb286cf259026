"""The server's own errors (etcd's ``etcdserver/errors.go``), worded as etcd's since clients compare text.

``etcd.api.v3rpc.errors`` maps each to its gRPC status; the v2 HTTP layer shows their text.
"""

from __future__ import annotations


class ServerError(Exception):
    """Base of the errors below; ``str()`` is etcd's message."""

    message = "etcdserver: unknown error"

    def __init__(self) -> None:
        super().__init__(self.message)


class ErrTimeout(ServerError):
    message = "etcdserver: request timed out"


class ErrTimeoutDueToLeaderFail(ServerError):
    message = "etcdserver: request timed out, possibly due to previous leader failure"


class ErrTimeoutDueToConnectionLost(ServerError):
    message = "etcdserver: request timed out, possibly due to connection lost"


class ErrTimeoutLeaderTransfer(ServerError):
    message = "etcdserver: request timed out, leader transfer took too long"


class ErrNoLeader(ServerError):
    message = "etcdserver: no leader"


class ErrNotLeader(ServerError):
    message = "etcdserver: not leader"


class ErrLeaderChanged(ServerError):
    message = "etcdserver: leader changed"


class ErrStopped(ServerError):
    message = "etcdserver: server stopped"


class ErrRequestTooLarge(ServerError):
    message = "etcdserver: request is too large"


class ErrTooManyRequests(ServerError):
    message = "etcdserver: too many requests"


class ErrUnhealthy(ServerError):
    message = "etcdserver: unhealthy cluster"


class ErrBadLeaderTransferee(ServerError):
    message = "etcdserver: bad leader transferee"


class ErrNotEnoughStartedMembers(ServerError):
    message = "etcdserver: re-configuration failed due to not enough started members"


class ErrLearnerNotReady(ServerError):
    message = "etcdserver: can only promote a learner member which is in sync with leader"


class ErrNotCapable(ServerError):
    message = "etcdserver: not capable"
