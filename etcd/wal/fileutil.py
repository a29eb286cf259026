"""File helpers the WAL and the snapshotter share, after etcd's ``pkg/fileutil``: locks, fsyncs, purging.

Locks are ``flock(LOCK_EX | LOCK_NB)`` on an open file, as etcd's ``TryLockFile``: held by that open file
description until it is closed, so a second ``open`` of the same file conflicts even inside one process.
"""

from __future__ import annotations

import fcntl
import os

from etcd.wal.errors import ErrLocked

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def try_lock_file(path: str, flags: int, mode: int = PRIVATE_FILE_MODE) -> int:
    """Opens ``path`` with ``flags``, takes its exclusive lock and returns the descriptor holding it.

    Raises:
        ErrLocked: another open file description holds the lock (the file stays unopened).
        OSError: the open failed.
    """
    fd = os.open(path, flags | os.O_CLOEXEC, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ErrLocked(path) from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def fsync_dir(dirpath: str) -> None:
    """fsyncs the directory itself, so file creations, renames and removals in it survive a crash."""
    fd = os.open(dirpath, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """Writes every byte of ``data`` at the descriptor's offset; raises OSError (short writes are retried)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def purge_files(dirpath: str, suffix: str, max_count: int) -> list[str]:
    """Removes the oldest files ending in ``suffix`` until at most ``max_count`` remain; returns their paths.

    Names sort oldest first (WAL and snapshot names are zero-padded hex). A file whose lock another open
    file description holds (a WAL segment the live WAL still needs) stops the pass, as etcd's
    ``fileutil.PurgeFile`` does, so nothing newer than it is removed either. Each removal takes the file's
    lock first, so a concurrent ``WAL.open`` cannot lock a file that is about to disappear. The directory is
    fsynced after removing anything. The server calls this periodically (etcd: every 30 s, ``--max-wals``
    and ``--max-snapshots``, 5 each by default). Raises OSError if the directory cannot be listed.
    """
    names = sorted(n for n in os.listdir(dirpath) if n.endswith(suffix))
    removed: list[str] = []
    for name in names[: max(0, len(names) - max_count)]:
        path = os.path.join(dirpath, name)
        try:
            fd = try_lock_file(path, os.O_RDWR)
        except (ErrLocked, FileNotFoundError):
            break
        try:
            os.remove(path)
        finally:
            os.close(fd)
        removed.append(path)
    if removed:
        fsync_dir(dirpath)
    return removed
