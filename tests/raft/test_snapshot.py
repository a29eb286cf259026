"""Snapshots sent to followers that need compacted entries, and flow control of appends
(cases of etcd's ``raft_snap_test.go`` and ``raft_flow_control_test.go``, written for this project)."""

from __future__ import annotations

from etcd.raft import MemoryStorage, Raft, StateType
from etcd.raft.raftpb import raft_pb2 as pb
from etcd.raft.raftpb.raft_pb2 import ConfState, Entry, Message, Snapshot, SnapshotMetadata
from etcd.raft.rafttest import Network, new_test_raft
from etcd.raft.tracker import StateType as PS


def read(r: Raft) -> list[Message]:
    msgs, r.msgs = r.msgs, []
    return msgs


def snap(index: int, term: int, voters: tuple[int, ...] = (1, 2), learners: tuple[int, ...] = ()) -> Snapshot:
    return Snapshot(
        metadata=SnapshotMetadata(
            index=index, term=term, conf_state=ConfState(voters=voters, learners=learners)
        )
    )


def leader_with_snapshot(index: int = 11, term: int = 11) -> Raft:
    """A leader of voters 1 and 2 whose log starts after snapshot (index, term)."""
    s = MemoryStorage()
    s.apply_snapshot(snap(index, term))
    r = new_test_raft(1, 10, 1, s)
    r.become_candidate()
    r.become_leader()
    read(r)
    return r


def test_sending_snapshot_sets_pending_snapshot() -> None:
    r = leader_with_snapshot()
    pr = r.prs.progress[2]
    # The follower rejected a probe: it needs entries before the snapshot.
    pr.next = r.raft_log.first_index()
    r.step(Message(from_=2, to=1, type=pb.MsgAppResp, term=r.term, index=pr.next - 1, reject=True))
    assert pr.state == PS.SNAPSHOT
    assert pr.pending_snapshot == 11
    (m,) = read(r)
    assert m.type == pb.MsgSnap and m.snapshot.metadata.index == 11 and m.to == 2


def test_pending_snapshot_pauses_replication() -> None:
    r = leader_with_snapshot()
    r.prs.progress[2].become_snapshot(11)
    r.step(Message(from_=1, to=1, type=pb.MsgProp, entries=[Entry(data=b"somedata")]))
    assert read(r) == []


def test_snapshot_failure_falls_back_to_probe() -> None:
    r = leader_with_snapshot()
    pr = r.prs.progress[2]
    pr.next = 1
    pr.become_snapshot(11)
    r.step(Message(from_=2, to=1, type=pb.MsgSnapStatus, reject=True))
    assert pr.state == PS.PROBE
    assert pr.pending_snapshot == 0
    assert pr.next == 1
    assert pr.probe_sent  # wait for a heartbeat response before probing again


def test_snapshot_success_probes_after_snapshot() -> None:
    r = leader_with_snapshot()
    pr = r.prs.progress[2]
    pr.next = 1
    pr.become_snapshot(11)
    r.step(Message(from_=2, to=1, type=pb.MsgSnapStatus, reject=False))
    assert pr.state == PS.PROBE
    assert pr.next == 12
    assert pr.probe_sent


def test_snapshot_abort_on_append_response() -> None:
    """An ack at or past the snapshot means the follower caught up some other way: replicate."""
    r = leader_with_snapshot()
    pr = r.prs.progress[2]
    pr.next = 1
    pr.become_snapshot(11)
    r.step(Message(from_=2, to=1, type=pb.MsgAppResp, term=r.term, index=11))
    assert pr.state == PS.REPLICATE
    assert pr.pending_snapshot == 0
    assert pr.next == 13  # the leader's empty entry (12) was sent at once
    assert pr.inflights.count() == 1


def test_snapshot_not_sent_to_inactive_follower() -> None:
    r = leader_with_snapshot()
    pr = r.prs.progress[2]
    pr.recent_active = False
    pr.next = 5
    assert not r.maybe_send_append(2, True)
    assert pr.state == PS.PROBE


def test_follower_restores_snapshot() -> None:
    r = new_test_raft(1, voters=(1, 2))
    s = snap(11, 11, voters=(1, 2, 3), learners=(4,))
    r.step(Message(from_=2, to=1, type=pb.MsgSnap, term=11, snapshot=s))
    assert r.raft_log.last_index() == 11
    assert r.raft_log.term(11) == 11
    assert r.raft_log.committed == 11
    assert sorted(r.prs.voters) == [1, 2, 3] and sorted(r.prs.learners) == [4]
    assert r.raft_log.has_pending_snapshot()
    (m,) = read(r)
    assert (m.type, m.index, m.reject) == (pb.MsgAppResp, 11, False)
    # A second copy of the same snapshot is ignored: it is committed already.
    assert not r.restore(s)


def test_restore_fast_forwards_when_log_has_snapshot_entry() -> None:
    st = MemoryStorage(ConfState(voters=(1, 2)))
    st.append([Entry(index=i, term=1) for i in range(1, 6)])
    r = new_test_raft(1, 10, 1, st)
    assert not r.restore(snap(4, 1))
    assert r.raft_log.committed == 4
    assert r.raft_log.last_index() == 5  # entries after it are kept


def test_restore_refuses_snapshot_without_us() -> None:
    r = new_test_raft(1, voters=(1, 2))
    assert not r.restore(snap(11, 11, voters=(2, 3)))
    assert r.raft_log.last_index() == 0


def test_learner_restores_snapshot_as_learner() -> None:
    r = new_test_raft(2, voters=(1,), learners=(2,))
    assert r.restore(snap(11, 11, voters=(1,), learners=(2,)))
    assert r.is_learner
    assert not r.promotable()


def test_slow_node_catches_up_by_snapshot() -> None:
    """A member cut off while the others compact their logs is brought back by a snapshot."""
    nt = Network([None, None, None])
    nt.send(Message(from_=1, to=1, type=pb.MsgHup))
    nt.isolate(3)
    for _ in range(20):
        nt.send(Message(from_=1, to=1, type=pb.MsgProp, entries=[Entry(data=b"x")]))
    lead = nt.raft(1)
    s1 = nt.storage[1]
    # Persist, apply, snapshot and compact the leader's log as an application would.
    s1.append(lead.raft_log.unstable_entries())
    lead.raft_log.stable_to(lead.raft_log.last_index(), lead.raft_log.last_term())
    lead.raft_log.applied_to(lead.raft_log.committed)
    s1.create_snapshot(lead.raft_log.applied, ConfState(voters=(1, 2, 3)), b"state")
    s1.compact(lead.raft_log.applied)
    assert lead.raft_log.first_index() == 22
    nt.recover()
    # Heartbeats until the follower has been probed, found behind the log, and sent the snapshot.
    for _ in range(3):
        nt.send(Message(from_=1, to=1, type=pb.MsgBeat))
    r3 = nt.raft(3)
    assert [m.snapshot.metadata.index for m in nt.delivered if m.type == pb.MsgSnap] == [21]
    # The follower's ack of the snapshot moved it straight back to replicating.
    assert lead.prs.progress[3].state == PS.REPLICATE
    assert r3.raft_log.committed == 21
    nt.send(Message(from_=1, to=1, type=pb.MsgProp, entries=[Entry(data=b"after")]))
    assert r3.raft_log.committed == lead.raft_log.committed == 22
    assert r3.raft_log.last_term() == lead.raft_log.last_term()
    assert lead.prs.progress[3].state == PS.REPLICATE


def test_snapshot_message_makes_candidate_follow() -> None:
    r = new_test_raft(1, voters=(1, 2))
    r.become_candidate()
    r.step(Message(from_=2, to=1, type=pb.MsgSnap, term=r.term, snapshot=snap(11, 1)))
    assert r.state == StateType.FOLLOWER and r.lead == 2
    assert r.raft_log.committed == 11


# ----- flow control


def replicating_leader(max_inflight: int = 3, max_size: int = 2**64 - 1) -> Raft:
    r = new_test_raft(1, voters=(1, 2), max_inflight_msgs=max_inflight, max_size_per_msg=max_size)
    r.become_candidate()
    r.become_leader()
    r.prs.progress[2].become_replicate()
    read(r)
    return r


def test_flow_control_window_fills() -> None:
    r = replicating_leader(3)
    pr = r.prs.progress[2]
    for i in range(3):
        r.step(Message(from_=1, to=1, type=pb.MsgProp, entries=[Entry(data=b"somedata")]))
        assert len(read(r)) == 1, i
    assert pr.inflights.full()
    for _ in range(10):
        r.step(Message(from_=1, to=1, type=pb.MsgProp, entries=[Entry(data=b"somedata")]))
        assert read(r) == []


def test_flow_control_acks_move_window_forward() -> None:
    r = replicating_leader(3)
    pr = r.prs.progress[2]
    for _ in range(3):
        r.step(Message(from_=1, to=1, type=pb.MsgProp, entries=[Entry(data=b"somedata")]))
    r.ack_persisted(4, 1)  # the leader saved its log
    read(r)
    # Entries 2..4 are in flight (1 is the leader's empty entry, sent before replicate began).
    r.step(Message(from_=2, to=1, type=pb.MsgAppResp, term=r.term, index=2))
    assert not pr.inflights.full()
    # Index 2 is now committed; the leader tells the follower with an empty append.
    assert [(m.type, len(m.entries), m.commit) for m in read(r)] == [(pb.MsgApp, 0, 2)]
    r.step(Message(from_=1, to=1, type=pb.MsgProp, entries=[Entry(data=b"somedata")]))
    (m,) = read(r)
    assert [e.index for e in m.entries] == [5]
    assert pr.inflights.full()
    # A stale ack frees nothing.
    r.step(Message(from_=2, to=1, type=pb.MsgAppResp, term=r.term, index=1))
    assert pr.inflights.full()


def test_flow_control_heartbeat_response_frees_one_slot() -> None:
    r = replicating_leader(3)
    pr = r.prs.progress[2]
    for _ in range(3):
        r.step(Message(from_=1, to=1, type=pb.MsgProp, entries=[Entry(data=b"somedata")]))
    read(r)
    assert pr.inflights.full()
    r.step(Message(from_=2, to=1, type=pb.MsgHeartbeatResp, term=r.term))
    assert pr.inflights.count() == 2
    # The heartbeat response also triggered an (empty) append carrying the commit index.
    assert [(m.type, len(m.entries)) for m in read(r)] == [(pb.MsgApp, 0)]
    r.step(Message(from_=1, to=1, type=pb.MsgProp, entries=[Entry(data=b"somedata")]))
    (m,) = read(r)
    assert [e.index for e in m.entries] == [5]
    assert pr.inflights.full()


def test_max_size_per_msg_splits_appends() -> None:
    # Each entry with 100 bytes of data is a bit over 100 bytes encoded: two fit in 250.
    r = replicating_leader(256, 250)
    pr = r.prs.progress[2]
    pr.become_probe()
    r.prs.progress[2].probe_sent = False
    for _ in range(5):
        r.append_entry([Entry(data=b"d" * 100)])
    pr.next = 1
    r.send_append(2)
    (m,) = read(r)
    assert [e.index for e in m.entries] == [1, 2, 3]
    assert sum(e.ByteSize() for e in m.entries) <= 250
    # In probe state only one message is in flight until the follower answers.
    r.send_append(2)
    assert read(r) == []


def test_probe_state_one_message_per_heartbeat() -> None:
    r = new_test_raft(1, voters=(1, 2))
    r.become_candidate()
    r.become_leader()
    read(r)
    pr = r.prs.progress[2]
    assert pr.state == PS.PROBE
    r.step(Message(from_=1, to=1, type=pb.MsgProp, entries=[Entry(data=b"x")]))
    assert [[e.index for e in m.entries] for m in read(r)] == [[1, 2]]
    for _ in range(2):
        r.step(Message(from_=1, to=1, type=pb.MsgProp, entries=[Entry(data=b"x")]))
    assert read(r) == []  # the probe is still unanswered
    r.step(Message(from_=2, to=1, type=pb.MsgHeartbeatResp, term=r.term))
    msgs = read(r)
    assert [m.type for m in msgs] == [pb.MsgApp]


def test_fast_backoff_skips_a_whole_term() -> None:
    """A rejection carrying the follower's term at the hint lets the leader skip the conflicting term."""
    s = MemoryStorage(ConfState(voters=(1, 2)))
    s.append([Entry(index=i, term=t) for i, t in enumerate([1, 1, 3, 3, 3, 3, 3], start=1)])
    r = new_test_raft(1, 10, 1, s)
    r.load_state(pb.HardState(term=3))
    r.become_candidate()
    r.become_leader()  # term 4, empty entry at 8
    read(r)
    pr = r.prs.progress[2]
    pr.probe_sent = False
    # The probe was at (7, term 3). The follower holds [1,1,2,2,2,2,2,2,2]: it hints index 7, term 2.
    r.step(
        Message(from_=2, to=1, type=pb.MsgAppResp, term=4, index=7, reject=True, reject_hint=7, log_term=2)
    )
    # All our entries of term 3 are skipped in one step: the next probe is at index 2 (term 1).
    (m,) = read(r)
    assert (m.index, m.log_term) == (2, 1)
