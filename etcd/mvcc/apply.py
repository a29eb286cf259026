"""The semantics of etcd's KV requests over the store (etcd's ``etcdserver/apply.go``
``applierV3backend``: Range, Put, DeleteRange, Txn).

Takes ``request.py`` dataclasses or ``etcdserverpb`` messages; returns ``request.py`` responses whose
``revision`` goes into the response header. Validation that etcd does before proposing (op counts,
duplicate keys) is ``txn_check.py``; this module does what etcd does while applying: compacted and
future revisions, missing keys for ``ignore_value``/``ignore_lease``, unknown leases, all checked before
the first write so a failing txn changes nothing.
"""

from __future__ import annotations

from typing import Any

from etcd.mvcc.errors import ErrCompacted, ErrFutureRev, ErrKeyNotFound
from etcd.mvcc.kvstore import KVStore
from etcd.mvcc.kvstore_txn import RangeOptions, TxnRead, TxnWrite
from etcd.mvcc.mvccpb.kv_pb2 import KeyValue
from etcd.mvcc.request import (
    CompareResult,
    CompareTarget,
    DeleteRangeResponse,
    PutResponse,
    RangeResponse,
    SortOrder,
    SortTarget,
    TxnResponse,
)

_SORT_KEYS = {
    SortTarget.KEY: lambda kv: kv.key,
    SortTarget.VERSION: lambda kv: kv.version,
    SortTarget.CREATE: lambda kv: kv.create_revision,
    SortTarget.MOD: lambda kv: kv.mod_revision,
    SortTarget.VALUE: lambda kv: kv.value,
}


def _end(range_end: bytes) -> bytes | None:
    """A request's ``range_end`` as the store's ``end``: empty is the single key."""
    return range_end or None


class Applier:
    """Applies KV requests to ``store``; each call is one store transaction (one revision if it writes)."""

    def __init__(self, store: KVStore) -> None:
        self.store = store

    # -- one request, one transaction -------------------------------------------------------------------

    def range(self, req: Any) -> RangeResponse:
        with self.store.read() as txn:
            return range_in(txn, req)

    def put(self, req: Any) -> PutResponse:
        with self.store.write() as txn:
            _check_put(self.store, txn, req)
            return put_in(txn, req)

    def delete_range(self, req: Any) -> DeleteRangeResponse:
        with self.store.write() as txn:
            return delete_range_in(txn, req)

    def txn(self, req: Any) -> TxnResponse:
        """Evaluates every compare on the chosen path first, checks every op, then executes them in
        order; all writes share one revision."""
        with self.store.write() as txn:
            path: list[bool] = []
            _compare_path(txn, req, path)
            _check_ops(self.store, txn, req, iter(path))
            resp = _apply_txn(txn, req, iter(path))
            rev = txn.rev() + 1 if txn.changes() else txn.rev()
        _set_revision(resp, rev)
        return resp


def range_in(txn: TxnRead, req: Any) -> RangeResponse:
    """etcd's ``applierV3backend.Range``: filters and sorting after the fetch, ``more`` from one extra."""
    limit = req.limit
    if (
        req.sort_order != SortOrder.NONE
        or req.min_mod_revision
        or req.max_mod_revision
        or req.min_create_revision
        or req.max_create_revision
    ):
        limit = 0  # fetch everything; sort and truncate afterwards
    if limit > 0:
        limit += 1  # one extra tells whether there is more
    ro = RangeOptions(limit=limit, rev=req.revision, count=req.count_only)
    rr = txn.range(req.key, _end(req.range_end), ro)
    kvs = rr.kvs
    if req.max_mod_revision:
        kvs = [kv for kv in kvs if kv.mod_revision <= req.max_mod_revision]
    if req.min_mod_revision:
        kvs = [kv for kv in kvs if kv.mod_revision >= req.min_mod_revision]
    if req.max_create_revision:
        kvs = [kv for kv in kvs if kv.create_revision <= req.max_create_revision]
    if req.min_create_revision:
        kvs = [kv for kv in kvs if kv.create_revision >= req.min_create_revision]
    order = req.sort_order
    if req.sort_target != SortTarget.KEY and order == SortOrder.NONE:
        # The store returns keys ascending; any other target is sorted ascending by default.
        order = SortOrder.ASCEND
    if order != SortOrder.NONE:
        keyf = _SORT_KEYS[SortTarget(req.sort_target)]
        kvs = sorted(kvs, key=keyf, reverse=order == SortOrder.DESCEND)
    more = False
    if req.limit > 0 and len(kvs) > req.limit:
        kvs = kvs[: req.limit]
        more = True
    if req.keys_only:
        for kv in kvs:
            kv.ClearField("value")
    return RangeResponse(kvs=kvs, more=more, count=rr.count, revision=rr.rev)


def put_in(txn: TxnWrite, req: Any) -> PutResponse:
    """etcd's ``applierV3backend.Put``; ``_check_put`` must have passed."""
    value, lease = req.value, req.lease
    prev: KeyValue | None = None
    if req.ignore_value or req.ignore_lease or req.prev_kv:
        rr = txn.range(req.key)
        if rr.kvs:
            prev = rr.kvs[0]
            if req.ignore_value:
                value = prev.value
            if req.ignore_lease:
                lease = prev.lease
        elif req.ignore_value or req.ignore_lease:
            raise ErrKeyNotFound()
    rev = txn.put(req.key, value, lease)
    return PutResponse(prev_kv=prev if req.prev_kv else None, revision=rev)


def delete_range_in(txn: TxnWrite, req: Any) -> DeleteRangeResponse:
    end = _end(req.range_end)
    prev_kvs: list[KeyValue] = []
    if req.prev_kv:
        prev_kvs = txn.range(req.key, end).kvs
    deleted, rev = txn.delete_range(req.key, end)
    return DeleteRangeResponse(deleted=deleted, prev_kvs=prev_kvs, revision=rev)


def compare(txn: TxnRead, c: Any) -> bool:
    """etcd's ``applyCompare``: true when every key in range passes; a missing key compares as zero
    values, except that a value compare on a missing key is always false."""
    try:
        rr = txn.range(c.key, _end(c.range_end))
    except (ErrCompacted, ErrFutureRev):
        return False
    if not rr.kvs:
        if c.target == CompareTarget.VALUE:
            return False
        return _compare_kv(c, KeyValue())
    return all(_compare_kv(c, kv) for kv in rr.kvs)


def _compare_kv(c: Any, kv: KeyValue) -> bool:
    t = c.target
    result: int
    if t == CompareTarget.VALUE:
        a: Any = kv.value
        b: Any = c.value
    elif t == CompareTarget.CREATE:
        a, b = kv.create_revision, c.create_revision
    elif t == CompareTarget.MOD:
        a, b = kv.mod_revision, c.mod_revision
    elif t == CompareTarget.VERSION:
        a, b = kv.version, c.version
    elif t == CompareTarget.LEASE:
        a, b = kv.lease, c.lease
    else:
        return False
    result = (a > b) - (a < b)
    r = c.result
    if r == CompareResult.EQUAL:
        return result == 0
    if r == CompareResult.NOT_EQUAL:
        return result != 0
    if r == CompareResult.GREATER:
        return result > 0
    if r == CompareResult.LESS:
        return result < 0
    return False


def _compare_path(txn: TxnRead, req: Any, path: list[bool]) -> None:
    """Appends, depth first, the outcome of each txn's compares along the branches that will run."""
    ok = all(compare(txn, c) for c in req.compare)
    path.append(ok)
    for op in req.success if ok else req.failure:
        if op.WhichOneof("request") == "request_txn":
            _compare_path(txn, op.request_txn, path)


def _check_ops(store: KVStore, txn: TxnRead, req: Any, path: Any) -> None:
    """etcd's ``checkRequests``: range revisions and put preconditions on the path, before any write."""
    ok = next(path)
    for op in req.success if ok else req.failure:
        which = op.WhichOneof("request")
        if which == "request_range":
            r = op.request_range
            if r.revision > txn.rev():
                raise ErrFutureRev()
            if r.revision and r.revision < txn.first_rev():
                raise ErrCompacted()
        elif which == "request_put":
            _check_put(store, txn, op.request_put)
        elif which == "request_txn":
            _check_ops(store, txn, op.request_txn, path)


def _check_put(store: KVStore, txn: TxnRead, req: Any) -> None:
    if (req.ignore_value or req.ignore_lease) and not txn.range(req.key).kvs:
        raise ErrKeyNotFound()
    if req.lease and store.lease_attacher is not None:
        store.lease_attacher.attach(req.lease, [])  # raises for an unknown lease, attaches nothing


def _apply_txn(txn: TxnWrite, req: Any, path: Any) -> TxnResponse:
    ok = next(path)
    resp = TxnResponse(succeeded=ok)
    for op in req.success if ok else req.failure:
        which = op.WhichOneof("request")
        if which == "request_range":
            resp.responses.append(range_in(txn, op.request_range))
        elif which == "request_put":
            resp.responses.append(put_in(txn, op.request_put))
        elif which == "request_delete_range":
            resp.responses.append(delete_range_in(txn, op.request_delete_range))
        elif which == "request_txn":
            resp.responses.append(_apply_txn(txn, op.request_txn, path))
    return resp


def _set_revision(resp: TxnResponse, rev: int) -> None:
    """A txn's nested responses carry the txn's revision in their headers, as etcd's do."""
    resp.revision = rev
    for r in resp.responses:
        if isinstance(r, TxnResponse):
            _set_revision(r, rev)
        else:
            r.revision = rev
