"""MVCC's Prometheus metrics, named and typed as etcd 3.4's ``mvcc/metrics.go``.

Gauges that describe "the" store (current revision, database size) are set by whichever store
changes them; a process runs one store, as etcd does.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

range_counter = Counter("etcd_mvcc_range_total", "Total number of ranges seen by this member.")
put_counter = Counter("etcd_mvcc_put_total", "Total number of puts seen by this member.")
delete_counter = Counter("etcd_mvcc_delete_total", "Total number of deletes seen by this member.")
txn_counter = Counter("etcd_mvcc_txn_total", "Total number of txns seen by this member.")
# etcd 3.4 still exports the older etcd_debugging_ names beside them, with the same counts.
range_counter_debug = Counter(
    "etcd_debugging_mvcc_range_total", "Total number of ranges seen by this member."
)
put_counter_debug = Counter("etcd_debugging_mvcc_put_total", "Total number of puts seen by this member.")
delete_counter_debug = Counter(
    "etcd_debugging_mvcc_delete_total", "Total number of deletes seen by this member."
)
txn_counter_debug = Counter("etcd_debugging_mvcc_txn_total", "Total number of txns seen by this member.")
total_put_size = Gauge(
    "etcd_debugging_mvcc_total_put_size_in_bytes", "The total size of put kv pairs seen by this member."
)
read_txns = Gauge("etcd_mvcc_db_open_read_transactions", "The number of currently open read transactions")

keys_gauge = Gauge("etcd_debugging_mvcc_keys_total", "Total number of keys.")
watch_stream_gauge = Gauge("etcd_debugging_mvcc_watch_stream_total", "Total number of watch streams.")
watcher_gauge = Gauge("etcd_debugging_mvcc_watcher_total", "Total number of watchers.")
slow_watcher_gauge = Gauge(
    "etcd_debugging_mvcc_slow_watcher_total", "Total number of unsynced slow watchers."
)
events_counter = Counter("etcd_debugging_mvcc_events_total", "Total number of events sent by this member.")
pending_events_gauge = Gauge(
    "etcd_debugging_mvcc_pending_events_total", "Total number of pending events to be sent."
)

index_compaction_pause = Histogram(
    "etcd_debugging_mvcc_index_compaction_pause_duration_milliseconds",
    "Bucketed histogram of index compaction pause duration.",
    buckets=[0.5 * 2**i for i in range(12)],
)
db_compaction_pause = Histogram(
    "etcd_debugging_mvcc_db_compaction_pause_duration_milliseconds",
    "Bucketed histogram of db compaction pause duration.",
    buckets=[1 * 2**i for i in range(13)],
)
db_compaction_total = Histogram(
    "etcd_debugging_mvcc_db_compaction_total_duration_milliseconds",
    "Bucketed histogram of db compaction total duration.",
    buckets=[100 * 2**i for i in range(24)],
)
db_compaction_keys = Counter(
    "etcd_debugging_mvcc_db_compaction_keys_total", "Total number of db keys compacted."
)

db_total_size = Gauge(
    "etcd_mvcc_db_total_size_in_bytes", "Total size of the underlying database physically allocated in bytes."
)
db_total_size_debug = Gauge(
    "etcd_debugging_mvcc_db_total_size_in_bytes",
    "Total size of the underlying database physically allocated in bytes.",
)
db_total_size_in_use = Gauge(
    "etcd_mvcc_db_total_size_in_use_in_bytes",
    "Total size of the underlying database logically in use in bytes.",
)
current_rev = Gauge("etcd_debugging_mvcc_current_revision", "The current revision of store.")
compact_rev = Gauge("etcd_debugging_mvcc_compact_revision", "The revision of the last compaction in store.")

hash_sec = Histogram(
    "etcd_mvcc_hash_duration_seconds",
    "The latency distribution of storage hash operation.",
    buckets=[0.01 * 2**i for i in range(15)],
)
hash_rev_sec = Histogram(
    "etcd_mvcc_hash_rev_duration_seconds",
    "The latency distribution of storage hash by revision operation.",
    buckets=[0.01 * 2**i for i in range(15)],
)
