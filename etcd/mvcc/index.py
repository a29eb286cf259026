"""The in-memory index from key to revisions (etcd's ``mvcc/index.go`` ``treeIndex``).

Keys are kept in a ``SortedDict`` (etcd uses a B-tree) so ranges walk them in key order. A range's
``end`` follows etcd: None is the single key ``key``; ``b"\\0"`` means every key >= ``key``;
otherwise the half-open interval [key, end).
"""

from __future__ import annotations

from collections.abc import Iterator

from sortedcontainers import SortedDict

from etcd.mvcc.key_index import ErrRevisionNotFound, KeyIndex
from etcd.mvcc.revision import Revision

FROM_KEY = b"\0"


class TreeIndex:
    """Key -> KeyIndex for every key with a revision not yet compacted away. Not thread-safe."""

    def __init__(self) -> None:
        self._tree: SortedDict = SortedDict()

    def __len__(self) -> int:
        return len(self._tree)

    def values(self) -> Iterator[KeyIndex]:
        """Every key index, in key order."""
        return iter(self._tree.values())

    def key_index(self, key: bytes) -> KeyIndex | None:
        ki: KeyIndex | None = self._tree.get(key)
        return ki

    def _visit(self, key: bytes, end: bytes | None) -> Iterator[KeyIndex]:
        if end is None:
            ki = self._tree.get(key)
            if ki is not None:
                yield ki
            return
        stop = None if end == FROM_KEY else end
        if stop is not None and key >= stop:
            return
        tree = self._tree
        for k in tree.irange(key, stop, inclusive=(True, False)):
            yield tree[k]

    def get(self, key: bytes, at_rev: int) -> tuple[Revision, Revision, int]:
        """(modified, created, version) of ``key`` at ``at_rev``; raises ErrRevisionNotFound."""
        ki: KeyIndex | None = self._tree.get(key)
        if ki is None:
            raise ErrRevisionNotFound()
        return ki.get(at_rev)

    def revisions(
        self, key: bytes, end: bytes | None, at_rev: int, limit: int = 0
    ) -> tuple[list[Revision], int]:
        """The modified revisions of keys live at ``at_rev`` in key order (at most ``limit``, 0: all),
        and the total number of such keys."""
        revs: list[Revision] = []
        total = 0
        for ki in self._visit(key, end):
            try:
                rev, _, _ = ki.get(at_rev)
            except ErrRevisionNotFound:
                continue
            if not limit or len(revs) < limit:
                revs.append(rev)
            total += 1
        return revs, total

    def range(self, key: bytes, end: bytes | None, at_rev: int) -> tuple[list[bytes], list[Revision]]:
        """Keys live at ``at_rev`` and their modified revisions, in key order."""
        keys: list[bytes] = []
        revs: list[Revision] = []
        for ki in self._visit(key, end):
            try:
                rev, _, _ = ki.get(at_rev)
            except ErrRevisionNotFound:
                continue
            keys.append(ki.key)
            revs.append(rev)
        return keys, revs

    def put(self, key: bytes, rev: Revision) -> None:
        ki = self._tree.get(key)
        if ki is None:
            ki = self._tree[key] = KeyIndex(key)
        ki.put(rev)

    def restore(self, key: bytes, created: Revision, modified: Revision, ver: int) -> None:
        """Records a stored key-value seen while loading the key bucket in revision order."""
        ki = self._tree.get(key)
        if ki is None:
            ki = self._tree[key] = KeyIndex(key)
            ki.restore(created, modified, ver)
        else:
            ki.put(modified)

    def restore_tombstone(self, key: bytes, rev: Revision) -> None:
        """Records a stored tombstone seen while loading; one whose puts are gone starts the key."""
        ki = self._tree.get(key)
        if ki is None:
            ki = self._tree[key] = KeyIndex(key)
            ki.restore_tombstone(rev)
        elif not ki.generations[-1].is_empty():
            ki.tombstone(rev)

    def tombstone(self, key: bytes, rev: Revision) -> None:
        """Records a delete; raises ErrRevisionNotFound when ``key`` is not live."""
        ki = self._tree.get(key)
        if ki is None:
            raise ErrRevisionNotFound()
        ki.tombstone(rev)

    def compact(self, rev: int) -> set[Revision]:
        """Compacts every key index at ``rev``; returns the revisions <= ``rev`` still referenced."""
        available: set[Revision] = set()
        empty: list[bytes] = []
        for k, ki in self._tree.items():
            ki.compact(rev, available)
            if ki.is_empty():
                empty.append(k)
        for k in empty:
            del self._tree[k]
        return available

    def keep(self, rev: int) -> set[Revision]:
        """The revisions a compaction at ``rev`` would keep, changing nothing."""
        available: set[Revision] = set()
        for ki in self._tree.values():
            ki.keep(rev, available)
        return available
