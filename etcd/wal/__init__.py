"""The durable raft log (etcd's ``wal`` package): segment files of CRC-chained records.

``WAL.create``/``WAL.open``/``WAL.open_for_read`` give a ``WAL``; ``read_all`` returns what was saved;
``save``/``save_snapshot`` append; ``release_lock_to`` lets ``purge_files`` remove segments a snapshot
covers. Blocking, no asyncio: the server calls it from its I/O thread pool.
"""

from etcd.wal.errors import (
    ErrClosed,
    ErrCorruptRecord,
    ErrCRCMismatch,
    ErrDecoderNotFound,
    ErrExist,
    ErrFileNotFound,
    ErrLocked,
    ErrMetadataConflict,
    ErrNotRead,
    ErrSliceOutOfRange,
    ErrSnapshotMismatch,
    ErrSnapshotNotFound,
    ErrUnexpectedEOF,
    WALError,
)
from etcd.wal.fileutil import purge_files
from etcd.wal.names import exist, wal_name
from etcd.wal.wal import SEGMENT_SIZE_BYTES, WAL, valid_snapshot_entries

__all__ = [
    "SEGMENT_SIZE_BYTES",
    "WAL",
    "ErrCRCMismatch",
    "ErrClosed",
    "ErrCorruptRecord",
    "ErrDecoderNotFound",
    "ErrExist",
    "ErrFileNotFound",
    "ErrLocked",
    "ErrMetadataConflict",
    "ErrNotRead",
    "ErrSliceOutOfRange",
    "ErrSnapshotMismatch",
    "ErrSnapshotNotFound",
    "ErrUnexpectedEOF",
    "WALError",
    "exist",
    "purge_files",
    "valid_snapshot_entries",
    "wal_name",
]
