"""The stream framing without sockets (h11's way): every sample fed whole, byte by byte, and split at
every point, must give the same messages; and the version and cluster checks on plain header dicts."""

from __future__ import annotations

import pytest

from etcd.raft.raftpb import raft_pb2 as pb
from etcd.raft.raftpb.raft_pb2 import Entry, Message
from etcd.rafthttp import compat
from etcd.rafthttp.codec import LINK_HEARTBEAT, Decoder, encode, is_link_heartbeat, link_heartbeat
from etcd.rafthttp.errors import (
    ErrClusterIDMismatch,
    ErrExceedSizeLimit,
    ErrIncompatibleVersion,
    ErrMemberRemoved,
    ErrUnexpectedStatus,
)
from etcd.version import SERVER_VERSION

MSGS = [
    Message(type=pb.MsgApp, to=2, from_=1, term=5, index=9, entries=[Entry(index=10, term=5, data=b"abc")]),
    Message(type=pb.MsgHeartbeat, to=2, from_=1, term=5, commit=10),
    Message(type=pb.MsgVote, to=3, from_=1, term=6, log_term=5, index=10),
]
STREAM = encode(MSGS[0]) + LINK_HEARTBEAT + encode(MSGS[1]) + encode(MSGS[2])


def decoded(chunks: list[bytes]) -> list[Message]:
    d = Decoder()
    out = [Message.FromString(p) for c in chunks for p in d.feed(c)]
    assert d.buffered == 0
    return [m for m in out if not is_link_heartbeat(m)]


def test_frame_is_a_big_endian_uint64_length_then_the_message() -> None:
    body = MSGS[0].SerializeToString()
    assert encode(MSGS[0]) == len(body).to_bytes(8, "big") + body
    # An empty message would be a MsgHup (type 0), which makes a real etcd campaign: the heartbeat has a type.
    assert LINK_HEARTBEAT == b"\x00" * 7 + b"\x02\x08\x08" == encode(link_heartbeat())
    assert is_link_heartbeat(Message.FromString(LINK_HEARTBEAT[8:]))
    # etcd 3.4 (gogoproto, non-nullable fields) writes every field, zeros included: still a heartbeat.
    gogo = bytes.fromhex("0808 1000 1800 2000 2800 3000 4000 4a00 5000 5800".replace(" ", ""))
    assert is_link_heartbeat(Message.FromString(gogo))
    assert not is_link_heartbeat(MSGS[1])
    assert not is_link_heartbeat(Message.FromString(b""))


def test_whole_and_byte_by_byte_give_the_same_messages() -> None:
    assert decoded([STREAM]) == MSGS
    assert decoded([STREAM[i : i + 1] for i in range(len(STREAM))]) == MSGS


def test_every_two_way_split_gives_the_same_messages() -> None:
    for i in range(len(STREAM) + 1):
        assert decoded([STREAM[:i], STREAM[i:]]) == MSGS, i


def test_partial_frame_waits_for_more() -> None:
    d = Decoder()
    assert d.feed(STREAM[:5]) == []
    assert d.feed(STREAM[5:12]) == []
    rest = [Message.FromString(p) for p in d.feed(STREAM[12:])]
    assert [m for m in rest if not is_link_heartbeat(m)] == MSGS


def test_a_length_over_the_limit_is_refused() -> None:
    d = Decoder(limit=100)
    with pytest.raises(ErrExceedSizeLimit, match="rafthttp: error limit exceeding"):
        d.feed((101).to_bytes(8, "big"))
    assert Decoder(limit=100).feed((100).to_bytes(8, "big") + b"x" * 100) == [b"x" * 100]


def test_request_headers_as_etcd_sends_them() -> None:
    h = compat.request_headers(0xABC, 0x1F, ["http://a:2380", "http://b:2380"], to=0x12)
    assert h == {
        "X-Server-From": "abc",
        "X-Server-Version": SERVER_VERSION,
        "X-Min-Cluster-Version": "3.0.0",
        "X-Etcd-Cluster-ID": "1f",
        "X-PeerURLs": "http://a:2380,http://b:2380",
        "X-Raft-To": "12",
    }
    assert "X-PeerURLs" not in compat.request_headers(1, 2, [])


@pytest.mark.parametrize(
    ("server", "min_cluster", "ok"),
    [
        ("3.4.23", "3.0.0", True),
        ("3.0.0", "3.0.0", True),
        ("3.5.9", "3.0.0", True),  # a newer member that can still run in a 3.4 cluster
        ("2.3.8", "2.3.0", False),  # older than our minimum cluster version
        (None, None, False),  # no headers: etcd takes 2.0.0
        ("3.4.23", "3.5.0", False),  # the peer needs a newer cluster than we are
        ("3.4.0-alpha.0", "3.0.0", True),
        ("three", "3.0.0", False),
    ],
)
def test_version_compatibility(server: str | None, min_cluster: str | None, ok: bool) -> None:
    assert (compat.check_version(server, min_cluster) is None) == ok


def test_cluster_compatibility_checks_version_first_then_cluster_id() -> None:
    good = compat.request_headers(1, 0xC1, [])
    assert compat.check_cluster_compatibility(good, 0xC1) is None
    assert isinstance(compat.check_cluster_compatibility(good, 0xC2), ErrClusterIDMismatch)
    old = {**good, "X-Server-Version": "2.3.0"}
    assert isinstance(compat.check_cluster_compatibility(old, 0xC2), ErrIncompatibleVersion)


def test_post_responses_mean_what_they_mean_to_etcd() -> None:
    assert compat.check_post_response(204, "", "u") is None
    assert isinstance(compat.check_post_response(412, "cluster ID mismatch\n", "u"), ErrClusterIDMismatch)
    assert isinstance(compat.check_post_response(412, "incompatible version\n", "u"), ErrIncompatibleVersion)
    other = compat.check_post_response(412, "what\n", "u")
    assert isinstance(other, ErrUnexpectedStatus)
    assert str(other) == "unhandled error 'what' when precondition failed"
    removed = compat.check_post_response(403, "{}", "u")
    assert isinstance(removed, ErrMemberRemoved)
    assert str(removed) == "the member has been permanently removed from the cluster"
    assert isinstance(compat.check_post_response(500, "x", "u"), ErrUnexpectedStatus)


def test_ids_are_hex_without_leading_zeros() -> None:
    assert compat.id_str(0x0ABC) == "abc"
    assert compat.parse_id("8e9e05c52164694d") == 0x8E9E05C52164694D
    assert compat.parse_id("xyz") is None
    assert compat.parse_id("-1") is None
    assert compat.parse_id("1" * 17) is None
