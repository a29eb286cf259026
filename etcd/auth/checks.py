"""What the server asks of the auth store around a raft request (etcd's ``etcdserver/apply_auth.go``
``authApplierV3`` and the auth cases of ``apply.go``), as plain functions over the store.

- ``apply_auth_request``: applies an InternalRaftRequest carrying an Auth* or Authenticate request,
  after the admin check etcd makes (``needAdminPermission``), returning the response without header.
- ``check_request``: the permission checks to make before applying a KV or lease request, with the
  user and auth revision from the request's header.
- ``check_txn_auth``: every compare and every branch of a Txn (also for read-only ones served
  without raft).

Every function raises the ``etcd.auth.errors`` class etcd would return.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb.raft_internal_pb2 import InternalRaftRequest
from etcd.auth.errors import AuthError
from etcd.auth.store import AuthStore
from etcd.auth.tokens import AuthInfo

# The InternalRaftRequest fields that need the root role when auth is on (etcd's needAdminPermission).
ADMIN_FIELDS = (
    "auth_enable",
    "auth_disable",
    "auth_user_add",
    "auth_user_delete",
    "auth_user_change_password",
    "auth_user_grant_role",
    "auth_user_revoke_role",
    "auth_role_add",
    "auth_role_grant_permission",
    "auth_role_revoke_permission",
    "auth_role_delete",
    "auth_user_list",
    "auth_role_list",
)

# Every field apply_auth_request handles.
AUTH_FIELDS = (*ADMIN_FIELDS, "authenticate", "auth_user_get", "auth_role_get")

# Keys attached to a lease, or None when there is no such lease (``Lessor.lookup(id).keys()``).
LeaseKeys = Callable[[int], Iterable[bytes] | None]


def auth_info_of(r: InternalRaftRequest) -> AuthInfo:
    """The user and auth revision the proposing member put in the header (empty: no credentials)."""
    return AuthInfo(r.header.username, r.header.auth_revision)


def is_auth_request(r: InternalRaftRequest) -> bool:
    return any(r.HasField(f) for f in AUTH_FIELDS)


def needs_admin_permission(r: InternalRaftRequest) -> bool:
    return any(r.HasField(f) for f in ADMIN_FIELDS)


def apply_auth_request(store: AuthStore, r: InternalRaftRequest, *, index: int) -> Any:
    """Applies the auth request in ``r`` (``index``: its raft index); returns the etcdserverpb response
    without header. Call it inside the applier's write transaction, on every member.

    Raises:
        ValueError: ``r`` holds no auth request.
        AuthError: as etcd's applier returns it (the admin check first, then the store's own).
    """
    ai = auth_info_of(r)
    if needs_admin_permission(r):
        store.is_admin_permitted(ai)
    if r.HasField("authenticate"):
        a = r.authenticate
        return store.authenticate(a.name, index=index, simple_token_prefix=a.simple_token)
    if r.HasField("auth_enable"):
        store.auth_enable()
        return pb.AuthEnableResponse()
    if r.HasField("auth_disable"):
        store.auth_disable()
        return pb.AuthDisableResponse()
    if r.HasField("auth_user_add"):
        return store.user_add(r.auth_user_add)
    if r.HasField("auth_user_delete"):
        return store.user_delete(r.auth_user_delete)
    if r.HasField("auth_user_change_password"):
        return store.user_change_password(r.auth_user_change_password)
    if r.HasField("auth_user_grant_role"):
        return store.user_grant_role(r.auth_user_grant_role)
    if r.HasField("auth_user_get"):
        # Anyone may read their own user; others need root (etcd's authApplierV3.UserGet).
        try:
            store.is_admin_permitted(ai)
        except AuthError:
            if r.auth_user_get.name != ai.username:
                raise
        return store.user_get(r.auth_user_get)
    if r.HasField("auth_user_revoke_role"):
        return store.user_revoke_role(r.auth_user_revoke_role)
    if r.HasField("auth_role_add"):
        return store.role_add(r.auth_role_add)
    if r.HasField("auth_role_grant_permission"):
        return store.role_grant_permission(r.auth_role_grant_permission)
    if r.HasField("auth_role_get"):
        # Anyone may read a role they hold; others need root (etcd's authApplierV3.RoleGet).
        try:
            store.is_admin_permitted(ai)
        except AuthError:
            if not store.has_role(ai.username, r.auth_role_get.role):
                raise
        return store.role_get(r.auth_role_get)
    if r.HasField("auth_role_revoke_permission"):
        return store.role_revoke_permission(r.auth_role_revoke_permission)
    if r.HasField("auth_role_delete"):
        return store.role_delete(r.auth_role_delete)
    if r.HasField("auth_user_list"):
        return store.user_list(r.auth_user_list)
    if r.HasField("auth_role_list"):
        return store.role_list(r.auth_role_list)
    raise ValueError("auth: not an auth request")


def check_lease_puts(store: AuthStore, ai: AuthInfo, keys: Iterable[bytes] | None) -> None:
    """The user may write every key attached to the lease (etcd's ``checkLeasePuts``): attaching a key
    to, or revoking, a lease that holds keys one may not write is refused."""
    for key in keys or ():
        store.is_put_permitted(ai, key)


def _check_put(store: AuthStore, ai: AuthInfo, r: pb.PutRequest, lease_keys: LeaseKeys) -> None:
    store.is_put_permitted(ai, r.key)
    if r.lease:
        check_lease_puts(store, ai, lease_keys(r.lease))
    if r.prev_kv:
        store.is_range_permitted(ai, r.key, b"")


def _check_delete_range(store: AuthStore, ai: AuthInfo, r: pb.DeleteRangeRequest) -> None:
    store.is_delete_range_permitted(ai, r.key, r.range_end)
    if r.prev_kv:
        store.is_range_permitted(ai, r.key, r.range_end)


def _check_ops(store: AuthStore, ai: AuthInfo, ops: Iterable[pb.RequestOp]) -> None:
    # etcd 3.4's checkTxnReqsPermission: a Put in a branch is checked for the key only (no prev_kv, no
    # lease keys), a DeleteRange for prev_kv first; nested Txns are not looked into.
    for op in ops:
        which = op.WhichOneof("request")
        if which == "request_range":
            store.is_range_permitted(ai, op.request_range.key, op.request_range.range_end)
        elif which == "request_put":
            store.is_put_permitted(ai, op.request_put.key)
        elif which == "request_delete_range":
            d = op.request_delete_range
            if d.prev_kv:
                store.is_range_permitted(ai, d.key, d.range_end)
            store.is_delete_range_permitted(ai, d.key, d.range_end)


def check_txn_auth(store: AuthStore, ai: AuthInfo, r: pb.TxnRequest) -> None:
    """Every compare needs read permission on its range; then both branches' operations (etcd's
    ``checkTxnAuth``): a Txn is refused if either branch could do what the user may not."""
    for c in r.compare:
        store.is_range_permitted(ai, c.key, c.range_end)
    _check_ops(store, ai, r.success)
    _check_ops(store, ai, r.failure)


def check_request(store: AuthStore, r: InternalRaftRequest, lease_keys: LeaseKeys) -> None:
    """The checks etcd's ``authApplierV3`` makes before applying a KV or lease request in ``r``, with
    the header's user and auth revision. Requests it does not check (compaction, lease grant, alarm,
    checkpoints) pass; auth requests go to ``apply_auth_request`` instead.
    """
    ai = auth_info_of(r)
    if r.HasField("range"):
        store.is_range_permitted(ai, r.range.key, r.range.range_end)
    elif r.HasField("put"):
        _check_put(store, ai, r.put, lease_keys)
    elif r.HasField("delete_range"):
        _check_delete_range(store, ai, r.delete_range)
    elif r.HasField("txn"):
        check_txn_auth(store, ai, r.txn)
    elif r.HasField("lease_revoke"):
        check_lease_puts(store, ai, lease_keys(r.lease_revoke.ID))
