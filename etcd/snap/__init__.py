"""Raft snapshot files and backend snapshot files (etcd's ``snap`` package): ``Snapshotter``.

Blocking, no asyncio: the server calls it from its I/O thread pool.
"""

from etcd.snap.errors import ErrCRCMismatch, ErrEmptySnapshot, ErrNoDBSnapshot, ErrNoSnapshot, SnapError
from etcd.snap.snapshotter import Snapshotter, read_snap, snap_name

__all__ = [
    "ErrCRCMismatch",
    "ErrEmptySnapshot",
    "ErrNoDBSnapshot",
    "ErrNoSnapshot",
    "SnapError",
    "Snapshotter",
    "read_snap",
    "snap_name",
]
