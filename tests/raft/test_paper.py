"""The behaviours of the Raft paper ("In Search of an Understandable Consensus Algorithm", §5.1-5.4),
one test each, on single state machines and on an in-memory ``Network``.

Modelled on the list of behaviours in etcd's ``raft_paper_test.go``; written for this project.
"""

from __future__ import annotations

import random

import pytest

from etcd.raft import MemoryStorage, Raft, StateType
from etcd.raft.raftpb import raft_pb2 as pb
from etcd.raft.raftpb.raft_pb2 import ConfState, Entry, HardState, Message
from etcd.raft.rafttest import BLACK_HOLE, Network, new_test_raft


def read(r: Raft) -> list[Message]:
    msgs, r.msgs = r.msgs, []
    return msgs


def sig(msgs: list[Message]) -> list[tuple[int, int, int, int]]:
    """(from, to, type, term) of each message, sorted, for comparing traffic."""
    return sorted((m.from_, m.to, m.type, m.term) for m in msgs)


def accept_and_reply(m: Message) -> Message:
    assert m.type == pb.MsgApp
    return Message(from_=m.to, to=m.from_, term=m.term, type=pb.MsgAppResp, index=m.index + len(m.entries))


def persist(r: Raft) -> None:
    """The application has saved the whole log: a leader now counts its own copy."""
    r.ack_persisted(r.raft_log.last_index(), r.raft_log.last_term())


def commit_noop_entry(r: Raft, s: MemoryStorage) -> None:
    """Replicate and commit the leader's empty entry, then persist and apply everything."""
    assert r.state == StateType.LEADER
    r.bcast_append()
    for m in read(r):
        assert m.type == pb.MsgApp and len(m.entries) == 1 and not m.entries[0].data
        r.step(accept_and_reply(m))
    read(r)
    s.append(r.raft_log.unstable_entries())
    r.raft_log.applied_to(r.raft_log.committed)
    r.raft_log.stable_to(r.raft_log.last_index(), r.raft_log.last_term())


def elect(r: Raft) -> None:
    r.become_candidate()
    r.become_leader()


def ents(*terms: int) -> list[Entry]:
    """Entries at indexes 1.. with the given terms."""
    return [Entry(index=i + 1, term=t) for i, t in enumerate(terms)]


def storage_with(entries: list[Entry], voters: tuple[int, ...] = (1, 2, 3)) -> MemoryStorage:
    s = MemoryStorage(ConfState(voters=voters))
    s.append(entries)
    return s


# §5.1 "If one server's current term is smaller than the other's, then it updates its current term to
# the larger value. If a candidate or leader discovers that its term is out of date, it immediately
# reverts to follower state."
@pytest.mark.parametrize("state", [StateType.FOLLOWER, StateType.CANDIDATE, StateType.LEADER])
def test_update_term_from_message(state: StateType) -> None:
    r = new_test_raft(1, voters=(1, 2, 3))
    if state == StateType.FOLLOWER:
        r.become_follower(1, 2)
    elif state == StateType.CANDIDATE:
        r.become_candidate()
    else:
        elect(r)
    r.step(Message(type=pb.MsgApp, term=2))
    assert r.term == 2
    assert r.state == StateType.FOLLOWER


# §5.1 "If a server receives a request with a stale term number, it rejects the request." etcd's raft
# (and ours) ignores it.
def test_reject_stale_term_message() -> None:
    r = new_test_raft(1, voters=(1, 2, 3))
    r.load_state(HardState(term=2))
    r.step(Message(type=pb.MsgApp, term=1, from_=2, entries=[Entry(index=1, term=1)]))
    assert r.term == 2
    assert r.msgs == []
    assert r.raft_log.last_index() == 0


# §5.2 "When servers start up, they begin as followers."
def test_start_as_follower() -> None:
    r = new_test_raft(1, voters=(1, 2, 3))
    assert r.state == StateType.FOLLOWER
    assert r.term == 0


# §5.2 "Leaders send periodic heartbeats (AppendEntries RPCs that carry no log entries) to all followers
# in order to maintain their authority."
def test_leader_bcast_beat() -> None:
    hi = 1
    r = new_test_raft(1, 10, hi, voters=(1, 2, 3))
    elect(r)
    for i in range(10):
        r.append_entry([Entry(index=i + 1)])
    read(r)
    for _ in range(hi):
        r.tick()
    msgs = read(r)
    assert sig(msgs) == [(1, 2, pb.MsgHeartbeat, 1), (1, 3, pb.MsgHeartbeat, 1)]
    for m in msgs:
        assert m.index == 0 and m.log_term == 0 and not m.entries
        assert m.commit == 0  # nothing is known to be replicated on the followers yet


# §5.2 "If a follower receives no communication over a period of time called the election timeout, then
# it assumes there is no viable leader and begins an election": term+1, vote for itself, RequestVote
# to every other server. §5.2 also: a candidate that times out starts a new election likewise.
@pytest.mark.parametrize("state", [StateType.FOLLOWER, StateType.CANDIDATE])
def test_nonleader_start_election(state: StateType) -> None:
    et = 10
    r = new_test_raft(1, et, 1, voters=(1, 2, 3))
    if state == StateType.FOLLOWER:
        r.become_follower(1, 2)
    else:
        r.become_candidate()
    for _ in range(2 * et):
        r.tick()
    assert r.term == 2
    assert r.state == StateType.CANDIDATE
    assert r.prs.votes[1] is True
    assert sig(read(r)) == [(1, 2, pb.MsgVote, 2), (1, 3, pb.MsgVote, 2)]


# §5.2 A candidate wins with votes from a majority, loses when a majority rejects, otherwise waits.
@pytest.mark.parametrize(
    ("size", "votes", "want"),
    [
        (1, {}, StateType.LEADER),
        (3, {2: True, 3: True}, StateType.LEADER),
        (3, {2: True}, StateType.LEADER),
        (5, {2: True, 3: True, 4: True, 5: True}, StateType.LEADER),
        (5, {2: True, 3: True, 4: True}, StateType.LEADER),
        (5, {2: True, 3: True}, StateType.LEADER),
        (3, {2: False, 3: False}, StateType.FOLLOWER),
        (5, {2: False, 3: False, 4: False, 5: False}, StateType.FOLLOWER),
        (5, {2: True, 3: False, 4: False, 5: False}, StateType.FOLLOWER),
        (3, {}, StateType.CANDIDATE),
        (5, {2: True}, StateType.CANDIDATE),
        (5, {2: False, 3: False}, StateType.CANDIDATE),
        (5, {}, StateType.CANDIDATE),
    ],
)
def test_leader_election_in_one_round_rpc(size: int, votes: dict[int, bool], want: StateType) -> None:
    r = new_test_raft(1, voters=tuple(range(1, size + 1)))
    r.step(Message(from_=1, to=1, type=pb.MsgHup))
    for id_, granted in votes.items():
        r.step(Message(from_=id_, to=1, term=r.term, type=pb.MsgVoteResp, reject=not granted))
    assert r.state == want
    assert r.term == 1


# §5.2 "Each server will vote for at most one candidate in a given term, on a first-come-first-served basis."
@pytest.mark.parametrize(
    ("vote", "nvote", "wreject"),
    [(0, 2, False), (0, 3, False), (2, 2, False), (3, 3, False), (2, 3, True), (3, 2, True)],
)
def test_follower_vote(vote: int, nvote: int, wreject: bool) -> None:
    r = new_test_raft(1, voters=(1, 2, 3))
    r.load_state(HardState(term=1, vote=vote))
    r.step(Message(from_=nvote, to=1, term=1, type=pb.MsgVote))
    msgs = read(r)
    assert [(m.from_, m.to, m.term, m.type, m.reject) for m in msgs] == [
        (1, nvote, 1, pb.MsgVoteResp, wreject)
    ]


# §5.2 "If the AppendEntries RPC is received from another server claiming to be leader whose term is at
# least as large as the candidate's current term, the candidate recognizes the leader as legitimate and
# returns to follower state."
@pytest.mark.parametrize("term_offset", [0, 1])
def test_candidate_fallback(term_offset: int) -> None:
    r = new_test_raft(1, voters=(1, 2, 3))
    r.step(Message(from_=1, to=1, type=pb.MsgHup))
    assert r.state == StateType.CANDIDATE
    term = r.term + term_offset
    r.step(Message(from_=2, to=1, term=term, type=pb.MsgApp))
    assert r.state == StateType.FOLLOWER
    assert r.term == term
    assert r.lead == 2


def _election_tick_count(r: Raft, max_ticks: int) -> int:
    for t in range(1, max_ticks + 1):
        r.tick()
        if r.msgs:
            return t
    raise AssertionError("no election within the bound")


# §5.2 "Raft uses randomized election timeouts to ensure that split votes are rare": the timeout is
# chosen from [et, 2et).
@pytest.mark.parametrize("state", [StateType.FOLLOWER, StateType.CANDIDATE])
def test_election_timeout_randomized(state: StateType) -> None:
    et = 10
    seen = set()
    for seed in range(200):
        r = new_test_raft(1, et, 1, voters=(1, 2, 3), rand=random.Random(seed))
        if state == StateType.FOLLOWER:
            r.become_follower(r.term + 1, 2)
        else:
            r.become_candidate()
        read(r)
        t = _election_tick_count(r, 2 * et)
        assert et <= t < 2 * et
        seen.add(t)
    assert seen == set(range(et, 2 * et))


# §5.2 "In most cases only a single server (follower or candidate) will time out."
@pytest.mark.parametrize("state", [StateType.FOLLOWER, StateType.CANDIDATE])
def test_election_timeout_nonconflict(state: StateType) -> None:
    et, size, rounds = 10, 5, 300
    rng = random.Random(7)
    conflicts = 0
    for _ in range(rounds):
        rafts = [
            new_test_raft(i, et, 1, voters=tuple(range(1, size + 1)), rand=random.Random(rng.random()))
            for i in range(1, size + 1)
        ]
        for r in rafts:
            if state == StateType.FOLLOWER:
                r.become_follower(r.term + 1, 0)
            else:
                r.become_candidate()
            read(r)
        timeouts = 0
        while timeouts == 0:
            for r in rafts:
                r.tick()
                if r.msgs:
                    timeouts += 1
        if timeouts > 1:
            conflicts += 1
    assert conflicts / rounds <= 0.3


# §5.3 "Once a leader has been elected, it begins servicing client requests... The leader appends the
# command to its log as a new entry, then issues AppendEntries RPCs in parallel to each of the other
# servers"; the RPC carries the index and term of the entry preceding the new one.
def test_leader_start_replication() -> None:
    s = MemoryStorage(ConfState(voters=(1, 2, 3)))
    r = new_test_raft(1, 10, 1, s)
    elect(r)
    commit_noop_entry(r, s)
    li = r.raft_log.last_index()
    r.step(Message(from_=1, to=1, type=pb.MsgProp, entries=[Entry(data=b"some data")]))
    assert r.raft_log.last_index() == li + 1
    assert r.raft_log.committed == li
    msgs = sorted(read(r), key=lambda m: m.to)
    assert [(m.to, m.type, m.index, m.log_term, m.commit) for m in msgs] == [
        (2, pb.MsgApp, li, 1, li),
        (3, pb.MsgApp, li, 1, li),
    ]
    want = [Entry(index=li + 1, term=1, data=b"some data")]
    assert [list(m.entries) for m in msgs] == [want, want]
    assert r.raft_log.unstable_entries() == want  # to be persisted by the application


# §5.3 "When the entry has been safely replicated, the leader applies the entry to its state machine...
# The leader keeps track of the highest index it knows to be committed, and it includes that index in
# future AppendEntries RPCs."
def test_leader_commit_entry() -> None:
    s = MemoryStorage(ConfState(voters=(1, 2, 3)))
    r = new_test_raft(1, 10, 1, s)
    elect(r)
    commit_noop_entry(r, s)
    li = r.raft_log.last_index()
    r.step(Message(from_=1, to=1, type=pb.MsgProp, entries=[Entry(data=b"some data")]))
    for m in read(r):
        r.step(accept_and_reply(m))
    assert r.raft_log.committed == li + 1
    assert r.raft_log.next_ents() == [Entry(index=li + 1, term=1, data=b"some data")]
    msgs = sorted(read(r), key=lambda m: m.to)
    assert [(m.to, m.type, m.commit) for m in msgs] == [(2, pb.MsgApp, li + 1), (3, pb.MsgApp, li + 1)]


# §5.3 "A log entry is committed once the leader that created the entry has replicated it on a majority
# of the servers."
@pytest.mark.parametrize(
    ("size", "acceptors", "wack"),
    [
        (1, set(), True),
        (3, set(), False),
        (3, {2}, True),
        (3, {2, 3}, True),
        (5, set(), False),
        (5, {2}, False),
        (5, {2, 3}, True),
        (5, {2, 3, 4}, True),
        (5, {2, 3, 4, 5}, True),
    ],
)
def test_leader_acknowledge_commit(size: int, acceptors: set[int], wack: bool) -> None:
    s = MemoryStorage(ConfState(voters=tuple(range(1, size + 1))))
    r = new_test_raft(1, 10, 1, s)
    elect(r)
    commit_noop_entry(r, s)
    li = r.raft_log.last_index()
    r.step(Message(from_=1, to=1, type=pb.MsgProp, entries=[Entry(data=b"some data")]))
    persist(r)  # the leader's own copy counts once saved
    for m in read(r):
        if m.to in acceptors:
            r.step(accept_and_reply(m))
    assert (r.raft_log.committed > li) == wack


# §5.3 "When the leader commits an entry, it also commits all preceding entries in the leader's log,
# including entries created by previous leaders"; they are applied in log order.
@pytest.mark.parametrize("prior", [[], [2], [1, 2], [1]])
def test_leader_commit_preceding_entries(prior: list[int]) -> None:
    s = storage_with(ents(*prior))
    r = new_test_raft(1, 10, 1, s)
    r.load_state(HardState(term=2))
    elect(r)
    r.step(Message(from_=1, to=1, type=pb.MsgProp, entries=[Entry(data=b"some data")]))
    for m in read(r):
        r.step(accept_and_reply(m))
    li = len(prior)
    want = [*ents(*prior), Entry(index=li + 1, term=3), Entry(index=li + 2, term=3, data=b"some data")]
    assert r.raft_log.next_ents() == want


# §5.3 "Once a follower learns that a log entry is committed, it applies the entry to its local state
# machine (in log order)."
@pytest.mark.parametrize(
    ("entries", "commit"),
    [
        ([Entry(term=1, index=1, data=b"some data")], 1),
        ([Entry(term=1, index=1, data=b"some data"), Entry(term=1, index=2, data=b"some data2")], 2),
        ([Entry(term=1, index=1, data=b"some data2"), Entry(term=1, index=2, data=b"some data")], 2),
        ([Entry(term=1, index=1, data=b"some data"), Entry(term=1, index=2, data=b"some data2")], 1),
    ],
)
def test_follower_commit_entry(entries: list[Entry], commit: int) -> None:
    r = new_test_raft(1, voters=(1, 2, 3))
    r.become_follower(1, 2)
    r.step(Message(from_=2, to=1, type=pb.MsgApp, term=1, entries=entries, commit=commit))
    assert r.raft_log.committed == commit
    assert r.raft_log.next_ents() == entries[:commit]


# §5.3 "When sending an AppendEntries RPC, the leader includes the index and term of the entry in its
# log that immediately precedes the new entries. If the follower does not find an entry in its log with
# the same index and term, then it refuses the new entries."
@pytest.mark.parametrize(
    ("term", "index", "windex", "wreject", "wreject_hint", "wlog_term"),
    [
        (0, 0, 1, False, 0, 0),  # match with committed entries
        (1, 1, 1, False, 0, 0),
        (2, 2, 2, False, 0, 0),  # match with uncommitted entries
        (1, 2, 2, True, 1, 1),  # unmatch with existing entry
        (3, 3, 3, True, 2, 2),  # unexisting entry
    ],
)
def test_follower_check_msg_app(
    term: int, index: int, windex: int, wreject: bool, wreject_hint: int, wlog_term: int
) -> None:
    s = storage_with(ents(1, 2))
    r = new_test_raft(1, 10, 1, s)
    r.load_state(HardState(commit=1))
    r.become_follower(2, 2)
    r.step(Message(from_=2, to=1, type=pb.MsgApp, term=2, log_term=term, index=index))
    msgs = read(r)
    assert [(m.type, m.index, m.reject, m.reject_hint, m.log_term) for m in msgs] == [
        (pb.MsgAppResp, windex, wreject, wreject_hint, wlog_term)
    ]


# §5.3 "If an existing entry conflicts with a new one (same index but different terms), delete the
# existing entry and all that follow it; append any new entries not already in the log."
@pytest.mark.parametrize(
    ("index", "term", "new", "want", "wunstable"),
    [
        (2, 2, [Entry(term=3, index=3)], [(1, 1), (2, 2), (3, 3)], [(3, 3)]),
        (1, 1, [Entry(term=3, index=2), Entry(term=4, index=3)], [(1, 1), (2, 3), (3, 4)], [(2, 3), (3, 4)]),
        (0, 0, [Entry(term=1, index=1)], [(1, 1), (2, 2)], []),
        (0, 0, [Entry(term=3, index=1)], [(1, 3)], [(1, 3)]),
    ],
)
def test_follower_append_entries(
    index: int, term: int, new: list[Entry], want: list[tuple[int, int]], wunstable: list[tuple[int, int]]
) -> None:
    s = storage_with(ents(1, 2))
    r = new_test_raft(1, 10, 1, s)
    r.become_follower(2, 2)
    r.step(Message(from_=2, to=1, type=pb.MsgApp, term=2, log_term=term, index=index, entries=new))
    assert [(e.index, e.term) for e in r.raft_log.all_entries()] == want
    assert [(e.index, e.term) for e in r.raft_log.unstable_entries()] == wunstable


# §5.3 figure 7: a leader brings followers with missing, extra or conflicting entries in line with its log.
FIG7_LEADER = [0, 1, 1, 1, 4, 4, 5, 5, 6, 6, 6]  # terms at indexes 0..10 (0 is the dummy)


@pytest.mark.parametrize(
    "follower",
    [
        [1, 1, 1, 4, 4, 5, 5, 6, 6],  # (a)
        [1, 1, 1, 4],  # (b)
        [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],  # (c)
        [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7],  # (d)
        [1, 1, 1, 4, 4, 4, 4],  # (e)
        [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],  # (f)
    ],
)
def test_leader_sync_follower_log(follower: list[int]) -> None:
    term = 8
    lead = new_test_raft(1, 10, 1, storage_with(ents(*FIG7_LEADER[1:])))
    lead.load_state(HardState(commit=lead.raft_log.last_index(), term=term))
    foll = new_test_raft(2, 10, 1, storage_with(ents(*follower)))
    foll.load_state(HardState(term=term - 1))
    # Member 3 is a black hole whose vote we inject: the follower may have the longer log and refuse.
    nt = Network([lead, foll, BLACK_HOLE])
    nt.send(Message(from_=1, to=1, type=pb.MsgHup))
    nt.send(Message(from_=3, to=1, type=pb.MsgVoteResp, term=term + 1))
    assert lead.state == StateType.LEADER
    nt.send(Message(from_=1, to=1, type=pb.MsgProp, entries=[Entry()]))
    assert [(e.index, e.term, e.data) for e in lead.raft_log.all_entries()] == [
        (e.index, e.term, e.data) for e in foll.raft_log.all_entries()
    ]


# §5.4.1 "the RequestVote RPC includes information about the candidate's log": last index and term, sent
# to every other server.
@pytest.mark.parametrize(
    ("entries", "wterm"),
    [([Entry(term=1, index=1)], 2), ([Entry(term=1, index=1), Entry(term=2, index=2)], 3)],
)
def test_vote_request(entries: list[Entry], wterm: int) -> None:
    r = new_test_raft(1, 10, 1, voters=(1, 2, 3))
    r.step(Message(from_=2, to=1, type=pb.MsgApp, term=wterm - 1, log_term=0, index=0, entries=entries))
    read(r)
    for _ in range(1, r.election_timeout * 2):
        r.tick()
    msgs = sorted(read(r), key=lambda m: m.to)
    assert [(m.to, m.type, m.term, m.index, m.log_term) for m in msgs] == [
        (2, pb.MsgVote, wterm, entries[-1].index, entries[-1].term),
        (3, pb.MsgVote, wterm, entries[-1].index, entries[-1].term),
    ]


# §5.4.1 "The RequestVote RPC implements this restriction: ... the voter denies its vote if its own log
# is more up-to-date than that of the candidate."
@pytest.mark.parametrize(
    ("log_terms", "logterm", "index", "wreject"),
    [
        ([1, 1], 1, 2, False),  # same logterm
        ([1, 1], 1, 3, False),
        ([1, 1], 1, 1, True),
        ([1], 2, 1, False),  # candidate higher logterm
        ([1], 2, 2, False),
        ([1, 1], 2, 1, False),
        ([2], 1, 1, True),  # voter higher logterm
        ([2], 1, 2, True),
        ([2, 1], 1, 1, True),
    ],
)
def test_voter(log_terms: list[int], logterm: int, index: int, wreject: bool) -> None:
    r = new_test_raft(1, 10, 1, storage_with(ents(*log_terms), voters=(1, 2)))
    r.step(Message(from_=2, to=1, type=pb.MsgVote, term=3, log_term=logterm, index=index))
    (m,) = read(r)
    assert m.type == pb.MsgVoteResp
    assert m.reject == wreject


# §5.4.2 "Raft never commits log entries from previous terms by counting replicas. Only log entries from
# the leader's current term are committed by counting replicas."
@pytest.mark.parametrize(("index", "wcommit"), [(1, 0), (2, 0), (3, 3)])
def test_leader_only_commits_log_from_current_term(index: int, wcommit: int) -> None:
    r = new_test_raft(1, 10, 1, storage_with(ents(1, 2), voters=(1, 2)))
    r.load_state(HardState(term=2))
    elect(r)  # term 3, with an empty entry at index 3
    persist(r)
    read(r)
    r.step(Message(from_=2, to=1, type=pb.MsgAppResp, term=r.term, index=index))
    assert r.raft_log.committed == wcommit
