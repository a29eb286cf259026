"""The write-ahead log: raft's hard state and entries, appended durably to segment files.

A WAL directory holds segments named ``%016x-%016x.wal`` (see ``names.py``), each opening with a CRC record,
the metadata record and the last hard state, then entries, hard states and snapshot markers as they are
saved (framing and CRC chain: ``encoder.py``). The WAL is opened at a snapshot marker and read once to the
end; after that it only appends. When the segment being written passes ``segment_size_bytes`` a new one is
cut. Every segment the live WAL may still read is locked (``flock``), so a second process, or a second open
in this one, cannot write the same log and ``purge_files`` never removes a segment still needed;
``release_lock_to`` gives up the segments a snapshot made unnecessary.

Blocking throughout: the server calls it from its I/O thread pool, one call at a time. Follows etcd 3.4's
``wal/wal.go`` with its file names, record types and error messages; differences are marked in the code.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from etcd.raft.raftpb.raft_pb2 import Entry, HardState
from etcd.wal import metrics
from etcd.wal.decoder import decode
from etcd.wal.encoder import ENTRY_TYPE, METADATA_TYPE, SNAPSHOT_TYPE, STATE_TYPE, Encoder
from etcd.wal.errors import (
    ErrClosed,
    ErrCorruptRecord,
    ErrDecoderNotFound,
    ErrExist,
    ErrFileNotFound,
    ErrMetadataConflict,
    ErrNotRead,
    ErrSliceOutOfRange,
    ErrSnapshotMismatch,
    ErrSnapshotNotFound,
    WALError,
)
from etcd.wal.fileutil import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, fsync_dir, try_lock_file, write_all
from etcd.wal.names import exist, is_valid_seq, parse_wal_name, read_wal_names, search_index, wal_name
from etcd.wal.walpb.record_pb2 import Snapshot as WalSnapshot

# etcd 3.4 compat: wal/wal.go SegmentSizeBytes ("64MB", decimal); segments are cut at this size but, unlike
# etcd's, not preallocated.
SEGMENT_SIZE_BYTES = 64 * 1000 * 1000


@dataclass
class _Segment:
    name: str
    fd: int | None  # holds the segment's lock; None when opened for reading only


def _is_empty_hard_state(st: HardState) -> bool:
    return st.term == 0 and st.vote == 0 and st.commit == 0


class WAL:
    """An open write-ahead log; build one with ``create``, ``open`` or ``open_for_read``, never directly.

    Not thread-safe: one caller at a time. Every method that writes raises ``WALError`` (or ``OSError``
    from the file system); after a failed write the WAL is unusable (``ErrClosed``) and the member must stop.
    """

    def __init__(
        self,
        dirpath: str,
        segments: list[_Segment],
        *,
        start: WalSnapshot,
        segment_size_bytes: int,
        writable: bool,
    ) -> None:
        self.dir = dirpath
        self._segments = segments
        self._start = start
        self._segment_size_bytes = segment_size_bytes
        self._writable = writable
        self._metadata = b""
        self._state = HardState()
        self._enti = 0  # index of the last entry saved
        self._encoder: Encoder | None = None  # set once the log has been read to its end
        self._tail_offset = 0
        self._read_done = False
        self._closed = False

    # -- construction -------------------------------------------------------------------------------------

    @classmethod
    def create(cls, dirpath: str, metadata: bytes, *, segment_size_bytes: int = SEGMENT_SIZE_BYTES) -> WAL:
        """Creates a WAL in ``dirpath`` holding ``metadata`` and a snapshot marker at index 0; ready to save.

        The first segment is written in ``<dirpath>.tmp`` and fsynced, then the directory is renamed into
        place and its parent fsynced, so a crash leaves either no WAL or a complete one. An empty
        ``dirpath`` (or one without segments) is replaced.

        Raises:
            ErrExist: ``dirpath`` already holds segments.
            OSError: a file system call failed.
        """
        if exist(dirpath):
            raise ErrExist(dirpath)
        dirpath = os.path.normpath(dirpath)
        parent = os.path.dirname(dirpath) or "."
        os.makedirs(parent, mode=PRIVATE_DIR_MODE, exist_ok=True)
        tmpdir = dirpath + ".tmp"
        if os.path.exists(tmpdir):
            shutil.rmtree(tmpdir)
        os.mkdir(tmpdir, PRIVATE_DIR_MODE)
        name = wal_name(0, 0)
        fd = try_lock_file(os.path.join(tmpdir, name), os.O_RDWR | os.O_CREAT | os.O_EXCL)
        w = cls(
            dirpath,
            [_Segment(name, fd)],
            start=WalSnapshot(),
            segment_size_bytes=segment_size_bytes,
            writable=True,
        )
        try:
            w._metadata = metadata
            w._encoder = Encoder(0)
            buf = bytearray()
            w._encoder.encode_crc(buf)
            w._encoder.encode(buf, METADATA_TYPE, metadata)
            w._encoder.encode(buf, SNAPSHOT_TYPE, WalSnapshot().SerializeToString())
            w._write(buf, sync=True)
            # etcd 3.4 compat: wal/wal.go renameWAL removes whatever the target directory held.
            if os.path.exists(dirpath):
                shutil.rmtree(dirpath)
            os.rename(tmpdir, dirpath)
            fsync_dir(parent)
        except BaseException:
            w._release_all()
            raise
        return w

    @classmethod
    def open(
        cls,
        dirpath: str,
        walsnap: WalSnapshot | None = None,
        *,
        segment_size_bytes: int = SEGMENT_SIZE_BYTES,
    ) -> WAL:
        """Opens the WAL at the snapshot marker ``walsnap`` (None: index 0) to read it, then append.

        Locks every segment from the one holding ``walsnap.index`` on. The caller must call ``read_all``
        before saving anything; it cuts a torn tail.

        Raises:
            ErrFileNotFound: no segment, none old enough for ``walsnap``, or a gap in the sequence.
            ErrLocked: another process, or another open WAL, holds a segment's lock.
            OSError: a file system call failed.
        """
        return cls._open(dirpath, walsnap or WalSnapshot(), segment_size_bytes, writable=True)

    @classmethod
    def open_for_read(cls, dirpath: str, walsnap: WalSnapshot | None = None) -> WAL:
        """Opens the WAL at ``walsnap`` for ``read_all`` only: takes no lock and never changes a file.

        Raises as ``open`` does, except ErrLocked.
        """
        return cls._open(dirpath, walsnap or WalSnapshot(), SEGMENT_SIZE_BYTES, writable=False)

    @classmethod
    def _open(cls, dirpath: str, walsnap: WalSnapshot, segment_size_bytes: int, *, writable: bool) -> WAL:
        try:
            names = read_wal_names(dirpath)
        except FileNotFoundError:
            raise ErrFileNotFound(dirpath) from None
        i = search_index(names, walsnap.index)
        if i < 0 or not is_valid_seq(names[i:]):
            raise ErrFileNotFound(dirpath)
        segments: list[_Segment] = []
        w = cls(dirpath, segments, start=walsnap, segment_size_bytes=segment_size_bytes, writable=writable)
        try:
            for name in names[i:]:
                fd = try_lock_file(os.path.join(dirpath, name), os.O_RDWR) if writable else None
                segments.append(_Segment(name, fd))
        except BaseException:
            w._release_all()
            raise
        return w

    # -- reading ------------------------------------------------------------------------------------------

    def read_all(self) -> tuple[bytes, HardState, list[Entry]]:
        """Reads the log from the opening snapshot to its end: ``(metadata, last hard state, entries)``.

        Entries are those after the snapshot's index, in order; an entry saved again at an index already in
        the log replaced the earlier one and everything after it. Only allowed once per open WAL. In a WAL
        opened with ``open``, a torn or corrupt tail of the last segment (see ``decoder.py``) is copied to
        ``<segment>.broken``, cut off the file, and the cut fsynced, before appending resumes where the good
        records end.

        Raises:
            ErrDecoderNotFound: called a second time.
            ErrCRCMismatch, ErrUnexpectedEOF, ErrCorruptRecord: the log is damaged before its tail.
            ErrMetadataConflict: two metadata records differ.
            ErrSnapshotMismatch: the marker at the snapshot's index has another term.
            ErrSnapshotNotFound: no marker at the snapshot's index.
            ErrSliceOutOfRange: an entry's index leaves a gap after the previous one.
        """
        self._check_open()
        if self._encoder is not None or self._read_done:
            raise ErrDecoderNotFound()
        self._read_done = True
        contents = []
        for seg in self._segments:
            with open(os.path.join(self.dir, seg.name), "rb") as f:
                contents.append((seg.name, f.read()))
        decoded = decode(contents)

        metadata: bytes | None = None
        state = HardState()
        ents: list[Entry] = []
        match = False
        start = self._start
        try:
            for rec_type, data in decoded.records:
                if rec_type == ENTRY_TYPE:
                    e = Entry.FromString(data)
                    if e.index > start.index:
                        pos = e.index - start.index - 1
                        if pos > len(ents):
                            raise ErrSliceOutOfRange(f"entry {e.index} after {start.index + len(ents)}")
                        del ents[pos:]
                        ents.append(e)
                    self._enti = e.index
                elif rec_type == STATE_TYPE:
                    state = HardState.FromString(data)
                elif rec_type == METADATA_TYPE:
                    if metadata is not None and metadata != data:
                        raise ErrMetadataConflict()
                    metadata = data
                elif rec_type == SNAPSHOT_TYPE:
                    snap = WalSnapshot.FromString(data)
                    if snap.index == start.index:
                        if snap.term != start.term:
                            raise ErrSnapshotMismatch(f"index {snap.index}: term {snap.term} != {start.term}")
                        match = True
        except DecodeError as e:
            # The CRC matched, so this is not damage on disk but a record we could never have written.
            raise ErrCorruptRecord(str(e)) from None
        if not match:
            raise ErrSnapshotNotFound(f"index {start.index} term {start.term}")

        self._metadata = metadata or b""
        self._state = state
        if self._enti < start.index:
            self._enti = start.index
        if self._writable:
            self._cut_torn_tail(contents[-1], decoded.end_offset)
            self._encoder = Encoder(decoded.crc)
            self._tail_offset = decoded.end_offset
            os.lseek(self._tail_fd(), self._tail_offset, os.SEEK_SET)
        self._start = WalSnapshot()
        return self._metadata, state, ents

    def _cut_torn_tail(self, last: tuple[str, bytes], end: int) -> None:
        name, buf = last
        if end == len(buf):
            return
        if buf[end:].strip(b"\0"):
            # etcd 3.4 compat: wal/repair.go keeps the damaged segment as <name>.broken before cutting it.
            with open(os.path.join(self.dir, name) + ".broken", "wb") as f:
                f.write(buf)
                f.flush()
                os.fsync(f.fileno())
        fd = self._tail_fd()
        os.ftruncate(fd, end)
        os.fsync(fd)
        fsync_dir(self.dir)

    # -- writing ------------------------------------------------------------------------------------------

    def save(self, hard_state: HardState | None, entries: Sequence[Entry], *, sync: bool) -> None:
        """Appends ``entries`` and ``hard_state`` (unless None or empty); if ``sync``, fdatasyncs them.

        An entry at an index already in the log replaces it and every entry after it (read_all applies
        that). All records go out in one ``write``, so a crash leaves a prefix of them, which the next open
        cuts. When the segment passes ``segment_size_bytes``, a new one is cut (that always fsyncs). Raft's
        ``Ready.must_sync`` is the right value for ``sync``; a save that returns without it is durable only
        after a later synced one. Blocking: call it from the I/O pool, never on the event loop.

        Raises:
            ErrNotRead: ``read_all`` has not been called on this opened WAL.
            ErrClosed: the WAL was closed or an earlier write failed.
            WALError: the write failed (wrapping the OSError); the WAL is now unusable and the member must
                stop rather than run without it.
        """
        encoder = self._encoder_or_raise()
        if (hard_state is None or _is_empty_hard_state(hard_state)) and not entries:
            return
        buf = bytearray()
        for e in entries:
            encoder.encode(buf, ENTRY_TYPE, e.SerializeToString())
        if entries:
            self._enti = entries[-1].index
        if hard_state is not None and not _is_empty_hard_state(hard_state):
            encoder.encode(buf, STATE_TYPE, hard_state.SerializeToString())
            self._state = HardState(term=hard_state.term, vote=hard_state.vote, commit=hard_state.commit)
        self._write(buf, sync=sync)
        if self._tail_offset >= self._segment_size_bytes:
            self._cut()

    def save_snapshot(self, walsnap: WalSnapshot) -> None:
        """Appends a snapshot marker for ``walsnap`` and fdatasyncs; ``open`` can then start reading there.

        Save the snapshot file itself (``Snapshotter.save_snap``) first, so a marker never points at a
        snapshot that is not on disk. Raises as ``save``.
        """
        encoder = self._encoder_or_raise()
        buf = bytearray()
        encoder.encode(buf, SNAPSHOT_TYPE, walsnap.SerializeToString())
        if self._enti < walsnap.index:
            self._enti = walsnap.index
        self._write(buf, sync=True)

    def sync(self) -> None:
        """fdatasyncs the segment being written. Raises as ``save``."""
        self._encoder_or_raise()
        try:
            self._fdatasync()
        except OSError as e:
            self._fail()
            raise WALError(f"sync failed: {e}") from e

    def _encoder_or_raise(self) -> Encoder:
        self._check_open()
        if self._encoder is None:
            if not self._writable:
                raise ErrClosed("opened for reading only")
            raise ErrNotRead()
        return self._encoder

    def _check_open(self) -> None:
        if self._closed:
            raise ErrClosed()

    def _tail_fd(self) -> int:
        fd = self._segments[-1].fd
        assert fd is not None, "only a writable WAL has a tail to write"
        return fd

    def _write(self, buf: bytearray, *, sync: bool) -> None:
        try:
            write_all(self._tail_fd(), buf)
            self._tail_offset += len(buf)
            metrics.wal_write_bytes.inc(len(buf))
            if sync:
                self._fdatasync()
        except OSError as e:
            # A failed write or fsync leaves the file in an unknown state (and Linux may drop the dirty
            # pages, so retrying the fsync can falsely succeed: the 2018 "fsyncgate"); stop writing for good.
            self._fail()
            raise WALError(f"write failed: {e}") from e

    def _fdatasync(self) -> None:
        with metrics.wal_fsync_duration_seconds.time():
            os.fdatasync(self._tail_fd())

    def _cut(self) -> None:
        """Closes the tail segment for writing and starts the next one, named for the next entry's index.

        The new segment's header (CRC, metadata, last hard state) is written to ``<name>.tmp`` and fsynced
        before the rename, then the directory is fsynced: a segment file is never seen half-made.
        """
        encoder = self._encoder_or_raise()
        try:
            self._fdatasync()
            seq = parse_wal_name(self._segments[-1].name)[0] + 1
            name = wal_name(seq, self._enti + 1)
            path = os.path.join(self.dir, name)
            fd = try_lock_file(path + ".tmp", os.O_RDWR | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
            self._segments.append(_Segment(name, fd))
            self._tail_offset = 0
            buf = bytearray()
            encoder.encode_crc(buf)
            encoder.encode(buf, METADATA_TYPE, self._metadata)
            if not _is_empty_hard_state(self._state):
                encoder.encode(buf, STATE_TYPE, self._state.SerializeToString())
            self._write(buf, sync=True)
            os.rename(path + ".tmp", path)
            fsync_dir(self.dir)
        except OSError as e:
            self._fail()
            raise WALError(f"cut failed: {e}") from e

    # -- purging and closing ------------------------------------------------------------------------------

    def release_lock_to(self, index: int) -> None:
        """Unlocks segments not needed to open at a snapshot at raft ``index``, so purging may remove them.

        Keeps the segment holding ``index`` and, as etcd does, the one before it; the segment being written
        is never released. Raises ErrClosed if the WAL was closed.
        """
        self._check_open()
        if not self._writable or len(self._segments) <= 1:
            return
        # etcd 3.4 compat: wal/wal.go ReleaseLockTo, including keeping one segment more than needed.
        smaller = len(self._segments) - 1
        for i, seg in enumerate(self._segments):
            if parse_wal_name(seg.name)[1] >= index:
                smaller = i - 1
                break
        if smaller <= 0:
            return
        for seg in self._segments[:smaller]:
            if seg.fd is not None:
                os.close(seg.fd)
        del self._segments[:smaller]

    def close(self) -> None:
        """fdatasyncs the segment being written (if any), then releases every lock. Idempotent.

        Raises WALError if the final fdatasync fails; the locks are released anyway.
        """
        if self._closed:
            return
        try:
            if self._encoder is not None and self._writable:
                try:
                    self._fdatasync()
                except OSError as e:
                    raise WALError(f"sync on close failed: {e}") from e
        finally:
            self._release_all()

    def _fail(self) -> None:
        self._encoder = None
        self._release_all()

    def _release_all(self) -> None:
        self._closed = True
        for seg in self._segments:
            if seg.fd is not None:
                os.close(seg.fd)
                seg.fd = None

    def __enter__(self) -> WAL:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- introspection ------------------------------------------------------------------------------------

    @property
    def segment_names(self) -> list[str]:
        """Names of the segments this WAL holds open (and locked, if writable), oldest first."""
        return [seg.name for seg in self._segments]

    @property
    def last_index(self) -> int:
        """Raft index of the last entry saved (or of the opening snapshot, if none followed it)."""
        return self._enti


def valid_snapshot_entries(dirpath: str) -> list[WalSnapshot]:
    """The snapshot markers in the WAL at ``dirpath`` that its last hard state has committed, oldest first.

    A marker past the hard state's commit index may point at a snapshot of entries the cluster never
    committed (written before a crash, never agreed); the server loads the newest snapshot file matching
    one of these (``Snapshotter.load_newest_available``) and opens the WAL there. Reads every segment, takes
    no lock and changes nothing; a torn tail is ignored as ``read_all`` would cut it.

    Raises:
        ErrFileNotFound: no segment, or a gap in the sequence.
        ErrCRCMismatch, ErrUnexpectedEOF, ErrCorruptRecord: the log is damaged before its tail.
    """
    try:
        names = read_wal_names(dirpath)
    except FileNotFoundError:
        raise ErrFileNotFound(dirpath) from None
    if not names or not is_valid_seq(names):
        raise ErrFileNotFound(dirpath)
    contents = []
    for name in names:
        with open(os.path.join(dirpath, name), "rb") as f:
            contents.append((name, f.read()))
    snaps: list[WalSnapshot] = []
    state = HardState()
    try:
        for rec_type, data in decode(contents).records:
            if rec_type == SNAPSHOT_TYPE:
                snaps.append(WalSnapshot.FromString(data))
            elif rec_type == STATE_TYPE:
                state = HardState.FromString(data)
    except DecodeError as e:
        raise ErrCorruptRecord(str(e)) from None
    return [s for s in snaps if s.index <= state.commit]
