"""Entries and a snapshot not yet persisted (etcd's ``log_unstable.go``)."""

from __future__ import annotations

from collections.abc import Sequence

from etcd.raft.raftpb.raft_pb2 import Entry, Snapshot


class Unstable:
    """The tail of the log that the application has not yet written to stable storage.

    ``entries[i]`` has raft index ``i + offset``. ``offset`` may be below the storage's last index:
    then these entries overwrite the stored ones once persisted. ``snapshot``, if set, is an
    incoming snapshot that replaces everything before ``offset``.
    """

    __slots__ = ("entries", "offset", "snapshot")

    def __init__(self, offset: int) -> None:
        self.snapshot: Snapshot | None = None
        self.entries: list[Entry] = []
        self.offset = offset

    def maybe_first_index(self) -> int | None:
        """The first index if a snapshot is pending, else None (the storage knows)."""
        if self.snapshot is not None:
            return self.snapshot.metadata.index + 1
        return None

    def maybe_last_index(self) -> int | None:
        """The last index held here, else None."""
        if self.entries:
            return self.offset + len(self.entries) - 1
        if self.snapshot is not None:
            return self.snapshot.metadata.index
        return None

    def maybe_term(self, i: int) -> int | None:
        """The term of entry ``i`` if it is held here, else None."""
        if i < self.offset:
            if self.snapshot is not None and self.snapshot.metadata.index == i:
                return self.snapshot.metadata.term
            return None
        last = self.maybe_last_index()
        if last is None or i > last:
            return None
        return self.entries[i - self.offset].term

    def stable_to(self, i: int, t: int) -> None:
        """Entries up to ``i`` (of term ``t``) are persisted; forget them.

        Ignored if entry ``i`` has since been replaced by one of another term (the persisted one
        is then stale and the newer one still needs writing).
        """
        gt = self.maybe_term(i)
        if gt is None:
            return
        if gt == t and i >= self.offset:
            del self.entries[: i + 1 - self.offset]
            self.offset = i + 1

    def stable_snap_to(self, i: int) -> None:
        """The snapshot at index ``i`` is persisted."""
        if self.snapshot is not None and self.snapshot.metadata.index == i:
            self.snapshot = None

    def restore(self, s: Snapshot) -> None:
        """Replace everything by snapshot ``s``."""
        self.offset = s.metadata.index + 1
        self.entries = []
        self.snapshot = s

    def truncate_and_append(self, ents: Sequence[Entry]) -> None:
        """Append ``ents``, first dropping any held entries at or after ``ents[0].index``."""
        after = ents[0].index
        if after == self.offset + len(self.entries):
            self.entries.extend(ents)
        elif after <= self.offset:
            # The new entries replace everything held here, and also stored entries from `after` on.
            self.offset = after
            self.entries = list(ents)
        else:
            del self.entries[after - self.offset :]
            self.entries.extend(ents)

    def slice(self, lo: int, hi: int) -> list[Entry]:
        """Entries ``[lo, hi)``, which must lie within this unstable tail."""
        upper = self.offset + len(self.entries)
        if lo > hi or lo < self.offset or hi > upper:
            raise AssertionError(f"unstable.slice[{lo},{hi}) out of bound [{self.offset},{upper}]")
        return self.entries[lo - self.offset : hi - self.offset]
