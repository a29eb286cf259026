"""The raft log: stable storage plus the unstable tail (etcd's ``log.go``)."""

from __future__ import annotations

from collections.abc import Sequence

from etcd.raft.log_unstable import Unstable
from etcd.raft.raftpb.raft_pb2 import Entry, Snapshot
from etcd.raft.size import NO_LIMIT, limit_size
from etcd.raft.storage import ErrCompacted, ErrUnavailable, Storage, StorageError


class RaftLog:
    """One node's log, read from ``storage`` and ``unstable``.

    Invariant: ``applied <= committed <= last_index()``; ``committed`` never decreases.
    """

    def __init__(self, storage: Storage, max_next_ents_size: int = NO_LIMIT) -> None:
        """A log over ``storage``; ``max_next_ents_size`` caps the bytes of committed entries per Ready."""
        self.storage = storage
        first = storage.first_index()
        last = storage.last_index()
        self.unstable = Unstable(last + 1)
        # Everything up to the snapshot is committed and applied by definition.
        self.committed = first - 1
        self.applied = first - 1
        self.max_next_ents_size = max_next_ents_size

    def __repr__(self) -> str:
        return (
            f"committed={self.committed}, applied={self.applied}, "
            f"unstable.offset={self.unstable.offset}, len(unstable.entries)={len(self.unstable.entries)}"
        )

    def maybe_append(self, index: int, log_term: int, committed: int, ents: Sequence[Entry]) -> int | None:
        """Append ``ents`` following entry (``index``, ``log_term``) if our log has it (§5.3).

        Returns the index of the last new entry, or None if the log does not match there. Conflicting
        entries and everything after them are dropped first; commit advances to ``committed`` but
        never beyond what this message proved.
        """
        if not self.match_term(index, log_term):
            return None
        lastnewi = index + len(ents)
        ci = self.find_conflict(ents)
        if ci != 0:
            if ci <= self.committed:
                raise AssertionError(
                    f"entry {ci} conflict with committed entry [committed({self.committed})]"
                )
            self.append(ents[ci - (index + 1) :])
        self.commit_to(min(committed, lastnewi))
        return lastnewi

    def append(self, ents: Sequence[Entry]) -> int:
        """Append ``ents`` (replacing any tail from ``ents[0].index``); returns the last index."""
        if not ents:
            return self.last_index()
        after = ents[0].index - 1
        if after < self.committed:
            raise AssertionError(f"after({after}) is out of range [committed({self.committed})]")
        self.unstable.truncate_and_append(ents)
        return self.last_index()

    def find_conflict(self, ents: Sequence[Entry]) -> int:
        """The index of the first entry of ``ents`` absent from or different in our log, else 0."""
        for e in ents:
            if not self.match_term(e.index, e.term):
                return e.index
        return 0

    def find_conflict_by_term(self, index: int, term: int) -> int:
        """The largest index <= ``index`` whose term is <= ``term`` (or the first unknown one).

        Used by both sides of the fast back-off: entries in between cannot match a log whose entry
        at ``index`` has ``term``, since terms only grow along a log.
        """
        if index > self.last_index():
            return index
        while True:
            try:
                t = self.term(index)
            except StorageError:
                return index
            if t <= term:
                return index
            index -= 1

    def unstable_entries(self) -> list[Entry]:
        return list(self.unstable.entries)

    def next_ents(self) -> list[Entry]:
        """Committed entries not yet applied (up to ``max_next_ents_size`` bytes)."""
        off = max(self.applied + 1, self.first_index())
        if self.committed + 1 > off:
            return self.slice(off, self.committed + 1, self.max_next_ents_size)
        return []

    def has_next_ents(self) -> bool:
        return self.committed + 1 > max(self.applied + 1, self.first_index())

    def has_pending_snapshot(self) -> bool:
        s = self.unstable.snapshot
        return s is not None and s.metadata.index != 0

    def snapshot(self) -> Snapshot:
        """The newest snapshot, pending or stored. May raise ErrSnapshotTemporarilyUnavailable."""
        if self.unstable.snapshot is not None:
            return self.unstable.snapshot
        return self.storage.snapshot()

    def first_index(self) -> int:
        i = self.unstable.maybe_first_index()
        if i is not None:
            return i
        return self.storage.first_index()

    def last_index(self) -> int:
        i = self.unstable.maybe_last_index()
        if i is not None:
            return i
        return self.storage.last_index()

    def commit_to(self, tocommit: int) -> None:
        """Raise the commit index to ``tocommit`` (never lowers it)."""
        if self.committed < tocommit:
            if self.last_index() < tocommit:
                raise AssertionError(
                    f"tocommit({tocommit}) is out of range [lastIndex({self.last_index()})]. "
                    "Was the raft log corrupted, truncated, or lost?"
                )
            self.committed = tocommit

    def applied_to(self, i: int) -> None:
        if i == 0:
            return
        if self.committed < i or i < self.applied:
            raise AssertionError(
                f"applied({i}) is out of range [prevApplied({self.applied}), committed({self.committed})]"
            )
        self.applied = i

    def stable_to(self, i: int, t: int) -> None:
        self.unstable.stable_to(i, t)

    def stable_snap_to(self, i: int) -> None:
        self.unstable.stable_snap_to(i)

    def last_term(self) -> int:
        return self.term(self.last_index())

    def term(self, i: int) -> int:
        """The term of entry ``i``; 0 beyond the last index. Raises ErrCompacted/ErrUnavailable."""
        # The unstable tail first: it is where the hot path (recent entries) looks, and it
        # overrides the storage for the indexes it holds.
        t = self.unstable.maybe_term(i)
        if t is not None:
            return t
        if i > self.last_index():
            return 0
        if i < self.first_index() - 1:
            raise ErrCompacted()
        return self.storage.term(i)

    def zero_term_on_err_compacted(self, i: int) -> int:
        try:
            return self.term(i)
        except ErrCompacted:
            return 0

    def entries(self, i: int, max_size: int = NO_LIMIT) -> list[Entry]:
        """Entries from ``i`` to the end, cut to ``max_size`` bytes. Raises ErrCompacted."""
        if i > self.last_index():
            return []
        return self.slice(i, self.last_index() + 1, max_size)

    def all_entries(self) -> list[Entry]:
        while True:
            try:
                return self.entries(self.first_index())
            except ErrCompacted:
                # Compacted between first_index() and the read; try again.
                continue

    def is_up_to_date(self, lasti: int, term: int) -> bool:
        """Whether a log ending at (``lasti``, ``term``) is at least as up to date as ours (§5.4.1)."""
        lt = self.last_term()
        return term > lt or (term == lt and lasti >= self.last_index())

    def match_term(self, i: int, term: int) -> bool:
        try:
            return self.term(i) == term
        except StorageError:
            return False

    def maybe_commit(self, max_index: int, term: int) -> bool:
        """Commit up to ``max_index`` if that entry is of ``term`` (only current-term entries are
        committed by counting replicas, §5.4.2)."""
        if max_index > self.committed and self.zero_term_on_err_compacted(max_index) == term:
            self.commit_to(max_index)
            return True
        return False

    def restore(self, s: Snapshot) -> None:
        """Replace the log by snapshot ``s``, which is committed by definition."""
        self.committed = s.metadata.index
        self.unstable.restore(s)

    def slice(self, lo: int, hi: int, max_size: int = NO_LIMIT) -> list[Entry]:
        """Entries ``[lo, hi)`` cut to ``max_size`` bytes (at least one). Raises ErrCompacted."""
        self._must_check_out_of_bounds(lo, hi)
        if lo == hi:
            return []
        ents: list[Entry] = []
        off = self.unstable.offset
        if lo < off:
            upto = min(hi, off)
            try:
                stored = self.storage.entries(lo, upto, max_size)
            except ErrUnavailable as e:
                raise AssertionError(f"entries[{lo}:{upto}) is unavailable from storage") from e
            if len(stored) < upto - lo:
                # Cut by the size limit: the unstable part would not fit either.
                return stored
            ents = stored
        if hi > off:
            uns = self.unstable.slice(max(lo, off), hi)
            ents = ents + uns if ents else uns
        return limit_size(ents, max_size)

    def _must_check_out_of_bounds(self, lo: int, hi: int) -> None:
        if lo > hi:
            raise AssertionError(f"invalid slice {lo} > {hi}")
        fi = self.first_index()
        if lo < fi:
            raise ErrCompacted()
        length = self.last_index() + 1 - fi
        if hi > fi + length:
            raise AssertionError(f"slice[{lo},{hi}) out of bound [{fi},{self.last_index()}]")
