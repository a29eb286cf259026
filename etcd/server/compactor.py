"""Auto-compaction (etcd 3.4's ``etcdserver/api/v3compactor``), run by the leader only.

- ``periodic`` (``--auto-compaction-retention=1h``, or hours as a bare number): every tenth of the
  retention (at most an hour) the current revision is sampled; each time, the store is compacted to the
  revision sampled one retention ago, so it always keeps at least the retention's worth of history.
- ``revision`` (``--auto-compaction-retention=1000``): every 5 minutes, compact to ``current - retention``
  when that moved on since the last compaction.

A failed compaction (already compacted, no leader) is logged and retried on the next round. Paused while
this member is not the leader.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import TYPE_CHECKING

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.embed.config import COMPACTOR_MODE_REVISION
from etcd.mvcc.errors import ErrCompacted

if TYPE_CHECKING:
    from etcd.server.etcdserver import EtcdServer

logger = logging.getLogger("etcd.server.compactor")

REVISION_INTERVAL = 300.0  # seconds, etcd's revision compactor period


class Compactor:
    """Compacts ``server``'s store on the schedule its mode and retention give; see the module docstring."""

    def __init__(self, server: EtcdServer, mode: str, retention: float) -> None:
        self.server = server
        self.mode = mode
        self.retention = retention
        self._paused = True
        self._last = 0

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    def interval(self) -> float:
        if self.mode == COMPACTOR_MODE_REVISION:
            return REVISION_INTERVAL
        return min(self.retention / 10, 3600.0) if self.retention < 36000 else 3600.0

    async def run(self) -> None:
        interval = self.interval()
        # Periodic: revisions sampled each interval; the oldest is one retention old.
        keep = max(1, round(self.retention / interval)) + 1 if self.mode != COMPACTOR_MODE_REVISION else 1
        samples: collections.deque[int] = collections.deque(maxlen=keep)
        while True:
            await asyncio.sleep(interval)
            rev = self.server.kv.rev()
            samples.append(rev)
            if self._paused:
                continue
            if self.mode == COMPACTOR_MODE_REVISION:
                target = rev - int(self.retention)
            elif len(samples) == keep:
                target = samples[0]
            else:
                continue
            if target <= 0 or target <= self._last:
                continue
            await self._compact(target)

    async def _compact(self, rev: int) -> None:
        try:
            await self.server.compact(pb.CompactionRequest(revision=rev))
        except ErrCompacted:
            self._last = rev
        except Exception as e:
            logger.warning("failed auto-compaction", extra={"revision": rev, "error": str(e)})
        else:
            self._last = rev
            logger.info("completed auto-compaction", extra={"revision": rev, "mode": self.mode})


def new_compactor(server: EtcdServer) -> Compactor | None:
    """The compactor ``--auto-compaction-*`` asks for, or None when the retention is 0."""
    retention = server.cfg.auto_compaction_retention_value()
    if not retention:
        return None
    return Compactor(server, server.cfg.auto_compaction_mode, float(retention))
