"""The revisions of one key, in generations (etcd's ``mvcc/key_index.go``).

A generation runs from the put that creates the key to the delete (tombstone) that ends it; the last
generation is the open one, empty after a delete. For example, puts at 1, 2, a delete at 3, puts at
4, 5 and a delete at 6 give ``[{1.0, 2.0, 3.0(t)}, {4.0, 5.0, 6.0(t)}, {empty}]``. Compaction drops
revisions older than the compaction point but keeps the newest one at or below it (still readable),
and drops whole generations that ended (tombstone) before it; a tombstone exactly at the compaction
point stays until the next compaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from etcd.mvcc.revision import Revision


class ErrRevisionNotFound(Exception):
    def __init__(self) -> None:
        super().__init__("mvcc: revision not found")


@dataclass
class Generation:
    """One life of a key: ``created`` is its first revision, ``ver`` counts its revisions."""

    ver: int = 0
    created: Revision = field(default_factory=lambda: Revision(0, 0))
    revs: list[Revision] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not self.revs


class KeyIndex:
    """All live revisions of ``key``; see the module docstring. Not thread-safe."""

    __slots__ = ("generations", "key", "modified")

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.modified = Revision(0, 0)
        self.generations: list[Generation] = [Generation()]

    def put(self, rev: Revision) -> None:
        """Records a put of the key at ``rev``, which must be newer than every recorded revision."""
        if rev <= self.modified:
            raise ValueError(f"mvcc: put {rev} not after last modified {self.modified} of {self.key!r}")
        g = self.generations[-1]
        if g.is_empty():
            g.created = rev
        g.revs.append(rev)
        g.ver += 1
        self.modified = rev

    def restore_tombstone(self, rev: Revision) -> None:
        """Starts the index from a stored tombstone whose puts were compacted away: a generation
        holding only the tombstone, so compaction keeps it as it would have before the restart."""
        if len(self.generations) != 1 or not self.generations[0].is_empty():
            raise ValueError("mvcc: restore on a non-empty key index")
        self.modified = rev
        self.generations = [Generation(ver=1, created=rev, revs=[rev]), Generation()]

    def restore(self, created: Revision, modified: Revision, ver: int) -> None:
        """Starts the index from a stored key-value, as restore on open does."""
        if len(self.generations) != 1 or not self.generations[0].is_empty():
            raise ValueError("mvcc: restore on a non-empty key index")
        self.modified = modified
        self.generations = [Generation(ver=ver, created=created, revs=[modified])]

    def tombstone(self, rev: Revision) -> None:
        """Records a delete at ``rev`` and opens a new, empty generation.

        Raises:
            ErrRevisionNotFound: the key is not live (its open generation is empty).
        """
        if self.generations[-1].is_empty():
            raise ErrRevisionNotFound()
        self.put(rev)
        self.generations.append(Generation())

    def get(self, at_rev: int) -> tuple[Revision, Revision, int]:
        """(modified, created, version) of the key as of main revision ``at_rev``.

        Raises:
            ErrRevisionNotFound: the key did not exist at ``at_rev``.
        """
        last = self.generations[-1]
        if last.revs and at_rev >= self.modified.main:  # the common case: the live key, read now
            return self.modified, last.created, last.ver
        g = self.find_generation(at_rev)
        if g is None:
            raise ErrRevisionNotFound()
        revs = g.revs
        for n in range(len(revs) - 1, -1, -1):
            if revs[n].main <= at_rev:
                return revs[n], g.created, g.ver - (len(revs) - n - 1)
        raise ErrRevisionNotFound()

    def since(self, rev: int) -> list[Revision]:
        """The newest revision of each main revision >= ``rev``, oldest first."""
        out: list[Revision] = []
        last = -1
        for g in self.generations:
            for r in g.revs:
                if r.main < rev:
                    continue
                if r.main == last:
                    out[-1] = r
                else:
                    out.append(r)
                    last = r.main
        return out

    def find_generation(self, rev: int) -> Generation | None:
        """The generation holding the key's state at main revision ``rev``; None if it did not exist."""
        lastg = len(self.generations) - 1
        cg = lastg
        while cg >= 0:
            g = self.generations[cg]
            if not g.revs:
                cg -= 1
                continue
            if cg != lastg and g.revs[-1].main <= rev:
                return None  # the generation ended (tombstone) at or before rev
            if g.revs[0].main <= rev:
                return g
            cg -= 1
        return None

    def _do_compact(self, at_rev: int, available: set[Revision]) -> tuple[int, int]:
        gen_idx = 0
        g = self.generations[0]
        # The first generation that ends at or after at_rev, or the open one. A tombstone exactly at
        # at_rev is kept so a watcher starting there still sees the delete (etcd PR #18274, in 3.4.34;
        # 3.4.23 dropped it, etcd issue #18089).
        while gen_idx < len(self.generations) - 1:
            if g.revs[-1].main >= at_rev:
                break
            gen_idx += 1
            g = self.generations[gen_idx]
        rev_idx = -1
        for i in range(len(g.revs) - 1, -1, -1):
            if g.revs[i].main <= at_rev:
                available.add(g.revs[i])
                rev_idx = i
                break
        return gen_idx, rev_idx

    def compact(self, at_rev: int, available: set[Revision]) -> None:
        """Drops what compaction at ``at_rev`` removes; adds the revisions kept to ``available``."""
        gen_idx, rev_idx = self._do_compact(at_rev, available)
        g = self.generations[gen_idx]
        if not g.is_empty() and rev_idx != -1:
            del g.revs[:rev_idx]
        del self.generations[:gen_idx]

    def keep(self, at_rev: int, available: set[Revision]) -> None:
        """Adds to ``available`` what ``compact(at_rev)`` would keep, changing nothing."""
        if self.is_empty():
            return
        self._do_compact(at_rev, available)

    def is_empty(self) -> bool:
        return len(self.generations) == 1 and self.generations[0].is_empty()

    def __repr__(self) -> str:
        gens = ", ".join(repr([tuple(r) for r in g.revs]) for g in self.generations)
        return f"KeyIndex({self.key!r}, [{gens}])"
