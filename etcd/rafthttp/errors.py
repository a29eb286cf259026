"""The transport's errors, with etcd 3.4's texts (``rafthttp/http.go``, ``rafthttp/util.go``, ``peer.go``).

Peers compare some of these texts: a 412 body of ``cluster ID mismatch`` or ``incompatible version`` is how a
dialer learns why it was refused, so they are exact.
"""

from __future__ import annotations


class TransportError(Exception):
    """Base of the peer transport's errors; ``str()`` is etcd's text."""

    text = "rafthttp: error"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.text)


class ErrClusterIDMismatch(TransportError):
    text = "cluster ID mismatch"


class ErrIncompatibleVersion(TransportError):
    text = "incompatible version"


class ErrMemberRemoved(TransportError):
    """The remote says this member was removed from the cluster: the member must stop (etcd's
    ``errMemberRemoved``, reported on the transport's critical-error channel)."""

    text = "the member has been permanently removed from the cluster"


class ErrExceedSizeLimit(TransportError):
    text = "rafthttp: error limit exceeding"


class ErrUnexpectedStatus(TransportError):
    """Any other answer a peer gave that the transport cannot use."""


__all__ = [
    "ErrClusterIDMismatch",
    "ErrExceedSizeLimit",
    "ErrIncompatibleVersion",
    "ErrMemberRemoved",
    "ErrUnexpectedStatus",
    "TransportError",
]
