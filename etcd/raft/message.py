"""Classifications of raft messages and emptiness tests (etcd's ``util.go``)."""

from __future__ import annotations

from etcd.raft.raftpb import raft_pb2 as pb

_LOCAL = frozenset({pb.MsgHup, pb.MsgBeat, pb.MsgUnreachable, pb.MsgSnapStatus, pb.MsgCheckQuorum})
_RESPONSE = frozenset(
    {pb.MsgAppResp, pb.MsgVoteResp, pb.MsgHeartbeatResp, pb.MsgUnreachable, pb.MsgPreVoteResp}
)


def is_local_msg(t: int) -> bool:
    """Messages a node generates for itself; never accepted from the network."""
    return t in _LOCAL


def is_response_msg(t: int) -> bool:
    """Messages that answer a request of ours; dropped if the sender is not a member."""
    return t in _RESPONSE


def vote_resp_msg_type(t: int) -> pb.MessageType:
    """The response type for a (pre-)vote request type."""
    if t == pb.MsgVote:
        return pb.MsgVoteResp
    if t == pb.MsgPreVote:
        return pb.MsgPreVoteResp
    raise AssertionError(f"not a vote message: {pb.MessageType.Name(t)}")


def is_empty_snap(s: pb.Snapshot | None) -> bool:
    """A snapshot at index 0 carries nothing."""
    return s is None or s.metadata.index == 0


def is_empty_hard_state(st: pb.HardState | None) -> bool:
    return st is None or (st.term == 0 and st.vote == 0 and st.commit == 0)


def describe(m: pb.Message) -> str:
    """A one-line rendering for logs and test failures."""
    s = f"{m.from_}->{m.to} {pb.MessageType.Name(m.type)} Term:{m.term} Log:{m.log_term}/{m.index}"
    if m.reject:
        s += f" Rejected (Hint: {m.reject_hint})"
    if m.commit:
        s += f" Commit:{m.commit}"
    if m.entries:
        s += " Entries:[" + ", ".join(f"{e.term}/{e.index}" for e in m.entries) + "]"
    if m.HasField("snapshot") and m.snapshot.metadata.index:
        s += f" Snapshot:{m.snapshot.metadata.term}/{m.snapshot.metadata.index}"
    return s
