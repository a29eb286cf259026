"""MajorityConfig against a deliberately dumb alternative on random inputs (like etcd's quorum quick test)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from etcd.raft.quorum import MajorityConfig, VoteResult
from etcd.raft.quorum.majority import NO_LIMIT_INDEX

ids = st.frozensets(st.integers(min_value=1, max_value=9), max_size=7)


def dumb_committed(voters: frozenset[int], acked: dict[int, int]) -> int:
    """The largest index such that a majority of voters acked at least it, by trying every candidate."""
    if not voters:
        return NO_LIMIT_INDEX
    best = 0
    for idx in {acked.get(v, 0) for v in voters}:
        if sum(1 for v in voters if acked.get(v, 0) >= idx) > len(voters) // 2:
            best = max(best, idx)
    return best


def dumb_vote(voters: frozenset[int], votes: dict[int, bool]) -> VoteResult:
    if not voters:
        return VoteResult.VOTE_WON
    yes = sum(1 for v in voters if votes.get(v) is True)
    no = sum(1 for v in voters if votes.get(v) is False)
    q = len(voters) // 2 + 1
    if yes >= q:
        return VoteResult.VOTE_WON
    if len(voters) - no >= q:
        return VoteResult.VOTE_PENDING
    return VoteResult.VOTE_LOST


@settings(max_examples=300, deadline=None)
@given(voters=ids, acked=st.dictionaries(st.integers(1, 9), st.integers(0, 20)))
def test_committed_index_matches_dumb(voters: frozenset[int], acked: dict[int, int]) -> None:
    assert MajorityConfig(voters).committed_index(acked) == dumb_committed(voters, acked)


@settings(max_examples=300, deadline=None)
@given(voters=ids, votes=st.dictionaries(st.integers(1, 9), st.booleans()))
def test_vote_result_matches_dumb(voters: frozenset[int], votes: dict[int, bool]) -> None:
    assert MajorityConfig(voters).vote_result(votes) == dumb_vote(voters, votes)


def test_examples() -> None:
    c = MajorityConfig([1, 2, 3])
    assert c.committed_index({1: 5, 2: 4, 3: 1}) == 4
    assert c.committed_index({1: 5}) == 0
    assert c.vote_result({1: True, 2: True}) == VoteResult.VOTE_WON
    assert c.vote_result({1: True, 2: False}) == VoteResult.VOTE_PENDING
    assert c.vote_result({1: False, 2: False}) == VoteResult.VOTE_LOST
    assert c.slice() == [1, 2, 3]
