"""The lessor, one behaviour per test, as etcd 3.4's ``lease/lessor.go`` does it."""

from __future__ import annotations

import pytest

from etcd.lease import (
    ErrLeaseExists,
    ErrLeaseExpired,
    ErrLeaseNotFound,
    ErrLeaseTTLTooLarge,
    ErrNotPrimary,
    LessorConfig,
    MaxLeaseTTL,
    NoLease,
)
from etcd.lease.leasepb.lease_pb2 import Lease as LeasePB
from etcd.lease.lessor import LEASE_BUCKET_NAME

from .conftest import SECOND, ManualClock, Member

# -- grant ------------------------------------------------------------------------------------------


def test_grant_records_lease_with_its_ttl(member: Member) -> None:
    lease = member.lessor.grant(1, 10)
    assert (lease.id, lease.ttl) == (1, 10)
    assert member.lessor.lookup(1) is lease


def test_grant_raises_ttl_to_minimum(make_member) -> None:  # type: ignore[no-untyped-def]
    m = make_member(LessorConfig(min_lease_ttl=5))
    assert m.lessor.grant(1, 2).ttl == 5


def test_grant_of_no_lease_is_not_found(member: Member) -> None:
    with pytest.raises(ErrLeaseNotFound, match=r"^lease not found$"):
        member.lessor.grant(NoLease, 10)


def test_grant_above_max_ttl_is_too_large(member: Member) -> None:
    with pytest.raises(ErrLeaseTTLTooLarge, match=r"^too large lease TTL$"):
        member.lessor.grant(1, MaxLeaseTTL + 1)
    assert member.lessor.grant(2, MaxLeaseTTL).ttl == 9_000_000_000


def test_grant_of_existing_id_fails(member: Member) -> None:
    member.lessor.grant(1, 10)
    with pytest.raises(ErrLeaseExists, match=r"^lease already exists$"):
        member.lessor.grant(1, 20)
    assert member.lessor.lookup(1).ttl == 10  # type: ignore[union-attr]


def test_grant_on_follower_has_no_deadline(member: Member) -> None:
    lease = member.lessor.grant(1, 10)
    assert lease.expiry is None and not lease.expired()


def test_grant_on_primary_has_deadline_ttl_from_now(member: Member, clock: ManualClock) -> None:
    member.lessor.promote(0)
    lease = member.lessor.grant(1, 10)
    assert lease.expiry == clock.now + 10 * SECOND and lease.remaining() == 10 * SECOND


def test_grant_is_stored_as_leasepb_under_big_endian_id(member: Member) -> None:
    member.lessor.grant(0x2A12A210251D9675, 100)
    with member.backend.read_tx() as tx:
        rows = tx.unsafe_range(LEASE_BUCKET_NAME, b"\x00" * 8, b"\x7f" + b"\xff" * 7)
    assert rows == [
        (bytes.fromhex("2a12a210251d9675"), LeasePB(ID=0x2A12A210251D9675, TTL=100).SerializeToString())
    ]


# -- revoke -----------------------------------------------------------------------------------------


def test_revoke_deletes_attached_keys(member: Member) -> None:
    member.lessor.grant(1, 10)
    member.kv.put(b"a", b"1", lease=1)
    member.kv.put(b"b", b"2", lease=1)
    member.kv.put(b"c", b"3")
    member.lessor.revoke(1)
    assert [kv.key for kv in member.kv.range(b"a", b"z").kvs] == [b"c"]


def test_revoke_deletes_keys_in_one_revision(member: Member) -> None:
    member.lessor.grant(1, 10)
    member.kv.put(b"b", b"2", lease=1)
    member.kv.put(b"a", b"1", lease=1)
    before = member.kv.rev()
    member.lessor.revoke(1)
    assert member.kv.rev() == before + 1


def test_revoke_forgets_lease_and_its_record(member: Member) -> None:
    lease = member.lessor.grant(1, 10)
    member.kv.put(b"a", b"1", lease=1)
    member.lessor.revoke(1)
    assert member.lessor.lookup(1) is None and lease.revoked
    assert member.lessor.get_lease(b"a") == NoLease
    with member.backend.read_tx() as tx:
        assert tx.unsafe_range(LEASE_BUCKET_NAME, (1).to_bytes(8, "big")) == []


def test_revoke_of_unknown_lease_is_not_found(member: Member) -> None:
    with pytest.raises(ErrLeaseNotFound):
        member.lessor.revoke(42)


# -- attach and detach ------------------------------------------------------------------------------


def test_put_with_lease_attaches_key(member: Member) -> None:
    member.lessor.grant(7, 10)
    member.kv.put(b"k", b"v", lease=7)
    assert member.lessor.get_lease(b"k") == 7 and member.lessor.lookup(7).keys() == [b"k"]  # type: ignore[union-attr]


def test_overwriting_key_without_lease_detaches_it(member: Member) -> None:
    member.lessor.grant(7, 10)
    member.kv.put(b"k", b"v", lease=7)
    member.kv.put(b"k", b"w")
    assert member.lessor.get_lease(b"k") == NoLease and member.lessor.lookup(7).keys() == []  # type: ignore[union-attr]


def test_attach_to_unknown_lease_raises(member: Member) -> None:
    with pytest.raises(ErrLeaseNotFound):
        member.lessor.attach(9, [b"k"])
    with pytest.raises(ErrLeaseNotFound):
        member.lessor.detach(9, [b"k"])


def test_attach_with_no_keys_only_checks_lease(member: Member) -> None:
    member.lessor.grant(1, 10)
    member.lessor.attach(1, [])
    assert member.lessor.lookup(1).keys() == []  # type: ignore[union-attr]


# -- renew ------------------------------------------------------------------------------------------


def test_renew_on_follower_is_not_primary(member: Member) -> None:
    member.lessor.grant(1, 10)
    with pytest.raises(ErrNotPrimary, match=r"^not a primary lessor$"):
        member.lessor.renew(1)


def test_renew_of_unknown_lease_is_not_found(member: Member) -> None:
    member.lessor.promote(0)
    with pytest.raises(ErrLeaseNotFound):
        member.lessor.renew(1)


def test_renew_restarts_deadline(member: Member, clock: ManualClock) -> None:
    member.lessor.promote(0)
    lease = member.lessor.grant(1, 10)
    clock.advance(7)
    assert member.lessor.renew(1) == 10
    assert lease.remaining() == 10 * SECOND


def test_renew_of_expired_lease_answers_not_found(member: Member, clock: ManualClock) -> None:
    member.lessor.promote(0)
    member.lessor.grant(1, 10)
    clock.advance(10)
    with pytest.raises(ErrLeaseExpired) as info:
        member.lessor.renew(1)
    assert isinstance(info.value, ErrLeaseNotFound) and str(info.value) == "lease not found"


def test_renew_clears_checkpointed_remaining_ttl(member: Member) -> None:
    member.lessor.promote(0)
    member.lessor.grant(1, 600)
    member.lessor.checkpoint(1, 100)
    member.lessor.renew(1)
    assert member.checkpoints == [[(1, 0)]]


# -- leadership -------------------------------------------------------------------------------------


def test_promote_gives_deadlines_extended_by_election_time(member: Member, clock: ManualClock) -> None:
    a = member.lessor.grant(1, 10)
    b = member.lessor.grant(2, 20)
    member.lessor.promote(3 * SECOND)
    assert (a.expiry, b.expiry) == (clock.now + 13 * SECOND, clock.now + 23 * SECOND)


def test_promote_uses_checkpointed_remaining_ttl(member: Member, clock: ManualClock) -> None:
    lease = member.lessor.grant(1, 600)
    member.lessor.checkpoint(1, 42)
    member.lessor.promote(0)
    assert lease.expiry == clock.now + 42 * SECOND


def test_demote_removes_deadlines(member: Member, clock: ManualClock) -> None:
    member.lessor.promote(0)
    lease = member.lessor.grant(1, 1)
    member.lessor.demote()
    clock.advance(100)
    assert lease.expiry is None and member.lessor.find_expired_leases() == []
    assert not member.lessor.is_primary()


def test_promote_spreads_piled_up_deadlines(member: Member, clock: ManualClock) -> None:
    for i in range(1, 1501):
        member.lessor.grant(i, 10)
    member.lessor.promote(0)
    first_second = [lease for lease in member.lessor.leases() if lease.remaining() <= 11 * SECOND]
    assert len(first_second) == 750
    # The k-th lease past the 750th waits k/750 seconds more: the last of 1500 waits 2 s.
    assert max(lease.remaining() for lease in member.lessor.leases()) == 12 * SECOND


def test_leases_are_listed_soonest_first(member: Member) -> None:
    member.lessor.promote(0)
    for lease_id, ttl in [(1, 30), (2, 10), (3, 20)]:
        member.lessor.grant(lease_id, ttl)
    assert [lease.id for lease in member.lessor.leases()] == [2, 3, 1]


# -- expiry -----------------------------------------------------------------------------------------


def test_nothing_expires_before_deadline(member: Member, clock: ManualClock) -> None:
    member.lessor.promote(0)
    member.lessor.grant(1, 10)
    clock.advance(9.999)
    assert member.lessor.find_expired_leases() == []


def test_expired_leases_come_soonest_first(member: Member, clock: ManualClock) -> None:
    member.lessor.promote(0)
    for lease_id, ttl in [(1, 30), (2, 10), (3, 20)]:
        member.lessor.grant(lease_id, ttl)
    clock.advance(30)
    assert [lease.id for lease in member.lessor.find_expired_leases()] == [2, 3, 1]


def test_expired_lease_is_handed_out_again_after_retry_interval(member: Member, clock: ManualClock) -> None:
    member.lessor.promote(0)
    member.lessor.grant(1, 10)
    clock.advance(10)
    assert [lease.id for lease in member.lessor.find_expired_leases()] == [1]
    clock.advance(2.9)
    assert member.lessor.find_expired_leases() == []
    clock.advance(0.1)
    assert [lease.id for lease in member.lessor.find_expired_leases()] == [1]


def test_expired_leases_come_in_batches_of_limit(member: Member, clock: ManualClock) -> None:
    member.lessor.promote(0)
    for i in range(1, 8):
        member.lessor.grant(i, 10)
    clock.advance(10)
    assert [lease.id for lease in member.lessor.find_expired_leases(limit=5)] == [1, 2, 3, 4, 5]
    assert [lease.id for lease in member.lessor.find_expired_leases(limit=5)] == [6, 7]


def test_revoked_lease_is_not_handed_out(member: Member, clock: ManualClock) -> None:
    member.lessor.promote(0)
    member.lessor.grant(1, 10)
    member.lessor.revoke(1)
    clock.advance(60)
    assert member.lessor.find_expired_leases() == []


def test_renewed_lease_does_not_expire(member: Member, clock: ManualClock) -> None:
    member.lessor.promote(0)
    member.lessor.grant(1, 10)
    clock.advance(8)
    member.lessor.renew(1)
    clock.advance(8)
    assert member.lessor.find_expired_leases() == []


# -- checkpoints ------------------------------------------------------------------------------------


def test_due_checkpoint_records_seconds_left(make_member, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    m = make_member(LessorConfig(checkpoint_interval=60 * SECOND))
    m.lessor.promote(0)
    m.lessor.grant(1, 300)
    m.lessor.grant(2, 30)  # shorter than the interval: never checkpointed
    clock.advance(59.5)
    m.lessor.checkpoint_scheduled_leases()
    assert m.checkpoints == []
    clock.advance(0.5)
    m.lessor.checkpoint_scheduled_leases()
    assert m.checkpoints == [[(1, 240)]]


def test_remaining_ttl_rounds_up(make_member, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    m = make_member(LessorConfig(checkpoint_interval=60 * SECOND))
    m.lessor.promote(0)
    m.lessor.grant(1, 300)
    clock.advance(60.25)
    assert [(c.id, c.remaining_ttl) for c in m.lessor.find_due_scheduled_checkpoints(10)] == [(1, 240)]


def test_follower_schedules_no_checkpoints(make_member, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    m = make_member(LessorConfig(checkpoint_interval=60 * SECOND))
    m.lessor.grant(1, 300)
    clock.advance(120)
    m.lessor.checkpoint_scheduled_leases()
    assert m.checkpoints == []


def test_applied_checkpoint_schedules_the_next(make_member, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    m = make_member(LessorConfig(checkpoint_interval=60 * SECOND))
    m.lessor.promote(0)
    m.lessor.grant(1, 300)
    clock.advance(60)
    m.lessor.checkpoint_scheduled_leases()
    m.lessor.checkpoint(1, 240)
    clock.advance(60)
    m.lessor.checkpoint_scheduled_leases()
    assert m.checkpoints == [[(1, 240)], [(1, 180)]]


# -- persistence ------------------------------------------------------------------------------------


def test_leases_survive_reopen_without_deadlines(member: Member) -> None:
    member.lessor.promote(0)
    member.lessor.grant(1, 10)
    member.lessor.grant(2, 20)
    member.reopen()
    assert sorted((lease.id, lease.ttl, lease.expiry) for lease in member.lessor.leases()) == [
        (1, 10, None),
        (2, 20, None),
    ]
    assert not member.lessor.is_primary()


def test_revoked_lease_is_gone_after_reopen(member: Member) -> None:
    member.lessor.grant(1, 10)
    member.lessor.grant(2, 10)
    member.lessor.revoke(1)
    member.reopen()
    assert [lease.id for lease in member.lessor.leases()] == [2]


def test_reopen_reattaches_leased_keys(member: Member) -> None:
    member.lessor.grant(1, 10)
    member.kv.put(b"k", b"v", lease=1)
    member.reopen()
    assert member.lessor.get_lease(b"k") == 1
    member.lessor.revoke(1)
    assert member.kv.range(b"k").kvs == []


def test_recovery_raises_ttl_to_new_minimum(make_member, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    m = make_member()
    m.lessor.grant(1, 2)
    m.cfg = LessorConfig(min_lease_ttl=5)
    m.reopen()
    assert m.lessor.lookup(1).ttl == 5  # type: ignore[union-attr]


def test_checkpoint_persist_keeps_remaining_ttl_across_reopen(make_member, clock: ManualClock) -> None:  # type: ignore[no-untyped-def]
    m = make_member(LessorConfig(checkpoint_persist=True))
    m.lessor.grant(1, 600)
    m.lessor.checkpoint(1, 42)
    m.reopen()
    m.lessor.promote(0)
    assert m.lessor.lookup(1).expiry == clock.now + 42 * SECOND  # type: ignore[union-attr]


def test_without_checkpoint_persist_reopen_restarts_full_ttl(member: Member, clock: ManualClock) -> None:
    member.lessor.grant(1, 600)
    member.lessor.checkpoint(1, 42)
    member.reopen()
    member.lessor.promote(0)
    assert member.lessor.lookup(1).expiry == clock.now + 600 * SECOND  # type: ignore[union-attr]


def test_negative_lease_id_is_not_recovered(member: Member) -> None:
    # etcd 3.4 compat: initAndRecover ranges over IDs 0..MaxInt64 only.
    member.lessor.grant(-5, 10)
    member.lessor.grant(5, 10)
    member.reopen()
    assert [lease.id for lease in member.lessor.leases()] == [5]


# -- metrics ----------------------------------------------------------------------------------------


def metric(name: str) -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value(name)
    return 0.0 if value is None else value


def test_metrics_count_grants_renewals_and_revocations(member: Member) -> None:
    names = {
        "granted": "etcd_debugging_lease_granted_total",
        "renewed": "etcd_debugging_lease_renewed_total",
        "revoked": "etcd_debugging_lease_revoked_total",
        "ttl_count": "etcd_debugging_lease_ttl_total_count",
        "ttl_sum": "etcd_debugging_lease_ttl_total_sum",
    }
    before = {k: metric(v) for k, v in names.items()}
    member.lessor.promote(0)
    member.lessor.grant(1, 10)
    member.lessor.grant(2, 30)
    member.lessor.renew(1)
    member.lessor.revoke(2)
    after = {k: metric(v) - before[k] for k, v in names.items()}
    assert after == {"granted": 2, "renewed": 1, "revoked": 1, "ttl_count": 2, "ttl_sum": 40}


def test_revoke_on_follower_forgets_the_deadline(member: Member) -> None:
    for i in range(1, 101):
        member.lessor.grant(i, 10)
        member.lessor.revoke(i)
    assert len(member.lessor._expired_notifier) == 0
