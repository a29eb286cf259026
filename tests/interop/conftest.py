"""Fixtures of the interop tests: the real etcd's results, produced once per run, are the expected values."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.interop.compare import Oracle
from tests.interop.member import skip_reason


@pytest.fixture(scope="session")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Oracle:
    """``oracle(key, produce)``: ``produce(tmp_dir)`` run on the real etcd once per run, cached by ``key``.

    ``produce`` starts the real etcd itself; the fixture only caches, so a test on ours and the same test on
    the real etcd share one run of the real one.
    """
    cache: dict[str, str] = {}

    def get(key: str, produce: Callable[[Path], str]) -> str:
        reason = skip_reason("real")
        if reason:
            pytest.skip(f"no oracle: {reason}")
        if key not in cache:
            cache[key] = produce(tmp_path_factory.mktemp(f"oracle-{key}"))
        return cache[key]

    return get
