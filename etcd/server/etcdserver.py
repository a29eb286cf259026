"""``EtcdServer``: one member's state machine, raft and background work (etcd 3.4's ``etcdserver/server.go``
and ``v3_server.go``, ``v2_server.go``).

The API layer calls the async methods here and nothing else writes. A write is proposed through raft as
an ``InternalRaftRequest`` and answered once it is applied here (``RaftNode.propose`` resolves with the apply
result); a linearizable read waits for a ReadIndex round (shared by concurrent reads) and then reads the
local store; a serializable read reads at once. Failures are raised as the inner packages' exceptions and
``etcd.server.errors``; ``etcd.api.v3rpc.errors.to_grpc_error`` maps them.

Applying: raft hands committed entries in order to ``_apply``. Runs of v3 requests go to
``ApplierV3.apply_batch`` in the single apply thread (one backend write transaction per run, the applied
index stored in it); v2 requests (the v2 keys API, member attributes, the cluster version, SYNC) run on the
in-memory v2 store; conf changes update the member list. The raft snapshot holds the v2 store (as etcd's);
the backend carries its own applied index, so entries replayed after a restart are applied once.

Background tasks once started: publishing this member's attributes (``ready`` is set after it, and the
client listeners serve only then), the lease-expiry loop and v2 SYNC ticker (leader only), the cluster
version, purging old WAL and snapshot files, the file-descriptor monitor and auto-compaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import resource
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar, runtime_checkable

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb.etcdserver_pb2 import Request as V2Request
from etcd.api.etcdserverpb.raft_internal_pb2 import InternalRaftRequest
from etcd.backend.backend import Backend
from etcd.backend.quota import BackendQuota, ErrNoSpace
from etcd.embed.config import Config, ConfigError, cluster_id, member_id
from etcd.lease.lessor import ErrLeaseNotFound, LeaseCheckpoint, Lessor, LessorConfig
from etcd.mvcc.watchable_store import WatchableStore
from etcd.pkg.gotime import format_duration, format_rfc3339_nano
from etcd.raft import ErrProposalDropped, Peer, SoftState, StateType
from etcd.raft.raftpb.raft_pb2 import Message
from etcd.server import apply_v2, metrics
from etcd.server.apply import ApplierV3, Result
from etcd.server.bootstrap import member_dirs, open_raft
from etcd.server.compactor import Compactor, new_compactor
from etcd.server.corrupt import monitor_kv_hash
from etcd.server.errors import (
    ErrBadLeaderTransferee,
    ErrNotLeader,
    ErrRequestTooLarge,
    ErrStopped,
    ErrTimeout,
    ErrTimeoutLeaderTransfer,
    ErrTooManyRequests,
)
from etcd.server.membership import Member, RaftCluster
from etcd.server.raft import ApplyBatch, RaftNode, Transport
from etcd.v2store import Event, Store, Watcher
from etcd.version import CLUSTER_VERSION, SERVER_VERSION
from etcd.wal.fileutil import fsync_dir, purge_files

logger = logging.getLogger("etcd.server")

_T = TypeVar("_T")

PURGE_INTERVAL = 30.0  # seconds, etcd's purgeFileInterval
SYNC_INTERVAL = 0.5  # seconds, etcd's SyncTicker (v2 TTL expiry)
LEASE_CHECK_INTERVAL = 0.5  # seconds, how often the lessor's expired leases are collected
MAX_PENDING_REVOKES = 16  # etcd's maxPendingRevokes
FD_MONITOR_INTERVAL = 600.0  # seconds, etcd's monitorFileDescriptor period
MAX_GAP_APPLY_COMMIT = 5000  # etcd's maxGapBetweenApplyAndCommitIndex
RELEASE_DELAY_AFTER_SNAPSHOT = 30.0


class NullTransport:
    """The network of a single-member cluster: nobody to talk to (the peer transport is rafthttp's)."""

    def send(self, messages: Any) -> None:
        return None


@runtime_checkable
class PeerTransport(Transport, Protocol):
    """A transport that knows the other members (``etcd.rafthttp.Transport``): the server keeps its peers
    in step with the member list raft has agreed on."""

    def add_peer(self, id_: int, urls: Sequence[str]) -> None: ...

    def remove_peer(self, id_: int) -> None: ...

    def update_peer(self, id_: int, urls: Sequence[str]) -> None: ...

    @property
    def peer_ids(self) -> list[int]: ...

    async def close(self) -> None: ...


class EtcdServer:
    """One member. ``await EtcdServer.open(cfg)``, then ``start()``, then ``await stop()``.

    Not thread-safe: call from the event loop that started it.
    """

    def __init__(
        self,
        cfg: Config,
        *,
        node: RaftNode | None,
        backend: Backend,
        kv: WatchableStore,
        lessor: Lessor,
        v2store: Store,
        applier: ApplierV3,
        cluster: RaftCluster,
        apply_executor: ThreadPoolExecutor,
        io_executor: ThreadPoolExecutor,
    ) -> None:
        self.cfg = cfg
        self._node = node
        self.backend = backend
        self.kv = kv
        self.lessor = lessor
        self.v2store = v2store
        self.applier = applier
        self.cluster = cluster
        self.id = cluster.local_id
        self.cluster_id = cluster.cluster_id
        self.quota = BackendQuota(backend, cfg.quota_backend_bytes)
        self.ready = asyncio.Event()
        self.stopping = asyncio.Event()
        self.stopped = asyncio.Event()
        self.start_time = time.time()
        self.leader_changed_at = time.time()
        self.leader_changes = 0
        self._apply_executor = apply_executor
        self._io_executor = io_executor
        self._tasks: list[asyncio.Task[None]] = []
        self._compactor: Compactor | None = None
        self._revoking: set[int] = set()
        self._req_timeout = cfg.req_timeout()
        self._ids = random.Random()
        self._node_box: list[RaftNode] = []  # shared with the applier's raft-term callback
        self._last_lead = 0
        self._stop_task: asyncio.Task[None] | None = None
        self._became_leader = asyncio.Event()
        self.transport: Transport = NullTransport()
        self._backend_kw: dict[str, Any] = {}
        self._initial_members: list[Member] = []
        self.snap_dir = member_dirs(cfg.effective_data_dir())[1]
        self.initialized = False  # the member had a WAL when opened (etcd: the initial corruption check)

    # ----- construction

    @classmethod
    async def open(cls, cfg: Config, transport: Transport | None = None) -> EtcdServer:
        """Opens (or creates) the member in ``cfg.effective_data_dir()``: backend, v2 store, WAL, snapshots.

        Raises ConfigError for a configuration the cluster cannot start with (etcd's texts), and the storage
        packages' errors for unreadable files. Anything opened is closed again on failure.
        """
        loop = asyncio.get_running_loop()
        io = ThreadPoolExecutor(max_workers=2, thread_name_prefix="etcd-io")
        applyx = ThreadPoolExecutor(max_workers=1, thread_name_prefix="etcd-apply")
        holder: dict[str, Any] = {}
        try:
            srv = await loop.run_in_executor(io, cls._open_blocking, cfg, io, applyx, holder)
        except BaseException:
            for name in ("kv", "backend"):
                obj = holder.get(name)
                if obj is not None:
                    with contextlib.suppress(Exception):
                        obj.close()
            storage = holder.get("raft_storage")
            if storage is not None:
                with contextlib.suppress(Exception):
                    storage.close()
            io.shutdown(wait=False)
            applyx.shutdown(wait=False)
            raise
        boot = holder["boot"]
        srv._backend_kw = holder["backend_kw"]
        srv.transport = transport or NullTransport()
        srv._initial_members = holder["initial_members"] if boot.is_new else []
        srv._node = RaftNode(
            boot,
            srv.transport,
            srv._apply,
            heartbeat_interval=cfg.heartbeat_interval / 1000,
            applied_index=holder["applied"],
            snapshot_count=cfg.snapshot_count,
            snapshot_data=srv._snapshot_data,
            on_soft_state=srv._on_soft_state,
            executor=io,
        )
        return srv

    @classmethod
    def _open_blocking(
        cls,
        cfg: Config,
        io: ThreadPoolExecutor,
        applyx: ThreadPoolExecutor,
        holder: dict[str, Any],
    ) -> EtcdServer:
        data_dir = cfg.effective_data_dir()
        os.makedirs(data_dir, mode=0o700, exist_ok=True)
        waldir, snapdir = member_dirs(data_dir)
        os.makedirs(snapdir, mode=0o700, exist_ok=True)
        for name in os.listdir(snapdir):
            if name.startswith("tmp"):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(snapdir, name))

        urls_map = cfg.peer_urls_map()
        members = {}
        for name, urls in urls_map.items():
            peer_urls = [str(u) for u in urls]
            members[name] = Member(member_id(peer_urls, cfg.initial_cluster_token), peer_urls, name)
        local = members.get(cfg.name)
        join = cfg.initial_cluster_state == "existing"
        if not os.path.isdir(waldir) and local is None:
            raise ConfigError(f"couldn't find local name {cfg.name!r} in the initial cluster configuration")
        cid = cluster_id(m.id for m in members.values())
        peers = []
        for m in sorted(members.values(), key=lambda m: m.id):
            # The name is published later (the attributes): the conf change carries the raft part only.
            peers.append(Peer(m.id, Member(m.id, m.peer_urls).to_json()))

        backend_kw: dict[str, Any] = {"sync": not cfg.unsafe_no_fsync}
        if cfg.backend_batch_interval > 0:
            backend_kw["batch_interval"] = cfg.backend_batch_interval
        if cfg.backend_batch_limit > 0:
            backend_kw["batch_limit"] = cfg.backend_batch_limit
        backend = Backend(os.path.join(snapdir, "db"), **backend_kw)
        holder["backend"] = backend
        holder["backend_kw"] = backend_kw

        boot = open_raft(
            data_dir,
            node_id=local.id if local is not None else 0,
            cluster_id=cid,
            peers=peers,
            election_tick=cfg.election_ticks(),
            heartbeat_tick=1,
            rand=random.Random(),
            join=join,
            pre_vote=cfg.pre_vote,
            check_quorum=True,
        )
        holder["raft_storage"] = boot.raft_storage
        holder["boot"] = boot
        holder["initial_members"] = [] if join else list(members.values())

        v2store = Store("/0", "/1", clock=time.time_ns)
        applied = 0
        if boot.snapshot is not None:
            v2store.recovery(boot.snapshot.data)
            applied = boot.snapshot.metadata.index
        holder["applied"] = applied

        lessor = Lessor(
            backend,
            clock=time.monotonic_ns,
            cfg=LessorConfig(
                min_lease_ttl=cfg.min_lease_ttl(),
                checkpoint_persist=cfg.experimental_enable_lease_checkpoint_persist,
            ),
        )
        kv = WatchableStore(
            backend,
            lessor,
            compaction_batch_limit=cfg.experimental_compaction_batch_limit,
        )
        holder["kv"] = kv
        lessor.set_range_deleter(kv.write)
        cluster = RaftCluster(boot.cluster_id, boot.node_id, v2store)
        cluster.recover()
        node_box: list[RaftNode] = []

        def raft_term() -> int:
            return node_box[0].raw_node.raft.term if node_box else 0

        applier = ApplierV3(
            kv,
            lessor,
            backend,
            cluster_id=boot.cluster_id,
            member_id=boot.node_id,
            raft_term=raft_term,
            quota=BackendQuota(backend, cfg.quota_backend_bytes),
        )
        kv.consistent_index_getter = applier.consistent_index
        srv = cls(
            cfg,
            node=None,
            backend=backend,
            kv=kv,
            lessor=lessor,
            v2store=v2store,
            applier=applier,
            cluster=cluster,
            apply_executor=applyx,
            io_executor=io,
        )
        srv._node_box = node_box  # the applier's raft_term reads the node from here once started
        srv.initialized = not boot.is_new
        return srv

    # ----- lifecycle

    @property
    def node(self) -> RaftNode:
        assert self._node is not None
        return self._node

    def start(self) -> None:
        """Starts raft, the watch sync thread and the background tasks on the running loop."""
        self._node_box.append(self.node)
        self._add_known_peers(self._initial_members)
        if self.cfg.experimental_enable_lease_checkpoint:
            self.lessor.set_checkpointer(self._checkpoint_leases)
        self.kv.start()
        self.node.start()
        self._compactor = new_compactor(self)
        self._spawn(self._watch_raft(), "raft-watch")
        self._spawn(self._publish(), "publish")
        self._spawn(self._lease_loop(), "lease-revoke")
        self._spawn(self._sync_loop(), "v2-sync")
        self._spawn(self._purge_loop(), "purge")
        self._spawn(self._fd_monitor(), "fd-monitor")
        self._spawn(self._version_loop(), "cluster-version")
        if self._compactor is not None:
            self._spawn(self._compactor.run(), "compactor")
        if self.cfg.experimental_corrupt_check_time > 0:
            self._spawn(monitor_kv_hash(self, self.cfg.experimental_corrupt_check_time), "corrupt-check")

    # ----- snapshots between members

    def snapshot_source(self, m: Message) -> AsyncIterator[bytes]:
        """The backend data sent after a MsgSnap: the backend as it is now, which covers at least the raft
        snapshot's index (etcd's merged snapshot); its own consistent index says how far."""
        return self.snapshot_stream()

    def _db_snapshot_path(self, index: int) -> str:
        return os.path.join(self.snap_dir, f"{index:016x}.snap.db")

    async def receive_snapshot(self, m: Message, path: str) -> None:
        """Keeps a received backend snapshot as ``member/snap/<index>.snap.db`` (etcd's ``SaveDBFrom``);
        it replaces the backend when raft applies the snapshot."""
        dest = self._db_snapshot_path(m.snapshot.metadata.index)

        def keep() -> None:
            os.replace(path, dest)
            fsync_dir(self.snap_dir)

        await asyncio.get_running_loop().run_in_executor(self._io_executor, keep)

    def on_transport_critical(self, err: Exception) -> None:
        """The transport learnt something this member cannot go on after (it was removed): stop."""
        logger.error("peer transport: %s", err)
        if not self.stopping.is_set():
            self._stop_task = asyncio.get_running_loop().create_task(self.stop(), name="etcd-stop-critical")

    async def _restore_backend(self, index: int) -> None:
        """Installs a received backend snapshot whose raft snapshot is at ``index`` (etcd's
        ``recoverSnapshotBackend``), unless the backend already holds that much."""
        source = self._db_snapshot_path(index)
        if self.applier.consistent_index() >= index and self.kv.consistent_index() >= index:
            return
        if not os.path.exists(source):
            raise RuntimeError(
                f"raft snapshot at {index} came without its backend data ({source} is missing)"
            )
        db_path = os.path.join(self.snap_dir, "db")
        fresh = db_path + ".restore"
        loop = asyncio.get_running_loop()

        def build() -> None:
            shutil.rmtree(fresh, ignore_errors=True)
            with open(source, "rb") as f:
                Backend.restore_from(f, fresh)

        await loop.run_in_executor(self._apply_executor, build)
        # The swap itself runs on the loop: no read may see the old backend closed.
        old = self.backend
        old.close()
        retired = db_path + ".old"
        shutil.rmtree(retired, ignore_errors=True)
        os.rename(db_path, retired)
        os.rename(fresh, db_path)
        fsync_dir(self.snap_dir)
        backend = Backend(db_path, **self._backend_kw)
        self.kv.restore(backend)
        self.lessor.recover(backend, self.kv.write)
        self.applier.recover(backend)
        self.backend = backend
        self.quota = BackendQuota(backend, self.cfg.quota_backend_bytes)
        shutil.rmtree(retired, ignore_errors=True)
        logger.info("restored the backend from a snapshot", extra={"snapshot-index": index})

    # ----- peers

    def _add_known_peers(self, initial: Sequence[Member]) -> None:
        """As raft starts (its transport started first): the initial members of a new cluster, or those a
        snapshot restored (a restart without a snapshot learns them as raft replays membership entries)."""
        tr = self.transport
        if not isinstance(tr, PeerTransport):
            return
        for m in [*initial, *self.cluster.members()]:
            if m.id != self.id and m.id not in tr.peer_ids:
                tr.add_peer(m.id, m.peer_urls)

    def _sync_peers(self) -> None:
        """After a membership change or an installed snapshot: peers follow the member list."""
        tr = self.transport
        if not isinstance(tr, PeerTransport):
            return
        members = {m.id: m for m in self.cluster.members()}
        for mid, m in members.items():
            if mid != self.id and mid not in tr.peer_ids:
                tr.add_peer(mid, m.peer_urls)
        for mid in tr.peer_ids:
            if mid not in members:
                tr.remove_peer(mid)
        if self.cluster.is_removed(self.id) and not self.stopping.is_set():
            logger.error("the member has been permanently removed from the cluster")
            self._stop_task = asyncio.get_running_loop().create_task(self.stop(), name="etcd-removed")

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        async def guarded() -> None:
            try:
                await coro
            except (ErrStopped, asyncio.CancelledError):
                pass
            except Exception:
                logger.exception("server task %s failed", name)

        self._tasks.append(asyncio.create_task(guarded(), name=f"etcd-{name}"))

    async def _hand_over_leadership(self) -> None:
        """A leader with other voters hands leadership to the one connected longest before it stops (etcd's
        ``TransferLeadership`` in ``Stop``), so the cluster does not wait out an election timeout."""
        if self._node is None or self._node.stopped or not self.is_leader():
            return
        active_since = getattr(self.transport, "active_since", None)
        if active_since is None:
            return
        candidates = []
        for m in self.cluster.members():
            if m.id == self.id or m.is_learner:
                continue
            since = active_since(m.id)
            if since is not None:
                candidates.append((since, m.id))
        if not candidates:
            return
        target = min(candidates)[1]
        logger.info("leadership transfer starting", extra={"transferee": f"{target:x}"})
        self.node.transfer_leader(target)
        try:
            async with asyncio.timeout(self._req_timeout):
                while self.leader() != target:
                    await asyncio.sleep(self.cfg.heartbeat_interval / 1000)
        except TimeoutError:
            logger.warning("leadership transfer timed out", extra={"transferee": f"{target:x}"})
            return
        logger.info("leadership transfer finished", extra={"transferee": f"{target:x}"})

    async def _watch_raft(self) -> None:
        """A member whose raft failed (a WAL write, an apply) must not go on: stop, so the process exits."""
        await self.node.wait_stopped()
        if self.node.error is not None and not self.stopping.is_set():
            logger.error(
                "raft stopped on its own; stopping the server", extra={"error": str(self.node.error)}
            )
            self._stop_task = asyncio.get_running_loop().create_task(self.stop(), name="etcd-stop-on-failure")

    async def stop(self) -> None:
        """Stops in etcd's order: background tasks, raft (finishing what is in hand), lessor, kv, backend."""
        if self.stopping.is_set():
            await self.stopped.wait()
            return
        self.stopping.set()
        with contextlib.suppress(Exception):
            await self._hand_over_leadership()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        try:
            if self._node is not None:
                await self._node.stop()
        finally:
            if isinstance(self.transport, PeerTransport):
                await self.transport.close()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._io_executor, self._close_stores)
            self._apply_executor.shutdown(wait=True)
            self._io_executor.shutdown(wait=True)
            self.stopped.set()

    def _close_stores(self) -> None:
        self.lessor.stop()
        self.kv.close()
        self.backend.close()

    @property
    def error(self) -> BaseException | None:
        """What stopped raft on its own (a failed WAL write, a failed apply), if anything."""
        return self._node.error if self._node is not None else None

    # ----- observing

    def leader(self) -> int:
        return self.node.leader

    def is_leader(self) -> bool:
        return self.node.is_leader

    def term(self) -> int:
        return int(self.node.raw_node.raft.term)

    def commit_index(self) -> int:
        return int(self.node.raw_node.raft.raft_log.committed)

    def applied_index(self) -> int:
        return self.node.applied_index

    def header(self, revision: int | None = None) -> pb.ResponseHeader:
        return pb.ResponseHeader(
            cluster_id=self.cluster_id,
            member_id=self.id,
            revision=self.kv.rev() if revision is None else revision,
            raft_term=self.term(),
        )

    def _on_soft_state(self, ss: SoftState) -> None:
        if ss.lead and ss.lead != self._last_lead:
            self.leader_changes += 1
            self.leader_changed_at = time.time()
        self._last_lead = ss.lead
        if ss.raft_state == StateType.LEADER:
            self._became_leader.set()
            if not self.lessor.is_primary():
                # etcd: extend every lease by an election timeout, so none expires for the hand-over.
                self.lessor.promote(self.cfg.election_timeout * 1_000_000)
            if self._compactor is not None:
                self._compactor.resume()
        else:
            if self.lessor.is_primary():
                self.lessor.demote()
            if self._compactor is not None:
                self._compactor.pause()

    # ----- proposing

    async def _propose(self, r: InternalRaftRequest) -> Any:
        """Proposes ``r`` and waits for its apply result, within etcd's request timeout.

        Without a leader the proposal waits (raft drops proposals nobody can take) until the deadline, then
        fails as etcd's does with Go's context error; a proposal raft took but that does not come back in time
        fails with ErrTimeout.
        """
        node = self.node
        if node.stopped:
            raise ErrStopped()
        if node.raw_node.raft.raft_log.committed - node.applied_index > MAX_GAP_APPLY_COMMIT:
            raise ErrTooManyRequests()
        data = r.SerializeToString()
        if len(data) > self.cfg.max_request_bytes:
            raise ErrRequestTooLarge()
        deadline = asyncio.get_running_loop().time() + self._req_timeout
        proposed = False
        metrics.proposals_pending.inc()
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    if node.leader == 0:
                        await node.wait_leader()
                    try:
                        proposed = True
                        applied = await node.propose(data)
                        return applied.result
                    except ErrProposalDropped:
                        proposed = False
                        await asyncio.sleep(self.cfg.heartbeat_interval / 1000)
        except TimeoutError:
            metrics.proposals_failed.inc()
            if node.stopped:
                raise ErrStopped() from None
            if proposed:
                raise ErrTimeout() from None
            raise
        except ErrStopped:
            metrics.proposals_failed.inc()
            raise
        finally:
            metrics.proposals_pending.dec()

    async def _propose_v3(self, r: InternalRaftRequest) -> Any:
        result: Result = await self._propose(r)
        if result.err is not None:
            if isinstance(result.err, ErrNoSpace) and not self.applier.alarms.get(pb.NOSPACE):
                # etcd's applyEntryNormal: a write applied over the quota raises the alarm before answering.
                await self._activate_nospace()
            raise result.err
        return result

    async def _activate_nospace(self) -> None:
        alarm = pb.AlarmRequest(action=pb.AlarmRequest.ACTIVATE, memberID=self.id, alarm=pb.NOSPACE)
        with contextlib.suppress(Exception):
            await self._propose(InternalRaftRequest(alarm=alarm))

    # ----- v3 KV

    async def linearizable_read(self) -> None:
        """Waits until this member has applied everything committed before the call (a ReadIndex round)."""
        node = self.node
        try:
            async with asyncio.timeout(self._req_timeout):
                await node.read_index()
        except TimeoutError:
            metrics.read_index_failed.inc()
            metrics.slow_read_index.inc()
            if node.stopped:
                raise ErrStopped() from None
            raise ErrTimeout() from None

    async def range(self, req: pb.RangeRequest) -> pb.RangeResponse:
        if not req.serializable:
            await self.linearizable_read()
        result = self.applier.apply(InternalRaftRequest(range=req))
        if result.err is not None:
            raise result.err
        resp: pb.RangeResponse = result.resp
        return resp

    async def put(self, req: pb.PutRequest) -> pb.PutResponse:
        await self._check_quota(BackendQuota.cost_put(req.key, req.value))
        result = await self._propose_v3(InternalRaftRequest(put=req))
        resp: pb.PutResponse = result.resp
        return resp

    async def delete_range(self, req: pb.DeleteRangeRequest) -> pb.DeleteRangeResponse:
        result = await self._propose_v3(InternalRaftRequest(delete_range=req))
        resp: pb.DeleteRangeResponse = result.resp
        return resp

    async def txn(self, req: pb.TxnRequest) -> pb.TxnResponse:
        if _txn_read_only(req):
            await self.linearizable_read()
            local = self.applier.apply(InternalRaftRequest(txn=req))
            if local.err is not None:
                raise local.err
            read_resp: pb.TxnResponse = local.resp
            return read_resp
        await self._check_quota(BackendQuota.cost_txn(req))
        result = await self._propose_v3(InternalRaftRequest(txn=req))
        resp: pb.TxnResponse = result.resp
        return resp

    async def compact(self, req: pb.CompactionRequest) -> pb.CompactionResponse:
        result = await self._propose_v3(InternalRaftRequest(compaction=req))
        if req.physical and result.physc is not None:
            await asyncio.wrap_future(result.physc)
        resp: pb.CompactionResponse = result.resp
        # etcd: the header's revision is the store's after the compaction was applied (already so).
        return resp

    async def _check_quota(self, cost: int) -> None:
        """etcd's quotaKVServer: over the quota, raise NOSPACE through raft and refuse the write."""
        if self.quota.available(cost):
            return
        await self._activate_nospace()
        raise ErrNoSpace()

    # ----- v3 leases

    async def lease_grant(self, req: pb.LeaseGrantRequest) -> pb.LeaseGrantResponse:
        if req.ID == 0:
            req = pb.LeaseGrantRequest(TTL=req.TTL, ID=self._new_lease_id())
        await self._check_quota(64)
        result = await self._propose_v3(InternalRaftRequest(lease_grant=req))
        resp: pb.LeaseGrantResponse = result.resp
        return resp

    def _new_lease_id(self) -> int:
        # etcd's reqIDGen.Next() & 0x7fff...: member-prefixed, positive, never 0.
        while True:
            n = ((self.id & 0xFFFF) << 47 | self._ids.getrandbits(47)) & 0x7FFFFFFFFFFFFFFF
            if n and self.lessor.lookup(n) is None:
                return n

    async def lease_revoke(self, req: pb.LeaseRevokeRequest) -> pb.LeaseRevokeResponse:
        result = await self._propose_v3(InternalRaftRequest(lease_revoke=req))
        resp: pb.LeaseRevokeResponse = result.resp
        return resp

    async def lease_renew(self, lease_id: int) -> int:
        """Renews on the leader; returns the TTL granted (etcd forwards a follower's renewal to the leader
        over the peer port: that comes with the peer transport)."""
        await self._wait_leader()
        if not self.is_leader():
            raise ErrNotLeader()
        # etcd waits for the lessor to be primary and the applied index to catch up with the commit index.
        await self.node.wait_applied(self.commit_index())
        return self.lessor.renew(lease_id)

    async def lease_time_to_live(self, req: pb.LeaseTimeToLiveRequest) -> pb.LeaseTimeToLiveResponse:
        """TTL -1 for a lease that does not exist, as etcd's API answers (the API layer fills the header)."""
        await self._wait_leader()
        if not self.is_leader():
            raise ErrNotLeader()
        lease = self.lessor.lookup(req.ID)
        if lease is None:
            return pb.LeaseTimeToLiveResponse(header=pb.ResponseHeader(), ID=req.ID, TTL=-1)
        resp = pb.LeaseTimeToLiveResponse(
            header=self.header(), ID=lease.id, TTL=lease.remaining_ttl(), grantedTTL=lease.ttl
        )
        if req.keys:
            resp.keys.extend(lease.keys())
        return resp

    async def lease_leases(self) -> pb.LeaseLeasesResponse:
        leases = sorted(self.lessor.leases(), key=lambda le: le.id)
        return pb.LeaseLeasesResponse(
            header=self.header(), leases=[pb.LeaseStatus(ID=le.id) for le in leases]
        )

    async def _wait_leader(self) -> None:
        try:
            async with asyncio.timeout(self._req_timeout):
                await self.node.wait_leader()
        except TimeoutError:
            raise ErrTimeout() from None

    def _checkpoint_leases(self, cps: list[LeaseCheckpoint]) -> None:
        req = pb.LeaseCheckpointRequest(
            checkpoints=[pb.LeaseCheckpoint(ID=c.id, remaining_TTL=c.remaining_ttl) for c in cps]
        )
        self._spawn(self._propose_quietly(InternalRaftRequest(lease_checkpoint=req)), "lease-checkpoint")

    async def _propose_quietly(self, r: InternalRaftRequest) -> None:
        with contextlib.suppress(Exception):
            await self._propose(r)

    async def _lease_loop(self) -> None:
        while True:
            await asyncio.sleep(LEASE_CHECK_INTERVAL)
            if not self.is_leader() or not self.lessor.is_primary():
                continue
            expired = [le for le in self.lessor.find_expired_leases() if le.id not in self._revoking]
            for le in expired:
                self._revoking.add(le.id)
            if expired:
                sem = asyncio.Semaphore(MAX_PENDING_REVOKES)
                await asyncio.gather(*(self._revoke_expired(le.id, sem) for le in expired))

    async def _revoke_expired(self, lease_id: int, sem: asyncio.Semaphore) -> None:
        async with sem:
            try:
                await self._propose(InternalRaftRequest(lease_revoke=pb.LeaseRevokeRequest(ID=lease_id)))
                metrics.lease_expired.inc()
            except Exception as e:
                logger.warning("failed to revoke lease %016x: %s", lease_id, e)
            finally:
                self._revoking.discard(lease_id)

    # ----- v3 maintenance

    async def alarm(self, req: pb.AlarmRequest) -> pb.AlarmResponse:
        result = await self._propose_v3(InternalRaftRequest(alarm=req))
        resp: pb.AlarmResponse = result.resp
        return resp

    def alarms(self) -> list[pb.AlarmMember]:
        return self.applier.alarms.get(pb.NONE)

    async def status(self) -> pb.StatusResponse:
        errors = []
        if self.leader() == 0:
            errors.append("etcdserver: no leader")
        for a in self.alarms():
            errors.append(f"memberID:{a.memberID} alarm:{pb.AlarmType.Name(a.alarm)} ")
        return pb.StatusResponse(
            header=self.header(),
            version=SERVER_VERSION,
            dbSize=self.backend.size(),
            dbSizeInUse=self.backend.size_in_use(),
            leader=self.leader(),
            raftIndex=self.commit_index(),
            raftTerm=self.term(),
            raftAppliedIndex=self.applied_index(),
            errors=errors,
            isLearner=False,
        )

    async def hash(self) -> pb.HashResponse:
        loop = asyncio.get_running_loop()
        h = await loop.run_in_executor(self._io_executor, self.kv.hash)
        return pb.HashResponse(header=self.header(), hash=h)

    async def hash_kv(self, revision: int) -> pb.HashKVResponse:
        loop = asyncio.get_running_loop()
        kh = await loop.run_in_executor(self._io_executor, self.kv.hash_by_rev, revision)
        return pb.HashKVResponse(
            header=self.header(kh.revision), hash=kh.hash, compact_revision=kh.compact_revision
        )

    async def defragment(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._io_executor, self.backend.defrag)

    async def snapshot_stream(self) -> AsyncIterator[bytes]:
        """The backend's snapshot, in chunks (the API adds etcd's SHA-256 trailer)."""
        loop = asyncio.get_running_loop()
        snap = await loop.run_in_executor(self._io_executor, self.backend.snapshot)
        try:
            it = iter(snap)
            while True:
                chunk = await loop.run_in_executor(self._io_executor, next, it, None)
                if chunk is None:
                    return
                yield chunk
        finally:
            snap.close()

    async def move_leader(self, target_id: int) -> None:
        """Hands leadership to ``target_id`` (etcd's MoveLeader): this member must lead, the target be a
        voting member other than itself."""
        if not self.is_leader():
            raise ErrNotLeader()
        target = self.cluster.member(target_id)
        if target is None or target.is_learner or target_id == self.id:
            raise ErrBadLeaderTransferee()
        self.node.transfer_leader(target_id)
        try:
            async with asyncio.timeout(self._req_timeout):
                while self.leader() != target_id:
                    await asyncio.sleep(self.cfg.heartbeat_interval / 1000)
        except TimeoutError:
            raise ErrTimeoutLeaderTransfer() from None

    # ----- v2

    async def v2_do(self, req: V2Request, *, notify: Callable[[], None] | None = None) -> Event | Watcher:
        """Serves one v2 keys request: writes and quorum reads through raft, plain reads locally, watches
        as a ``Watcher`` (``notify`` is its wake-up callback, see ``v2store.Watcher``). Raises
        ``v2error.Error``, ``apply_v2.UnknownMethodError`` or the server errors."""
        if apply_v2.is_watch(req):
            return self.v2store.watch(req.Path, req.Recursive, req.Stream, req.Since, notify=notify)
        if req.Method in ("GET", "HEAD") and not req.Quorum:
            ev = apply_v2.apply(self.v2store, req)
            assert ev is not None
            return ev
        if req.Method not in ("GET", "HEAD", "PUT", "POST", "DELETE", "QGET"):
            raise apply_v2.UnknownMethodError()
        if req.Method == "GET":
            req.Method = "QGET"
        if not req.ID:
            req.ID = self._ids.getrandbits(63)
        outcome = await self._propose(InternalRaftRequest(v2=req))
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, Event)
        return outcome

    def v2_stats_self(self) -> dict[str, Any]:
        lead = self.leader()
        state = "StateLeader" if self.is_leader() else "StateFollower"
        return {
            "name": self.cfg.name,
            "id": f"{self.id:x}",
            "state": state,
            "startTime": format_rfc3339_nano(int(self.start_time * 1e9)),
            "leaderInfo": {
                "leader": f"{lead:x}",
                "uptime": format_duration(time.time() - self.leader_changed_at),
                "startTime": format_rfc3339_nano(int(self.leader_changed_at * 1e9)),
            },
            "recvAppendRequestCnt": 0,
            "sendAppendRequestCnt": 0,
        }

    def v2_stats_leader(self) -> dict[str, Any] | None:
        """None when this member does not lead (etcd answers 403 then)."""
        if not self.is_leader():
            return None
        return {"leader": f"{self.id:x}", "followers": {}}

    def v2_stats_store(self) -> dict[str, Any]:
        stats: dict[str, Any] = json.loads(self.v2store.json_stats())
        return stats

    async def _publish(self) -> None:
        """Proposes this member's name and client URLs until it succeeds (etcd's ``publish``); then
        ``ready`` is set and the client listeners start serving."""
        attrs = {"name": self.cfg.name}
        urls = [str(u) for u in (self.cfg.advertise_client_urls or [])]
        if urls:
            attrs["clientURLs"] = urls  # type: ignore[assignment]
        req = V2Request(
            Method="PUT",
            Path=f"/0/members/{self.id:016x}/attributes",
            Val=json.dumps(attrs, separators=(",", ":")),
        )
        while not self.stopping.is_set():
            try:
                req.ID = self._ids.getrandbits(63)
                await self._propose(InternalRaftRequest(v2=req))
            except (ErrStopped, asyncio.CancelledError):
                raise
            except Exception as e:
                logger.warning("failed to publish local member to cluster through raft: %s", e)
                await asyncio.sleep(0.1)
                continue
            logger.info(
                "published local member to cluster through raft",
                extra={"local-member-id": f"{self.id:x}", "cluster-id": f"{self.cluster_id:x}"},
            )
            self.ready.set()
            return

    async def _sync_loop(self) -> None:
        while True:
            await asyncio.sleep(SYNC_INTERVAL)
            if self.is_leader() and self.v2store.has_ttl_keys():
                req = V2Request(Method="SYNC", ID=self._ids.getrandbits(63), Time=time.time_ns())
                await self._propose_quietly(InternalRaftRequest(v2=req))

    async def _version_loop(self) -> None:
        """The leader settles the cluster version (etcd's ``monitorVersions``; all members here are 3.4):
        at once when it becomes leader, as etcd's first commit in a term forces it, then every 4 s."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(4.0):
                    await self._became_leader.wait()
            self._became_leader.clear()
            if not self.is_leader() or self.cluster.version == CLUSTER_VERSION:
                continue
            req = V2Request(
                Method="PUT", ID=self._ids.getrandbits(63), Path="/0/version", Val=CLUSTER_VERSION
            )
            await self._propose_quietly(InternalRaftRequest(v2=req))

    async def _purge_loop(self) -> None:
        waldir, snapdir = member_dirs(self.cfg.effective_data_dir())
        loop = asyncio.get_running_loop()

        def purge() -> None:
            for d, suffix, keep in (
                (snapdir, ".snap.db", self.cfg.max_snapshots),
                (snapdir, ".snap", self.cfg.max_snapshots),
                (waldir, ".wal", self.cfg.max_wals),
            ):
                if keep > 0:
                    for path in purge_files(d, suffix, keep):
                        logger.info("purged file", extra={"path": path})

        while True:
            await asyncio.sleep(PURGE_INTERVAL)
            try:
                await loop.run_in_executor(self._io_executor, purge)
            except OSError as e:
                logger.warning("failed to purge files: %s", e)

    async def _fd_monitor(self) -> None:
        while True:
            soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
            try:
                used = len(os.listdir("/proc/self/fd"))
            except OSError:
                return
            metrics.fd_used.set(used)
            metrics.fd_limit.set(soft)
            if soft > 0 and used >= soft // 5 * 4:
                logger.warning("80%% of file descriptors are used", extra={"used": used, "limit": soft})
            await asyncio.sleep(FD_MONITOR_INTERVAL)

    # ----- applying committed entries

    async def _snapshot_data(self, index: int) -> bytes:
        """The raft snapshot's payload: the v2 store (as etcd's). The backend is committed first, so the
        raft log it replaces is never the only copy of an applied v3 write."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._apply_executor, self.backend.force_commit)
        return self.v2store.save()

    async def _apply(self, batch: ApplyBatch) -> list[Any]:
        loop = asyncio.get_running_loop()
        if batch.snapshot is not None:
            metrics.snapshot_apply_in_progress.set(1)
            try:
                await self._restore_backend(batch.snapshot.metadata.index)
                self.v2store.recovery(batch.snapshot.data)
                self.cluster.recover()
                self._sync_peers()
            finally:
                metrics.snapshot_apply_in_progress.set(0)
        results: list[Any] = [None] * len(batch.entries)
        run: list[tuple[int, int, InternalRaftRequest]] = []  # (position, raft index, request)

        async def flush() -> None:
            if not run:
                return
            pairs = [(idx, r) for _, idx, r in run]
            started = time.perf_counter()
            out = await loop.run_in_executor(
                self._apply_executor, self.applier.apply_batch, pairs, run[-1][1]
            )
            # etcd warns per request over --experimental-warning-apply-duration; a batch is our unit.
            if time.perf_counter() - started > self.cfg.experimental_warning_apply_duration * len(pairs):
                metrics.slow_apply.inc()
                logger.warning("apply request took too long", extra={"entries": len(pairs)})
            for (pos, _, _), res in zip(run, out, strict=True):
                results[pos] = res
            run.clear()

        for pos, c in enumerate(batch.entries):
            if c.conf_change is not None:
                await flush()
                self.cluster.apply_conf_change(c.conf_change)
                self._sync_peers()
                continue
            r = InternalRaftRequest.FromString(c.data)
            if r.HasField("v2"):
                await flush()
                results[pos] = self._apply_v2(r.v2)
            else:
                run.append((pos, c.index, r))
        await flush()
        return results

    def _apply_v2(self, req: V2Request) -> Event | Exception | None:
        """One committed v2 request; errors are results, as every member must apply it the same way."""
        if apply_v2.is_membership_put(req):
            if req.Path == apply_v2.CLUSTER_VERSION_KEY:
                self.cluster.set_version(req.Val)
            else:
                member_hex = req.Path.rsplit("/", 2)[-2]
                self.cluster.set_attributes(int(member_hex, 16), req.Val)
            return None
        try:
            return apply_v2.apply(self.v2store, req)
        except Exception as e:  # v2error.Error and UnknownMethodError, answered to the proposer
            return e


def _txn_read_only(req: pb.TxnRequest) -> bool:
    for ops in (req.success, req.failure):
        for op in ops:
            kind = op.WhichOneof("request")
            if kind == "request_range":
                continue
            if kind == "request_txn" and _txn_read_only(op.request_txn):
                continue
            return False
    return True


__all__ = ["CLUSTER_VERSION", "SERVER_VERSION", "ErrLeaseNotFound", "EtcdServer", "NullTransport"]
