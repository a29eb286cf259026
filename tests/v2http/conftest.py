"""A v2 store with etcd's namespaces and a clock that moves only by hand."""

from __future__ import annotations

import pytest

from etcd.v2store import Store

T0 = 1_767_225_600 * 1_000_000_000
SECOND = 1_000_000_000


class ManualClock:
    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(clock: ManualClock) -> Store:
    return Store("/0", "/1", clock=clock)
