"""A lessor over a real backend and key-value store on tmp_path, with a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from etcd.backend.backend import Backend
from etcd.lease import Lessor, LessorConfig
from etcd.mvcc.kvstore import KVStore

SECOND = 1_000_000_000


class ManualClock:
    """Monotonic nanoseconds; moves only when ``advance`` is called."""

    def __init__(self, now: int = 1_000 * SECOND) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * SECOND)


class Member:
    """One member's lease state: backend, lessor and the key-value store it revokes keys from.

    ``reopen()`` closes everything and opens it again from the same directory, in the server's order:
    the lessor recovers first, then the store re-attaches leased keys while restoring its index.
    """

    def __init__(self, path: str, clock: ManualClock, cfg: LessorConfig) -> None:
        self.path = path
        self.clock = clock
        self.cfg = cfg
        self.checkpoints: list[list[tuple[int, int]]] = []
        self._open()

    def _open(self) -> None:
        self.backend = Backend(self.path, batch_interval=0, batch_limit=10000)
        self.lessor = Lessor(
            self.backend,
            clock=self.clock,
            cfg=self.cfg,
            checkpointer=lambda cps: self.checkpoints.append([(c.id, c.remaining_ttl) for c in cps]),
        )
        self.kv = KVStore(self.backend, lease_attacher=self.lessor)
        self.lessor.set_range_deleter(self.kv.write)

    def close(self) -> None:
        self.kv.close()
        self.backend.force_commit()
        self.backend.close()

    def reopen(self) -> None:
        self.close()
        self._open()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_member(tmp_path, clock: ManualClock) -> Iterator:  # type: ignore[no-untyped-def]
    members: list[Member] = []

    def make(cfg: LessorConfig | None = None, name: str = "db") -> Member:
        m = Member(str(tmp_path / name), clock, cfg or LessorConfig())
        members.append(m)
        return m

    yield make
    for m in members:
        m.close()


@pytest.fixture
def member(make_member) -> Member:  # type: ignore[no-untyped-def]
    return make_member()
