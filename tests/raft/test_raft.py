"""Raft beyond the paper's core: PreVote, CheckQuorum, learners, leader transfer, ReadIndex, proposal
forwarding, membership changes and the uncommitted-size limit, on the in-memory ``Network``.

Sections cited are from Diego Ongaro's thesis "Consensus: Bridging Theory and Practice" (2014).
"""

from __future__ import annotations

import pytest

from etcd.raft import ErrProposalDropped, MemoryStorage, Raft, ReadOnlyOption, ReadState, StateType
from etcd.raft.raftpb import raft_pb2 as pb
from etcd.raft.raftpb.raft_pb2 import ConfChange, ConfState, Entry, Message
from etcd.raft.rafttest import BLACK_HOLE, Network, new_test_raft


def hup(i: int) -> Message:
    return Message(from_=i, to=i, type=pb.MsgHup)


def prop(i: int, data: bytes = b"somedata") -> Message:
    return Message(from_=i, to=i, type=pb.MsgProp, entries=[Entry(data=data)])


def read(r: Raft) -> list[Message]:
    msgs, r.msgs = r.msgs, []
    return msgs


def states(nt: Network) -> list[StateType]:
    return [nt.raft(i).state for i in sorted(nt.peers) if isinstance(nt.peers[i], Raft)]


def tick_n(r: Raft, n: int) -> None:
    for _ in range(n):
        r.tick()


def elect_out_of_lease(nt: Network, i: int) -> None:
    """Let ``i`` campaign after its lease (election timeout) has run out, as CheckQuorum requires."""
    r = nt.raft(i)
    r.election_elapsed = r.election_timeout
    nt.send(hup(i))


# ----- elections


@pytest.mark.parametrize("pre_vote", [False, True])
@pytest.mark.parametrize(
    ("peers", "want", "wterm"),
    [
        ([None, None, None], StateType.LEADER, 1),
        ([None, None, BLACK_HOLE], StateType.LEADER, 1),
        ([None, BLACK_HOLE, BLACK_HOLE], StateType.CANDIDATE, 1),
        ([None, BLACK_HOLE, BLACK_HOLE, None], StateType.CANDIDATE, 1),
        ([None, BLACK_HOLE, BLACK_HOLE, None, None], StateType.LEADER, 1),
    ],
)
def test_leader_election(pre_vote: bool, peers: list[object], want: StateType, wterm: int) -> None:
    nt = Network(peers, pre_vote=pre_vote)  # type: ignore[arg-type]
    nt.send(hup(1))
    r = nt.raft(1)
    if pre_vote and want == StateType.CANDIDATE:
        # Without a quorum of pre-votes the node never enters a new term (thesis §9.6).
        assert r.state == StateType.PRE_CANDIDATE
        assert r.term == 0
    else:
        assert r.state == want
        assert r.term == wterm


@pytest.mark.parametrize("pre_vote", [False, True])
def test_leader_cycle(pre_vote: bool) -> None:
    """Each member can be elected in turn, and the others follow (§3.4)."""
    nt = Network([None, None, None], pre_vote=pre_vote)
    for campaigner in (1, 2, 3):
        nt.send(hup(campaigner))
        for i in (1, 2, 3):
            r = nt.raft(i)
            assert r.state == (StateType.LEADER if i == campaigner else StateType.FOLLOWER)
            assert r.lead == campaigner


def test_vote_from_any_state_only_once_per_term() -> None:
    for st in (StateType.FOLLOWER, StateType.CANDIDATE, StateType.LEADER):
        r = new_test_raft(1, voters=(1, 2, 3))
        r.term = 1
        if st == StateType.CANDIDATE:
            r.become_candidate()
        elif st == StateType.LEADER:
            r.become_candidate()
            r.become_leader()
        read(r)
        r.step(Message(from_=2, to=1, type=pb.MsgVote, term=r.term + 1, log_term=r.term + 1, index=42))
        (m,) = read(r)
        assert (m.type, m.reject, m.term) == (pb.MsgVoteResp, False, r.term)
        assert r.state == StateType.FOLLOWER and r.vote == 2
        # A second candidate in the same term is refused.
        r.step(Message(from_=3, to=1, type=pb.MsgVote, term=r.term, log_term=r.term, index=42))
        (m,) = read(r)
        assert m.reject


def test_dueling_candidates() -> None:
    """A candidate whose log is behind cannot win; it falls back when it sees the higher term (§5.4.1)."""
    nt = Network([None, None, None])
    nt.cut(1, 3)
    nt.send(hup(1))
    nt.send(hup(3))
    # 1 won with 2's vote; 3 is a candidate at term 1 that lost.
    assert states(nt) == [StateType.LEADER, StateType.FOLLOWER, StateType.CANDIDATE]
    nt.recover()
    # 3 campaigns at term 2 with a shorter log: 1 and 2 refuse; 1 steps down on the higher term.
    nt.send(hup(3))
    assert states(nt) == [StateType.FOLLOWER, StateType.FOLLOWER, StateType.FOLLOWER]
    assert [nt.raft(i).term for i in (1, 2, 3)] == [2, 2, 2]
    assert nt.raft(1).raft_log.last_index() == 1 and nt.raft(3).raft_log.last_index() == 0


def test_single_node_becomes_leader_and_commits() -> None:
    nt = Network([None])
    nt.send(hup(1))
    r = nt.raft(1)
    assert r.state == StateType.LEADER
    nt.send(prop(1))
    assert r.raft_log.committed == 2


# ----- PreVote (thesis §9.6)


def test_pre_vote_partitioned_node_does_not_disrupt_leader() -> None:
    nt = Network([None, None, None], pre_vote=True)
    nt.send(hup(1))
    nt.isolate(3)
    nt.send(prop(1))
    r3 = nt.raft(3)
    for _ in range(5 * r3.election_timeout):
        r3.tick()
        nt.send(*read(r3))
    # It keeps pre-campaigning without ever entering a new term.
    assert r3.state == StateType.PRE_CANDIDATE
    assert r3.term == 1
    nt.recover()
    nt.send(Message(from_=1, to=1, type=pb.MsgBeat))
    assert nt.raft(1).state == StateType.LEADER
    assert nt.raft(1).term == 1
    assert r3.state == StateType.FOLLOWER and r3.lead == 1
    nt.send(prop(1))
    assert [nt.raft(i).raft_log.committed for i in (1, 2, 3)] == [3, 3, 3]


def test_without_pre_vote_partitioned_node_disrupts_leader() -> None:
    """The contrast to the test above: a rejoining node with a higher term deposes the leader."""
    nt = Network([None, None, None])
    nt.send(hup(1))
    nt.isolate(3)
    r3 = nt.raft(3)
    for _ in range(2 * r3.election_timeout):
        r3.tick()
        nt.send(*read(r3))
    assert r3.term > 1
    nt.recover()
    nt.send(Message(from_=1, to=1, type=pb.MsgBeat))
    assert nt.raft(1).state == StateType.FOLLOWER
    assert nt.raft(1).term == r3.term


def test_pre_vote_granted_without_bumping_voters_term() -> None:
    nt = Network([None, None, None], pre_vote=True)
    nt.send(hup(1))
    assert states(nt) == [StateType.LEADER, StateType.FOLLOWER, StateType.FOLLOWER]
    assert [nt.raft(i).term for i in (1, 2, 3)] == [1, 1, 1]
    pre_votes = [m for m in nt.delivered if m.type == pb.MsgPreVote]
    assert {m.term for m in pre_votes} == {1} and {m.to for m in pre_votes} == {2, 3}


def test_pre_vote_rejected_by_node_with_longer_log() -> None:
    nt = Network([None, None, None], pre_vote=True)
    nt.send(hup(1))
    nt.isolate(3)
    nt.send(prop(1))
    nt.recover()
    # 3 missed an entry: its pre-vote is refused and nobody's term moves.
    nt.raft(1).become_follower(1, 0)
    nt.raft(2).become_follower(1, 0)
    nt.send(hup(3))
    assert nt.raft(3).state == StateType.FOLLOWER
    assert [nt.raft(i).term for i in (1, 2, 3)] == [1, 1, 1]


# ----- CheckQuorum (thesis §6.2)


def test_check_quorum_leader_steps_down_without_quorum() -> None:
    nt = Network([None, None, None], check_quorum=True)
    r1 = nt.raft(1)
    elect_out_of_lease(nt, 1)
    assert r1.state == StateType.LEADER
    nt.isolate(1)
    # The first round still counts the acks from before the partition; the second one finds none.
    for _ in range(2 * r1.election_timeout):
        r1.tick()
        nt.send(*read(r1))
    assert r1.state == StateType.FOLLOWER


def test_check_quorum_leader_stays_with_quorum() -> None:
    nt = Network([None, None, None], check_quorum=True)
    r1 = nt.raft(1)
    elect_out_of_lease(nt, 1)
    nt.isolate(3)
    for _ in range(3 * r1.election_timeout):
        r1.tick()
        nt.send(*read(r1))
    assert r1.state == StateType.LEADER


def test_check_quorum_vote_ignored_within_lease() -> None:
    """A follower that heard from its leader within the election timeout ignores vote requests."""
    nt = Network([None, None, None], check_quorum=True)
    elect_out_of_lease(nt, 1)
    r2 = nt.raft(2)
    assert r2.lead == 1 and r2.election_elapsed < r2.election_timeout
    r2.step(Message(from_=3, to=2, type=pb.MsgVote, term=5, log_term=5, index=10))
    assert read(r2) == []
    assert r2.term == 1 and r2.lead == 1


def test_free_stuck_candidate_with_check_quorum() -> None:
    """A candidate with a higher term is freed when it answers a stale heartbeat (etcd #5451)."""
    nt = Network([None, None, None], check_quorum=True)
    r1, r3 = nt.raft(1), nt.raft(3)
    elect_out_of_lease(nt, 1)
    nt.isolate(1)
    elect_out_of_lease(nt, 3)
    elect_out_of_lease(nt, 3)  # 2 still heard from 1 within its lease and ignores both campaigns
    assert r3.state == StateType.CANDIDATE
    assert r3.term > r1.term
    nt.recover()
    nt.send(Message(from_=1, to=3, type=pb.MsgHeartbeat, term=r1.term))
    # 3 answered the stale heartbeat with its term; 1 steps down.
    assert r1.state == StateType.FOLLOWER
    assert r1.term == r3.term
    elect_out_of_lease(nt, 3)
    assert r3.state == StateType.LEADER


def test_leader_answers_stale_append_only_with_check_quorum_or_pre_vote() -> None:
    for cq, want in ((False, 0), (True, 1)):
        r = new_test_raft(1, voters=(1, 2, 3), check_quorum=cq)
        r.become_follower(5, 2)
        r.step(Message(from_=3, to=1, type=pb.MsgApp, term=4))
        msgs = read(r)
        assert len(msgs) == want
        if want:
            assert (msgs[0].type, msgs[0].term, msgs[0].to) == (pb.MsgAppResp, 5, 3)


# ----- learners (thesis §4.2.1)


def test_learner_never_campaigns() -> None:
    r = new_test_raft(2, voters=(1,), learners=(2,))
    assert r.is_learner
    for _ in range(10 * r.election_timeout):
        r.tick()
    assert r.state == StateType.FOLLOWER
    assert read(r) == []


def test_learner_replicates_but_does_not_count() -> None:
    s1 = MemoryStorage(ConfState(voters=(1, 2), learners=(3,)))
    s2 = MemoryStorage(ConfState(voters=(1, 2), learners=(3,)))
    s3 = MemoryStorage(ConfState(voters=(1, 2), learners=(3,)))
    n1, n2, n3 = (new_test_raft(i, 10, 1, s) for i, s in ((1, s1), (2, s2), (3, s3)))
    nt = Network([n1, n2, n3])
    nt.send(hup(1))
    assert n1.state == StateType.LEADER
    nt.cut(1, 2)
    nt.send(prop(1))
    # The learner has the entry, but without voter 2 it cannot be committed.
    assert n3.raft_log.last_index() == 2
    assert n1.raft_log.committed == 1
    nt.recover()
    nt.send(Message(from_=1, to=1, type=pb.MsgBeat))
    assert n1.raft_log.committed == 2
    assert n3.raft_log.committed == 2


def test_learner_promoted_by_add_node_can_campaign() -> None:
    n1 = new_test_raft(1, voters=(1,), learners=(2,))
    n2 = new_test_raft(2, voters=(1,), learners=(2,))
    nt = Network([n1, n2])
    nt.send(hup(1))
    assert n1.state == StateType.LEADER
    nt.send(Message(from_=1, to=1, type=pb.MsgBeat))
    assert n2.term == 1 and n2.lead == 1
    for r in (n1, n2):
        r.apply_conf_change(ConfChange(type=pb.ConfChangeAddNode, node_id=2))
    assert not n2.is_learner
    assert sorted(n1.prs.voters) == [1, 2]
    n2.election_elapsed = n2.randomized_election_timeout
    nt.send(hup(2))
    assert n2.state == StateType.LEADER
    assert n1.state == StateType.FOLLOWER


def test_learner_vote_not_counted() -> None:
    r = new_test_raft(1, voters=(1, 2, 3), learners=(4,))
    r.step(hup(1))
    r.step(Message(from_=4, to=1, type=pb.MsgVoteResp, term=1))
    assert r.state == StateType.CANDIDATE
    r.step(Message(from_=2, to=1, type=pb.MsgVoteResp, term=1))
    assert r.state == StateType.LEADER


def test_add_learner_never_demotes_voter() -> None:
    r = new_test_raft(1, voters=(1, 2))
    cs = r.apply_conf_change(ConfChange(type=pb.ConfChangeAddLearnerNode, node_id=2))
    assert list(cs.voters) == [1, 2] and list(cs.learners) == []


# ----- leader transfer (thesis §3.10)


def test_leader_transfer_to_up_to_date_node() -> None:
    nt = Network([None, None, None])
    nt.send(hup(1))
    nt.send(Message(from_=2, to=1, type=pb.MsgTransferLeader))
    assert nt.raft(2).state == StateType.LEADER
    assert nt.raft(1).state == StateType.FOLLOWER and nt.raft(1).lead == 2
    # The transferee campaigned at once with the transfer context, skipping any lease.
    votes = [m for m in nt.delivered if m.type == pb.MsgVote and m.term == 2]
    assert votes and all(m.context == b"CampaignTransfer" for m in votes)
    # And back, the request sent to a follower which forwards it to the leader.
    nt.send(Message(from_=1, to=1, type=pb.MsgTransferLeader))
    assert nt.raft(1).state == StateType.LEADER


def test_leader_transfer_to_slow_follower_catches_it_up_first() -> None:
    nt = Network([None, None, None])
    nt.send(hup(1))
    nt.isolate(3)
    nt.send(prop(1))
    nt.recover()
    assert nt.raft(1).prs.progress[3].match == 1
    nt.send(Message(from_=3, to=1, type=pb.MsgTransferLeader))
    assert nt.raft(3).state == StateType.LEADER
    assert nt.raft(3).raft_log.committed >= 2


def test_leader_transfer_with_check_quorum_overrides_lease() -> None:
    nt = Network([None, None, None], check_quorum=True)
    elect_out_of_lease(nt, 1)
    nt.send(Message(from_=2, to=1, type=pb.MsgTransferLeader))
    assert nt.raft(2).state == StateType.LEADER


def test_leader_transfer_times_out() -> None:
    nt = Network([None, None, None])
    nt.send(hup(1))
    nt.isolate(3)
    r1 = nt.raft(1)
    nt.send(Message(from_=3, to=1, type=pb.MsgTransferLeader))
    assert r1.lead_transferee == 3
    for _ in range(r1.heartbeat_timeout):
        r1.tick()
    assert r1.lead_transferee == 3
    for _ in range(r1.election_timeout - r1.heartbeat_timeout):
        r1.tick()
    assert r1.lead_transferee == 0
    assert r1.state == StateType.LEADER


def test_leader_transfer_drops_proposals() -> None:
    nt = Network([None, None, None])
    nt.send(hup(1))
    nt.isolate(3)
    r1 = nt.raft(1)
    nt.send(Message(from_=3, to=1, type=pb.MsgTransferLeader))
    with pytest.raises(ErrProposalDropped):
        r1.step(prop(1))
    assert r1.prs.progress[1].match == 1


@pytest.mark.parametrize("transferee", [1, 4])
def test_leader_transfer_to_self_or_unknown_is_ignored(transferee: int) -> None:
    nt = Network([None, None, None])
    nt.send(hup(1))
    nt.send(Message(from_=transferee, to=1, type=pb.MsgTransferLeader))
    r1 = nt.raft(1)
    assert r1.state == StateType.LEADER and r1.lead_transferee == 0


def test_leader_transfer_to_learner_is_ignored() -> None:
    n1 = new_test_raft(1, voters=(1,), learners=(2,))
    n2 = new_test_raft(2, voters=(1,), learners=(2,))
    nt = Network([n1, n2])
    nt.send(hup(1))
    nt.send(Message(from_=2, to=1, type=pb.MsgTransferLeader))
    assert n1.state == StateType.LEADER and n1.lead_transferee == 0


def test_leader_transfer_aborted_when_transferee_removed() -> None:
    nt = Network([None, None, None])
    nt.send(hup(1))
    nt.isolate(3)
    r1 = nt.raft(1)
    nt.send(Message(from_=3, to=1, type=pb.MsgTransferLeader))
    assert r1.lead_transferee == 3
    r1.apply_conf_change(ConfChange(type=pb.ConfChangeRemoveNode, node_id=3))
    assert r1.lead_transferee == 0


# ----- ReadIndex (thesis §6.4)


def test_read_only_option_safe() -> None:
    nt = Network([None, None, None])
    nt.send(hup(1))
    for i, ctx in ((1, b"ctx1"), (2, b"ctx2"), (3, b"ctx3"), (1, b"ctx4")):
        nt.send(prop(1))  # the read index moves with the commit index
        nt.send(Message(from_=i, to=i, type=pb.MsgReadIndex, entries=[Entry(data=ctx)]))
        r = nt.raft(i)
        assert r.read_states == [ReadState(index=nt.raft(1).raft_log.committed, request_ctx=ctx)]
        r.read_states = []


def test_read_only_safe_needs_quorum_of_heartbeat_acks() -> None:
    nt = Network([None, None, None])
    nt.send(hup(1))
    nt.isolate(2)
    nt.isolate(3)
    nt.send(Message(from_=1, to=1, type=pb.MsgReadIndex, entries=[Entry(data=b"x")]))
    assert nt.raft(1).read_states == []
    nt.recover()
    nt.send(Message(from_=1, to=1, type=pb.MsgBeat))
    # The next heartbeat round carries the pending context and confirms leadership.
    assert nt.raft(1).read_states == [ReadState(1, b"x")]


def test_read_only_option_lease() -> None:
    nt = Network([None, None, None], check_quorum=True, read_only_option=ReadOnlyOption.LEASE_BASED)
    elect_out_of_lease(nt, 1)
    nt.isolate(2)
    nt.isolate(3)
    # No heartbeat round: the lease alone answers.
    nt.send(Message(from_=1, to=1, type=pb.MsgReadIndex, entries=[Entry(data=b"lease")]))
    assert nt.raft(1).read_states == [ReadState(1, b"lease")]


def test_read_index_waits_for_new_leader_to_commit_in_its_term() -> None:
    nt = Network([None, None, None])
    nt.send(hup(1))
    nt.ignore(pb.MsgApp)
    nt.send(hup(2))  # 2 is leader at term 2 but cannot commit its empty entry
    r2 = nt.raft(2)
    assert r2.state == StateType.LEADER
    assert not r2.committed_entry_in_current_term()
    nt.send(Message(from_=2, to=2, type=pb.MsgReadIndex, entries=[Entry(data=b"ctx")]))
    assert r2.read_states == []
    assert len(r2.pending_read_index_messages) == 1
    nt.recover()
    nt.send(Message(from_=2, to=2, type=pb.MsgBeat))
    assert r2.raft_log.committed == 2
    assert r2.read_states == [ReadState(2, b"ctx")]


def test_read_index_singleton_answers_at_once() -> None:
    nt = Network([None])
    nt.send(hup(1))
    nt.send(Message(from_=1, to=1, type=pb.MsgReadIndex, entries=[Entry(data=b"a")]))
    assert nt.raft(1).read_states == [ReadState(1, b"a")]


def test_read_index_dropped_without_leader() -> None:
    r = new_test_raft(1, voters=(1, 2, 3))
    r.step(Message(from_=1, to=1, type=pb.MsgReadIndex, entries=[Entry(data=b"a")]))
    assert read(r) == [] and r.read_states == []


# ----- proposals


def test_proposal_forwarded_to_leader() -> None:
    nt = Network([None, None, None])
    nt.send(hup(1))
    nt.send(prop(2, b"fwd"))
    assert [e.data for e in nt.raft(3).raft_log.all_entries()] == [b"", b"fwd"]
    assert nt.raft(1).raft_log.committed == 2


def test_proposal_forwarding_disabled() -> None:
    nt = Network([None, None, None], disable_proposal_forwarding=True)
    nt.send(hup(1))
    with pytest.raises(ErrProposalDropped):
        nt.raft(2).step(prop(2))
    assert read(nt.raft(2)) == []


def test_proposal_without_leader_dropped() -> None:
    r = new_test_raft(1, voters=(1, 2, 3))
    with pytest.raises(ErrProposalDropped):
        r.step(prop(1))
    r.become_candidate()
    with pytest.raises(ErrProposalDropped):
        r.step(prop(1))


def test_proposal_message_not_mutated() -> None:
    """Entries are copied into the log: the caller's (or a duplicated) message stays as it was."""
    r = new_test_raft(1, voters=(1,))
    r.step(hup(1))
    m = prop(1)
    r.step(m)
    assert (m.entries[0].term, m.entries[0].index) == (0, 0)
    assert r.raft_log.last_index() == 2


def test_uncommitted_entries_size_limit() -> None:
    nt = Network([None, None, None], max_uncommitted_entries_size=30)
    nt.send(hup(1))
    r1 = nt.raft(1)
    nt.isolate(1)
    for _ in range(3):
        r1.step(prop(1, b"x" * 10))
    with pytest.raises(ErrProposalDropped):
        r1.step(prop(1, b"x" * 10))
    assert r1.uncommitted_size == 30
    # Committing (and applying) releases the budget.
    nt.recover()
    nt.send(Message(from_=1, to=1, type=pb.MsgBeat))
    assert r1.raft_log.committed == 4
    r1.reduce_uncommitted_size(r1.raft_log.next_ents())
    assert r1.uncommitted_size == 0
    r1.step(prop(1, b"y" * 10))


def test_uncommitted_limit_admits_one_large_proposal_when_empty() -> None:
    r = new_test_raft(1, voters=(1, 2), max_uncommitted_entries_size=10)
    r.become_candidate()
    r.become_leader()
    r.step(prop(1, b"z" * 100))
    assert r.uncommitted_size == 100
    with pytest.raises(ErrProposalDropped):
        r.step(prop(1, b"z"))


# ----- membership changes (thesis §4.1: one server at a time)


def cc_entry(t: int, node: int) -> Entry:
    return Entry(type=pb.EntryConfChange, data=ConfChange(type=t, node_id=node).SerializeToString())


def test_one_conf_change_at_a_time() -> None:
    r = new_test_raft(1, voters=(1, 2))
    r.become_candidate()
    r.become_leader()
    # A new leader treats its whole uncommitted tail as possibly holding a conf change.
    assert r.pending_conf_index == 0
    r.step(Message(from_=1, to=1, type=pb.MsgProp, entries=[cc_entry(pb.ConfChangeAddNode, 3)]))
    r.step(Message(from_=1, to=1, type=pb.MsgProp, entries=[cc_entry(pb.ConfChangeAddNode, 4)]))
    types = [e.type for e in r.raft_log.all_entries()]
    assert types == [pb.EntryNormal, pb.EntryConfChange, pb.EntryNormal]
    assert r.pending_conf_index == 2


def test_conf_change_allowed_once_previous_applied() -> None:
    r = new_test_raft(1, voters=(1,))
    r.step(hup(1))
    r.step(Message(from_=1, to=1, type=pb.MsgProp, entries=[cc_entry(pb.ConfChangeAddNode, 2)]))
    assert r.raft_log.committed == 0  # a single node commits once its own save is done
    r.ack_persisted(2, 1)
    assert r.raft_log.committed == 2
    r.raft_log.applied_to(2)
    r.step(Message(from_=1, to=1, type=pb.MsgProp, entries=[cc_entry(pb.ConfChangeAddNode, 3)]))
    assert [e.type for e in r.raft_log.all_entries()][-1] == pb.EntryConfChange
    assert r.pending_conf_index == 3


def test_campaign_blocked_by_committed_unapplied_conf_change() -> None:
    s = MemoryStorage(ConfState(voters=(1, 2)))
    s.append([Entry(index=1, term=1, type=pb.EntryConfChange, data=b"")])
    r = new_test_raft(1, 10, 1, s)
    r.raft_log.commit_to(1)
    r.step(hup(1))
    assert r.state == StateType.FOLLOWER
    r.raft_log.applied_to(1)
    r.step(hup(1))
    assert r.state == StateType.CANDIDATE


def test_add_node() -> None:
    r = new_test_raft(1, voters=(1,))
    cs = r.apply_conf_change(ConfChange(type=pb.ConfChangeAddNode, node_id=2))
    assert list(cs.voters) == [1, 2]
    assert sorted(r.prs.progress) == [1, 2]
    # Redundant and update changes leave the membership as it is.
    assert list(r.apply_conf_change(ConfChange(type=pb.ConfChangeAddNode, node_id=2)).voters) == [1, 2]
    assert list(r.apply_conf_change(ConfChange(type=pb.ConfChangeUpdateNode, node_id=2)).voters) == [1, 2]


def test_remove_node_commits_pending_entries() -> None:
    """Removing a silent voter shrinks the quorum: the leader commits what was waiting for it."""
    nt = Network([None, None])
    nt.send(hup(1))
    r1 = nt.raft(1)
    nt.isolate(2)
    nt.send(prop(1))
    assert r1.raft_log.committed == 1
    cs = r1.apply_conf_change(ConfChange(type=pb.ConfChangeRemoveNode, node_id=2))
    assert list(cs.voters) == [1]
    assert r1.raft_log.committed == 2


def test_removed_node_responses_are_ignored() -> None:
    r = new_test_raft(1, voters=(1, 2, 3))
    r.become_candidate()
    r.become_leader()
    r.apply_conf_change(ConfChange(type=pb.ConfChangeRemoveNode, node_id=3))
    read(r)
    r.step(Message(from_=3, to=1, type=pb.MsgAppResp, term=1, index=1))
    assert 3 not in r.prs.progress and r.raft_log.committed == 0
