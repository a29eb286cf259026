"""The v3 backend: named buckets in one RocksDB database, written in batches (etcd's mvcc/backend)."""
