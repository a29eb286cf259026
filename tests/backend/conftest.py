"""Backends on tmp_path that are always closed, even when the test fails."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from etcd.backend.backend import Backend


@pytest.fixture
def open_backend(tmp_path) -> Iterator[Callable[..., Backend]]:
    """``open_backend(name="db", **kw)`` opens a Backend under tmp_path; all are closed at teardown."""
    opened: list[Backend] = []

    def _open(name: str = "db", **kw: object) -> Backend:
        kw.setdefault("batch_interval", 0)  # no timer thread unless a test asks for one
        kw.setdefault("sync", False)  # fsync adds nothing a test can observe without a power cut
        be = Backend(str(tmp_path / name), **kw)  # type: ignore[arg-type]
        opened.append(be)
        return be

    yield _open
    for be in opened:
        be.close()


@pytest.fixture
def be(open_backend) -> Backend:
    return open_backend()
