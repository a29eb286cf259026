"""The member's raft driver (etcd's ``etcdserver`` raft side): durable storage, bootstrap, the asyncio loop.

``bootstrap.open_raft`` opens or creates ``<data-dir>/member/{wal,snap}`` and returns a ``BootstrappedRaft``;
``RaftNode`` runs it on the event loop against a ``Transport`` and an apply callback. The mvcc apply logic,
gRPC and the peer transport live above this package and reach raft only through ``RaftNode``.
"""

from etcd.server.bootstrap import BootstrappedRaft, open_raft
from etcd.server.errors import ErrStopped
from etcd.server.raft import (
    Applied,
    ApplyBatch,
    ApplyFunc,
    Committed,
    RaftNode,
    SnapshotFunc,
    Transport,
)
from etcd.server.storage import RaftStorage

__all__ = [
    "Applied",
    "ApplyBatch",
    "ApplyFunc",
    "BootstrappedRaft",
    "Committed",
    "ErrStopped",
    "RaftNode",
    "RaftStorage",
    "SnapshotFunc",
    "Transport",
    "open_raft",
]
