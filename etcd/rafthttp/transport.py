"""The peer transport (etcd's ``rafthttp.Transport``): raft messages to and from the other members.

Build it, hand it to ``RaftNode`` as its ``Transport``, ``start(raft)`` it on the running loop, then
``add_peer`` every other member; mount ``peer_routes(transport)`` on the peer port. ``send`` never blocks:
it frames each message and queues it on the peer's stream, pipeline or snapshot sender (``peer.py``). What
arrives is stepped into raft unless it comes from a removed member.

Everything runs on the event loop that called ``start``; no method is thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

import aiohttp

from etcd.raft.raftpb import raft_pb2 as pb
from etcd.raft.raftpb.raft_pb2 import Message
from etcd.rafthttp.faults import Faults
from etcd.rafthttp.peer import Peer
from etcd.rafthttp.snapshot import SnapshotSink, SnapshotSource

logger = logging.getLogger("etcd.rafthttp")


class Raft(Protocol):
    """What the transport drives: ``etcd.server.raft.RaftNode`` (etcd's ``rafthttp.Raft``)."""

    def step(self, m: Message) -> None: ...

    def report_unreachable(self, id_: int) -> None: ...

    def report_snapshot(self, id_: int, ok: bool) -> None: ...


class Transport:
    """Raft's network to the other members over HTTP/1.1.

    Args:
        local_id, cluster_id: this member and its cluster (sent in headers, checked on requests); 0: take
            them from the raft node given to ``start`` (``RaftNode.id``, ``RaftNode.cluster_id``).
        urls: this member's advertised peer URLs (``X-PeerURLs``, so peers that do not know us yet can
            answer).
        is_id_removed: whether a member id was removed from the cluster: its messages are refused (410 on
            a stream, 403 on the pipeline) and never reach raft.
        snapshot_source: the backend data to send after a ``MsgSnap`` (``POST /raft/snapshot``); None:
            snapshots go alone by the pipeline.
        snapshot_dir, on_snapshot: where a received snapshot's data is written (a temporary file) and who
            takes it before raft sees the message; without ``snapshot_dir`` received data is discarded.
        on_critical: told of errors the member cannot go on after (``ErrMemberRemoved``), etcd's ``ErrorC``.
        dial_timeout, read_timeout, write_timeout: seconds (etcd: the peer dial timeout, 5 s, 5 s); an
            idle stream carries a link heartbeat every ``read_timeout / 3``.
        snapshot_timeout: seconds a snapshot post may wait on a read (the receiver is saving the data).
        probe_interval: seconds between probes of each peer (etcd: 4 s).
        reconnect_min, reconnect_max: the stream reader's backoff between dials.
        client_ssl: the TLS context for https peer URLs (``--peer-*`` certificates); None: the default.
    """

    def __init__(
        self,
        local_id: int = 0,
        cluster_id: int = 0,
        urls: Sequence[str] = (),
        *,
        is_id_removed: Callable[[int], bool] | None = None,
        snapshot_source: SnapshotSource | None = None,
        snapshot_dir: str | None = None,
        on_snapshot: SnapshotSink | None = None,
        on_critical: Callable[[Exception], None] | None = None,
        dial_timeout: float = 1.0,
        read_timeout: float = 5.0,
        write_timeout: float = 5.0,
        snapshot_timeout: float = 60.0,
        probe_interval: float = 4.0,
        reconnect_min: float = 0.05,
        reconnect_max: float = 1.0,
        client_ssl: ssl.SSLContext | None = None,
    ) -> None:
        self.id = local_id
        self.cluster_id = cluster_id
        self.urls = list(urls)
        self.is_id_removed: Callable[[int], bool] = is_id_removed or (lambda _id: False)
        self.snapshot_source = snapshot_source
        self.snapshot_dir = snapshot_dir
        self.on_snapshot = on_snapshot
        self.on_critical = on_critical
        self.dial_timeout = dial_timeout
        self.read_timeout = read_timeout
        self.write_timeout = write_timeout
        self.snapshot_timeout = snapshot_timeout
        self.probe_interval = probe_interval
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self._client_ssl = client_ssl
        self.faults = Faults()
        self.critical: list[Exception] = []  # every critical error reported, in order
        self._raft: Raft | None = None
        self._session: aiohttp.ClientSession | None = None
        self._peers: dict[int, Peer] = {}
        self._remotes: dict[int, Peer] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    # ----- lifecycle

    def start(self, raft: Raft) -> None:
        """Begin: open the client session and start the peers added so far. Call on the running loop.

        A transport built without ids takes them from ``raft`` (its ``id`` and ``cluster_id``).
        """
        if self._raft is not None:
            raise RuntimeError("transport already started")
        self.id = self.id or int(getattr(raft, "id", 0))
        self.cluster_id = self.cluster_id or int(getattr(raft, "cluster_id", 0))
        if not self.id or not self.cluster_id:
            raise ValueError("the transport needs the member and cluster ids")
        self._raft = raft
        connector = aiohttp.TCPConnector(
            limit=0, ssl=self._client_ssl if self._client_ssl is not None else True
        )
        self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        for p in (*self._peers.values(), *self._remotes.values()):
            p.start()

    async def close(self) -> None:
        """Stop every peer, close the streams peers dialed and the client session. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for p in (*self._peers.values(), *self._remotes.values()):
            p.stop()
        self._peers.clear()
        self._remotes.clear()
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("transport not started")
        return self._session

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # A bug in one peer's task must not go unnoticed (the others go on).
            logger.error("rafthttp task %s failed", task.get_name(), exc_info=task.exception())

    # ----- membership of the transport

    def add_peer(self, id_: int, urls: Sequence[str]) -> None:
        """Start talking to member ``id_`` at ``urls`` (no-op if it is already a peer). Raises RuntimeError
        before the local id is known (see ``start``)."""
        if not self.id:
            raise RuntimeError("add peers once the transport knows its member id")
        if self._closed or id_ == self.id or id_ in self._peers:
            return
        remote = self._remotes.pop(id_, None)
        if remote is not None:
            remote.stop()
        p = Peer(self, id_, urls)
        self._peers[id_] = p
        if self._raft is not None:
            p.start()
        logger.info("added peer %x %s", id_, list(urls))

    def add_remote(self, id_: int, urls: Sequence[str]) -> None:
        """A member to answer by pipeline only, until it becomes a peer (etcd's ``AddRemote``)."""
        if self._closed or id_ == self.id or id_ in self._peers or id_ in self._remotes or not urls:
            return
        r = Peer(self, id_, urls, stream=False)
        self._remotes[id_] = r
        if self._raft is not None:
            r.start()

    def remove_peer(self, id_: int) -> None:
        """Stop talking to ``id_``: its streams close, queued messages are dropped."""
        p = self._peers.pop(id_, None)
        if p is not None:
            p.stop()
            logger.info("removed peer %x", id_)

    def remove_all_peers(self) -> None:
        for id_ in list(self._peers):
            self.remove_peer(id_)

    def update_peer(self, id_: int, urls: Sequence[str]) -> None:
        p = self._peers.get(id_)
        if p is not None:
            p.update(urls)

    def peer(self, id_: int) -> Peer | None:
        return self._peers.get(id_)

    @property
    def peer_ids(self) -> list[int]:
        return sorted(self._peers)

    def active_since(self, id_: int) -> float | None:
        """When (``time.time()``) the peer last became reachable; None if it is not now (etcd's
        ``ActiveSince``, whose zero time is None here)."""
        p = self._peers.get(id_)
        return p.status.since if p is not None else None

    # ----- raft's side

    def send(self, messages: Sequence[Message]) -> None:
        """Queue ``messages`` for their peers; never blocks. Unknown targets are dropped."""
        for m in messages:
            to = m.to
            if to == 0:
                continue
            if self.faults.drop_to and self.faults.drops_to(to):
                continue
            p = self._peers.get(to) or self._remotes.get(to)
            if p is None:
                logger.debug("ignored message %s to unknown peer %x", pb.MessageType.Name(m.type), to)
                continue
            p.send(m)

    def deliver(self, m: Message) -> None:
        """A message arrived: step it into raft, unless a fault drops it or its sender was removed."""
        if self.faults.drop_from and self.faults.drops_from(m.from_):
            return
        if self.is_id_removed(m.from_):
            return
        if self._raft is not None and not self._closed:
            self._raft.step(m)

    def report_unreachable(self, id_: int) -> None:
        if self._raft is not None and not self._closed:
            self._raft.report_unreachable(id_)

    def report_snapshot(self, id_: int, ok: bool) -> None:
        if self._raft is not None and not self._closed:
            self._raft.report_snapshot(id_, ok)

    def report_critical(self, err: Exception) -> None:
        logger.error("rafthttp: %s", err)
        self.critical.append(err)
        if self.on_critical is not None:
            self.on_critical(err)
