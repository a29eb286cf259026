"""The applied raft index, stored in bucket ``meta`` under ``consistent_index`` (etcd 3.4's key).

Written in the same batch as the data it covers: the server calls ``write_consistent_index`` inside the
``with batch_tx:`` block that applies the entry, so after a crash the stored index says exactly which
entries the stored data includes.
"""

from __future__ import annotations

import struct

from etcd.backend import buckets
from etcd.backend.batch_tx import BatchTx
from etcd.backend.read_tx import ReadTx

CONSISTENT_INDEX_KEY = b"consistent_index"


def read_consistent_index(tx: ReadTx) -> int:
    """The stored index, 0 when none was written. Call with ``tx``'s lock held."""
    kvs = tx.unsafe_range(buckets.META, CONSISTENT_INDEX_KEY)
    return struct.unpack(">Q", kvs[0][1])[0] if kvs else 0


def write_consistent_index(tx: BatchTx, index: int) -> None:
    """Stores ``index`` (8 bytes, big-endian) in the open batch. Call with ``tx``'s lock held."""
    tx.unsafe_put(buckets.META, CONSISTENT_INDEX_KEY, struct.pack(">Q", index))
