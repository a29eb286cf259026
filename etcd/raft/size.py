"""Byte sizes of log entries, for flow control (etcd's ``util.go`` ``limitSize``/``payloadSize``)."""

from __future__ import annotations

from collections.abc import Sequence

from etcd.raft.raftpb.raft_pb2 import Entry

# "No limit" for byte budgets, as etcd's noLimit = math.MaxUint64.
NO_LIMIT = 2**64 - 1


def limit_size(ents: Sequence[Entry], max_size: int) -> list[Entry]:
    """The longest prefix of ``ents`` whose encoded size is at most ``max_size``, but never empty.

    The first entry is always kept, so an entry larger than the budget still makes progress.
    """
    if len(ents) <= 1 or max_size >= NO_LIMIT:
        return list(ents)
    size = ents[0].ByteSize()
    limit = 1
    n = len(ents)
    while limit < n:
        size += ents[limit].ByteSize()
        if size > max_size:
            break
        limit += 1
    return list(ents[:limit])


def payload_size(ents: Sequence[Entry]) -> int:
    """The bytes of entry data in ``ents``, the unit of ``Config.max_uncommitted_entries_size``."""
    return sum(len(e.data) for e in ents)
