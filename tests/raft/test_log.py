"""RaftLog, Unstable and MemoryStorage: appends, conflicts, commit, slices, compaction, snapshots."""

from __future__ import annotations

import pytest

from etcd.raft import ErrCompacted, ErrSnapOutOfDate, ErrUnavailable, MemoryStorage
from etcd.raft.log import RaftLog
from etcd.raft.log_unstable import Unstable
from etcd.raft.raftpb.raft_pb2 import ConfState, Entry, Snapshot, SnapshotMetadata
from etcd.raft.size import limit_size


def e(index: int, term: int, data: bytes = b"") -> Entry:
    return Entry(index=index, term=term, data=data)


def it(ents: list[Entry]) -> list[tuple[int, int]]:
    return [(x.index, x.term) for x in ents]


def snapshot(index: int, term: int) -> Snapshot:
    return Snapshot(metadata=SnapshotMetadata(index=index, term=term, conf_state=ConfState(voters=[1])))


# ----- MemoryStorage


def storage(*terms_from_3: int) -> MemoryStorage:
    """A storage compacted at (3, 3) holding entries 4.. with the given terms."""
    s = MemoryStorage()
    s.apply_snapshot(snapshot(3, 3))
    s.append([e(4 + i, t) for i, t in enumerate(terms_from_3)])
    return s


def test_storage_term() -> None:
    s = storage(4, 5)
    with pytest.raises(ErrCompacted):
        s.term(2)
    assert [s.term(i) for i in (3, 4, 5)] == [3, 4, 5]
    with pytest.raises(ErrUnavailable):
        s.term(6)


def test_storage_entries() -> None:
    s = storage(4, 5, 6)
    with pytest.raises(ErrCompacted):
        s.entries(2, 6)
    with pytest.raises(ErrCompacted):
        s.entries(3, 4)
    assert it(s.entries(4, 5)) == [(4, 4)]
    assert it(s.entries(4, 6)) == [(4, 4), (5, 5)]
    assert it(s.entries(4, 7)) == [(4, 4), (5, 5), (6, 6)]
    size = e(4, 4).ByteSize()
    assert it(s.entries(4, 7, 0)) == [(4, 4)]  # always at least one
    assert it(s.entries(4, 7, 2 * size)) == [(4, 4), (5, 5)]
    assert it(s.entries(4, 7, 2 * size - 1)) == [(4, 4)]
    with pytest.raises(AssertionError):
        s.entries(4, 8)


def test_storage_first_last_index() -> None:
    s = storage(4, 5)
    assert (s.first_index(), s.last_index()) == (4, 5)
    s.compact(4)
    assert (s.first_index(), s.last_index()) == (5, 5)
    assert s.term(4) == 4


def test_storage_compact() -> None:
    s = storage(4, 5)
    with pytest.raises(ErrCompacted):
        s.compact(2)
    with pytest.raises(ErrCompacted):
        s.compact(3)
    s.compact(5)
    assert s.first_index() == 6 and s.term(5) == 5
    with pytest.raises(AssertionError):
        s.compact(7)


def test_storage_create_snapshot() -> None:
    s = storage(4, 5)
    cs = ConfState(voters=[1, 2, 3])
    snap = s.create_snapshot(4, cs, b"data")
    assert (snap.metadata.index, snap.metadata.term, snap.data) == (4, 4, b"data")
    assert list(snap.metadata.conf_state.voters) == [1, 2, 3]
    assert s.snapshot() == snap
    with pytest.raises(ErrSnapOutOfDate):
        s.create_snapshot(4, cs, b"")
    # Creating does not drop entries.
    assert s.first_index() == 4


def test_storage_apply_snapshot() -> None:
    s = MemoryStorage()
    s.apply_snapshot(snapshot(4, 4))
    assert (s.first_index(), s.last_index(), s.term(4)) == (5, 4, 4)
    with pytest.raises(ErrSnapOutOfDate):
        s.apply_snapshot(snapshot(3, 3))


@pytest.mark.parametrize(
    ("new", "want"),
    [
        ([e(4, 4), e(5, 5)], [(4, 4), (5, 5)]),
        ([e(4, 4), e(5, 6), e(6, 6)], [(4, 4), (5, 6), (6, 6)]),
        ([e(4, 4), e(5, 5), e(6, 5)], [(4, 4), (5, 5), (6, 5)]),
        ([e(2, 3), e(3, 3), e(4, 5)], [(4, 5)]),  # the compacted part is skipped
        ([e(4, 5)], [(4, 5)]),  # truncate and replace
        ([e(6, 5)], [(4, 4), (5, 5), (6, 5)]),  # append at the end
        ([e(1, 1), e(2, 2)], [(4, 4), (5, 5)]),  # all compacted: nothing
    ],
)
def test_storage_append(new: list[Entry], want: list[tuple[int, int]]) -> None:
    s = storage(4, 5)
    s.append(new)
    assert it(s.entries(s.first_index(), s.last_index() + 1)) == want


def test_storage_append_gap_is_an_error() -> None:
    s = storage(4, 5)
    with pytest.raises(AssertionError):
        s.append([e(7, 5)])


# ----- Unstable


def test_unstable_stable_to_ignores_replaced_entries() -> None:
    u = Unstable(5)
    u.truncate_and_append([e(5, 1), e(6, 1)])
    u.truncate_and_append([e(6, 2)])
    # Entry 6 of term 1 was persisted, but it has been replaced meanwhile: keep the new one.
    u.stable_to(6, 1)
    assert (u.offset, it(u.entries)) == (5, [(5, 1), (6, 2)])
    u.stable_to(5, 1)
    assert (u.offset, it(u.entries)) == (6, [(6, 2)])
    u.stable_to(6, 2)
    assert (u.offset, u.entries) == (7, [])


@pytest.mark.parametrize(
    ("new", "woffset", "want"),
    [
        ([e(7, 1), e(8, 1)], 5, [(5, 1), (6, 1), (7, 1), (8, 1)]),  # append
        ([e(5, 2), e(6, 2)], 5, [(5, 2), (6, 2)]),  # replace all
        ([e(4, 2), e(5, 2)], 4, [(4, 2), (5, 2)]),  # replace from before offset
        ([e(6, 2)], 5, [(5, 1), (6, 2)]),  # truncate the tail
    ],
)
def test_unstable_truncate_and_append(new: list[Entry], woffset: int, want: list[tuple[int, int]]) -> None:
    u = Unstable(5)
    u.truncate_and_append([e(5, 1), e(6, 1)])
    u.truncate_and_append(new)
    assert (u.offset, it(u.entries)) == (woffset, want)


def test_unstable_snapshot_indexes() -> None:
    u = Unstable(5)
    assert u.maybe_first_index() is None and u.maybe_last_index() is None
    u.restore(snapshot(4, 1))
    assert (u.maybe_first_index(), u.maybe_last_index(), u.maybe_term(4), u.maybe_term(3)) == (5, 4, 1, None)
    u.stable_snap_to(3)
    assert u.snapshot is not None
    u.stable_snap_to(4)
    assert u.snapshot is None


# ----- RaftLog


def log_with(*terms: int) -> RaftLog:
    s = MemoryStorage()
    s.append([e(i + 1, t) for i, t in enumerate(terms)])
    return RaftLog(s)


@pytest.mark.parametrize(
    ("ents", "want"),
    [
        ([], 0),
        ([e(1, 1), e(2, 2), e(3, 3)], 0),
        ([e(2, 2), e(3, 3)], 0),
        ([e(3, 3)], 0),
        ([e(1, 1), e(2, 2), e(3, 3), e(4, 4), e(5, 4)], 4),
        ([e(4, 4), e(5, 4)], 4),
        ([e(1, 4), e(2, 4)], 1),
        ([e(2, 1), e(3, 4), e(4, 4)], 2),
        ([e(3, 1), e(4, 2), e(5, 4), e(6, 4)], 3),
    ],
)
def test_find_conflict(ents: list[Entry], want: int) -> None:
    assert log_with(1, 2, 3).find_conflict(ents) == want


@pytest.mark.parametrize(
    ("index", "term", "want"),
    [(10, 4, 10), (9, 4, 9), (8, 3, 5), (8, 2, 2), (8, 1, 1), (5, 2, 2), (3, 0, 0)],
)
def test_find_conflict_by_term(index: int, term: int, want: int) -> None:
    # Terms: 1 at 1, 2 at 2, 3 at 3..5, 4 at 6..9.
    lg = log_with(1, 2, 3, 3, 3, 4, 4, 4, 4)
    assert lg.find_conflict_by_term(index, term) == want


def test_is_up_to_date() -> None:
    lg = log_with(1, 2, 3)
    assert lg.is_up_to_date(2, 4)  # higher term wins
    assert not lg.is_up_to_date(5, 2)  # lower term loses whatever its length
    assert lg.is_up_to_date(3, 3) and lg.is_up_to_date(4, 3)
    assert not lg.is_up_to_date(2, 3)


def test_maybe_append() -> None:
    lg = log_with(1, 2, 3)
    lg.committed = 1
    assert lg.maybe_append(3, 2, 3, [e(4, 4)]) is None  # (3, 2) does not match
    assert lg.maybe_append(3, 3, 2, [e(4, 4)]) == 4
    assert lg.committed == 2
    assert lg.maybe_append(2, 2, 10, [e(3, 5)]) == 3  # conflict at 3 replaces 3 and 4
    assert it(lg.all_entries()) == [(1, 1), (2, 2), (3, 5)]
    # Commit never passes what the message proved (its last new entry).
    assert lg.committed == 3
    with pytest.raises(AssertionError):
        lg.maybe_append(0, 0, 3, [e(1, 7)])  # would overwrite a committed entry


def test_commit_and_applied_bounds() -> None:
    lg = log_with(1, 2, 3)
    lg.commit_to(2)
    lg.commit_to(1)  # never decreases
    assert lg.committed == 2
    with pytest.raises(AssertionError):
        lg.commit_to(4)
    lg.applied_to(2)
    with pytest.raises(AssertionError):
        lg.applied_to(3)


def test_maybe_commit_only_for_given_term() -> None:
    lg = log_with(1, 2, 2)
    assert not lg.maybe_commit(3, 1)
    assert lg.maybe_commit(3, 2)
    assert lg.committed == 3


def test_next_ents_and_has_next_ents() -> None:
    lg = log_with(1, 1, 1)
    lg.append([e(4, 1), e(5, 1)])
    lg.commit_to(4)
    assert it(lg.next_ents()) == [(1, 1), (2, 1), (3, 1), (4, 1)]
    lg.applied_to(3)
    assert it(lg.next_ents()) == [(4, 1)]
    lg.applied_to(4)
    assert lg.next_ents() == [] and not lg.has_next_ents()


def test_next_ents_size_limit() -> None:
    s = MemoryStorage()
    s.append([e(i, 1, b"x" * 100) for i in range(1, 6)])
    lg = RaftLog(s, max_next_ents_size=250)
    lg.commit_to(5)
    assert [x.index for x in lg.next_ents()] == [1, 2]


def test_slice_across_storage_and_unstable() -> None:
    lg = log_with(1, 1, 1)
    lg.append([e(4, 2), e(5, 2)])
    assert it(lg.slice(2, 5)) == [(2, 1), (3, 1), (4, 2)]
    assert it(lg.slice(4, 6)) == [(4, 2), (5, 2)]
    assert lg.slice(3, 3) == []
    with pytest.raises(AssertionError):
        lg.slice(4, 7)


def test_compacted_log() -> None:
    s = storage(4, 5, 6)
    lg = RaftLog(s)
    assert (lg.first_index(), lg.last_index(), lg.committed, lg.applied) == (4, 6, 3, 3)
    with pytest.raises(ErrCompacted):
        lg.slice(2, 5)
    with pytest.raises(ErrCompacted):
        lg.term(2)
    assert lg.term(3) == 3 and lg.term(7) == 0
    assert lg.zero_term_on_err_compacted(1) == 0


def test_restore_snapshot() -> None:
    lg = log_with(1, 2)
    lg.restore(snapshot(10, 3))
    assert (lg.committed, lg.first_index(), lg.last_index(), lg.last_term()) == (10, 11, 10, 3)
    assert lg.has_pending_snapshot()
    lg.stable_snap_to(10)
    assert not lg.has_pending_snapshot()


def test_limit_size() -> None:
    ents = [e(i, 1, b"x" * 10) for i in range(1, 5)]
    size = ents[0].ByteSize()
    assert len(limit_size(ents, 0)) == 1
    assert len(limit_size(ents, size * 2)) == 2
    assert len(limit_size(ents, size * 2 + 1)) == 2
    assert len(limit_size(ents, 2**64 - 1)) == 4
    assert limit_size([], 0) == []
