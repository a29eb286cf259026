"""Per-peer bookkeeping: is the peer reachable, since when, and which of its URLs to try
(etcd's ``rafthttp/peer_status.go`` and ``urlpick.go``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from etcd.rafthttp import metrics
from etcd.rafthttp.compat import id_str

logger = logging.getLogger("etcd.rafthttp")


class PeerStatus:
    """Active once any channel to the peer worked (a stream connected, a post answered), inactive after a
    failure. ``since`` is the wall-clock time it became active (None while inactive), etcd's
    ``ActiveSince``; ``etcd_network_active_peers`` and ``..._disconnected_peers_total`` follow it."""

    def __init__(self, local: int, peer: int) -> None:
        self._labels = (id_str(local), id_str(peer))
        self.peer = peer
        self.active = False
        self.since: float | None = None
        self.last_failure = ""

    def activate(self) -> None:
        if not self.active:
            logger.info("peer %x became active", self.peer)
            self.active = True
            self.since = time.time()
            metrics.active_peers.labels(*self._labels).inc()

    def deactivate(self, source: str, action: str, reason: str) -> None:
        # etcd 3.4 compat: peer_status.go failureType text.
        self.last_failure = f"failed to {action} {id_str(self.peer)} on {source} ({reason})"
        if self.active:
            logger.warning("peer %x became inactive (message send to peer failed): %s", self.peer, reason)
            self.active = False
            self.since = None
            metrics.active_peers.labels(*self._labels).dec()
            metrics.disconnected_peers.labels(*self._labels).inc()

    def close(self) -> None:
        """The peer is removed: drop it from the active gauge."""
        if self.active:
            self.active = False
            self.since = None
            metrics.active_peers.labels(*self._labels).dec()


class URLPicker:
    """The URL to use for a peer; a failing one moves the pick to the next (etcd's ``urlPicker``)."""

    def __init__(self, urls: Sequence[str]) -> None:
        if not urls:
            raise ValueError("a peer needs at least one URL")
        self.urls = [u.rstrip("/") for u in urls]
        self._picked = 0

    def pick(self) -> str:
        return self.urls[self._picked]

    def update(self, urls: Sequence[str]) -> None:
        if not urls:
            raise ValueError("a peer needs at least one URL")
        self.urls = [u.rstrip("/") for u in urls]
        self._picked = 0

    def unreachable(self, url: str) -> None:
        if url == self.urls[self._picked]:
            self._picked = (self._picked + 1) % len(self.urls)
