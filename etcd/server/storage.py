"""The member's durable raft state: the WAL and the snapshot files (etcd's ``etcdserver/storage.go``).

Blocking, no asyncio: ``RaftNode`` calls it from the I/O thread pool, one call at a time.
"""

from __future__ import annotations

from collections.abc import Sequence

from etcd.raft.raftpb.raft_pb2 import Entry, HardState, Snapshot
from etcd.snap import Snapshotter
from etcd.wal import WAL
from etcd.wal.walpb.record_pb2 import Snapshot as WalSnapshot


class RaftStorage:
    """A member's ``WAL`` and ``Snapshotter``, owned from construction: ``close`` closes the WAL.

    Not thread-safe: the driver serialises every call.
    """

    def __init__(self, wal: WAL, snapshotter: Snapshotter) -> None:
        self.wal = wal
        self.snapshotter = snapshotter

    def save(self, hard_state: HardState | None, entries: Sequence[Entry], *, sync: bool) -> None:
        """Append ``entries`` and ``hard_state`` to the WAL; fdatasync if ``sync`` (raft's ``must_sync``).

        Raises:
            WALError: the write failed; the member must stop.
        """
        self.wal.save(hard_state, entries, sync=sync)

    def save_snap(self, snapshot: Snapshot) -> None:
        """Make ``snapshot`` durable: the snap file, then the WAL's marker for it, then unlock older segments.

        The order is etcd's (``storage.go`` ``SaveSnap``, then ``ReleaseLockTo``): a WAL marker never points
        at a snapshot file that is not on disk, and segments are released for purging only once both are.
        An empty snapshot (index 0) is ignored.

        Raises:
            OSError: the snap file could not be written.
            WALError: the marker could not be written; the member must stop.
        """
        meta = snapshot.metadata
        if meta.index == 0:
            return
        self.snapshotter.save_snap(snapshot)
        walsnap = WalSnapshot(index=meta.index, term=meta.term)
        walsnap.conf_state.CopyFrom(meta.conf_state)
        self.wal.save_snapshot(walsnap)
        self.wal.release_lock_to(meta.index)

    def close(self) -> None:
        """fdatasync and close the WAL, releasing its locks. Idempotent. Raises WALError if the sync fails."""
        self.wal.close()
