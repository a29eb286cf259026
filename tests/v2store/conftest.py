"""Shared fixtures: a store with etcd's namespaces and a clock the test moves by hand."""

from __future__ import annotations

import pytest

from etcd.v2store import Store

# 2026-01-01T00:00:00Z: any fixed instant after 2000 will do.
T0 = 1_767_225_600 * 1_000_000_000
SECOND = 1_000_000_000


class ManualClock:
    """Wall time in ns since the epoch; moves only when ``advance`` is called."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * SECOND)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(clock: ManualClock) -> Store:
    return Store("/0", "/1", clock=clock)
