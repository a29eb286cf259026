"""The errors mvcc raises, with etcd 3.4's exact texts (declared atop etcd's ``mvcc/kvstore.go``).

Clients compare these strings; the API layer maps each class to its gRPC status.
"""

from __future__ import annotations


class MVCCError(Exception):
    """Base of the errors below; ``str(err)`` is etcd's message."""

    message = ""

    def __init__(self) -> None:
        super().__init__(self.message)


class ErrCompacted(MVCCError):
    message = "mvcc: required revision has been compacted"


class ErrFutureRev(MVCCError):
    message = "mvcc: required revision is a future revision"


class ErrCanceled(MVCCError):
    message = "mvcc: watcher is canceled"


class ErrClosed(MVCCError):
    message = "mvcc: closed"


class ErrEmptyWatcherRange(MVCCError):
    message = "mvcc: watcher range is empty"


class ErrWatcherNotExist(MVCCError):
    message = "mvcc: watcher does not exist"


class ErrWatcherDuplicateID(MVCCError):
    message = "mvcc: duplicate watch ID provided on the WatchStream"


class RequestError(Exception):
    """Base of the request errors etcd's server raises while applying KV requests (``etcdserver/errors.go``,
    ``v3rpc/rpctypes/error.go``); ``str(err)`` is etcd's message."""

    message = ""

    def __init__(self) -> None:
        super().__init__(self.message)


class ErrKeyNotFound(RequestError):
    message = "etcdserver: key not found"


class ErrEmptyKey(RequestError):
    message = "etcdserver: key is not provided"


class ErrValueProvided(RequestError):
    message = "etcdserver: value is provided"


class ErrLeaseProvided(RequestError):
    message = "etcdserver: lease is provided"


class ErrTooManyOps(RequestError):
    message = "etcdserver: too many operations in txn request"


class ErrDuplicateKey(RequestError):
    message = "etcdserver: duplicate key given in txn request"
