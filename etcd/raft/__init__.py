"""Raft consensus as a pure state machine, modelled on etcd's raft library.

No clocks, threads, sockets, files or asyncio: time is ``RawNode.tick()``, input is
``RawNode.step(message)`` and ``propose(data)``, output is a ``Ready`` acknowledged by ``advance``.
Randomness (election timeouts) comes from the ``random.Random`` in ``Config``.
"""

from etcd.raft.log import RaftLog
from etcd.raft.raft import NONE, Config, ConfigError, ErrProposalDropped, Raft, SoftState, StateType
from etcd.raft.rawnode import ErrStepLocalMsg, ErrStepPeerNotFound, Peer, RawNode, Ready
from etcd.raft.read_only import ReadOnlyOption, ReadState
from etcd.raft.size import NO_LIMIT
from etcd.raft.status import Status
from etcd.raft.storage import (
    ErrCompacted,
    ErrSnapOutOfDate,
    ErrSnapshotTemporarilyUnavailable,
    ErrUnavailable,
    MemoryStorage,
    Storage,
    StorageError,
)

__all__ = [
    "NONE",
    "NO_LIMIT",
    "Config",
    "ConfigError",
    "ErrCompacted",
    "ErrProposalDropped",
    "ErrSnapOutOfDate",
    "ErrSnapshotTemporarilyUnavailable",
    "ErrStepLocalMsg",
    "ErrStepPeerNotFound",
    "ErrUnavailable",
    "MemoryStorage",
    "Peer",
    "Raft",
    "RaftLog",
    "RawNode",
    "ReadOnlyOption",
    "ReadState",
    "Ready",
    "SoftState",
    "StateType",
    "Status",
    "Storage",
    "StorageError",
]
