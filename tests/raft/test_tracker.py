"""Progress, Inflights and the ProgressTracker (etcd's ``tracker/*_test.go`` cases, in our words)."""

from __future__ import annotations

import pytest

from etcd.raft.tracker import Inflights, Progress, ProgressTracker, StateType


def progress(match: int, next_: int, state: StateType = StateType.PROBE) -> Progress:
    pr = Progress(match, next_, Inflights(4))
    if state == StateType.REPLICATE:
        pr.become_replicate()
        pr.match, pr.next = match, next_
    elif state == StateType.SNAPSHOT:
        pr.become_snapshot(10)
    return pr


def test_inflights_window() -> None:
    f = Inflights(3)
    for i in (2, 4, 6):
        f.add(i)
    assert f.full() and f.count() == 3
    with pytest.raises(AssertionError):
        f.add(8)
    f.free_le(3)
    assert f.count() == 2 and not f.full()
    f.free_le(1)  # nothing that old
    assert f.count() == 2
    f.free_first_one()
    assert f.count() == 1
    f.free_le(100)
    assert f.count() == 0
    f.free_first_one()  # on empty: no-op
    assert f.count() == 0
    with pytest.raises(ValueError):
        Inflights(0)


def test_progress_become_probe() -> None:
    pr = progress(1, 5, StateType.REPLICATE)
    pr.become_probe()
    assert (pr.state, pr.next) == (StateType.PROBE, 2)
    pr = Progress(1, 5, Inflights(4))
    pr.become_snapshot(10)
    pr.become_probe()
    assert (pr.state, pr.next) == (StateType.PROBE, 11)
    pr = Progress(12, 13, Inflights(4))
    pr.become_snapshot(10)
    pr.become_probe()
    assert pr.next == 13


def test_progress_become_replicate_and_snapshot() -> None:
    pr = progress(1, 5)
    pr.become_replicate()
    assert (pr.state, pr.next) == (StateType.REPLICATE, 2)
    pr.become_snapshot(10)
    assert (pr.state, pr.pending_snapshot, pr.match) == (StateType.SNAPSHOT, 10, 1)


def test_progress_update() -> None:
    pr = progress(3, 5)
    assert not pr.maybe_update(2)  # stale
    assert (pr.match, pr.next) == (3, 5)
    assert pr.maybe_update(4)
    assert (pr.match, pr.next) == (4, 5)
    assert pr.maybe_update(6)
    assert (pr.match, pr.next) == (6, 7)


@pytest.mark.parametrize(
    ("state", "match", "next_", "rejected", "hint", "w", "wnext"),
    [
        (StateType.REPLICATE, 5, 10, 5, 5, False, 10),  # stale: at or below match
        (StateType.REPLICATE, 5, 10, 4, 4, False, 10),
        (StateType.REPLICATE, 5, 10, 9, 9, True, 6),  # back to match+1
        (StateType.PROBE, 0, 0, 0, 0, False, 0),  # next-1 != rejected
        (StateType.PROBE, 0, 10, 5, 5, False, 10),
        (StateType.PROBE, 0, 10, 9, 9, True, 9),
        (StateType.PROBE, 0, 2, 1, 1, True, 1),
        (StateType.PROBE, 0, 1, 0, 0, True, 1),  # never below 1
        (StateType.PROBE, 0, 10, 9, 2, True, 3),  # hint skips ahead
        (StateType.PROBE, 0, 10, 9, 0, True, 1),
    ],
)
def test_progress_maybe_decr_to(
    state: StateType, match: int, next_: int, rejected: int, hint: int, w: bool, wnext: int
) -> None:
    pr = Progress(match, next_, Inflights(4))
    if state == StateType.REPLICATE:
        pr.state = StateType.REPLICATE
    pr.probe_sent = True
    assert pr.maybe_decr_to(rejected, hint) == w
    assert pr.next == wnext
    if w and state == StateType.PROBE:
        assert not pr.probe_sent  # a probe answered: may probe again at once


def test_progress_is_paused() -> None:
    pr = progress(0, 1)
    assert not pr.is_paused()
    pr.probe_sent = True
    assert pr.is_paused()
    pr = progress(0, 1, StateType.REPLICATE)
    assert not pr.is_paused()
    for i in range(4):
        pr.inflights.add(i + 1)
    assert pr.is_paused()
    assert progress(0, 1, StateType.SNAPSHOT).is_paused()


def test_tracker_membership() -> None:
    t = ProgressTracker(4)
    t.add_voter(1, 1)
    t.add_learner(2, 1)
    assert t.conf_state().voters == [1] and t.conf_state().learners == [2]
    t.add_learner(1, 1)  # a voter is never demoted
    assert sorted(t.voters) == [1]
    t.add_voter(2, 1)  # promotion
    assert sorted(t.voters) == [1, 2] and not t.learners and not t.progress[2].is_learner
    t.remove(1)
    assert sorted(t.progress) == [2] and sorted(t.voters) == [2]
    t.remove(7)  # unknown: no-op


def test_tracker_committed_and_votes() -> None:
    t = ProgressTracker(4)
    for i in (1, 2, 3):
        t.add_voter(i, 1)
    t.add_learner(4, 1)
    for i, m in ((1, 5), (2, 3), (3, 1), (4, 100)):
        t.progress[i].match = m
    assert t.committed() == 3  # the learner's match does not count
    t.record_vote(1, True)
    t.record_vote(4, True)
    assert t.tally_votes()[0] == 1
    t.record_vote(2, False)
    t.record_vote(2, True)  # only the first answer counts
    granted, rejected, _ = t.tally_votes()
    assert (granted, rejected) == (1, 1)
