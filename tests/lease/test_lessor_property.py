"""Hypothesis state machine: the lessor over a real backend against a model of deadlines.

The model keeps, per lease, its TTL, its deadline (none on a follower) and the time the expiry
notifier next looks at it. Rules grant, renew, revoke, move the clock, change leadership and, as the
server's ticker does, fetch expired leases in batches and revoke them. Every answer must match the
model: no lease is handed out before its deadline, leases come soonest first (ties by ID), and a
lease handed out but not revoked comes back after the retry interval. Longer runs: ETCDPY_LONG=1.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from etcd.backend.backend import Backend
from etcd.lease import (
    ErrLeaseExists,
    ErrLeaseExpired,
    ErrLeaseNotFound,
    ErrNotPrimary,
    LeaseError,
    Lessor,
    LessorConfig,
)

from .conftest import SECOND, ManualClock

LONG = os.environ.get("ETCDPY_LONG") == "1"
MIN_TTL = 2
RETRY = 3 * SECOND
FOREVER = -(2**63)

ids = st.integers(1, 4)


@dataclass
class M:
    ttl: int
    deadline: int | None


class LessorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # One RocksDB per example: on tmpfs its open and close cost no fsync (this test is about the
        # lessor's logic; tests/lease/test_lessor.py covers persistence on a real disk).
        self.dir = tempfile.mkdtemp(
            prefix="lessor-prop-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None
        )
        self.clock = ManualClock()
        self.backend = Backend(self.dir, batch_interval=0, batch_limit=10000, sync=False)
        cfg = LessorConfig(min_lease_ttl=MIN_TTL, expired_leases_retry_interval=RETRY)
        self.lessor = Lessor(self.backend, clock=self.clock, cfg=cfg)
        self.leases: dict[int, M] = {}
        self.notifier: dict[int, int] = {}
        # Start as the leader, where expiry happens; demote and promote rules move away and back.
        self.lessor.promote(0)
        self.primary = True

    def teardown(self) -> None:
        self.backend.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def expect_error(self, err: type[LeaseError], fn, *args) -> None:  # type: ignore[no-untyped-def]
        try:
            fn(*args)
        except LeaseError as got:
            assert type(got) is err, (type(got), err)
            return
        raise AssertionError(f"expected {err.__name__}")

    @rule(lease_id=ids, ttl=st.integers(1, 10))
    def grant(self, lease_id: int, ttl: int) -> None:
        if lease_id in self.leases:
            self.expect_error(ErrLeaseExists, self.lessor.grant, lease_id, ttl)
            return
        lease = self.lessor.grant(lease_id, ttl)
        ttl = max(ttl, MIN_TTL)
        deadline = self.clock.now + ttl * SECOND if self.primary else None
        self.leases[lease_id] = M(ttl, deadline)
        self.notifier[lease_id] = FOREVER if deadline is None else deadline
        assert lease.ttl == ttl

    @rule(lease_id=ids)
    def renew(self, lease_id: int) -> None:
        m = self.leases.get(lease_id)
        if not self.primary:
            self.expect_error(ErrNotPrimary, self.lessor.renew, lease_id)
        elif m is None:
            self.expect_error(ErrLeaseNotFound, self.lessor.renew, lease_id)
        elif m.deadline is not None and m.deadline <= self.clock.now:
            self.expect_error(ErrLeaseExpired, self.lessor.renew, lease_id)
        else:
            assert self.lessor.renew(lease_id) == m.ttl
            m.deadline = self.clock.now + m.ttl * SECOND
            self.notifier[lease_id] = m.deadline

    @rule(lease_id=ids)
    def revoke(self, lease_id: int) -> None:
        if lease_id not in self.leases:
            self.expect_error(ErrLeaseNotFound, self.lessor.revoke, lease_id)
            return
        self.lessor.revoke(lease_id)
        del self.leases[lease_id]

    # Half-second steps land exactly on deadlines and retry times often, where off-by-one bugs live.
    # As the server's ticker does, every move of the clock is followed by a look for expired leases.
    @rule(half_seconds=st.integers(0, 12), limit=st.integers(1, 4), revoke_them=st.booleans())
    def tick(self, half_seconds: int, limit: int, revoke_them: bool) -> None:
        self.clock.advance(half_seconds / 2)
        self.find_expired(limit, revoke_them)

    @rule(extend_ms=st.sampled_from([0, 500, 1000, 1750]))
    def promote(self, extend_ms: int) -> None:
        self.lessor.promote(extend_ms * 1_000_000)
        self.primary = True
        for lease_id, m in self.leases.items():
            m.deadline = self.clock.now + extend_ms * 1_000_000 + m.ttl * SECOND
            self.notifier[lease_id] = m.deadline

    @rule()
    def demote(self) -> None:
        self.lessor.demote()
        self.primary = False
        for m in self.leases.values():
            m.deadline = None

    @rule(limit=st.integers(1, 4), revoke_them=st.booleans())
    def find_expired(self, limit: int, revoke_them: bool) -> None:
        got = [lease.id for lease in self.lessor.find_expired_leases(limit)]
        expected: list[int] = []
        now = self.clock.now
        while self.primary and len(expected) < limit and self.notifier:
            t, lease_id = min((t, i) for i, t in self.notifier.items())
            m = self.leases.get(lease_id)
            if m is None:
                del self.notifier[lease_id]
                continue
            if now < t:
                break
            self.notifier[lease_id] = now + RETRY
            if m.deadline is not None and m.deadline <= now:
                expected.append(lease_id)
        assert got == expected
        for lease_id in got:
            assert self.leases[lease_id].deadline <= now  # type: ignore[operator]
            if revoke_them:
                self.revoke(lease_id)

    @invariant()
    def leases_match(self) -> None:
        assert {lease.id: (lease.ttl, lease.expiry) for lease in self.lessor.leases()} == {
            i: (m.ttl, m.deadline) for i, m in self.leases.items()
        }
        assert self.lessor.is_primary() == self.primary


LessorMachine.TestCase.settings = settings(
    max_examples=800 if LONG else 100, stateful_step_count=60 if LONG else 40, deadline=None
)
test_lessor_against_model = LessorMachine.TestCase
