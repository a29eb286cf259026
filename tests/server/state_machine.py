"""A tiny state machine for the driver's tests: an ordered list of (index, data), optionally kept in a file.

It checks what the driver promises as it goes: batches arrive in strictly increasing index order and no
index is applied twice, across restarts when it is persisted.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Sequence

from etcd.server import ApplyBatch


class Recorder:
    def __init__(self, path: str | None = None) -> None:
        self.path = path
        self.applied = 0
        self.items: list[tuple[int, bytes]] = []
        self.batches: list[ApplyBatch] = []
        self.snapshots_restored = 0
        self.gate: asyncio.Event | None = None  # when set to an unset Event, apply waits for it
        self.fail_with: Exception | None = None  # when set, the next apply raises it
        if path is not None and os.path.exists(path):
            with open(path, "rb") as f:
                self._restore(f.read())

    def _restore(self, raw: bytes) -> None:
        doc = json.loads(raw)
        self.applied = doc["applied"]
        self.items = [(i, bytes.fromhex(d)) for i, d in doc["items"]]

    def _dump(self) -> bytes:
        items = [[i, d.hex()] for i, d in self.items]
        return json.dumps({"applied": self.applied, "items": items}).encode()

    async def apply(self, batch: ApplyBatch) -> Sequence[object]:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        self.batches.append(batch)
        if batch.snapshot is not None:
            assert batch.snapshot.metadata.index > self.applied, "snapshot older than the state"
            self._restore(batch.snapshot.data)
            assert self.applied == batch.snapshot.metadata.index
            self.snapshots_restored += 1
        for c in batch.entries:
            assert c.index > self.applied, f"index {c.index} applied twice or out of order"
            self.applied = c.index
            if c.conf_change is None:
                self.items.append((c.index, c.data))
        assert batch.applied_index >= self.applied
        self.applied = batch.applied_index
        if self.path is not None:
            tmp = self.path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(self._dump())
            os.replace(tmp, self.path)
        return [("applied", c.index) for c in batch.entries]

    async def snapshot(self, index: int) -> bytes:
        assert index == self.applied
        return self._dump()

    @property
    def datas(self) -> list[bytes]:
        return [d for _, d in self.items]

    @property
    def indexes(self) -> list[int]:
        return [i for i, _ in self.items]
