"""The pipeline: one ``POST /raft`` per message, for when no stream is up (etcd's ``rafthttp/pipeline.go``).

Four workers per peer share a queue of 64 messages (etcd's ``connPerPipeline`` and ``pipelineBufSize``). A
failed post reports the peer unreachable (and a snapshot failed); a 403 means this member was removed,
a critical error.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import aiohttp

from etcd.rafthttp import compat, metrics
from etcd.rafthttp.errors import ErrMemberRemoved, TransportError

if TYPE_CHECKING:
    from etcd.rafthttp.peer import Peer
    from etcd.rafthttp.transport import Transport

logger = logging.getLogger("etcd.rafthttp")

# etcd 3.4 compat: rafthttp/pipeline.go connPerPipeline and pipelineBufSize.
CONN_PER_PIPELINE = 4
PIPELINE_BUF_SIZE = 64
RAFT_PATH = "/raft"
SOURCE = "pipeline"


class Pipeline:
    def __init__(self, tr: Transport, peer: Peer) -> None:
        self._tr = tr
        self._peer = peer
        self._queue: asyncio.Queue[tuple[bytes, bool]] = asyncio.Queue(PIPELINE_BUF_SIZE)
        to = compat.id_str(peer.id)
        self._sent_bytes = metrics.sent_bytes.labels(to)
        self._sent_failures = metrics.sent_failures.labels(to)
        self.posted = 0  # successful posts (tests)

    def start(self) -> None:
        for i in range(CONN_PER_PIPELINE):
            self._peer.spawn(self._work(), f"rafthttp-pipeline-{self._peer.id:x}-{i}")

    def enqueue(self, payload: bytes, is_snap: bool) -> bool:
        """Queue a serialised message; False if the queue is full."""
        try:
            self._queue.put_nowait((payload, is_snap))
        except asyncio.QueueFull:
            return False
        return True

    async def _work(self) -> None:
        while True:
            payload, is_snap = await self._queue.get()
            await self._post(payload, is_snap)

    async def _post(self, payload: bytes, is_snap: bool) -> None:
        tr, peer = self._tr, self._peer
        url = peer.picker.pick()
        headers = compat.request_headers(tr.id, tr.cluster_id, tr.urls)
        headers["Content-Type"] = compat.CT_PROTOBUF
        timeout = aiohttp.ClientTimeout(
            total=tr.write_timeout + tr.read_timeout, sock_connect=tr.dial_timeout
        )
        err: BaseException | None
        try:
            async with tr.session.post(
                url + RAFT_PATH, data=payload, headers=headers, timeout=timeout
            ) as resp:
                body = await resp.text()
            err = compat.check_post_response(resp.status, body, url + RAFT_PATH)
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            err = e
        if err is None:
            peer.status.activate()
            self._sent_bytes.inc(len(payload))
            self.posted += 1
            if is_snap:
                tr.report_snapshot(peer.id, True)
            return
        peer.picker.unreachable(url)
        if isinstance(err, ErrMemberRemoved):
            tr.report_critical(err)
        peer.status.deactivate(SOURCE, "write", str(err) or type(err).__name__)
        self._sent_failures.inc()
        tr.report_unreachable(peer.id)
        if is_snap:
            tr.report_snapshot(peer.id, False)
        if not isinstance(err, TransportError):
            logger.debug("pipeline to %x: %s", peer.id, err)
