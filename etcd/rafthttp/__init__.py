"""The peer transport (etcd's ``rafthttp``): raft messages between members over the peer port.

``Transport`` is the sending side and what ``RaftNode`` is given; ``peer_routes(transport)`` the receiving
side, mounted by the embedder on the peer port's aiohttp app. Modules, one job each:

- ``codec``: length-prefixed framing of messages (sans-IO); ``compat``: request headers, version and
  cluster-ID checks; ``errors``: etcd's error texts; ``metrics``: etcd's ``etcd_network_*`` metrics;
- ``status``: a peer's active/inactive state and URL choice; ``faults``: message drops for tests;
- ``stream``, ``pipeline``, ``snapshot``, ``probing``: the four channels to a peer; ``peer``: picks one
  per message; ``transport``: the peers, raft's side; ``http``: the handlers.
"""

from etcd.rafthttp.errors import (
    ErrClusterIDMismatch,
    ErrIncompatibleVersion,
    ErrMemberRemoved,
    TransportError,
)
from etcd.rafthttp.faults import Faults
from etcd.rafthttp.http import peer_routes
from etcd.rafthttp.snapshot import SnapshotSink, SnapshotSource, file_chunks
from etcd.rafthttp.transport import Raft, Transport

__all__ = [
    "ErrClusterIDMismatch",
    "ErrIncompatibleVersion",
    "ErrMemberRemoved",
    "Faults",
    "Raft",
    "SnapshotSink",
    "SnapshotSource",
    "Transport",
    "TransportError",
    "file_chunks",
    "peer_routes",
]
