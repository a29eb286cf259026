"""Raft snapshot files (``%016x-%016x.snap`` of term and index) and backend snapshot files, after etcd 3.4's
``snap/snapshotter.go`` and ``snap/db.go``.

A ``.snap`` file is a marshalled ``snappb.Snapshot``: the marshalled ``raftpb.Snapshot`` and its CRC-32C.
Files are written whole under a ``tmp*`` name in the same directory, fsynced, renamed into place and the
directory fsynced, so a crash leaves the old set of files or the new one, plus at most a ``tmp*`` file the
server removes at boot (as etcd's ``NewServer`` does). A file that fails to load is renamed ``<name>.broken``
and the next older one is tried. Blocking; no asyncio.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Sequence
from typing import Protocol

from google.protobuf.message import DecodeError
from prometheus_client import Histogram

from etcd.raft.raftpb.raft_pb2 import Snapshot
from etcd.snap import metrics
from etcd.snap.errors import ErrCRCMismatch, ErrEmptySnapshot, ErrNoDBSnapshot, ErrNoSnapshot, SnapError
from etcd.snap.snappb import snap_pb2 as snappb
from etcd.wal import crc
from etcd.wal.fileutil import PRIVATE_FILE_MODE, fsync_dir, write_all
from etcd.wal.walpb.record_pb2 import Snapshot as WalSnapshot

SNAP_SUFFIX = ".snap"
DB_SUFFIX = ".snap.db"
_COPY_CHUNK = 1 << 20


class Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def snap_name(term: int, index: int) -> str:
    """The file name of the raft snapshot at ``term`` and ``index``."""
    return f"{term:016x}-{index:016x}{SNAP_SUFFIX}"


def read_snap(path: str) -> Snapshot:
    """Reads and checks one ``.snap`` file; renames nothing (``Snapshotter.load`` does).

    Raises:
        ErrEmptySnapshot: the file, or the data in it, is empty.
        ErrCRCMismatch: the data does not match its CRC.
        SnapError: the file does not parse.
        OSError: the file cannot be read.
    """
    with open(path, "rb") as f:
        b = f.read()
    if not b:
        raise ErrEmptySnapshot(path)
    try:
        wrapper = snappb.Snapshot.FromString(b)
    except DecodeError as e:
        raise SnapError(f"{path}: {e}") from None
    if not wrapper.data or wrapper.crc == 0:
        raise ErrEmptySnapshot(path)
    if crc.checksum(wrapper.data) != wrapper.crc:
        raise ErrCRCMismatch(path)
    try:
        snap: Snapshot = Snapshot.FromString(wrapper.data)
    except DecodeError as e:
        raise SnapError(f"{path}: {e}") from None
    return snap


class Snapshotter:
    """The snapshot files of one member's ``member/snap`` directory (which must exist)."""

    def __init__(self, dirpath: str) -> None:
        self.dir = dirpath

    def save_snap(self, snapshot: Snapshot) -> None:
        """Writes ``snapshot`` to ``%016x-%016x.snap`` (term, index) atomically and durably.

        An empty snapshot (index 0) is not written, as in etcd. Call it before ``WAL.save_snapshot``, so the
        WAL never marks a snapshot that is not on disk.

        Raises:
            OSError: the write, fsync or rename failed; no partial file is left under the final name.
        """
        if snapshot.metadata.index == 0:
            return
        start = time.perf_counter()
        data = snapshot.SerializeToString()
        body = snappb.Snapshot(crc=crc.checksum(data), data=data).SerializeToString()
        metrics.snap_marshalling_duration_seconds.observe(time.perf_counter() - start)
        name = snap_name(snapshot.metadata.term, snapshot.metadata.index)
        self._write_atomically(name, [body], metrics.snap_fsync_duration_seconds)
        metrics.snap_save_total_duration_seconds.observe(time.perf_counter() - start)

    def snap_names(self) -> list[str]:
        """Names of the ``.snap`` files, newest first. Raises OSError if the directory cannot be listed."""
        return sorted((n for n in os.listdir(self.dir) if n.endswith(SNAP_SUFFIX)), reverse=True)

    def load(self) -> Snapshot:
        """The newest snapshot that loads; every newer file that fails is renamed ``<name>.broken``.

        Raises:
            ErrNoSnapshot: no snapshot file loads.
        """
        return self._load_matching(lambda _s: True)

    def load_newest_available(self, walsnaps: Sequence[WalSnapshot]) -> Snapshot:
        """The newest snapshot that loads and matches (term and index) one of ``walsnaps``.

        ``walsnaps`` are the WAL's committed markers (``etcd.wal.valid_snapshot_entries``); a newer snapshot
        file the WAL does not vouch for is skipped, not renamed. Files that fail to load are renamed
        ``<name>.broken`` as in ``load``.

        Raises:
            ErrNoSnapshot: no snapshot file loads and matches.
        """
        wanted = {(s.term, s.index) for s in walsnaps}
        return self._load_matching(lambda s: (s.metadata.term, s.metadata.index) in wanted)

    def _load_matching(self, match: _Match) -> Snapshot:
        for name in self.snap_names():
            path = os.path.join(self.dir, name)
            try:
                snap = read_snap(path)
            except (SnapError, OSError):
                with contextlib.suppress(OSError):
                    os.rename(path, path + ".broken")
                continue
            if match(snap):
                return snap
        raise ErrNoSnapshot()

    def save_db_file(self, src: Reader | bytes, index: int) -> int:
        """Stores the backend snapshot received with the raft snapshot at ``index`` as ``%016x.snap.db``.

        Copies ``src`` (bytes, or a binary reader read to EOF) into a ``tmp*`` file, fsyncs it, and renames
        it into place; if the file for ``index`` already exists, it is kept and the copy dropped. Returns the
        number of bytes read from ``src``.

        Raises:
            OSError: reading, writing, fsync or rename failed; the temporary file is removed.
        """
        start = time.perf_counter()
        chunks: Sequence[bytes] | _ReaderChunks = [src] if isinstance(src, bytes) else _ReaderChunks(src)
        n = self._write_atomically(
            f"{index:016x}{DB_SUFFIX}", chunks, metrics.snap_db_fsync_duration_seconds, replace=False
        )
        metrics.snap_db_save_total_duration_seconds.observe(time.perf_counter() - start)
        return n

    def db_file_path(self, index: int) -> str:
        """The path of the backend snapshot file for ``index``.

        Raises:
            ErrNoDBSnapshot: it does not exist.
            OSError: the directory cannot be listed.
        """
        os.listdir(self.dir)
        path = os.path.join(self.dir, f"{index:016x}{DB_SUFFIX}")
        if not os.path.exists(path):
            raise ErrNoDBSnapshot(path)
        return path

    def _write_atomically(
        self,
        name: str,
        chunks: Sequence[bytes] | _ReaderChunks,
        fsync_metric: Histogram,
        *,
        replace: bool = True,
    ) -> int:
        fd, tmp = tempfile.mkstemp(prefix="tmp", dir=self.dir)
        n = 0
        try:
            os.fchmod(fd, PRIVATE_FILE_MODE)
            for chunk in chunks:
                write_all(fd, chunk)
                n += len(chunk)
            with fsync_metric.time():
                os.fsync(fd)
            os.close(fd)
            fd = -1
            final = os.path.join(self.dir, name)
            if not replace and os.path.exists(final):
                os.remove(tmp)
                return n
            os.rename(tmp, final)
            fsync_dir(self.dir)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
        return n


class _ReaderChunks:
    """Iterates a binary reader in 1 MiB chunks until it returns b""."""

    def __init__(self, r: Reader) -> None:
        self._r = r

    def __iter__(self) -> _ReaderChunks:
        return self

    def __next__(self) -> bytes:
        b = self._r.read(_COPY_CHUNK)
        if not b:
            raise StopIteration
        return b


class _Match(Protocol):
    def __call__(self, s: Snapshot, /) -> bool: ...
