"""KV requests and responses as plain data, named field for field as etcd's ``etcdserverpb``.

mvcc imports nothing from the API layer; because the names match, ``apply.Applier`` takes these
dataclasses or the generated ``etcdserverpb`` messages alike (it only reads attributes, and asks a
``RequestOp`` for ``WhichOneof("request")``). Enum values are etcd's numbers. An empty ``range_end`` is
the single key; ``b"\\0"`` means every key >= ``key``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from etcd.mvcc.mvccpb.kv_pb2 import KeyValue


class SortOrder(enum.IntEnum):
    NONE = 0
    ASCEND = 1
    DESCEND = 2


class SortTarget(enum.IntEnum):
    KEY = 0
    VERSION = 1
    CREATE = 2
    MOD = 3
    VALUE = 4


class CompareResult(enum.IntEnum):
    EQUAL = 0
    GREATER = 1
    LESS = 2
    NOT_EQUAL = 3


class CompareTarget(enum.IntEnum):
    VERSION = 0
    CREATE = 1
    MOD = 2
    VALUE = 3
    LEASE = 4


@dataclass
class RangeRequest:
    key: bytes = b""
    range_end: bytes = b""
    limit: int = 0
    revision: int = 0
    sort_order: int = SortOrder.NONE
    sort_target: int = SortTarget.KEY
    serializable: bool = False
    keys_only: bool = False
    count_only: bool = False
    min_mod_revision: int = 0
    max_mod_revision: int = 0
    min_create_revision: int = 0
    max_create_revision: int = 0


@dataclass
class PutRequest:
    key: bytes = b""
    value: bytes = b""
    lease: int = 0
    prev_kv: bool = False
    ignore_value: bool = False
    ignore_lease: bool = False


@dataclass
class DeleteRangeRequest:
    key: bytes = b""
    range_end: bytes = b""
    prev_kv: bool = False


@dataclass
class Compare:
    """Compares ``target`` of the key (or each key in [key, range_end)) with the matching field."""

    result: int = CompareResult.EQUAL
    target: int = CompareTarget.VERSION
    key: bytes = b""
    version: int = 0
    create_revision: int = 0
    mod_revision: int = 0
    value: bytes = b""
    lease: int = 0
    range_end: bytes = b""


@dataclass
class RequestOp:
    """Exactly one of the four fields is set, as the protobuf oneof ``request``."""

    request_range: RangeRequest | None = None
    request_put: PutRequest | None = None
    request_delete_range: DeleteRangeRequest | None = None
    request_txn: TxnRequest | None = None

    def WhichOneof(self, name: str) -> str | None:
        for f in ("request_range", "request_put", "request_delete_range", "request_txn"):
            if getattr(self, f) is not None:
                return f
        return None


@dataclass
class TxnRequest:
    compare: list[Any] = field(default_factory=list)
    success: list[Any] = field(default_factory=list)
    failure: list[Any] = field(default_factory=list)


@dataclass
class RangeResponse:
    kvs: list[KeyValue] = field(default_factory=list)
    more: bool = False
    count: int = 0
    revision: int = 0  # for the response header


@dataclass
class PutResponse:
    prev_kv: KeyValue | None = None
    revision: int = 0


@dataclass
class DeleteRangeResponse:
    deleted: int = 0
    prev_kvs: list[KeyValue] = field(default_factory=list)
    revision: int = 0


@dataclass
class TxnResponse:
    succeeded: bool = False
    # One per executed op, in order: RangeResponse, PutResponse, DeleteRangeResponse or TxnResponse.
    responses: list[Any] = field(default_factory=list)
    revision: int = 0
