"""Multi-version concurrency control: the v3 key space with its history (etcd's ``mvcc`` package).

``kvstore.KVStore`` keeps every revision of every key in the backend's ``key`` bucket and an in-memory
index (``index.TreeIndex`` of ``key_index.KeyIndex``) from keys to revisions; ``kvstore_txn`` gives
read and write transactions (one revision per write transaction), ``kvstore_compaction`` deletes old
revisions in batches. ``watchable_store.WatchableStore`` adds watchers (``watcher``,
``watcher_group``). ``apply.Applier`` gives etcd's Range/Put/DeleteRange/Txn request semantics over a
store, ``txn_check`` the checks etcd makes before proposing a Txn, ``request`` the request and
response shapes, ``errors`` etcd's error texts. Blocking and thread-safe; no asyncio.
"""
