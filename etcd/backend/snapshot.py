"""A point-in-time copy of the backend as a byte stream, and the restore from one.

The stream format (ours; etcd streams its bbolt file instead): the magic line ``MAGIC``, then one record
per RocksDB key, ``>II`` (key length, value length) followed by the key and value bytes (keys carry
their bucket prefix), then the end marker ``0xFFFFFFFF`` and the SHA-256 of everything before it.
etcd likewise appends a SHA-256 to the snapshot it sends, so a truncated or corrupt stream is refused
on restore rather than opened as a smaller database.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from rocksdict import Options, Rdict, WriteBatch

MAGIC = b"etcd-py backend snapshot v1\n"
END = 0xFFFFFFFF
CHUNK = 64 * 1024
_HEADER = struct.Struct(">II")
_RESTORE_BATCH = 10_000


class SnapshotError(Exception):
    """The stream is not a complete backend snapshot."""


class Snapshot:
    """A finished snapshot held in a temporary file; iterate it for chunks, or ``write_to`` a file.

    ``size`` is the total length in bytes (for ``SnapshotResponse.remaining_bytes``). ``close`` deletes
    the file; a ``with`` block does it too.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.size = os.path.getsize(path)

    def __iter__(self) -> Iterator[bytes]:
        with open(self.path, "rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk

    def write_to(self, fileobj: BinaryIO) -> int:
        """Copies the whole snapshot into ``fileobj``; returns the bytes written."""
        n = 0
        for chunk in self:
            fileobj.write(chunk)
            n += len(chunk)
        return n

    def close(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def dump(items: Iterable[Any], out: BinaryIO) -> None:
    """Writes ``items`` (raw RocksDB keys and values, in order) to ``out`` in the stream format."""
    h = hashlib.sha256()

    def w(b: bytes) -> None:
        h.update(b)
        out.write(b)

    w(MAGIC)
    for k, v in items:
        w(_HEADER.pack(len(k), len(v)))
        w(k)
        w(v)
    w(struct.pack(">I", END))
    out.write(h.digest())


class _Reader:
    """Pulls exact byte counts out of chunks or a file, hashing what it hands out."""

    def __init__(self, stream: Iterable[bytes] | BinaryIO) -> None:
        if hasattr(stream, "read"):
            f = stream
            self._chunks: Iterator[bytes] = iter(lambda: f.read(CHUNK), b"")
        else:
            self._chunks = iter(stream)
        self._buf = bytearray()
        self.hash = hashlib.sha256()

    def take(self, n: int, *, hashed: bool = True) -> bytes:
        while len(self._buf) < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                raise SnapshotError("backend snapshot: unexpected end of stream")
            self._buf += chunk
        out = bytes(self._buf[:n])
        del self._buf[:n]
        if hashed:
            self.hash.update(out)
        return out


def restore(stream: Iterable[bytes] | BinaryIO, path: str) -> None:
    """Creates a new backend database at ``path`` from a snapshot stream.

    Raises:
        SnapshotError: bad magic, truncated stream or hash mismatch; nothing is left at ``path``.
        FileExistsError: ``path`` already holds something.
    """
    if os.path.exists(path) and os.listdir(path):
        raise FileExistsError(path)
    opts = Options(raw_mode=True)
    opts.create_if_missing(True)
    db = Rdict(path, opts)
    ok = False
    try:
        r = _Reader(stream)
        if r.take(len(MAGIC)) != MAGIC:
            raise SnapshotError("backend snapshot: bad magic")
        wb = WriteBatch(raw_mode=True)
        while True:
            klen = struct.unpack(">I", r.take(4))[0]
            if klen == END:
                break
            vlen = struct.unpack(">I", r.take(4))[0]
            wb.put(r.take(klen), r.take(vlen))
            if wb.len() >= _RESTORE_BATCH:
                db.write(wb)
                wb = WriteBatch(raw_mode=True)
        digest = r.hash.digest()
        if r.take(32, hashed=False) != digest:
            raise SnapshotError("backend snapshot: sha256 mismatch")
        db.write(wb)
        db.flush()
        ok = True
    finally:
        db.close()
        if not ok:
            shutil.rmtree(path, ignore_errors=True)
