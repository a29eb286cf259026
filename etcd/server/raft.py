"""The raft driver: where the pure raft core meets time, disk and network (etcd's ``etcdserver/raft.go``).

``RaftNode`` runs three tasks on the event loop:

- the ticker calls ``RawNode.tick()`` every ``heartbeat_interval`` seconds;
- the raft loop takes each ``Ready`` and, in this order: sends the messages that may leave before the save
  (``Ready.split_messages``: appends and heartbeats, so followers write while the leader writes, thesis
  §10.2.1), saves the snapshot and then hard state and entries through ``RaftStorage`` in the I/O pool
  (fdatasync when ``must_sync``), feeds the same to the ``MemoryStorage`` raft reads back, sends the rest
  (votes and acknowledgements promise a durable save, thesis §3.8), queues the snapshot and committed
  entries for the apply task, and calls ``advance``;
- the apply task hands each queued batch to the application's apply callback, strictly in commit order,
  resolves the proposals and reads waiting on it, and takes a snapshot every ``snapshot_count`` entries.

Applying runs beside persisting, never blocking it, except after a committed membership change: as etcd
does, the raft loop waits for that batch to be applied before it advances, so raft and the apply side agree
on the members. Proposals that arrive while a save is running are proposed together, once it returns, with
``RawNode.propose_batch`` (one append, one fsync for all of them). Concurrent linearizable reads that arrive
before a ReadIndex request is sent share it.

Nothing here knows the state machine: the apply callback gets the bytes given to ``propose`` and their raft
index, and returns a result per entry, which is what ``propose`` resolves with.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import logging
import struct
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from etcd.raft import (
    ErrProposalDropped,
    ErrSnapOutOfDate,
    ErrStepLocalMsg,
    ErrStepPeerNotFound,
    RawNode,
    Ready,
    SoftState,
    StateType,
    Status,
)
from etcd.raft.raftpb import raft_pb2 as pb
from etcd.raft.raftpb.raft_pb2 import ConfChange, Entry, Message, Snapshot
from etcd.server.bootstrap import BootstrappedRaft
from etcd.server.errors import ErrStopped

logger = logging.getLogger("etcd.server.raft")

_T = TypeVar("_T")

# Our envelope for proposed data: an 8-byte big-endian request id, then the caller's bytes, so every member
# can tell which local proposal an applied entry answers (etcd puts the id inside its request protobuf).
_REQUEST_ID = struct.Struct(">Q")


class Transport(Protocol):
    """The network, as the driver sees it: hand messages over and return at once, never blocking.

    Delivery may fail silently (raft retries); a transport that knows a peer is unreachable or that a
    snapshot failed reports it with ``RaftNode.report_unreachable``/``report_snapshot``.
    """

    def send(self, messages: Sequence[Message]) -> None: ...


@dataclass(frozen=True, slots=True)
class Committed:
    """One committed entry for the state machine.

    ``data`` is what was given to ``propose`` (b"" for a membership change); ``request_id`` is the id the
    proposing member gave it (0 if it came from elsewhere, such as the bootstrap members); ``conf_change``
    is set for a membership change, which raft has already applied when the callback sees it (the callback
    updates the member list and the transport's peers).
    """

    index: int
    term: int
    data: bytes
    request_id: int
    conf_change: ConfChange | None = None


@dataclass(frozen=True, slots=True)
class ApplyBatch:
    """What the apply callback must apply, in this order: restore ``snapshot`` (if any), then ``entries``.

    ``applied_index`` is the raft index the state machine is at once the batch is applied (entries raft
    uses for itself, such as a new leader's empty entry, are left out but counted); store it with the data
    it covers, and give it back as ``applied_index`` when the member restarts.
    """

    snapshot: Snapshot | None
    entries: tuple[Committed, ...]
    applied_index: int


@dataclass(frozen=True, slots=True)
class Applied:
    """What ``propose`` resolves with: the entry's raft index and the apply callback's result for it."""

    index: int
    result: Any


# Applies a batch; returns one result per entry (aligned with ``batch.entries``) or None.
ApplyFunc = Callable[[ApplyBatch], Awaitable[Sequence[Any] | None]]
# Given the applied index, returns the state machine's bytes as of exactly that index.
SnapshotFunc = Callable[[int], Awaitable[bytes]]


@dataclass
class RaftStats:
    """Counters for tests and metrics: Readies handled, WAL saves, proposals and the batches they went in."""

    readies: int = 0
    saves: int = 0
    proposals: int = 0
    proposal_batches: int = 0
    snapshots: int = 0


@dataclass(slots=True)
class _ApplyItem:
    snapshot: Snapshot | None
    entries: tuple[Entry, ...]
    done: asyncio.Future[None] | None


class RaftNode:
    """One member's raft, driven on the running event loop. Build it, ``start()`` it, ``await stop()``.

    Not thread-safe: call every method from the loop. Ownership: the node owns ``boot.raft_storage`` and
    closes it in ``stop``.
    """

    def __init__(
        self,
        boot: BootstrappedRaft,
        transport: Transport,
        apply: ApplyFunc,
        *,
        heartbeat_interval: float,
        applied_index: int = 0,
        snapshot_count: int = 100_000,
        snapshot_catch_up_entries: int = 5000,
        snapshot_data: SnapshotFunc | None = None,
        on_soft_state: Callable[[SoftState], None] | None = None,
        executor: Executor | None = None,
    ) -> None:
        """``heartbeat_interval`` is seconds per raft tick; ``applied_index`` is the index the state machine
        already holds (its durable applied index; 0 for an empty one): entries up to it are not handed to
        ``apply`` again. Every ``snapshot_count`` applied entries (etcd's ``--snapshot-count``), if
        ``snapshot_data`` is given, a snapshot of the state machine is saved and the in-memory log compacted,
        keeping ``snapshot_catch_up_entries`` entries for slow followers. ``on_soft_state`` hears of every
        change of leader or role. Blocking storage work runs in ``executor`` (None: the loop's default).
        """
        self.id = boot.node_id
        self.cluster_id = boot.cluster_id
        self._node = boot.raw_node
        self._ms = boot.memory_storage
        self._storage = boot.raft_storage
        self._transport = transport
        self._apply = apply
        self._heartbeat_interval = heartbeat_interval
        self._snapshot_count = snapshot_count
        self._catch_up = snapshot_catch_up_entries
        self._snapshot_data = snapshot_data
        self._on_soft_state = on_soft_state
        self._executor = executor
        self.stats = RaftStats()

        snap_index = boot.snapshot.metadata.index if boot.snapshot is not None else 0
        self._applied = applied_index
        self._snap_index = snap_index
        self._initial_snapshot = boot.snapshot if snap_index > applied_index else None
        self._lead = 0
        self._state = StateType.FOLLOWER
        self._has_leader = asyncio.Event()

        self._wakeup = asyncio.Event()
        self._ended = asyncio.Event()  # set once the node stops, by request or on its own failure
        self._stopping = False
        self._stopped = False
        self._error: BaseException | None = None
        self._storage_lock = asyncio.Lock()  # the WAL is written by the raft loop and by snapshots
        self._apply_q: asyncio.Queue[_ApplyItem | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

        # Request ids as etcd's pkg/idutil: the member id's low 16 bits, then a time-seeded counter, so
        # ids differ between members and across restarts.
        prefix = (self.id & 0xFFFF) << 48
        start = (int(time.time() * 1000) & 0xFFFFFFFFFF) << 8
        self._ids = (prefix | ((start + n) & 0xFFFFFFFFFFFF) for n in itertools.count(1))
        self._pending_props: list[tuple[int, bytes]] = []
        self._prop_waiters: dict[int, asyncio.Future[Applied]] = {}
        self._next_read: tuple[bytes, asyncio.Future[int]] | None = None  # not yet handed to raft
        self._reads_in_flight: dict[bytes, asyncio.Future[int]] = {}
        self._ticks_since_read = 0
        self._applied_waiters: list[tuple[int, int, asyncio.Future[None]]] = []  # heap by index
        self._waiter_seq = itertools.count()

    # ----- lifecycle

    def start(self) -> None:
        """Start the ticker, raft and apply tasks on the running loop."""
        if self._tasks:
            raise RuntimeError("raft node already started")
        if self._initial_snapshot is not None:
            self._apply_q.put_nowait(_ApplyItem(self._initial_snapshot, (), None))
        # etcd 3.4 compat: etcdserver/server.go adjustTicks: a single voter need not wait a whole election
        # timeout to elect itself.
        if self._node.raft.prs.is_singleton():
            for _ in range(self._node.raft.election_timeout - 1):
                self._node.tick()
        self._tasks = [
            asyncio.create_task(self._run(), name=f"raft-{self.id:x}"),
            asyncio.create_task(self._apply_loop(), name=f"raft-apply-{self.id:x}"),
            asyncio.create_task(self._tick_loop(), name=f"raft-tick-{self.id:x}"),
        ]
        self._wakeup.set()

    async def stop(self) -> None:
        """Stop ticking, finish the Ready in hand, apply what is already queued, then close the storage.

        Pending proposals and reads fail with ErrStopped. Idempotent. Raises WALError if the final sync of
        the WAL fails.
        """
        if self._stopped:
            return
        self._stopped = True
        self._stopping = True
        self._wakeup.set()
        if self._tasks:
            run, apply_task, ticker = self._tasks
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await run
            self._apply_q.put_nowait(None)
            await apply_task
        self._fail_waiters(ErrStopped())
        self._ended.set()
        await self._blocking(self._storage.close)

    @property
    def error(self) -> BaseException | None:
        """The error that stopped the node (a failed save, a failing apply callback), if any."""
        return self._error

    @property
    def stopped(self) -> bool:
        return self._stopping

    async def wait_stopped(self) -> None:
        """Returns once the node has stopped: ``stop()`` was called or it failed (see ``error``)."""
        await self._ended.wait()

    # ----- observing

    @property
    def leader(self) -> int:
        """The member this node believes leads (0: none known)."""
        return self._lead

    @property
    def is_leader(self) -> bool:
        return self._state == StateType.LEADER

    @property
    def applied_index(self) -> int:
        """The raft index the state machine has applied (the apply callback has returned for it)."""
        return self._applied

    @property
    def snapshot_index(self) -> int:
        """The index of the newest snapshot saved or restored."""
        return self._snap_index

    @property
    def raw_node(self) -> RawNode:
        """The raft core, for status and tests; drive it only through this node."""
        return self._node

    async def wait_leader(self) -> int:
        """Wait until some leader is known; returns its id."""
        while self._lead == 0:
            self._raise_if_stopped()
            await self._has_leader.wait()
        return self._lead

    async def wait_applied(self, index: int) -> None:
        """Wait until the state machine has applied ``index``. Raises ErrStopped if the node stops first."""
        if self._applied >= index:
            return
        self._raise_if_stopped()
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._applied_waiters, (index, next(self._waiter_seq), fut))
        await fut

    # ----- inputs

    async def propose(self, data: bytes) -> Applied:
        """Propose ``data``; resolves once its entry is applied here, with its index and apply result.

        Raises ErrProposalDropped if raft refuses it (no leader known, or a leader transfer in progress),
        ErrStopped if the node stops first. An entry lost to a leader change is never applied, so callers
        put a deadline on this (etcd: the request timeout) and may retry.
        """
        self._raise_if_stopped()
        rid = next(self._ids)
        fut: asyncio.Future[Applied] = asyncio.get_running_loop().create_future()
        self._prop_waiters[rid] = fut
        self._pending_props.append((rid, data))
        self._wakeup.set()
        try:
            return await fut
        finally:
            self._prop_waiters.pop(rid, None)

    async def read_index(self) -> int:
        """A linearizable read point: resolves with a commit index once the state machine has applied it.

        Reading the state machine after this returns sees every write acknowledged before it was called
        (thesis §6.4). Calls made before the node hands its request to raft share one ReadIndex round; a
        round is re-sent every election timeout until answered. Raises ErrStopped.
        """
        self._raise_if_stopped()
        if self._next_read is None:
            ctx = _REQUEST_ID.pack(next(self._ids))
            self._next_read = (ctx, asyncio.get_running_loop().create_future())
            self._wakeup.set()
        index = await asyncio.shield(self._next_read[1])
        await self.wait_applied(index)
        return index

    async def propose_conf_change(self, cc: ConfChange) -> Applied:
        """Propose a membership change; resolves once it is applied here (raft has then applied it too).

        ``cc.id`` is overwritten with a request id (etcd does the same). Raft replaces a change proposed
        while another is still unapplied by an empty entry, which resolves nothing: put a deadline on this.
        Raises ErrProposalDropped, ErrStopped as ``propose``.
        """
        self._raise_if_stopped()
        rid = next(self._ids)
        change = ConfChange()
        change.CopyFrom(cc)
        change.id = rid
        fut: asyncio.Future[Applied] = asyncio.get_running_loop().create_future()
        self._prop_waiters[rid] = fut
        try:
            self._node.propose_conf_change(change)
            self._wakeup.set()
            return await fut
        finally:
            self._prop_waiters.pop(rid, None)

    def step(self, m: Message) -> None:
        """Deliver a message from a peer. Messages raft cannot take (from non-members, local types,
        proposals it cannot forward) are dropped, as etcd's transport does."""
        if self._stopping:
            return
        try:
            self._node.step(m)
        except (ErrStepPeerNotFound, ErrStepLocalMsg, ErrProposalDropped) as e:
            logger.debug("raft %x dropped %s from %x: %s", self.id, m.type, m.from_, e)
            return
        self._wakeup.set()

    def campaign(self) -> None:
        """Start an election now (tests, leadership transfer on stop)."""
        if not self._stopping:
            self._node.campaign()
            self._wakeup.set()

    def transfer_leader(self, transferee: int) -> None:
        """Ask the leader (this node) to hand leadership to ``transferee``; watch ``leader`` for the outcome
        (etcd's ``MoveLeader`` and the leader's hand-over on shutdown)."""
        if not self._stopping:
            self._node.transfer_leader(transferee)
            self._wakeup.set()

    def status(self) -> Status:
        """Raft's view: term, commit and applied indexes, leader, progress of followers (if leader)."""
        return self._node.status()

    def report_unreachable(self, id_: int) -> None:
        if not self._stopping:
            self._node.report_unreachable(id_)
            self._wakeup.set()

    def report_snapshot(self, id_: int, ok: bool) -> None:
        if not self._stopping:
            self._node.report_snapshot(id_, ok)
            self._wakeup.set()

    # ----- the raft loop

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_interval)
            self._node.tick()
            if self._reads_in_flight:
                self._ticks_since_read += 1
                # A ReadIndex request may be dropped (no leader yet, or a leader that has not committed in
                # its term): ask again, as etcd's read loop retries after a timeout.
                if self._ticks_since_read >= self._node.raft.election_timeout:
                    self._ticks_since_read = 0
                    for ctx in self._reads_in_flight:
                        self._node.read_index(ctx)
            self._wakeup.set()

    async def _run(self) -> None:
        try:
            while not self._stopping:
                await self._wakeup.wait()
                self._wakeup.clear()
                self._flush_inputs()
                while not self._stopping and self._node.has_ready():
                    await self._handle_ready(self._node.ready())
                    self._flush_inputs()
        except Exception as e:  # a failed save: the member must not go on without its log
            logger.exception("raft %x stopped", self.id)
            self._fail(e)

    def _flush_inputs(self) -> None:
        if self._pending_props:
            props, self._pending_props = self._pending_props, []
            live = [(rid, d) for rid, d in props if rid in self._prop_waiters]
            try:
                self._node.propose_batch([_REQUEST_ID.pack(rid) + d for rid, d in live])
            except ErrProposalDropped:
                for rid, _ in live:
                    fut = self._prop_waiters.get(rid)
                    if fut is not None and not fut.done():
                        fut.set_exception(ErrProposalDropped())
            else:
                self.stats.proposals += len(live)
                self.stats.proposal_batches += 1
        if self._next_read is not None:
            ctx, read_fut = self._next_read
            self._next_read = None
            self._reads_in_flight[ctx] = read_fut
            self._ticks_since_read = 0
            self._node.read_index(ctx)

    async def _handle_ready(self, rd: Ready) -> None:
        self.stats.readies += 1
        if rd.soft_state is not None:
            self._observe(rd.soft_state)
        for rs in rd.read_states:
            read_fut = self._reads_in_flight.pop(rs.request_ctx, None)
            if read_fut is not None and not read_fut.done():
                read_fut.set_result(rs.index)
        early, late = rd.split_messages()
        if early:
            self._transport.send(early)
        if rd.snapshot is not None or rd.hard_state is not None or rd.entries:
            async with self._storage_lock:
                if rd.snapshot is not None:
                    await self._blocking(self._storage.save_snap, rd.snapshot)
                await self._blocking(
                    functools.partial(self._storage.save, rd.hard_state, rd.entries, sync=rd.must_sync)
                )
            self.stats.saves += 1
        if rd.snapshot is not None:
            self._ms.apply_snapshot(rd.snapshot)
        if rd.hard_state is not None:
            self._ms.set_hard_state(rd.hard_state)
        self._ms.append(rd.entries)
        if late:
            self._transport.send(late)
        if rd.snapshot is not None or rd.committed_entries:
            conf = any(e.type == pb.EntryConfChange for e in rd.committed_entries)
            done = asyncio.get_running_loop().create_future() if conf else None
            self._apply_q.put_nowait(_ApplyItem(rd.snapshot, rd.committed_entries, done))
            if done is not None:
                # etcd 3.4 compat: etcdserver/raft.go waits for a committed conf change to be applied
                # before advancing, so raft never runs ahead of the membership the server applies.
                await done
        self._node.advance(rd)

    def _observe(self, ss: SoftState) -> None:
        changed = ss.lead != self._lead
        self._lead = ss.lead
        self._state = ss.raft_state
        if ss.lead:
            self._has_leader.set()
        else:
            self._has_leader.clear()
        if changed and self._reads_in_flight:
            for ctx in self._reads_in_flight:
                self._node.read_index(ctx)
        if self._on_soft_state is not None:
            self._on_soft_state(ss)

    # ----- the apply task

    async def _apply_loop(self) -> None:
        while True:
            item = await self._apply_q.get()
            if item is None:
                return
            try:
                if self._error is None:
                    await self._apply_item(item)
            except Exception as e:  # the state machine cannot go on: neither can the member
                logger.exception("raft %x: apply failed", self.id)
                self._fail(e)
            finally:
                # The raft loop may be waiting for this batch (a conf change): never leave it hanging.
                if item.done is not None and not item.done.done():
                    item.done.set_result(None)

    async def _apply_item(self, item: _ApplyItem) -> None:
        snapshot = item.snapshot
        if snapshot is not None and snapshot.metadata.index <= self._applied:
            snapshot = None
        if snapshot is not None:
            self._snap_index = max(self._snap_index, snapshot.metadata.index)
        entries: list[Committed] = []
        last = snapshot.metadata.index if snapshot is not None else self._applied
        for e in item.entries:
            committed = self._decode(e)
            # Raft hands out each conf change once and needs it even where the state machine already has
            # the entry (a restart from a WAL with an applied index beyond the snapshot).
            if committed is not None and committed.conf_change is not None:
                self._node.apply_conf_change(committed.conf_change)
            if e.index <= self._applied:
                continue
            last = max(last, e.index)
            if committed is not None:
                entries.append(committed)
        if snapshot is None and not entries and last <= self._applied:
            return
        batch = ApplyBatch(snapshot, tuple(entries), max(last, self._applied))
        results = await self._apply(batch)
        self._applied = batch.applied_index
        for i, c in enumerate(batch.entries):
            fut = self._prop_waiters.get(c.request_id) if c.request_id else None
            if fut is not None and not fut.done():
                fut.set_result(Applied(c.index, results[i] if results is not None else None))
        self._trigger_applied()
        if self._snapshot_data is not None and self._applied - self._snap_index > self._snapshot_count:
            await self._take_snapshot()

    def _decode(self, e: Entry) -> Committed | None:
        if e.type == pb.EntryConfChange:
            cc = ConfChange.FromString(e.data)
            return Committed(e.index, e.term, b"", cc.id, cc)
        if not e.data:
            return None  # a new leader's empty entry (thesis §5.4.2): raft's own, not the state machine's
        if len(e.data) < _REQUEST_ID.size:
            return Committed(e.index, e.term, e.data, 0)
        (rid,) = _REQUEST_ID.unpack_from(e.data)
        return Committed(e.index, e.term, e.data[_REQUEST_ID.size :], rid)

    def _trigger_applied(self) -> None:
        w = self._applied_waiters
        while w and w[0][0] <= self._applied:
            _, _, fut = heapq.heappop(w)
            if not fut.done():
                fut.set_result(None)

    async def _take_snapshot(self) -> None:
        """Snapshot the state machine at the applied index, save it, and compact the in-memory log
        (etcd's ``snapshot``: compaction keeps ``snapshot_catch_up_entries`` for slow followers)."""
        assert self._snapshot_data is not None
        index = self._applied
        data = await self._snapshot_data(index)
        try:
            snap = self._ms.create_snapshot(index, self._node.raft.prs.conf_state(), data)
        except ErrSnapOutOfDate:
            return  # a newer snapshot arrived from the leader meanwhile
        async with self._storage_lock:
            await self._blocking(self._storage.save_snap, snap)
        self._snap_index = index
        self.stats.snapshots += 1
        compact_index = index - self._catch_up
        if compact_index >= self._ms.first_index():
            self._ms.compact(compact_index)

    # ----- helpers

    async def _blocking(self, fn: Callable[[], _T] | Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _raise_if_stopped(self) -> None:
        if self._stopping:
            raise ErrStopped()

    def _fail(self, e: BaseException) -> None:
        if self._error is None:
            self._error = e
        self._stopping = True
        self._ended.set()
        self._wakeup.set()
        self._has_leader.set()
        self._fail_waiters(ErrStopped())

    def _fail_waiters(self, e: Exception) -> None:
        for fut in list(self._prop_waiters.values()):
            if not fut.done():
                fut.set_exception(e)
        self._pending_props.clear()
        futs: list[asyncio.Future[Any]] = list(self._reads_in_flight.values())
        self._reads_in_flight.clear()
        if self._next_read is not None:
            futs.append(self._next_read[1])
            self._next_read = None
        for _, _, f in self._applied_waiters:
            futs.append(f)
        self._applied_waiters.clear()
        for f in futs:
            if not f.done():
                f.set_exception(e)
        self._has_leader.set()
