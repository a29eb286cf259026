"""WAL segment file names: ``%016x-%016x.wal`` of (sequence, first raft index), as etcd's ``wal/util.go``.

A segment's index is the raft index of the first entry written to it (the last entry saved before it, plus
one); its sequence number is one more than its predecessor's. Sorting names as strings sorts segments by both.
"""

from __future__ import annotations

import itertools
import os
import re

_NAME = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.wal$")


def wal_name(seq: int, index: int) -> str:
    """The file name of segment ``seq`` whose first entry is at raft index ``index``."""
    return f"{seq:016x}-{index:016x}.wal"


def parse_wal_name(name: str) -> tuple[int, int]:
    """``(seq, index)`` from a segment's base name; raises ValueError for anything else."""
    m = _NAME.match(name)
    if m is None:
        raise ValueError(f"wal: bad wal name {name!r}")
    return int(m.group(1), 16), int(m.group(2), 16)


def read_wal_names(dirpath: str) -> list[str]:
    """The segment names in ``dirpath``, oldest first; other files (``*.tmp``, locks, strays) are skipped.

    Raises OSError if ``dirpath`` cannot be listed (FileNotFoundError if it does not exist).
    """
    return sorted(n for n in os.listdir(dirpath) if _NAME.match(n))


def exist(dirpath: str) -> bool:
    """Whether ``dirpath`` holds at least one segment (etcd's ``wal.Exist``)."""
    try:
        return bool(read_wal_names(dirpath))
    except OSError:
        return False


def search_index(names: list[str], index: int) -> int:
    """Position of the last segment whose first index is at most ``index``, or -1 if there is none.

    Reading from that segment on is enough to find every entry after ``index`` (etcd's ``searchIndex``).
    """
    for i in range(len(names) - 1, -1, -1):
        if parse_wal_name(names[i])[1] <= index:
            return i
    return -1


def is_valid_seq(names: list[str]) -> bool:
    """Whether the sequence numbers of ``names`` increase by exactly one (no segment missing)."""
    seqs = [parse_wal_name(n)[0] for n in names]
    return all(b == a + 1 for a, b in itertools.pairwise(seqs))
