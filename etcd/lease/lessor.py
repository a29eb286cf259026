"""The lessor: leases, their deadlines and attached keys (etcd's ``lease/lessor.go``).

Sans-IO and clockless: the lessor runs no loop and reads time only through the injected ``clock``.
The server drives it: every 500 ms the leader calls ``find_expired_leases()`` and proposes a
``LeaseRevoke`` for each lease returned, and ``checkpoint_scheduled_leases()``, which hands due
checkpoints to the ``checkpointer`` (to be proposed as a ``LeaseCheckpoint``). Applying those entries
calls ``revoke`` and ``checkpoint`` on every member, so all lessors stay identical; only deadlines
(``Lease.expiry``) are local, and only the primary (the raft leader) has any.

Leases are persisted in the backend bucket ``lease`` (``leasepb.Lease`` under the ID as 8 big-endian
bytes) and recovered on construction; the keys attached to them are not stored here but re-attached
by the key-value store when it restores its index.

Thread safety: one re-entrant lock guards the lessor. ``grant``, ``revoke`` and ``checkpoint`` take
the backend lock too; call them from the apply thread, as the key-value store's writes are.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from etcd.lease import metrics
from etcd.lease.lease_queue import LeaseExpiredNotifier, LeaseQueue, LeaseWithTime
from etcd.lease.leasepb.lease_pb2 import Lease as LeasePB

NS_PER_SECOND = 1_000_000_000

# NoLease is the lease ID meaning "no lease".
NoLease = 0

# MaxLeaseTTL is the largest TTL a lease may be granted, in seconds.
MaxLeaseTTL = 9_000_000_000

LEASE_BUCKET_NAME = b"lease"

# Leases revoked per second at most; find_expired_leases returns half of it per 500 ms round.
LEASE_REVOKE_RATE = 1000

# Lease checkpoints proposed per second at most.
LEASE_CHECKPOINT_RATE = 1000

DEFAULT_LEASE_CHECKPOINT_INTERVAL = 300 * NS_PER_SECOND

MAX_LEASE_CHECKPOINT_BATCH_SIZE = 1000

# How long an expired lease handed out for revocation waits before it is handed out again.
DEFAULT_EXPIRED_LEASES_RETRY_INTERVAL = 3 * NS_PER_SECOND

# The notifier deadline of a lease that never expires: first in line, as Go's zero time.Time is.
_FOREVER_TIME = -(2**63)

_INT64_MAX = 2**63 - 1


class LeaseError(Exception):
    """Base of the lessor's errors; ``str(err)`` is etcd's message."""

    message = ""

    def __init__(self) -> None:
        super().__init__(self.message)


class ErrNotPrimary(LeaseError):
    message = "not a primary lessor"


class ErrLeaseNotFound(LeaseError):
    message = "lease not found"


class ErrLeaseExpired(ErrLeaseNotFound):
    """Renewing a lease past its deadline, not yet revoked.

    etcd's ``Renew`` blocks until the revocation is applied (then answers "lease not found") or the
    lessor is demoted (then "not a primary lessor"). This lessor never blocks: it raises this
    subclass of ``ErrLeaseNotFound``, with its message; a caller that wants etcd's wait can wait for
    ``lookup(id)`` to return ``None`` or for a demotion.
    """


class ErrLeaseExists(LeaseError):
    message = "lease already exists"


class ErrLeaseTTLTooLarge(LeaseError):
    message = "too large lease TTL"


class TxnDelete(Protocol):
    """A write transaction that may only delete (etcd's ``lease.TxnDelete``); ``mvcc``'s ``TxnWrite``
    is one."""

    def delete_range(self, key: bytes, end: bytes | None = None) -> tuple[int, int]: ...

    def end(self) -> None: ...


RangeDeleter = Callable[[], TxnDelete]


@dataclass(frozen=True, slots=True)
class LeaseCheckpoint:
    """A lease's seconds left, to be recorded through raft (``etcdserverpb.LeaseCheckpoint``)."""

    id: int
    remaining_ttl: int


Checkpointer = Callable[[list[LeaseCheckpoint]], None]


class LeaseBatchTx(Protocol):
    """What the lessor uses of the backend's write transaction (``with tx:`` holds its lock)."""

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> Any: ...

    def unsafe_create_bucket(self, bucket: bytes) -> None: ...

    def unsafe_put(self, bucket: bytes, key: bytes, value: bytes) -> None: ...

    def unsafe_delete(self, bucket: bytes, key: bytes) -> None: ...

    def unsafe_range(
        self, bucket: bytes, start: bytes, end: bytes | None = None, limit: int = 0
    ) -> list[tuple[bytes, bytes]]: ...


class LeaseBackend(Protocol):
    """What the lessor uses of ``etcd.backend.backend.Backend``."""

    def batch_tx(self) -> LeaseBatchTx: ...

    def force_commit(self) -> None: ...


@dataclass(frozen=True, slots=True)
class LessorConfig:
    """``min_lease_ttl`` in seconds (shorter grants are raised to it); intervals in nanoseconds.

    ``checkpoint_persist`` also writes each applied checkpoint to the backend, so the remaining TTL
    survives a restart (``--experimental-enable-lease-checkpoint-persist``).
    """

    min_lease_ttl: int = 0
    checkpoint_interval: int = DEFAULT_LEASE_CHECKPOINT_INTERVAL
    expired_leases_retry_interval: int = DEFAULT_EXPIRED_LEASES_RETRY_INTERVAL
    checkpoint_persist: bool = False


def int64_to_bytes(n: int) -> bytes:
    """A lease ID as its backend key: 8 big-endian bytes of the two's complement."""
    return n.to_bytes(8, "big", signed=True)


class Lease:
    """A lease: its ID, TTL (seconds), checkpointed seconds left, deadline and attached keys.

    ``expiry`` is a clock reading in nanoseconds, or ``None`` for "never" (on every member but the
    primary). ``revoked`` becomes true once ``Lessor.revoke`` has deleted it.
    """

    def __init__(self, lease_id: int, ttl: int, clock: Callable[[], int]) -> None:
        self.id = lease_id
        self.ttl = ttl
        self.remaining_ttl_checkpoint = 0  # 0: unset, the full TTL applies
        self.expiry: int | None = None
        self.revoked = False
        self._clock = clock
        self._items: set[bytes] = set()

    def remaining_ttl(self) -> int:
        """The last checkpointed seconds left, or the TTL when never checkpointed (etcd's
        ``RemainingTTL``)."""
        return self.remaining_ttl_checkpoint if self.remaining_ttl_checkpoint > 0 else self.ttl

    def refresh(self, extend: int) -> None:
        """Sets the deadline ``extend`` ns plus ``remaining_ttl()`` seconds from now."""
        self.expiry = self._clock() + extend + self.remaining_ttl() * NS_PER_SECOND

    def forever(self) -> None:
        self.expiry = None

    def remaining(self) -> int:
        """Nanoseconds until the deadline (negative once past); the int64 maximum if there is none."""
        if self.expiry is None:
            return _INT64_MAX
        return self.expiry - self._clock()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def keys(self) -> list[bytes]:
        """The attached keys, sorted (the order revocation deletes them in, the same on every member)."""
        return sorted(self._items)

    def persist_to(self, backend: LeaseBackend) -> None:
        value = LeasePB(
            ID=self.id, TTL=self.ttl, RemainingTTL=self.remaining_ttl_checkpoint
        ).SerializeToString()
        with backend.batch_tx() as tx:
            tx.unsafe_put(LEASE_BUCKET_NAME, int64_to_bytes(self.id), value)

    def _notifier_time(self) -> int:
        return _FOREVER_TIME if self.expiry is None else self.expiry


class Lessor:
    """Grants, renews, checkpoints and revokes leases; knows which keys each lease holds.

    ``clock`` is monotonic time in nanoseconds (``time.monotonic_ns``). The lessor starts as a
    follower (not primary): ``promote`` when this member becomes leader, ``demote`` when it stops.
    Constructing it recovers the leases stored in ``backend``.

    Give a ``checkpointer`` only with ``--experimental-enable-lease-checkpoint``: without one nothing
    is ever checkpointed, as in etcd. The ``range_deleter`` (``KVStore.write``) may be set later, once
    the key-value store is open; that store must be opened after the lessor, since restoring its
    index re-attaches leased keys.
    """

    def __init__(
        self,
        backend: LeaseBackend,
        *,
        clock: Callable[[], int],
        cfg: LessorConfig = LessorConfig(),
        range_deleter: RangeDeleter | None = None,
        checkpointer: Checkpointer | None = None,
    ) -> None:
        self._b = backend
        self._clock = clock
        self._cfg = cfg
        self._rd = range_deleter
        self._cp = checkpointer
        self._lock = threading.RLock()
        self._primary = False
        self._lease_map: dict[int, Lease] = {}
        self._item_map: dict[bytes, int] = {}
        self._expired_notifier = LeaseExpiredNotifier()
        self._checkpoint_heap = LeaseQueue()
        self._init_and_recover()

    @property
    def min_lease_ttl(self) -> int:
        return self._cfg.min_lease_ttl

    def is_primary(self) -> bool:
        """Whether this lessor manages expiry and renewals (it is the raft leader's)."""
        return self._primary

    def set_range_deleter(self, rd: RangeDeleter) -> None:
        with self._lock:
            self._rd = rd

    def set_checkpointer(self, cp: Checkpointer) -> None:
        with self._lock:
            self._cp = cp

    # -- applied through raft: the same on every member ----------------------------------------------

    def grant(self, lease_id: int, ttl: int) -> Lease:
        """Creates lease ``lease_id`` with ``ttl`` seconds (raised to the minimum) and stores it.

        Raises:
            ErrLeaseNotFound: ``lease_id`` is ``NoLease``.
            ErrLeaseTTLTooLarge: ``ttl`` exceeds ``MaxLeaseTTL``.
            ErrLeaseExists: the ID is taken.
        """
        if lease_id == NoLease:
            raise ErrLeaseNotFound()
        if ttl > MaxLeaseTTL:
            raise ErrLeaseTTLTooLarge()
        with self._lock:
            if lease_id in self._lease_map:
                raise ErrLeaseExists()
            lease = Lease(lease_id, max(ttl, self._cfg.min_lease_ttl), self._clock)
            if self._primary:
                lease.refresh(0)
            else:
                lease.forever()
            self._lease_map[lease_id] = lease
            self._expired_notifier.register_or_update(LeaseWithTime(lease._notifier_time(), lease_id))
            lease.persist_to(self._b)
            metrics.lease_total_ttls.observe(lease.ttl)
            metrics.lease_granted.inc()
            if self._primary:
                self._schedule_checkpoint_if_needed(lease)
            return lease

    def revoke(self, lease_id: int) -> None:
        """Deletes the lease, its stored record and (through the range deleter, in one write
        transaction, in key order) every key attached to it.

        Without a range deleter the lease and its record go but no key is deleted.

        Raises:
            ErrLeaseNotFound: no such lease.
        """
        with self._lock:
            lease = self._lease_map.get(lease_id)
            if lease is None:
                raise ErrLeaseNotFound()
            rd = self._rd
            keys = lease.keys()
        # The deletes reach back into detach(); the lock is not held across them, as in etcd.
        txn = rd() if rd is not None else None
        try:
            if txn is not None:
                for key in keys:
                    txn.delete_range(key, None)
            with self._lock:
                self._lease_map.pop(lease_id, None)
                # etcd leaves the deadline for the primary to find and drop; a follower never looks,
                # so it would pile up there.
                self._expired_notifier.remove(lease_id)
                for key in keys:
                    if self._item_map.get(key) == lease_id:
                        del self._item_map[key]
                # The record goes in the same backend batch as the key deletions, so a crash keeps
                # both or neither.
                with self._b.batch_tx() as tx:
                    tx.unsafe_delete(LEASE_BUCKET_NAME, int64_to_bytes(lease_id))
                lease.revoked = True
            metrics.lease_revoked.inc()
        finally:
            if txn is not None:
                txn.end()

    def checkpoint(self, lease_id: int, remaining_ttl: int) -> None:
        """Records the seconds a lease has left (applied from a ``LeaseCheckpoint`` entry); ``promote``
        uses it instead of the full TTL. Unknown IDs are ignored."""
        with self._lock:
            lease = self._lease_map.get(lease_id)
            if lease is None:
                return
            lease.remaining_ttl_checkpoint = remaining_ttl
            if self._cfg.checkpoint_persist:
                lease.persist_to(self._b)
            if self._primary:
                self._schedule_checkpoint_if_needed(lease)

    # -- the key-value store's hook ------------------------------------------------------------------

    def attach(self, lease_id: int, keys: Iterable[bytes]) -> None:
        """Attaches keys to a lease (an empty list only checks it exists).

        Raises:
            ErrLeaseNotFound: no such lease.
        """
        with self._lock:
            lease = self._lease_map.get(lease_id)
            if lease is None:
                raise ErrLeaseNotFound()
            for key in keys:
                lease._items.add(key)
                self._item_map[key] = lease_id

    def detach(self, lease_id: int, keys: Iterable[bytes]) -> None:
        """Detaches keys from a lease.

        Raises:
            ErrLeaseNotFound: no such lease.
        """
        with self._lock:
            lease = self._lease_map.get(lease_id)
            if lease is None:
                raise ErrLeaseNotFound()
            for key in keys:
                lease._items.discard(key)
                self._item_map.pop(key, None)

    def get_lease(self, item: bytes) -> int:
        """The lease a key is attached to, or ``NoLease``."""
        with self._lock:
            return self._item_map.get(item, NoLease)

    # -- reads ---------------------------------------------------------------------------------------

    def lookup(self, lease_id: int) -> Lease | None:
        with self._lock:
            return self._lease_map.get(lease_id)

    def leases(self) -> list[Lease]:
        """Every lease, soonest deadline first."""
        with self._lock:
            ls = list(self._lease_map.values())
        ls.sort(key=lambda lease: lease.remaining())
        return ls

    # -- the primary's duties ------------------------------------------------------------------------

    def renew(self, lease_id: int) -> int:
        """Restarts a lease's deadline (a keep-alive); returns its TTL in seconds.

        If the lease had a checkpointed remaining TTL, the checkpointer is first asked to clear it.

        Raises:
            ErrNotPrimary: this lessor is not the primary; forward to the leader.
            ErrLeaseNotFound: no such lease.
            ErrLeaseExpired: the lease is past its deadline, awaiting revocation.
        """
        with self._lock:
            if not self._primary:
                raise ErrNotPrimary()
            lease = self._lease_map.get(lease_id)
            if lease is None:
                raise ErrLeaseNotFound()
            if lease.expired():
                raise ErrLeaseExpired()
            cp = self._cp
            clear_remaining_ttl = cp is not None and lease.remaining_ttl_checkpoint > 0
        if clear_remaining_ttl and cp is not None:
            # Only a lease that has a remaining TTL recorded costs a raft entry here, so at most two
            # entries per lease per checkpoint interval (etcd's lessor.go Renew).
            cp([LeaseCheckpoint(lease_id, 0)])
        with self._lock:
            lease.refresh(0)
            self._expired_notifier.register_or_update(LeaseWithTime(lease._notifier_time(), lease_id))
            metrics.lease_renewed.inc()
            return lease.ttl

    def promote(self, extend: int) -> None:
        """Makes this lessor primary: every lease gets a deadline ``extend`` ns plus its remaining TTL
        from now.

        With many leases, deadlines bunched in one second are spread so that no more than three
        quarters of ``LEASE_REVOKE_RATE`` fall in any second (etcd's pile-up avoidance).
        """
        with self._lock:
            self._primary = True
            for lease in self._lease_map.values():
                lease.refresh(extend)
                self._expired_notifier.register_or_update(LeaseWithTime(lease._notifier_time(), lease.id))
            if len(self._lease_map) < LEASE_REVOKE_RATE:
                return
            leases = sorted(self._lease_map.values(), key=lambda lease: lease.remaining())
            base_window = leases[0].remaining()
            next_window = base_window + NS_PER_SECOND
            expires = 0
            target_expires_per_second = (3 * LEASE_REVOKE_RATE) // 4
            for lease in leases:
                remaining = lease.remaining()
                if remaining > next_window:
                    base_window = remaining
                    next_window = base_window + NS_PER_SECOND
                    expires = 1
                    continue
                expires += 1
                if expires <= target_expires_per_second:
                    continue
                rate_delay = float(NS_PER_SECOND) * (expires / target_expires_per_second)
                # Leases already n seconds past the window's start need n seconds less delay.
                rate_delay -= float(remaining - base_window)
                delay = int(rate_delay)
                next_window = base_window + delay
                lease.refresh(delay + extend)
                self._expired_notifier.register_or_update(LeaseWithTime(lease._notifier_time(), lease.id))
                self._schedule_checkpoint_if_needed(lease)

    def demote(self) -> None:
        """Makes this lessor a follower: no lease has a deadline and no checkpoint is scheduled."""
        with self._lock:
            for lease in self._lease_map.values():
                lease.forever()
            self._checkpoint_heap.clear()
            self._primary = False

    def find_expired_leases(self, limit: int = LEASE_REVOKE_RATE // 2) -> list[Lease]:
        """Up to ``limit`` leases past their deadline, soonest first, to be revoked through raft.

        Each lease returned is not returned again for ``expired_leases_retry_interval``, giving its
        revocation time to be applied. Returns nothing unless primary.
        """
        with self._lock:
            if not self._primary:
                return []
            leases: list[Lease] = []
            while len(leases) < limit:
                item = self._expired_notifier.poll()
                if item is None:
                    break
                lease = self._lease_map.get(item.id)
                if lease is None:
                    # Revoked already: nothing left to expire.
                    self._expired_notifier.unregister()
                    continue
                now = self._clock()
                if now < item.time:
                    break  # every later deadline is later still
                self._expired_notifier.register_or_update(
                    LeaseWithTime(now + self._cfg.expired_leases_retry_interval, item.id)
                )
                if lease.expired():
                    leases.append(lease)
            return leases

    def checkpoint_scheduled_leases(self) -> None:
        """Hands the due checkpoints to the checkpointer, in batches of at most
        ``MAX_LEASE_CHECKPOINT_BATCH_SIZE``. Does nothing unless primary with a checkpointer."""
        for _ in range(LEASE_CHECKPOINT_RATE // 2):
            with self._lock:
                cp = self._cp
                cps = (
                    self.find_due_scheduled_checkpoints(MAX_LEASE_CHECKPOINT_BATCH_SIZE)
                    if self._primary
                    else []
                )
            if cps and cp is not None:
                cp(cps)
            if len(cps) < MAX_LEASE_CHECKPOINT_BATCH_SIZE:
                return

    def find_due_scheduled_checkpoints(self, checkpoint_limit: int) -> list[LeaseCheckpoint]:
        """Up to ``checkpoint_limit`` checkpoints whose time has come, each with the seconds left
        (rounded up); leases gone, past their deadline or still at their full TTL are skipped."""
        with self._lock:
            if self._cp is None:
                return []
            now = self._clock()
            cps: list[LeaseCheckpoint] = []
            while len(self._checkpoint_heap) and len(cps) < checkpoint_limit:
                if self._checkpoint_heap.peek().time > now:
                    break
                lt = self._checkpoint_heap.pop()
                lease = self._lease_map.get(lt.id)
                if lease is None or lease.expiry is None or now >= lease.expiry:
                    continue
                remaining_ttl = math.ceil((lease.expiry - now) / NS_PER_SECOND)
                if remaining_ttl >= lease.ttl:
                    continue
                cps.append(LeaseCheckpoint(lt.id, remaining_ttl))
            return cps

    def _schedule_checkpoint_if_needed(self, lease: Lease) -> None:
        if self._cp is None:
            return
        if lease.remaining_ttl() > self._cfg.checkpoint_interval // NS_PER_SECOND:
            self._checkpoint_heap.push(LeaseWithTime(self._clock() + self._cfg.checkpoint_interval, lease.id))

    # -- persistence ---------------------------------------------------------------------------------

    def recover(self, backend: LeaseBackend, rd: RangeDeleter | None) -> None:
        """Forgets every lease and reloads them from ``backend`` (after a snapshot is installed)."""
        with self._lock:
            self._b = backend
            self._rd = rd
            self._lease_map = {}
            self._item_map = {}
            self._init_and_recover()

    def _init_and_recover(self) -> None:
        with self._b.batch_tx() as tx:
            tx.unsafe_create_bucket(LEASE_BUCKET_NAME)
            # etcd 3.4 compat: lessor.go reads IDs 0 .. MaxInt64 only, so a lease granted with a
            # negative ID is not recovered.
            rows = tx.unsafe_range(LEASE_BUCKET_NAME, int64_to_bytes(0), int64_to_bytes(_INT64_MAX), 0)
            for _, value in rows:
                lpb = LeasePB.FromString(value)
                lease = Lease(lpb.ID, max(lpb.TTL, self._cfg.min_lease_ttl), self._clock)
                lease.remaining_ttl_checkpoint = lpb.RemainingTTL
                lease.forever()  # a deadline comes with promote()
                self._lease_map[lpb.ID] = lease
        self._expired_notifier.init()
        self._checkpoint_heap.clear()
        self._b.force_commit()

    def stop(self) -> None:
        """Nothing to stop: the lessor runs no loop of its own (kept for etcd's interface)."""
