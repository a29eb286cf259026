"""A majority configuration (etcd's ``quorum/majority.go``): a set of voter IDs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from etcd.raft.quorum.quorum import VoteResult

# Returned as the committed index of an empty configuration, so that it never holds back a joint one.
NO_LIMIT_INDEX = 2**64 - 1


class MajorityConfig(frozenset[int]):
    """An immutable set of voter IDs decided by simple majority (Raft thesis §3.4, §4)."""

    def __new__(cls, ids: Iterable[int] = ()) -> MajorityConfig:
        return super().__new__(cls, ids)

    def slice(self) -> list[int]:
        """The voter IDs in ascending order (iteration order of a set is not stable across runs)."""
        return sorted(self)

    def committed_index(self, acked: Mapping[int, int]) -> int:
        """The largest index acknowledged by a majority, given each voter's acknowledged index.

        A voter missing from ``acked`` counts as having acknowledged index 0. An empty configuration
        returns ``NO_LIMIT_INDEX`` (it agrees to everything).
        """
        n = len(self)
        if n == 0:
            return NO_LIMIT_INDEX
        srt = sorted(acked.get(i, 0) for i in self)
        # The (n//2+1)-th largest value is acknowledged by a majority.
        return srt[n - (n // 2 + 1)]

    def vote_result(self, votes: Mapping[int, bool]) -> VoteResult:
        """Tally ``votes`` (voter ID to granted) against this configuration; non-voters are ignored."""
        if len(self) == 0:
            # An empty configuration wins every vote, as in etcd; lets joint halves compose.
            return VoteResult.VOTE_WON
        yes = missing = 0
        for i in self:
            v = votes.get(i)
            if v is None:
                missing += 1
            elif v:
                yes += 1
        q = len(self) // 2 + 1
        if yes >= q:
            return VoteResult.VOTE_WON
        if yes + missing >= q:
            return VoteResult.VOTE_PENDING
        return VoteResult.VOTE_LOST
