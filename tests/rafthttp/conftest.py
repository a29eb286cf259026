"""Every async test here must leave no task running: a transport or RaftNode not closed fails its test."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture
async def no_leaked_tasks() -> AsyncIterator[None]:
    before = asyncio.all_tasks()
    yield
    leaked = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()]
    assert not leaked, f"tasks left running: {leaked}"


def pytest_collection_modifyitems(items: list[Any]) -> None:
    for item in items:
        fn = getattr(item, "function", None)
        if fn is not None and inspect.iscoroutinefunction(fn) and HERE in Path(str(item.path)).parents:
            item.fixturenames.insert(0, "no_leaked_tasks")  # set up first, checked last
