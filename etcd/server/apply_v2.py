"""``apply``: one v2 ``etcdserverpb.Request`` run against the v2 store (etcd's ``etcdserver/apply_v2.go``
for the writes raft commits, and ``v2_server.go`` for the reads a member answers itself).

Which store operation a request becomes:

==========  ====================================================  =====================
Method      Condition (checked in this order)                     Store call
==========  ====================================================  =====================
PUT         ``PrevExist`` set true, no ``PrevValue``/``PrevIndex``  ``update``
PUT         ``PrevExist`` set true, with either                   ``compare_and_swap``
PUT         ``PrevExist`` set false                               ``create``
PUT         ``PrevValue`` or ``PrevIndex``                        ``compare_and_swap``
PUT         otherwise                                             ``set``
POST        always                                                ``create`` (in order)
DELETE      ``PrevValue`` or ``PrevIndex``                        ``compare_and_delete``
DELETE      otherwise                                             ``delete``
GET, HEAD   (``Quorum`` turns GET into QGET, ``Wait`` is a watch)  ``get``
QGET        always                                                ``get``
SYNC        always: expire keys due at ``Time``; no event          ``delete_expired_keys``
==========  ====================================================  =====================

``Dir`` only matters to ``set``, ``create`` and ``delete``; a refresh (``Refresh`` true) passes to
the store as ``TTLOptionSet.refresh``. A plain PUT that ``is_membership_put`` recognises (a member's
attributes or the cluster version) is no store write of ours: etcd hands it to its membership code,
and so must the server before calling ``apply``.
"""

from __future__ import annotations

import re

from etcd.api.etcdserverpb.etcdserver_pb2 import Request
from etcd.v2store import Event, Store, TTLOptionSet, Watcher
from etcd.v2store.gotime import PERMANENT

# etcd's storeMemberAttributeRegexp, unanchored as etcd's (it also matches below /1) and its
# StoreClusterVersionKey.
MEMBER_ATTRIBUTES_RE = re.compile(r"/0/members/[0-9A-Fa-f]{1,16}/attributes")
CLUSTER_VERSION_KEY = "/0/version"

# etcd's ErrUnknownMethod text; the HTTP layer shows it as the cause of a 300 error.
ERR_UNKNOWN_METHOD = "etcdserver: unknown method"


class UnknownMethodError(Exception):
    """A request whose method is none of etcd's (``etcdserver.ErrUnknownMethod``)."""

    def __init__(self) -> None:
        super().__init__(ERR_UNKNOWN_METHOD)


def ttl_options(r: Request) -> TTLOptionSet:
    """The request's expiry: ``Expiration`` (0: none) and ``Refresh`` (etcd's ``RequestV2.TTLOptions``)."""
    expire_time = r.Expiration if r.Expiration != 0 else PERMANENT
    return TTLOptionSet(expire_time=expire_time, refresh=r.HasField("Refresh") and r.Refresh)


def is_membership_put(r: Request) -> bool:
    """Whether a raft-applied PUT is one etcd routes to membership instead of ``Store.set``: no
    ``PrevExist``, ``PrevIndex`` or ``PrevValue``, and the path of member attributes or the cluster
    version."""
    if r.Method != "PUT" or r.HasField("PrevExist") or r.PrevIndex > 0 or r.PrevValue != "":
        return False
    return MEMBER_ATTRIBUTES_RE.search(r.Path) is not None or r.Path == CLUSTER_VERSION_KEY


def is_watch(r: Request) -> bool:
    """Whether the request is a watch (``GET`` with ``wait``), served by ``watch`` rather than ``apply``."""
    return r.Method == "GET" and r.Wait and not r.Quorum


def watch(store: Store, r: Request) -> Watcher:
    """The watcher a ``wait`` request asks for (``Store.watch`` from ``Since``; 401 if cleared)."""
    return store.watch(r.Path, r.Recursive, r.Stream, r.Since)


def apply(store: Store, r: Request) -> Event | None:
    """Runs ``r`` on ``store`` and returns the event to answer with (``None`` for SYNC).

    A ``GET`` with ``Quorum`` is served as ``QGET`` (the server proposes it through raft first).
    Raises ``v2error.Error`` from the store unchanged, ``ValueError`` for a watch (see ``watch``) and
    ``UnknownMethodError`` for any other method.
    """
    method = r.Method
    if method == "GET" and r.Quorum:
        method = "QGET"
    if method == "PUT":
        return _put(store, r)
    if method == "POST":
        return store.create(r.Path, r.Dir, r.Val, True, ttl_options(r))
    if method == "DELETE":
        if r.PrevIndex > 0 or r.PrevValue != "":
            return store.compare_and_delete(r.Path, r.PrevValue, r.PrevIndex)
        return store.delete(r.Path, r.Dir, r.Recursive)
    if method == "QGET":
        return store.get(r.Path, r.Recursive, r.Sorted)
    if method == "GET" and r.Wait:
        raise ValueError("a wait request is a watch: use apply_v2.watch")
    if method in ("GET", "HEAD"):
        return store.get(r.Path, r.Recursive, r.Sorted)
    if method == "SYNC":
        store.delete_expired_keys(r.Time)
        return None
    raise UnknownMethodError()


def _put(store: Store, r: Request) -> Event:
    opts = ttl_options(r)
    if r.HasField("PrevExist"):
        if r.PrevExist:
            if r.PrevIndex == 0 and r.PrevValue == "":
                return store.update(r.Path, r.Val, opts)
            return store.compare_and_swap(r.Path, r.PrevValue, r.PrevIndex, r.Val, opts)
        return store.create(r.Path, r.Dir, r.Val, False, opts)
    if r.PrevIndex > 0 or r.PrevValue != "":
        return store.compare_and_swap(r.Path, r.PrevValue, r.PrevIndex, r.Val, opts)
    return store.set(r.Path, r.Dir, r.Val, opts)


__all__ = [
    "CLUSTER_VERSION_KEY",
    "ERR_UNKNOWN_METHOD",
    "MEMBER_ATTRIBUTES_RE",
    "UnknownMethodError",
    "apply",
    "is_membership_put",
    "is_watch",
    "ttl_options",
    "watch",
]
