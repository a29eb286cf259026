"""A leader and a follower apply the same lease entries; their stored leases must be byte-identical.

Only the leader has deadlines (and hands out expired leases); what is applied through raft (grant,
checkpoint, revoke) writes the same records on every member.
"""

from __future__ import annotations

from etcd.lease.lessor import LEASE_BUCKET_NAME

from .conftest import Member


def lease_rows(m: Member) -> list[tuple[bytes, bytes]]:
    with m.backend.read_tx() as tx:
        return tx.unsafe_range(LEASE_BUCKET_NAME, b"\x00" * 8, b"\x7f" + b"\xff" * 7)


def test_leader_and_follower_store_the_same_leases(make_member, clock) -> None:  # type: ignore[no-untyped-def]
    leader, follower = make_member(name="leader"), make_member(name="follower")
    leader.lessor.promote(0)
    for m in (leader, follower):
        m.lessor.grant(1, 10)
        m.lessor.grant(2, 600)
        m.kv.put(b"k1", b"v", lease=1)
        m.kv.put(b"k2", b"v", lease=2)
    clock.advance(10)
    expired = [lease.id for lease in leader.lessor.find_expired_leases()]
    assert expired == [1] and follower.lessor.find_expired_leases() == []
    for m in (leader, follower):
        for lease_id in expired:  # the revocations the leader proposed, applied everywhere
            m.lessor.revoke(lease_id)
        m.lessor.checkpoint(2, 590)
    assert lease_rows(leader) == lease_rows(follower) != []
    assert [kv.key for kv in leader.kv.range(b"k", b"l").kvs] == [
        kv.key for kv in follower.kv.range(b"k", b"l").kvs
    ]
