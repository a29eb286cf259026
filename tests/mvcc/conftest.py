"""Stores on tmp_path that are always closed, and a lease attacher standing in for the lessor."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from etcd.backend.backend import Backend
from etcd.mvcc.watchable_store import WatchableStore


class LeaseNotFound(Exception):
    pass


class RecordingLessor:
    """A minimal real lessor for the store's lease hook: known leases and the keys attached to each."""

    def __init__(self, *leases: int) -> None:
        self.items: dict[int, set[bytes]] = {lease: set() for lease in leases}

    def attach(self, lease_id: int, keys: list[bytes]) -> None:
        if lease_id not in self.items:
            raise LeaseNotFound("lease not found")
        self.items[lease_id].update(keys)

    def detach(self, lease_id: int, keys: list[bytes]) -> None:
        if lease_id not in self.items:
            raise LeaseNotFound("lease not found")
        self.items[lease_id].difference_update(keys)


class Opener:
    """Opens (and reopens) a backend and a watchable store on one directory; closes all at the end."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.open: list[tuple[WatchableStore, Backend]] = []

    def __call__(self, **kw: object) -> WatchableStore:
        # fsync adds nothing to what these tests check and is slow on a busy disk
        be = Backend(self.path, batch_interval=0, sync=False)
        store = WatchableStore(be, **kw)  # type: ignore[arg-type]
        self.open.append((store, be))
        return store

    def close_all(self) -> None:
        for store, be in self.open:
            store.close()
            be.close()
        self.open.clear()

    def reopen(self, store: WatchableStore, **kw: object) -> WatchableStore:
        store.close()
        store.backend.close()
        return self(**kw)


@pytest.fixture
def opener(tmp_path) -> Iterator[Opener]:
    o = Opener(str(tmp_path / "db"))
    yield o
    o.close_all()


@pytest.fixture
def store(opener) -> WatchableStore:
    return opener()


@pytest.fixture
def make_store(tmp_path) -> Iterator[Callable[[str], WatchableStore]]:
    """Independent stores in sibling directories (for comparing two members)."""
    openers: list[Opener] = []

    def _make(name: str, **kw: object) -> WatchableStore:
        o = Opener(str(tmp_path / name))
        openers.append(o)
        return o(**kw)

    yield _make
    for o in openers:
        o.close_all()
