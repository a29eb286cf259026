"""The checks etcd makes on a Txn before proposing it (``etcdserver/api/v3rpc/key.go``):
op counts against ``--max-txn-ops``, empty keys, and no key written twice on one path.

Requests are ``request.py`` dataclasses or ``etcdserverpb`` messages alike.
"""

from __future__ import annotations

from typing import Any

from etcd.mvcc.errors import ErrDuplicateKey, ErrEmptyKey, ErrLeaseProvided, ErrTooManyOps, ErrValueProvided

DEFAULT_MAX_TXN_OPS = 128  # etcd's --max-txn-ops default


def check_txn_request(req: Any, max_txn_ops: int = DEFAULT_MAX_TXN_OPS) -> None:
    """Raises ErrTooManyOps, ErrEmptyKey, ErrValueProvided, ErrLeaseProvided or ErrDuplicateKey."""
    _check_txn(req, max_txn_ops)
    check_intervals(list(req.success))
    check_intervals(list(req.failure))


def check_put_request(req: Any) -> None:
    if not req.key:
        raise ErrEmptyKey()
    if req.ignore_value and req.value:
        raise ErrValueProvided()
    if req.ignore_lease and req.lease:
        raise ErrLeaseProvided()


def _check_txn(req: Any, max_txn_ops: int) -> None:
    opc = max(len(req.compare), len(req.success), len(req.failure))
    if opc > max_txn_ops:
        raise ErrTooManyOps()
    for c in req.compare:
        if not c.key:
            raise ErrEmptyKey()
    for op in (*req.success, *req.failure):
        which = op.WhichOneof("request")
        if which == "request_txn":
            # etcd 3.4 compat: v3rpc/key.go gives a nested txn the ops left after its parent's
            _check_txn(op.request_txn, max_txn_ops - opc)
        elif which == "request_put":
            check_put_request(op.request_put)
        elif which is not None and not getattr(op, which).key:
            raise ErrEmptyKey()


class _Dels:
    """Delete ranges as [start, end) intervals; end None is a single key, b"" unbounded."""

    def __init__(self) -> None:
        self.ivs: list[tuple[bytes, bytes | None]] = []

    def add(self, key: bytes, range_end: bytes) -> None:
        if not range_end:
            self.ivs.append((key, None))
        else:
            self.ivs.append((key, b"" if range_end == b"\0" else range_end))

    def contains(self, k: bytes) -> bool:
        for start, end in self.ivs:
            if end is None:
                if k == start:
                    return True
            elif start <= k and (end == b"" or k < end):
                return True
        return False


def check_intervals(reqs: list[Any]) -> tuple[set[bytes], _Dels]:
    """etcd's ``checkIntervals``: the keys put and ranges deleted by ``reqs`` and their nested txns,
    raising ErrDuplicateKey when a key is put twice or put and deleted on the same path (the success
    and failure branches of a nested txn never both run, so they may write the same key)."""
    dels = _Dels()
    for op in reqs:
        if op.WhichOneof("request") == "request_delete_range":
            d = op.request_delete_range
            dels.add(d.key, d.range_end)
    puts: set[bytes] = set()
    for op in reqs:
        if op.WhichOneof("request") != "request_txn":
            continue
        puts_then, dels_then = check_intervals(list(op.request_txn.success))
        puts_else, dels_else = check_intervals(list(op.request_txn.failure))
        for k in puts_then:
            if k in puts or dels.contains(k):
                raise ErrDuplicateKey()
            puts.add(k)
        for k in puts_else:
            if (k in puts and k not in puts_then) or dels.contains(k):
                raise ErrDuplicateKey()
            puts.add(k)
        dels.ivs.extend(dels_then.ivs)
        dels.ivs.extend(dels_else.ivs)
    for op in reqs:
        if op.WhichOneof("request") != "request_put":
            continue
        k = op.request_put.key
        if k in puts or dels.contains(k):
            raise ErrDuplicateKey()
        puts.add(k)
    return puts, dels
