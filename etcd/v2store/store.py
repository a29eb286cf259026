"""``Store``: etcd's v2 key space, a tree of keys and directories with TTLs and watchers
(``v2store/store.go``).

Every successful write advances the store index by one and is recorded as an ``Event`` in a history
of the last 1000 (what late watchers catch up from). Nothing here reads a clock to decide anything:
expiry happens only when the caller runs ``delete_expired_keys(now)`` (the server does so when a
``SYNC`` entry is applied, so every member expires the same keys at the same index), and expiry
times arrive with the requests. The injected ``clock`` only computes the ``ttl`` seconds shown in
answers.

Blocking-free and synchronous; safe to call from several threads (one lock serialises operations).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from etcd.api import v2error
from etcd.pkg import gojson
from etcd.pkg.gopath import clean as clean_path
from etcd.v2store import event as actions
from etcd.v2store import metrics
from etcd.v2store.event import Event, new_event
from etcd.v2store.event_history import EventHistory
from etcd.v2store.gotime import NS_PER_SECOND, PERMANENT
from etcd.v2store.node import CompareIndexNotMatch, CompareValueNotMatch, Node
from etcd.v2store.node_extern import NodeExtern
from etcd.v2store.stats import Stats
from etcd.v2store.ttl_key_heap import TTLKeyHeap
from etcd.v2store.watcher import Watcher
from etcd.v2store.watcher_hub import WatcherHub

# The store format version etcd writes in its saved JSON.
DEFAULT_VERSION = 2

# How many events watchers can look back.
EVENT_HISTORY_CAPACITY = 1000

# Expiry times before 2000-01-01T00:00:00Z mean "no expiry": that is what a zero time becomes after a
# trip through JavaScript (etcd's minExpireTime).
MIN_EXPIRE_TIME = 946_684_800 * NS_PER_SECOND


@dataclass(frozen=True, slots=True)
class TTLOptionSet:
    """Expiry options of a write: ``expire_time`` in ns since the epoch (``PERMANENT`` for none) and
    ``refresh``, which keeps the value, resets the TTL and tells no watcher."""

    expire_time: int = PERMANENT
    refresh: bool = False


def _split(p: str) -> tuple[str, str]:
    # Go's path.Split: everything up to and including the last slash, and the rest.
    i = p.rfind("/") + 1
    return p[:i], p[i:]


def _join(parent: str, name: str) -> str:
    return parent + name if parent.endswith("/") else parent + "/" + name


class _CountedAsSuccess(v2error.Error):
    """An error the store's counters record as a success.

    etcd 3.4 compat: store.go returns some errors without assigning its named ``err``, so the deferred
    stats update counts them as successes: the read-only root on update, compareAndSwap and delete; a
    directory or a failed compare on compareAndDelete; a value given for a directory on update.
    """


def _compare_fail_cause(n: Node, which: int, prev_value: str, prev_index: int) -> str:
    if which == CompareIndexNotMatch:
        return f"[{prev_index} != {n.modified_index}]"
    if which == CompareValueNotMatch:
        return f"[{prev_value} != {n.value}]"
    return f"[{prev_value} != {n.value}] [{prev_index} != {n.modified_index}]"


class Store:
    """The v2 tree, its index, TTL heap, watchers and counters.

    ``namespaces`` are directories made at index 0 that, like ``/``, can never be written or deleted
    (the server uses ``/0`` for membership and ``/1`` for user keys). ``clock`` returns the wall time
    in ns since the epoch (``time.time_ns``); it is used only for the ``ttl`` of answers.

    Operations return an ``Event`` and raise ``v2error.Error`` with etcd's code, cause and index.
    """

    def __init__(self, *namespaces: str, clock: Callable[[], int]) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self.current_index = 0
        self.current_version = DEFAULT_VERSION
        self.root = Node("/", 0, None, PERMANENT, is_dir=True)
        for ns in namespaces:
            self.root.add(Node(ns, 0, self.root, PERMANENT, is_dir=True))
        self.stats = Stats()
        self.watcher_hub = WatcherHub(EVENT_HISTORY_CAPACITY)
        self.ttl_key_heap = TTLKeyHeap()
        self.readonly_set = {*namespaces, "/"}

    # -- reading -------------------------------------------------------------------------------

    def version(self) -> int:
        return self.current_version

    def index(self) -> int:
        """The index of the last write."""
        with self._lock:
            return self.current_index

    def get(self, node_path: str, recursive: bool = False, sort: bool = False) -> Event:
        """A ``get`` event for the node at ``node_path``; a directory lists its visible children
        (their subtrees too if ``recursive``), sorted by key if ``sort``.

        Raises ``v2error.Error`` 100 (no such key) or 104 (a path element is a key).
        """
        with self._lock:
            metrics.read_counter.labels(metrics.GET_RECURSIVE if recursive else metrics.GET).inc()
            try:
                n = self._internal_get(node_path)
            except v2error.Error:
                self.stats.inc("get_fail")
                raise
            # etcd 3.4 compat: store.go Get keys the event by the path as given, not cleaned.
            e = new_event(actions.Get, node_path, n.modified_index, n.created_index)
            e.etcd_index = self.current_index
            self._load_internal_node(e.node, n, recursive, sort)
            self.stats.inc("get_success")
            return e

    def _load_internal_node(self, ext: NodeExtern, n: Node, recursive: bool, sort: bool) -> None:
        now = self._clock()
        if n.is_dir():
            ext.dir = True
            ext.nodes = n.list_children(recursive, sort, now)
        else:
            ext.value = n.value
        ext.expiration, ext.ttl = n.expiration_and_ttl(now)

    # -- writing -------------------------------------------------------------------------------

    def create(
        self,
        node_path: str,
        is_dir: bool,
        value: str,
        unique: bool,
        expire_opts: TTLOptionSet = TTLOptionSet(),
    ) -> Event:
        """Makes a new key or directory (and any missing directories above it, with no TTL).

        With ``unique`` the node is made under ``node_path`` with the name ``%020d`` of its own index
        (in-order keys). Raises ``v2error.Error`` 105 if it exists, 104 if a path element is a key,
        107 for ``/`` and the namespaces.
        """
        with self._lock:
            return self._counted(
                actions.Create, "create", self._create, node_path, is_dir, value, unique, expire_opts
            )

    def _create(
        self, node_path: str, is_dir: bool, value: str, unique: bool, expire_opts: TTLOptionSet
    ) -> Event:
        e = self._internal_create(
            node_path, is_dir, value, unique, False, expire_opts.expire_time, actions.Create
        )
        e.etcd_index = self.current_index
        self.watcher_hub.notify(e)
        return e

    def set(
        self, node_path: str, is_dir: bool, value: str, expire_opts: TTLOptionSet = TTLOptionSet()
    ) -> Event:
        """Makes or replaces the node at ``node_path``; the event's ``prev_node`` is the replaced key.

        A directory is never replaced (102). With ``expire_opts.refresh`` the key must exist (100)
        and keeps its value; only the TTL changes and watchers are not told.
        """
        with self._lock:
            return self._counted(actions.Set, "set", self._set, node_path, is_dir, value, expire_opts)

    def _set(self, node_path: str, is_dir: bool, value: str, expire_opts: TTLOptionSet) -> Event:
        n: Node | None = None
        get_err: v2error.Error | None = None
        try:
            n = self._internal_get(node_path)
        except v2error.Error as err:
            if err.error_code != v2error.EcodeKeyNotFound:
                raise
            get_err = err
        if expire_opts.refresh:
            if n is None:
                assert get_err is not None
                raise get_err
            value = n.value
        e = self._internal_create(node_path, is_dir, value, False, True, expire_opts.expire_time, actions.Set)
        e.etcd_index = self.current_index
        if n is not None:
            e.prev_node = n.repr(False, False, self._clock())
        self._publish(e, expire_opts.refresh)
        return e

    def update(self, node_path: str, new_value: str, expire_opts: TTLOptionSet = TTLOptionSet()) -> Event:
        """Changes an existing key's value and TTL, or a directory's TTL (its value must stay empty:
        102 otherwise). Raises 100 if missing, 107 for ``/`` and the namespaces."""
        with self._lock:
            return self._counted(actions.Update, "update", self._update, node_path, new_value, expire_opts)

    def _update(self, node_path: str, new_value: str, expire_opts: TTLOptionSet) -> Event:
        node_path = clean_path(node_path)
        if node_path in self.readonly_set:
            raise _CountedAsSuccess(v2error.EcodeRootROnly, "/", self.current_index)
        curr_index, next_index = self.current_index, self.current_index + 1
        n = self._internal_get(node_path)
        if n.is_dir() and new_value:
            raise _CountedAsSuccess(v2error.EcodeNotFile, node_path, curr_index)
        if expire_opts.refresh:
            new_value = n.value
        now = self._clock()
        e = new_event(actions.Update, node_path, next_index, n.created_index)
        e.etcd_index = next_index
        e.prev_node = n.repr(False, False, now)
        n.write(new_value, next_index)
        if n.is_dir():
            e.node.dir = True
        else:
            e.node.value = new_value
        n.update_ttl(expire_opts.expire_time, self.ttl_key_heap)
        e.node.expiration, e.node.ttl = n.expiration_and_ttl(now)
        self._publish(e, expire_opts.refresh)
        self.current_index = next_index
        return e

    def compare_and_swap(
        self,
        node_path: str,
        prev_value: str,
        prev_index: int,
        value: str,
        expire_opts: TTLOptionSet = TTLOptionSet(),
    ) -> Event:
        """Writes ``value`` to an existing key only if it holds ``prev_value`` (empty: any) and was
        last modified at ``prev_index`` (0: any).

        Raises 101 (cause like ``[old != cur]``) when a test fails, 102 on a directory, 100 if
        missing, 107 for ``/`` and the namespaces.
        """
        with self._lock:
            return self._counted(
                actions.CompareAndSwap,
                "compare_and_swap",
                self._compare_and_swap,
                node_path,
                prev_value,
                prev_index,
                value,
                expire_opts,
            )

    def _compare_and_swap(
        self, node_path: str, prev_value: str, prev_index: int, value: str, expire_opts: TTLOptionSet
    ) -> Event:
        node_path = clean_path(node_path)
        if node_path in self.readonly_set:
            raise _CountedAsSuccess(v2error.EcodeRootROnly, "/", self.current_index)
        n = self._internal_get(node_path)
        if n.is_dir():
            raise v2error.Error(v2error.EcodeNotFile, node_path, self.current_index)
        ok, which = n.compare(prev_value, prev_index)
        if not ok:
            cause = _compare_fail_cause(n, which, prev_value, prev_index)
            raise v2error.Error(v2error.EcodeTestFailed, cause, self.current_index)
        if expire_opts.refresh:
            value = n.value
        self.current_index += 1
        now = self._clock()
        e = new_event(actions.CompareAndSwap, node_path, self.current_index, n.created_index)
        e.etcd_index = self.current_index
        e.prev_node = n.repr(False, False, now)
        n.write(value, self.current_index)
        n.update_ttl(expire_opts.expire_time, self.ttl_key_heap)
        e.node.value = value
        e.node.expiration, e.node.ttl = n.expiration_and_ttl(now)
        self._publish(e, expire_opts.refresh)
        return e

    def delete(self, node_path: str, is_dir: bool = False, recursive: bool = False) -> Event:
        """Removes a key, an empty directory (``is_dir``) or a whole subtree (``recursive``).

        Watchers of every removed node hear the deletion. Raises 100 if missing, 102 for a directory
        without ``is_dir``, 108 for a non-empty one without ``recursive``, 107 for ``/`` and the
        namespaces.
        """
        with self._lock:
            return self._counted(actions.Delete, "delete", self._delete, node_path, is_dir, recursive)

    def _delete(self, node_path: str, is_dir: bool, recursive: bool) -> Event:
        node_path = clean_path(node_path)
        if node_path in self.readonly_set:
            raise _CountedAsSuccess(v2error.EcodeRootROnly, "/", self.current_index)
        if recursive:
            is_dir = True
        n = self._internal_get(node_path)
        next_index = self.current_index + 1
        e = new_event(actions.Delete, node_path, next_index, n.created_index)
        e.etcd_index = next_index
        e.prev_node = n.repr(False, False, self._clock())
        if n.is_dir():
            e.node.dir = True
        n.remove(is_dir, recursive, self._deleted_callback(e), self.ttl_key_heap, self.current_index)
        self.current_index += 1
        self.watcher_hub.notify(e)
        return e

    def compare_and_delete(self, node_path: str, prev_value: str, prev_index: int) -> Event:
        """Removes a key only if it holds ``prev_value`` (empty: any) and was last modified at
        ``prev_index`` (0: any). Raises 101 when a test fails, 102 on a directory, 100 if missing."""
        with self._lock:
            return self._counted(
                actions.CompareAndDelete,
                "compare_and_delete",
                self._compare_and_delete,
                node_path,
                prev_value,
                prev_index,
            )

    def _compare_and_delete(self, node_path: str, prev_value: str, prev_index: int) -> Event:
        node_path = clean_path(node_path)
        n = self._internal_get(node_path)
        if n.is_dir():
            raise _CountedAsSuccess(v2error.EcodeNotFile, node_path, self.current_index)
        ok, which = n.compare(prev_value, prev_index)
        if not ok:
            cause = _compare_fail_cause(n, which, prev_value, prev_index)
            raise _CountedAsSuccess(v2error.EcodeTestFailed, cause, self.current_index)
        self.current_index += 1
        e = new_event(actions.CompareAndDelete, node_path, self.current_index, n.created_index)
        e.etcd_index = self.current_index
        e.prev_node = n.repr(False, False, self._clock())
        n.remove(False, False, self._deleted_callback(e), self.ttl_key_heap, self.current_index)
        self.watcher_hub.notify(e)
        return e

    def _counted(self, action: str, stat: str, op: Callable[..., Event], *args: Any) -> Event:
        # Runs one write, then counts it: in the stats (success or failure) and in the metrics.
        try:
            e = op(*args)
        except v2error.Error as err:
            self.stats.inc(f"{stat}_success" if isinstance(err, _CountedAsSuccess) else f"{stat}_fail")
            raise
        finally:
            metrics.write_counter.labels(action).inc()
        self.stats.inc(f"{stat}_success")
        return e

    def _deleted_callback(self, e: Event) -> Callable[[str], None]:
        # Watchers of each removed node hear of it even when the deleted key is a directory above
        # them. etcd 3.4 compat: watcher_hub.go notifies the deleted key's own watchers again through
        # notify(), so a stream watcher on a deleted key receives the event twice.
        def callback(path: str) -> None:
            self.watcher_hub.notify_watchers(e, path, True)

        return callback

    def _publish(self, e: Event, refresh: bool) -> None:
        if refresh:
            # A refresh is history (it holds an index) but no watcher is told of it.
            e.refresh = True
            self.watcher_hub.add(e)
        else:
            self.watcher_hub.notify(e)

    def _internal_create(
        self,
        node_path: str,
        is_dir: bool,
        value: str,
        unique: bool,
        replace: bool,
        expire_time: int,
        action: str,
    ) -> Event:
        curr_index, next_index = self.current_index, self.current_index + 1
        if unique:
            node_path += f"/{next_index:020d}"
        node_path = clean_path(node_path)
        if node_path in self.readonly_set:
            raise v2error.Error(v2error.EcodeRootROnly, "/", curr_index)
        if expire_time < MIN_EXPIRE_TIME:
            expire_time = PERMANENT
        dir_name, node_name = _split(node_path)
        try:
            d = self._walk(dir_name, self._check_dir)
        except v2error.Error as err:
            # etcd 3.4 compat: store.go internalCreate counts a failed walk as a failed set whatever
            # the operation, on top of the operation's own failure count (and one more write).
            self.stats.inc("set_fail")
            metrics.write_counter.labels(action).inc()
            err.index = curr_index
            raise
        e = new_event(action, node_path, next_index, next_index)
        now = self._clock()
        n = d.get_child(node_name, curr_index)
        if n is not None:
            if not replace:
                raise v2error.Error(v2error.EcodeNodeExist, node_path, curr_index)
            if n.is_dir():
                raise v2error.Error(v2error.EcodeNotFile, node_path, curr_index)
            e.prev_node = n.repr(False, False, now)
            n.remove(False, False, None, self.ttl_key_heap, curr_index)
        if is_dir:
            e.node.dir = True
            n = Node(node_path, next_index, d, expire_time, is_dir=True)
        else:
            e.node.value = value
            n = Node(node_path, next_index, d, expire_time, value=value)
        d.add(n)
        if not n.is_permanent():
            self.ttl_key_heap.push(n)
            e.node.expiration, e.node.ttl = n.expiration_and_ttl(now)
        self.current_index = next_index
        return e

    def _walk(self, node_path: str, step: Callable[[Node, str], Node]) -> Node:
        # Follows node_path from the root; an empty element (a trailing slash) ends the walk.
        curr = self.root
        for component in node_path.split("/")[1:]:
            if not component:
                return curr
            curr = step(curr, component)
        return curr

    def _internal_get(self, node_path: str) -> Node:
        def step(parent: Node, name: str) -> Node:
            if parent.children is None:
                raise v2error.Error(v2error.EcodeNotDir, parent.path, self.current_index)
            child = parent.children.get(name)
            if child is None:
                raise v2error.Error(v2error.EcodeKeyNotFound, _join(parent.path, name), self.current_index)
            return child

        return self._walk(clean_path(node_path), step)

    def _check_dir(self, parent: Node, dir_name: str) -> Node:
        # The directory dir_name under parent, made (with no TTL) if missing.
        assert parent.children is not None
        node = parent.children.get(dir_name)
        if node is not None:
            if node.is_dir():
                return node
            raise v2error.Error(v2error.EcodeNotDir, node.path, self.current_index)
        n = Node(_join(parent.path, dir_name), self.current_index + 1, parent, PERMANENT, is_dir=True)
        parent.children[dir_name] = n
        return n

    # -- watching and expiry -------------------------------------------------------------------

    def watch(
        self,
        key: str,
        recursive: bool = False,
        stream: bool = False,
        since_index: int = 0,
        *,
        notify: Callable[[], None] | None = None,
    ) -> Watcher:
        """A watcher for changes of ``key`` (and below it if ``recursive``) from ``since_index``
        on (0: from the next write). See ``Watcher`` for delivery and ``notify``.

        Raises ``v2error.Error`` 401 when ``since_index`` is older than the last 1000 events.
        """
        with self._lock:
            key = clean_path(key)
            if since_index == 0:
                since_index = self.current_index + 1
            return self.watcher_hub.watch(key, recursive, stream, since_index, self.current_index, notify)

    def delete_expired_keys(self, cutoff: int) -> list[Event]:
        """Expires every node whose expiry is at or before ``cutoff`` (ns since the epoch), soonest
        first, each as an ``expire`` event at its own index; returns those events.

        Call it only where every member does the same at the same point (applying a ``SYNC`` entry
        with the leader's time), so the store stays identical everywhere.
        """
        with self._lock:
            expired: list[Event] = []
            while True:
                node = self.ttl_key_heap.top()
                if node is None or node.expire_time > cutoff:
                    break
                self.current_index += 1
                e = new_event(actions.Expire, node.path, self.current_index, node.created_index)
                e.etcd_index = self.current_index
                e.prev_node = node.repr(False, False, self._clock())
                if node.is_dir():
                    e.node.dir = True
                self.ttl_key_heap.pop()
                node.remove(True, True, self._deleted_callback(e), self.ttl_key_heap, self.current_index)
                metrics.expire_counter.inc()
                self.stats.inc("expire_count")
                self.watcher_hub.notify(e)
                expired.append(e)
            return expired

    def has_ttl_keys(self) -> bool:
        """Whether any node has an expiry (the leader proposes ``SYNC`` only then)."""
        with self._lock:
            return len(self.ttl_key_heap) != 0

    # -- snapshots and stats -------------------------------------------------------------------

    def save(self) -> bytes:
        """The tree, index, event history and counters as etcd's JSON (watchers are not saved)."""
        with self._lock:
            # A deep copy in plain dicts (etcd's Clone); the slower encoding runs without the lock.
            state: dict[str, Any] = {
                "Root": self.root.to_save(),
                "WatcherHub": {"EventHistory": self.watcher_hub.event_history.to_save()},
                "CurrentIndex": self.current_index,
                "Stats": self.stats.to_dict(),
                "CurrentVersion": self.current_version,
            }
        return gojson.dumps(state).encode()

    def recovery(self, state: bytes) -> None:
        """Replaces the tree, index, history and counters with a ``save()``d state.

        Registered watchers stay. Nodes already past their expiry stay until the next
        ``delete_expired_keys``. Raises ``ValueError`` (or ``KeyError``) on malformed input, leaving
        the store unchanged.
        """
        d = json.loads(state)
        root = Node.from_save(d["Root"], None)
        history = EventHistory.from_save(d["WatcherHub"]["EventHistory"])
        stats = Stats.from_dict(d.get("Stats") or {})
        heap = TTLKeyHeap()
        root.walk_ttl_nodes(heap.push)
        with self._lock:
            self.root = root
            self.watcher_hub.event_history = history
            self.current_index = int(d.get("CurrentIndex", 0))
            self.stats = stats
            self.current_version = int(d.get("CurrentVersion", DEFAULT_VERSION))
            self.ttl_key_heap = heap

    def json_stats(self) -> bytes:
        """The counters as ``/v2/stats/store`` prints them, with the current watcher count."""
        with self._lock:
            self.stats.watchers = self.watcher_hub.count
            return self.stats.to_json().encode()
