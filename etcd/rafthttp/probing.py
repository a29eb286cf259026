"""Probing: a cheap ``GET /raft/probing`` to each peer every few seconds, timing the round trip into
``etcd_network_peer_round_trip_time_seconds`` (etcd's ``rafthttp/probing_status.go`` and the ``probing``
library). The answer is the library's ``{"OK":true,"Now":"<RFC 3339 time>"}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING

import aiohttp

from etcd.pkg.gotime import format_rfc3339_nano
from etcd.rafthttp import compat, metrics

if TYPE_CHECKING:
    from etcd.rafthttp.peer import Peer
    from etcd.rafthttp.transport import Transport

logger = logging.getLogger("etcd.rafthttp")

PROBING_PATH = "/raft/probing"


def go_time_now() -> str:
    """The time as Go's ``time.Time`` marshals to JSON (RFC 3339 with nanoseconds, zeros trimmed)."""
    return format_rfc3339_nano(time.time_ns())


def health_body() -> bytes:
    return json.dumps({"OK": True, "Now": go_time_now()}, separators=(",", ":")).encode() + b"\n"


class Prober:
    """Probes one peer every ``tr.probe_interval`` seconds; ``rtt`` is the last round trip (None: failed)."""

    def __init__(self, tr: Transport, peer: Peer) -> None:
        self._tr = tr
        self._peer = peer
        self._rtt = metrics.round_trip_time.labels(compat.id_str(peer.id))
        self.rtt: float | None = None
        self.probes = 0

    def start(self) -> None:
        self._peer.spawn(self._run(), f"rafthttp-prober-{self._peer.id:x}")

    async def probe_once(self) -> float | None:
        url = self._peer.picker.pick() + PROBING_PATH
        timeout = aiohttp.ClientTimeout(total=self._tr.read_timeout, sock_connect=self._tr.dial_timeout)
        start = time.perf_counter()
        try:
            async with self._tr.session.get(url, timeout=timeout) as resp:
                doc = json.loads(await resp.read())
            ok = resp.status == 200 and doc.get("OK") is True
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as e:
            logger.debug("probe of %x failed: %s", self._peer.id, e)
            ok = False
        self.probes += 1
        if not ok:
            self.rtt = None
            return None
        self.rtt = time.perf_counter() - start
        self._rtt.observe(self.rtt)
        return self.rtt

    async def _run(self) -> None:
        while True:
            await self.probe_once()
            await asyncio.sleep(self._tr.probe_interval)
