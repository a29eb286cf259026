"""The raft log as the application stores it (etcd's ``storage.go``): an interface and an in-memory one.

Raft reads its stable log, hard state and latest snapshot through ``Storage``; the application writes
them (after persisting a ``Ready``). Expected conditions are exceptions below; a broken invariant
(asking beyond the last index, appending with a gap) is an ``AssertionError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from etcd.raft.raftpb.raft_pb2 import ConfState, Entry, HardState, Snapshot, SnapshotMetadata
from etcd.raft.size import NO_LIMIT, limit_size


class StorageError(Exception):
    """Base of the expected conditions a ``Storage`` reports."""


class ErrCompacted(StorageError):
    """The requested index is older than the storage's first index."""

    def __init__(self) -> None:
        super().__init__("requested index is unavailable due to compaction")


class ErrSnapOutOfDate(StorageError):
    """The snapshot offered is older than the one already held."""

    def __init__(self) -> None:
        super().__init__("requested index is older than the existing snapshot")


class ErrUnavailable(StorageError):
    """The requested entry is not (yet) in the storage."""

    def __init__(self) -> None:
        super().__init__("requested entry at index is unavailable")


class ErrSnapshotTemporarilyUnavailable(StorageError):
    """The snapshot is being built; raft tries again later."""

    def __init__(self) -> None:
        super().__init__("snapshot is temporarily unavailable")


class Storage(Protocol):
    """What raft reads of the persisted log. Raft never writes through it.

    Indexes: ``first_index()`` is the first entry still available (the snapshot's index + 1);
    ``term(first_index() - 1)`` is the snapshot's term and must remain answerable.
    """

    def initial_state(self) -> tuple[HardState, ConfState]:
        """The saved hard state and the membership as of the latest snapshot."""
        ...

    def entries(self, lo: int, hi: int, max_size: int) -> list[Entry]:
        """Entries ``[lo, hi)``, cut to ``max_size`` bytes but at least one. Raises ErrCompacted."""
        ...

    def term(self, i: int) -> int:
        """The term of entry ``i``. Raises ErrCompacted or ErrUnavailable."""
        ...

    def last_index(self) -> int: ...

    def first_index(self) -> int: ...

    def snapshot(self) -> Snapshot:
        """The latest snapshot. May raise ErrSnapshotTemporarilyUnavailable."""
        ...


class MemoryStorage:
    """A ``Storage`` kept in memory, which the application fills from each ``Ready``.

    ``_ents[0]`` is a dummy entry holding the snapshot's index and term. Not thread-safe: the caller
    serialises access (etcd's server does all raft work on one loop).
    """

    def __init__(self, conf_state: ConfState | None = None) -> None:
        """An empty log; ``conf_state`` seeds the membership of the empty initial snapshot (tests and
        restores use it in place of bootstrap entries)."""
        self._hard_state = HardState()
        self._snapshot = Snapshot()
        if conf_state is not None:
            self._snapshot.metadata.conf_state.CopyFrom(conf_state)
        self._ents: list[Entry] = [Entry()]

    def initial_state(self) -> tuple[HardState, ConfState]:
        return self._hard_state, self._snapshot.metadata.conf_state

    def hard_state(self) -> HardState:
        return self._hard_state

    def set_hard_state(self, st: HardState) -> None:
        """Record the hard state from a ``Ready``."""
        hs = HardState()
        hs.CopyFrom(st)
        self._hard_state = hs

    def entries(self, lo: int, hi: int, max_size: int = NO_LIMIT) -> list[Entry]:
        offset = self._ents[0].index
        if lo <= offset:
            raise ErrCompacted()
        if hi > self.last_index() + 1:
            raise AssertionError(f"entries' hi({hi}) is out of bound lastindex({self.last_index()})")
        if len(self._ents) == 1:
            raise ErrUnavailable()
        return limit_size(self._ents[lo - offset : hi - offset], max_size)

    def term(self, i: int) -> int:
        offset = self._ents[0].index
        if i < offset:
            raise ErrCompacted()
        if i - offset >= len(self._ents):
            raise ErrUnavailable()
        return self._ents[i - offset].term

    def last_index(self) -> int:
        return self._ents[0].index + len(self._ents) - 1

    def first_index(self) -> int:
        return self._ents[0].index + 1

    def snapshot(self) -> Snapshot:
        return self._snapshot

    def apply_snapshot(self, snap: Snapshot) -> None:
        """Replace the whole log by ``snap``. Raises ErrSnapOutOfDate if it is not newer."""
        if self._snapshot.metadata.index >= snap.metadata.index:
            raise ErrSnapOutOfDate()
        s = Snapshot()
        s.CopyFrom(snap)
        self._snapshot = s
        self._ents = [Entry(term=snap.metadata.term, index=snap.metadata.index)]

    def create_snapshot(self, i: int, cs: ConfState | None, data: bytes) -> Snapshot:
        """Make the snapshot at applied index ``i`` with state-machine ``data`` the latest one.

        ``cs`` is the membership as of ``i`` (None keeps the previous). Raises ErrSnapOutOfDate if
        ``i`` is not newer than the current snapshot. Entries are kept; ``compact`` drops them.
        """
        if i <= self._snapshot.metadata.index:
            raise ErrSnapOutOfDate()
        offset = self._ents[0].index
        if i > self.last_index():
            raise AssertionError(f"snapshot {i} is out of bound lastindex({self.last_index()})")
        meta = SnapshotMetadata(index=i, term=self._ents[i - offset].term)
        meta.conf_state.CopyFrom(cs if cs is not None else self._snapshot.metadata.conf_state)
        self._snapshot = Snapshot(data=data, metadata=meta)
        return self._snapshot

    def compact(self, compact_index: int) -> None:
        """Drop entries before ``compact_index``; the application must hold a snapshot covering them."""
        offset = self._ents[0].index
        if compact_index <= offset:
            raise ErrCompacted()
        if compact_index > self.last_index():
            raise AssertionError(f"compact {compact_index} is out of bound lastindex({self.last_index()})")
        i = compact_index - offset
        first = self._ents[i]
        self._ents = [Entry(index=first.index, term=first.term), *self._ents[i + 1 :]]

    def append(self, entries: Sequence[Entry]) -> None:
        """Append entries from a ``Ready``; an entry at an existing index replaces it and all after it.

        Entries already compacted away are skipped. A gap after the last index is an AssertionError.
        """
        if not entries:
            return
        first = self.first_index()
        last = entries[0].index + len(entries) - 1
        if last < first:
            return
        if first > entries[0].index:
            entries = entries[first - entries[0].index :]
        offset = entries[0].index - self._ents[0].index
        n = len(self._ents)
        if n > offset:
            self._ents = self._ents[:offset]
            self._ents.extend(entries)
        elif n == offset:
            self._ents.extend(entries)
        else:
            raise AssertionError(
                f"missing log entry [last: {self.last_index()}, append at: {entries[0].index}]"
            )
