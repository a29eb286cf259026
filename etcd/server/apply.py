"""The v3 applier: one committed ``InternalRaftRequest`` run against the stores (etcd 3.4's
``etcdserver/apply.go`` ``applierV3backend`` with its capped and corrupt wrappers, and ``api/v3alarm``).

``ApplierV3.apply(request)`` dispatches Range, Put, DeleteRange, Txn, Compaction, LeaseGrant, LeaseRevoke,
LeaseCheckpoint and Alarm, and returns a ``Result``: the ``etcdserverpb`` response with its header filled as
etcd's server fills it (cluster id, member id, the store's revision, the raft term), or the inner error the
request failed with (``etcd.api.v3rpc.errors.to_grpc_error`` maps it), never both. Errors a request can meet
while applying are results, not exceptions, because every member must apply the entry the same way; only a
request this applier does not handle (v2, auth) raises.

Headers, as etcd 3.4 answers:

- Range, Put, DeleteRange: the revision the store's transaction reports (a delete of nothing: the current
  one); Txn: the current revision after it. Inside a txn, each op's header holds only the revision seen at
  that op (the revision before the txn until its first change, then the txn's), and a nested txn's header
  is present but empty.
- Compaction: the current revision; ``Result.physc`` resolves once the compacted revisions are deleted.
- LeaseGrant: ID and TTL as granted (raised to the lessor's minimum); LeaseRevoke, LeaseCheckpoint: the
  current revision. Alarm: no header at all (etcd 3.4's maintenance server passes the applier's answer on
  as it is, so the gateway answers an empty list as ``{}``).

Alarms: ``AlarmStore`` keeps the active ones in memory and in bucket ``alarm``, each keyed by its marshalled
``AlarmMember`` (member id and alarm type) with an empty value, as etcd stores them. While NOSPACE is active,
Put, LeaseGrant and a Txn with a put on either branch fail with ``ErrNoSpace``; while CORRUPT is active,
every KV and lease request but LeaseCheckpoint fails with ``ErrCorrupt``. With a ``quota``, a Put, Txn or
LeaseGrant applied while the backend is over it takes effect but answers ``ErrNoSpace`` (etcd's
``quotaApplierV3``); raising the NOSPACE alarm is the API layer's job.

``apply_batch(batch, index)`` applies committed entries in one backend write transaction and stores the
applied index (``consistent_index`` in bucket ``meta``) in it; entries at or below the stored index are
skipped, so replaying entries after a crash changes nothing twice. Blocking, no asyncio: call it from the
apply thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb.raft_internal_pb2 import InternalRaftRequest
from etcd.backend import buckets
from etcd.backend.backend import Backend
from etcd.backend.consistent_index import read_consistent_index, write_consistent_index
from etcd.backend.quota import LEASE_OVERHEAD, BackendQuota, ErrNoSpace
from etcd.lease.lessor import LeaseError, Lessor
from etcd.mvcc import request as mreq
from etcd.mvcc.apply import Applier
from etcd.mvcc.errors import MVCCError, RequestError
from etcd.mvcc.kvstore import KVStore

# The InternalRaftRequest fields this applier handles, in etcd's dispatch order.
HANDLED = (
    "range",
    "put",
    "delete_range",
    "txn",
    "compaction",
    "lease_grant",
    "lease_revoke",
    "lease_checkpoint",
    "alarm",
)


def handles(request: InternalRaftRequest) -> bool:
    """Whether ``request`` is one ``ApplierV3`` applies (v2 and auth requests are not)."""
    return any(request.HasField(f) for f in HANDLED)


class ErrCorrupt(Exception):
    """The CORRUPT alarm is active (etcd's ``etcdserver.ErrCorrupt``; gRPC DataLoss)."""

    def __init__(self) -> None:
        super().__init__("etcdserver: corrupt cluster")


# The errors a request may meet while applying: they become ``Result.err``. Anything else is a bug.
APPLY_ERRORS: tuple[type[Exception], ...] = (MVCCError, RequestError, LeaseError, ErrNoSpace, ErrCorrupt)


@dataclass(slots=True)
class Result:
    """One applied request: ``resp`` or ``err``; ``physc`` is set for a Compaction (etcd's
    ``applyResult``)."""

    resp: Any = None
    err: Exception | None = None
    physc: Future[bool] | None = None


class AlarmStore:
    """Active alarms by type and member, persisted in bucket ``alarm`` (etcd's ``v3alarm.AlarmStore``).

    Writes go into the backend's open batch (the caller's apply transaction); construction loads them.
    ``activate`` and ``deactivate`` are for the apply thread; ``get`` may be called from any thread (its
    lock is never held while waiting for the backend's).
    """

    def __init__(self, backend: Backend) -> None:
        self._be = backend
        self._lock = threading.Lock()
        self._types: dict[int, dict[int, pb.AlarmMember]] = {}
        with backend.batch_tx() as tx:
            tx.unsafe_create_bucket(buckets.ALARM)
            for k, _ in tx.unsafe_iter(buckets.ALARM, b"", None):
                m = pb.AlarmMember.FromString(k)
                self._types.setdefault(m.alarm, {})[m.memberID] = m

    def activate(self, member_id: int, alarm: int) -> pb.AlarmMember:
        """Raises ``alarm`` for ``member_id``; returns the alarm (the one already active, if any)."""
        with self._lock:
            members = self._types.setdefault(alarm, {})
            old = members.get(member_id)
            if old is not None:
                return old
            m = pb.AlarmMember(memberID=member_id, alarm=alarm)  # type: ignore[arg-type]
            members[member_id] = m
        with self._be.batch_tx() as tx:
            tx.unsafe_put(buckets.ALARM, m.SerializeToString(), b"")
        return m

    def deactivate(self, member_id: int, alarm: int) -> pb.AlarmMember | None:
        """Clears ``alarm`` for ``member_id``; returns it, or None when it was not active."""
        with self._lock:
            m = self._types.get(alarm, {}).pop(member_id, None)
        if m is None:
            return None
        with self._be.batch_tx() as tx:
            tx.unsafe_delete(buckets.ALARM, m.SerializeToString())
        return m

    def get(self, alarm: int) -> list[pb.AlarmMember]:
        """Active alarms of type ``alarm`` (NONE: of every type), by type then member id (etcd's order is
        Go's map order, i.e. none)."""
        with self._lock:
            types = sorted(self._types) if alarm == pb.NONE else [alarm]
            return [self._types[t][mid] for t in types if t in self._types for mid in sorted(self._types[t])]


class ApplierV3:
    """Applies v3 requests to ``kv``, ``lessor`` and the alarm store, all over ``backend``.

    ``raft_term`` gives the member's current raft term for headers; ``quota`` (None: unlimited) is checked
    as etcd's quota applier does. The lessor's range deleter should be
    ``kv.write`` (set by whoever opens the stores) so that revoking a lease deletes its keys.
    """

    def __init__(
        self,
        kv: KVStore,
        lessor: Lessor,
        backend: Backend,
        *,
        cluster_id: int,
        member_id: int,
        raft_term: Callable[[], int],
        quota: BackendQuota | None = None,
    ) -> None:
        self.kv = kv
        self.lessor = lessor
        self.backend = backend
        self.cluster_id = cluster_id
        self.member_id = member_id
        self.raft_term = raft_term
        self.quota = quota
        self.alarms = AlarmStore(backend)
        self._kv_applier = Applier(kv)
        self._index = 0  # the raft index being applied, for ``consistent_index``

    def recover(self, backend: Backend) -> None:
        """Switches to ``backend`` after a snapshot was installed (the store and lessor are recovered by
        their own ``restore``/``recover``) and reloads the alarms from it (etcd's ``restoreAlarms``)."""
        self.backend = backend
        self.alarms = AlarmStore(backend)
        if self.quota is not None:
            self.quota = BackendQuota(backend, self.quota.quota_bytes)

    def consistent_index(self) -> int:
        """The index of the entry being (or last) applied by ``apply_batch``; fit for ``KVStore``'s
        ``consistent_index`` callback, so every store commit carries the index of what it holds."""
        return self._index

    # -- batches --------------------------------------------------------------------------------------

    def apply_batch(
        self, batch: Sequence[tuple[int, InternalRaftRequest]], index: int
    ) -> list[Result | None]:
        """Applies ``(raft index, request)`` pairs in order, in one backend write transaction that also
        stores ``index`` (the batch's applied index, at least its last entry's) as the consistent index.

        Returns one item per pair: its ``Result``, or None for an entry at or below the stored consistent
        index (applied before a crash), which is skipped. Each entry's index is stored before it is
        applied, so whatever commits the batch (the backend's interval or limit, or a compaction, which
        commits at once to make its schedule durable) commits the index of the data it holds.

        Raises:
            ValueError: a request to apply is not one this applier ``handles``; nothing is applied.
        """
        results: list[Result | None] = []
        with self.backend.batch_tx() as tx:
            applied = read_consistent_index(tx)
            if not all(handles(r) for i, r in batch if i > applied):
                raise ValueError("apply: batch holds a request the v3 applier does not handle")
            for entry_index, request in batch:
                if entry_index <= applied:
                    results.append(None)
                    continue
                # Stored first: a compaction commits the batch mid-entry, and what it commits is applied.
                self._index = entry_index
                write_consistent_index(tx, entry_index)
                results.append(self.apply(request))
            if index > applied:
                self._index = index
                write_consistent_index(tx, index)
        return results

    # -- one request ----------------------------------------------------------------------------------

    def apply(self, r: InternalRaftRequest) -> Result:
        """Applies one request; see the module docstring for the responses and errors.

        Raises:
            ValueError: none of the requests handled here is set (v2 and auth requests go elsewhere).
        """
        try:
            if r.HasField("range"):
                return Result(self._range(r.range))
            if r.HasField("put"):
                return Result(self._put(r.put))
            if r.HasField("delete_range"):
                return Result(self._delete_range(r.delete_range))
            if r.HasField("txn"):
                return Result(self._txn(r.txn))
            if r.HasField("compaction"):
                return self._compaction(r.compaction)
            if r.HasField("lease_grant"):
                return Result(self._lease_grant(r.lease_grant))
            if r.HasField("lease_revoke"):
                return Result(self._lease_revoke(r.lease_revoke))
            if r.HasField("lease_checkpoint"):
                return Result(self._lease_checkpoint(r.lease_checkpoint))
            if r.HasField("alarm"):
                return Result(self._alarm(r.alarm))
        except APPLY_ERRORS as err:
            return Result(err=err)
        raise ValueError("apply: request of a kind the v3 applier does not handle")

    def _header(self, revision: int) -> pb.ResponseHeader:
        return pb.ResponseHeader(
            cluster_id=self.cluster_id,
            member_id=self.member_id,
            revision=revision,
            raft_term=self.raft_term(),
        )

    def _check_corrupt(self) -> None:
        if self.alarms.get(pb.CORRUPT):
            raise ErrCorrupt()

    def _nospace(self) -> bool:
        return bool(self.alarms.get(pb.NOSPACE))

    def _quota_ok(self, cost: int) -> bool:
        """Whether ``cost`` more bytes fit; asked before the write, answered after it, as etcd does."""
        return self.quota is None or self.quota.available(cost)

    def _range(self, req: pb.RangeRequest) -> pb.RangeResponse:
        self._check_corrupt()
        rr = self._kv_applier.range(req)
        return _range_pb(rr, self._header(rr.revision))

    def _put(self, req: pb.PutRequest) -> pb.PutResponse:
        self._check_corrupt()
        if self._nospace():
            raise ErrNoSpace()
        fits = self._quota_ok(BackendQuota.cost_put(req.key, req.value))
        pr = self._kv_applier.put(req)
        if not fits:
            raise ErrNoSpace()
        return _put_pb(pr, self._header(pr.revision))

    def _delete_range(self, req: pb.DeleteRangeRequest) -> pb.DeleteRangeResponse:
        self._check_corrupt()
        dr = self._kv_applier.delete_range(req)
        return _delete_pb(dr, self._header(dr.revision))

    def _txn(self, req: pb.TxnRequest) -> pb.TxnResponse:
        self._check_corrupt()
        if self._nospace() and BackendQuota.cost_txn(req) > 0:
            raise ErrNoSpace()
        fits = self._quota_ok(BackendQuota.cost_txn(req))
        tr = self._kv_applier.txn(req)
        if not fits:
            raise ErrNoSpace()
        begin = tr.revision - 1 if _txn_changed(tr) else tr.revision
        resp = _txn_pb(tr, begin, [False])
        resp.header.CopyFrom(self._header(tr.revision))
        return resp

    def _compaction(self, req: pb.CompactionRequest) -> Result:
        self._check_corrupt()
        physc = self.kv.compact(req.revision)
        return Result(pb.CompactionResponse(header=self._header(self.kv.rev())), physc=physc)

    def _lease_grant(self, req: pb.LeaseGrantRequest) -> pb.LeaseGrantResponse:
        self._check_corrupt()
        if self._nospace():
            raise ErrNoSpace()
        fits = self._quota_ok(LEASE_OVERHEAD)
        lease = self.lessor.grant(req.ID, req.TTL)
        if not fits:
            raise ErrNoSpace()
        return pb.LeaseGrantResponse(header=self._header(self.kv.rev()), ID=lease.id, TTL=lease.ttl)

    def _lease_revoke(self, req: pb.LeaseRevokeRequest) -> pb.LeaseRevokeResponse:
        self._check_corrupt()
        self.lessor.revoke(req.ID)
        return pb.LeaseRevokeResponse(header=self._header(self.kv.rev()))

    def _lease_checkpoint(self, req: pb.LeaseCheckpointRequest) -> pb.LeaseCheckpointResponse:
        for c in req.checkpoints:
            self.lessor.checkpoint(c.ID, c.remaining_TTL)
        return pb.LeaseCheckpointResponse(header=self._header(self.kv.rev()))

    def _alarm(self, req: pb.AlarmRequest) -> pb.AlarmResponse:
        resp = pb.AlarmResponse()
        if req.action == pb.AlarmRequest.GET:
            resp.alarms.extend(self.alarms.get(req.alarm))
        elif req.action == pb.AlarmRequest.ACTIVATE:
            resp.alarms.append(self.alarms.activate(req.memberID, req.alarm))
        elif req.action == pb.AlarmRequest.DEACTIVATE:
            m = self.alarms.deactivate(req.memberID, req.alarm)
            if m is not None:
                resp.alarms.append(m)
        return resp


# -- mvcc's responses as etcdserverpb messages ---------------------------------------------------------


def _range_pb(r: mreq.RangeResponse, header: pb.ResponseHeader) -> pb.RangeResponse:
    return pb.RangeResponse(header=header, kvs=r.kvs, more=r.more, count=r.count)


def _put_pb(r: mreq.PutResponse, header: pb.ResponseHeader) -> pb.PutResponse:
    resp = pb.PutResponse(header=header)
    if r.prev_kv is not None:
        resp.prev_kv.CopyFrom(r.prev_kv)
    return resp


def _delete_pb(r: mreq.DeleteRangeResponse, header: pb.ResponseHeader) -> pb.DeleteRangeResponse:
    return pb.DeleteRangeResponse(header=header, deleted=r.deleted, prev_kvs=r.prev_kvs)


def _txn_changed(r: mreq.TxnResponse) -> bool:
    for op in r.responses:
        if isinstance(op, mreq.PutResponse):
            return True
        if isinstance(op, mreq.DeleteRangeResponse) and op.deleted:
            return True
        if isinstance(op, mreq.TxnResponse) and _txn_changed(op):
            return True
    return False


def _txn_pb(r: mreq.TxnResponse, begin: int, changed: list[bool]) -> pb.TxnResponse:
    """Builds the response ops in execution order, tracking in ``changed[0]`` whether the txn has written
    yet: etcd's ops report ``begin`` until the first change and ``begin + 1`` from it on."""
    resp = pb.TxnResponse(header=pb.ResponseHeader(), succeeded=r.succeeded)
    for op in r.responses:
        if isinstance(op, mreq.RangeResponse):
            rev = begin + 1 if changed[0] else begin
            resp.responses.add(response_range=_range_pb(op, pb.ResponseHeader(revision=rev)))
        elif isinstance(op, mreq.PutResponse):
            changed[0] = True
            resp.responses.add(response_put=_put_pb(op, pb.ResponseHeader(revision=begin + 1)))
        elif isinstance(op, mreq.DeleteRangeResponse):
            changed[0] = changed[0] or op.deleted > 0
            rev = begin + 1 if changed[0] else begin
            resp.responses.add(response_delete_range=_delete_pb(op, pb.ResponseHeader(revision=rev)))
        elif isinstance(op, mreq.TxnResponse):
            resp.responses.add(response_txn=_txn_pb(op, begin, changed))
    return resp
