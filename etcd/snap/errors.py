"""The snapshotter's exceptions, with etcd 3.4's messages (``snap/snapshotter.go``, ``snap/db.go``)."""

from __future__ import annotations


class SnapError(Exception):
    """Base class of every error raised by ``etcd.snap``; ``str(e)`` starts with etcd's message."""

    message = "snap: error"

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"{self.message}: {detail}" if detail else self.message)


class ErrNoSnapshot(SnapError):
    message = "snap: no available snapshot"


class ErrEmptySnapshot(SnapError):
    message = "snap: empty snapshot"


class ErrCRCMismatch(SnapError):
    message = "snap: crc mismatch"


class ErrNoDBSnapshot(SnapError):
    message = "snap: snapshot file doesn't exist"
