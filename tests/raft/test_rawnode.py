"""RawNode: the Ready/advance contract, bootstrap, restart from storage, conf changes and status."""

from __future__ import annotations

import random

import pytest

from etcd.raft import (
    Config,
    ConfigError,
    ErrProposalDropped,
    ErrStepLocalMsg,
    ErrStepPeerNotFound,
    MemoryStorage,
    Peer,
    RawNode,
    ReadOnlyOption,
    ReadState,
    Ready,
    SoftState,
    StateType,
)
from etcd.raft.raftpb import raft_pb2 as pb
from etcd.raft.raftpb.raft_pb2 import ConfChange, ConfState, Entry, HardState, Message
from etcd.raft.rawnode import must_sync


def config(id_: int, storage: MemoryStorage, **kw: object) -> Config:
    c = Config(id=id_, election_tick=10, heartbeat_tick=1, storage=storage, rand=random.Random(id_))
    for k, v in kw.items():
        setattr(c, k, v)
    return c


def handle(node: RawNode, storage: MemoryStorage) -> Ready:
    """One turn of the application loop: persist, (not send), apply conf changes, advance."""
    rd = node.ready()
    if rd.snapshot is not None:
        storage.apply_snapshot(rd.snapshot)
    storage.append(rd.entries)
    if rd.hard_state is not None:
        storage.set_hard_state(rd.hard_state)
    for e in rd.committed_entries:
        if e.type == pb.EntryConfChange:
            cc = ConfChange()
            cc.ParseFromString(e.data)
            node.apply_conf_change(cc)
    node.advance(rd)
    return rd


def settle(node: RawNode, storage: MemoryStorage) -> list[Ready]:
    """Handle Readies until there are none (a leader's own save commits in the next one)."""
    out = []
    for _ in range(10):
        if not node.has_ready():
            return out
        out.append(handle(node, storage))
    raise AssertionError("node never settled")


def committed(rds: list[Ready]) -> list[bytes]:
    return [e.data for rd in rds for e in rd.committed_entries]


def test_config_validation() -> None:
    s = MemoryStorage()
    with pytest.raises(ConfigError):
        RawNode(config(0, s))
    with pytest.raises(ConfigError):
        RawNode(config(1, s, heartbeat_tick=0))
    with pytest.raises(ConfigError):
        RawNode(config(1, s, election_tick=1))
    with pytest.raises(ConfigError):
        RawNode(config(1, s, max_inflight_msgs=0))
    with pytest.raises(ConfigError):
        RawNode(config(1, s, read_only_option=ReadOnlyOption.LEASE_BASED))


def test_single_node_ready_cycle() -> None:
    s = MemoryStorage(ConfState(voters=[1]))
    n = RawNode(config(1, s))
    assert not n.has_ready()
    n.campaign()
    assert n.has_ready()
    rd = handle(n, s)
    assert rd.soft_state == SoftState(lead=1, raft_state=StateType.LEADER)
    assert rd.hard_state == HardState(term=1, vote=1, commit=0)
    assert [(e.index, e.term) for e in rd.entries] == [(1, 1)]
    # The leader's entry counts only once saved: it commits when this Ready is advanced.
    assert rd.committed_entries == ()
    assert rd.must_sync
    assert n.has_ready()
    rd = handle(n, s)
    assert rd.hard_state == HardState(term=1, vote=1, commit=1)
    assert [(e.index, e.term) for e in rd.committed_entries] == [(1, 1)]
    assert rd.entries == () and not rd.must_sync
    assert not n.has_ready()
    n.propose(b"foo")
    rd = handle(n, s)
    assert rd.soft_state is None
    assert [e.data for e in rd.entries] == [b"foo"]
    assert rd.committed_entries == ()
    rd = handle(n, s)
    assert [e.data for e in rd.committed_entries] == [b"foo"]
    assert rd.hard_state == HardState(term=1, vote=1, commit=2)
    assert s.last_index() == 2
    assert n.status().applied == 2
    assert not n.has_ready()


def test_commit_only_change_needs_no_sync() -> None:
    assert not must_sync(HardState(term=1, vote=1, commit=5), HardState(term=1, vote=1, commit=3), 0)
    assert must_sync(HardState(term=2, vote=1, commit=3), HardState(term=1, vote=1, commit=3), 0)
    assert must_sync(HardState(term=1, vote=2, commit=3), HardState(term=1, vote=1, commit=3), 0)
    assert must_sync(HardState(term=1, vote=1, commit=3), HardState(term=1, vote=1, commit=3), 1)


def test_ready_messages_leave_once() -> None:
    s = MemoryStorage(ConfState(voters=[1, 2, 3]))
    n = RawNode(config(1, s))
    n.campaign()
    rd = n.ready()
    assert sorted((m.to, m.type) for m in rd.messages) == [(2, pb.MsgVote), (3, pb.MsgVote)]
    n.advance(rd)
    assert n.ready().messages == ()


def test_step_refuses_local_and_unknown_responses() -> None:
    s = MemoryStorage(ConfState(voters=[1, 2]))
    n = RawNode(config(1, s))
    with pytest.raises(ErrStepLocalMsg):
        n.step(Message(type=pb.MsgHup))
    with pytest.raises(ErrStepPeerNotFound):
        n.step(Message(type=pb.MsgAppResp, from_=9, term=1))


def test_propose_without_leader_raises() -> None:
    s = MemoryStorage(ConfState(voters=[1, 2]))
    n = RawNode(config(1, s))
    with pytest.raises(ErrProposalDropped):
        n.propose(b"x")


def test_bootstrap_commits_conf_changes_at_term_one() -> None:
    s = MemoryStorage()
    n = RawNode(config(1, s))
    n.bootstrap([Peer(1, b"m1"), Peer(2, b"m2")])
    rd = handle(n, s)
    assert [(e.index, e.term, e.type) for e in rd.committed_entries] == [
        (1, 1, pb.EntryConfChange),
        (2, 1, pb.EntryConfChange),
    ]
    cc = ConfChange()
    cc.ParseFromString(rd.committed_entries[1].data)
    assert (cc.type, cc.node_id, cc.context) == (pb.ConfChangeAddNode, 2, b"m2")
    assert rd.hard_state == HardState(term=1, commit=2)
    assert sorted(n.raft.prs.voters) == [1, 2]
    with pytest.raises(ValueError):
        RawNode(config(1, s)).bootstrap([Peer(1)])
    with pytest.raises(ValueError):
        RawNode(config(1, MemoryStorage())).bootstrap([])


def test_restart_from_storage_keeps_state() -> None:
    s = MemoryStorage(ConfState(voters=[1]))
    n = RawNode(config(1, s))
    n.campaign()
    settle(n, s)
    for d in (b"a", b"b"):
        n.propose(d)
        settle(n, s)
    n2 = RawNode(config(1, s, applied=3))
    st = n2.status()
    assert st.hard_state == HardState(term=1, vote=1, commit=3)
    assert st.raft_state == StateType.FOLLOWER
    assert not n2.has_ready()
    # Restarted with an older applied index, the node hands the rest out again.
    n3 = RawNode(config(1, s, applied=1))
    rd = n3.ready()
    assert [e.data for e in rd.committed_entries] == [b"a", b"b"]


def test_restart_from_snapshot() -> None:
    s = MemoryStorage()
    s.apply_snapshot(
        pb.Snapshot(metadata=pb.SnapshotMetadata(index=2, term=1, conf_state=ConfState(voters=[1, 2])))
    )
    s.append([Entry(index=3, term=1, data=b"x")])
    s.set_hard_state(HardState(term=1, commit=3))
    n = RawNode(config(1, s, applied=2))
    rd = n.ready()
    assert [e.data for e in rd.committed_entries] == [b"x"]
    assert rd.hard_state is None  # unchanged from what storage holds


def test_conf_change_through_the_log() -> None:
    s = MemoryStorage(ConfState(voters=[1]))
    n = RawNode(config(1, s))
    n.campaign()
    settle(n, s)
    n.propose_conf_change(ConfChange(type=pb.ConfChangeAddLearnerNode, node_id=2))
    rds = settle(n, s)
    assert [e.type for rd in rds for e in rd.committed_entries] == [pb.EntryConfChange]
    assert sorted(n.raft.prs.learners) == [2]
    # A learner's ack is not needed to commit.
    n.propose(b"after")
    assert committed(settle(n, s)) == [b"after"]
    # Promotion: add-node of the learner.
    n.propose_conf_change(ConfChange(type=pb.ConfChangeAddNode, node_id=2))
    settle(n, s)
    assert sorted(n.raft.prs.voters) == [1, 2] and not n.raft.prs.learners
    n.propose(b"needs two")
    assert committed(settle(n, s)) == []


def test_read_index_through_ready() -> None:
    s = MemoryStorage(ConfState(voters=[1]))
    n = RawNode(config(1, s))
    n.campaign()
    settle(n, s)
    n.read_index(b"rctx")
    assert n.has_ready()
    rd = handle(n, s)
    assert rd.read_states == (ReadState(index=1, request_ctx=b"rctx"),)
    assert not n.has_ready()


def test_status_progress_only_on_leader() -> None:
    s = MemoryStorage(ConfState(voters=[1, 2]))
    n = RawNode(config(1, s))
    assert n.status().progress == {}
    n.campaign()
    n.step(Message(from_=2, to=1, type=pb.MsgVoteResp, term=1))
    st = n.status()
    assert st.raft_state == StateType.LEADER and st.lead == 1
    assert sorted(st.progress) == [1, 2]
    # A copy: changing it does not touch the node.
    st.progress[2].match = 99
    assert n.raft.prs.progress[2].match == 0


def test_report_unreachable_and_snapshot() -> None:
    s = MemoryStorage(ConfState(voters=[1, 2]))
    n = RawNode(config(1, s))
    n.campaign()
    n.step(Message(from_=2, to=1, type=pb.MsgVoteResp, term=1))
    pr = n.raft.prs.progress[2]
    pr.become_replicate()
    n.report_unreachable(2)
    assert str(pr.state) == "StateProbe"
    pr.become_snapshot(5)
    n.report_snapshot(2, False)
    assert str(pr.state) == "StateProbe" and pr.pending_snapshot == 0


def test_transfer_leader_via_rawnode() -> None:
    s = MemoryStorage(ConfState(voters=[1, 2]))
    n = RawNode(config(1, s))
    n.campaign()
    n.step(Message(from_=2, to=1, type=pb.MsgVoteResp, term=1))
    n.ready()
    n.step(Message(from_=2, to=1, type=pb.MsgAppResp, term=1, index=1))
    n.transfer_leader(2)
    msgs = n.ready().messages
    assert [(m.type, m.to) for m in msgs if m.type == pb.MsgTimeoutNow] == [(pb.MsgTimeoutNow, 2)]


def test_propose_batch_is_one_append() -> None:
    s = MemoryStorage(ConfState(voters=[1, 2]))
    n = RawNode(config(1, s))
    n.campaign()
    n.step(Message(from_=2, to=1, type=pb.MsgVoteResp, term=1))
    n.step(Message(from_=2, to=1, type=pb.MsgAppResp, term=1, index=1))
    settle(n, s)
    n.propose_batch([b"a", b"b", b"c"])
    rd = n.ready()
    assert [e.data for e in rd.entries] == [b"a", b"b", b"c"]
    apps = [m for m in rd.messages if m.type == pb.MsgApp]
    assert [[e.data for e in m.entries] for m in apps] == [[b"a", b"b", b"c"]]
    n.propose_batch([])  # nothing to do


def test_split_messages_holds_back_those_that_promise_a_save() -> None:
    s = MemoryStorage(ConfState(voters=[1, 2, 3]))
    n = RawNode(config(1, s, pre_vote=True))
    n.campaign()
    early, late = n.ready().split_messages()
    # Pre-votes change no state: they may leave before the save.
    assert [m.type for m in early] == [pb.MsgPreVote, pb.MsgPreVote] and late == ()
    fs = MemoryStorage(ConfState(voters=[1, 2, 3]))
    f = RawNode(config(2, fs))
    f.step(Message(from_=1, to=2, type=pb.MsgVote, term=1, index=0, log_term=0))
    rd = f.ready()
    # A new vote: everything waits for the save, even what promises nothing.
    assert rd.saves_vote and rd.split_messages() == ((), rd.messages)
    fs.append(rd.entries)
    assert rd.hard_state is not None
    fs.set_hard_state(rd.hard_state)
    f.advance(rd)
    app = Message(
        from_=1, to=2, type=pb.MsgApp, term=1, index=0, log_term=0, entries=[Entry(index=1, term=1)]
    )
    f.step(app)
    f.step(Message(from_=1, to=2, type=pb.MsgHeartbeat, term=1))
    early, late = f.ready().split_messages()
    assert [m.type for m in early] == [pb.MsgHeartbeatResp]
    assert [m.type for m in late] == [pb.MsgAppResp]


def test_leader_commits_only_saved_entries() -> None:
    """A follower's ack and the leader's unsaved copy are one durable copy, not a majority of three."""
    s = MemoryStorage(ConfState(voters=[1, 2, 3]))
    n = RawNode(config(1, s))
    n.campaign()
    n.step(Message(from_=2, to=1, type=pb.MsgVoteResp, term=1))
    rd = n.ready()  # the leader's empty entry, being saved
    n.step(Message(from_=2, to=1, type=pb.MsgAppResp, term=1, index=1))
    assert n.raft.raft_log.committed == 0
    s.append(rd.entries)
    n.advance(rd)  # the save returned: now two durable copies
    assert n.raft.raft_log.committed == 1


def test_ack_persisted_ignores_replaced_entries_and_followers() -> None:
    s = MemoryStorage(ConfState(voters=[1, 2]))
    n = RawNode(config(1, s))
    r = n.raft
    r.ack_persisted(0, 0)  # follower: no-op
    n.campaign()
    n.step(Message(from_=2, to=1, type=pb.MsgVoteResp, term=1))
    assert r.prs.progress[1].match == 0
    r.ack_persisted(1, 7)  # no entry 1 of term 7 in our log
    assert r.prs.progress[1].match == 0
    r.ack_persisted(1, 1)
    assert r.prs.progress[1].match == 1


def test_split_messages_waits_for_a_new_term_to_be_saved() -> None:
    """A single voter wins at once; its first appends to a learner wait until its term is saved."""
    s = MemoryStorage(ConfState(voters=[1], learners=[2]))
    n = RawNode(config(1, s))
    n.campaign()
    n.propose(b"x")
    rd = n.ready()
    assert rd.saves_vote
    early, late = rd.split_messages()
    assert early == () and [m.type for m in late] == [pb.MsgApp]
    s.append(rd.entries)
    assert rd.hard_state is not None
    s.set_hard_state(rd.hard_state)
    n.advance(rd)
    n.step(Message(from_=2, to=1, type=pb.MsgAppResp, term=1, index=2))
    n.propose(b"y")
    rd = n.ready()
    assert not rd.saves_vote
    early, late = rd.split_messages()
    assert early and {m.type for m in early} == {pb.MsgApp} and late == ()
