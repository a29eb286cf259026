"""Fixtures of the interop tests: the real etcd's results, produced once per run, are the expected values."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.interop.compare import Oracle


@pytest.fixture(scope="session")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oracle]:
    """The real etcd's results, computed in a background thread (see ``Oracle``) and closed at the end."""
    oracle = Oracle(tmp_path_factory)
    try:
        yield oracle
    finally:
        oracle.close()
