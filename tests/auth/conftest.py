"""Fixtures for the auth tests: a ``Member`` (auth store and backend in a tmp dir) and its clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.auth.members import ManualClock, Member


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def member(tmp_path: Path, clock: ManualClock) -> Iterator[Member]:
    m = Member(tmp_path / "db", clock)
    try:
        yield m
    finally:
        m.close()
