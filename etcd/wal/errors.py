"""The WAL's exceptions, one class per etcd 3.4 sentinel in ``wal/wal.go`` and ``wal/decoder.go``.

``str(e)`` starts with etcd's message; a detail such as the segment file and byte offset may follow it after
a colon. Every one of them means the log on disk cannot be trusted or used as asked: the member must stop
rather than run on without it.
"""

from __future__ import annotations


class WALError(Exception):
    """Base class of every error raised by ``etcd.wal``."""

    message = "wal: error"

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"{self.message}: {detail}" if detail else self.message)


class ErrMetadataConflict(WALError):
    message = "wal: conflicting metadata found"


class ErrFileNotFound(WALError):
    message = "wal: file not found"


class ErrCRCMismatch(WALError):
    message = "wal: crc mismatch"


class ErrSnapshotMismatch(WALError):
    message = "wal: snapshot mismatch"


class ErrSnapshotNotFound(WALError):
    message = "wal: snapshot not found"


class ErrDecoderNotFound(WALError):
    message = "wal: decoder not found"


class ErrSliceOutOfRange(WALError):
    # etcd 3.4 compat: wal/wal.go ErrSliceOutOfRange (later 3.4 releases), for an entry index gap.
    message = "wal: slice bounds out of range"


class ErrUnexpectedEOF(WALError):
    # etcd 3.4 compat: Go's io.ErrUnexpectedEOF, returned for a record cut short before the last segment.
    message = "unexpected EOF"


class ErrCorruptRecord(WALError):
    """A record that cannot be decoded (bad frame, bad protobuf, unknown type) where no torn tail can be."""

    message = "wal: corrupt record"


class ErrExist(WALError):
    # etcd 3.4 compat: WAL.Create returns Go's os.ErrExist when the directory already holds segments.
    message = "file already exists"


class ErrLocked(WALError):
    # etcd 3.4 compat: pkg/fileutil ErrLocked, when another process (or open) holds a segment's lock.
    message = "fileutil: file already locked"


class ErrClosed(WALError):
    """The WAL was closed, or a failed write left it unusable."""

    message = "wal: closed"


class ErrNotRead(WALError):
    """An opened WAL must be read to its end with ``read_all`` before it can append."""

    message = "wal: read_all must be called before appending"
