"""etcd's v2 store: the tree of keys and directories behind ``/v2/keys`` (``etcdserver/api/v2store``).

``Store`` is the entry point; every operation answers with an ``Event`` and fails with
``etcd.api.v2error.Error``. Time is always passed in: expiry times with the writes, the expiry
cutoff to ``Store.delete_expired_keys``; the injected clock only renders ``ttl`` seconds.
"""

from etcd.v2store.event import Event
from etcd.v2store.gotime import PERMANENT
from etcd.v2store.node_extern import NodeExtern
from etcd.v2store.stats import Stats
from etcd.v2store.store import Store, TTLOptionSet
from etcd.v2store.watcher import Watcher

__all__ = ["PERMANENT", "Event", "NodeExtern", "Stats", "Store", "TTLOptionSet", "Watcher"]
