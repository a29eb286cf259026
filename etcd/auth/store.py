"""The auth store: users, roles and their key permissions in the backend, the enabled flag and the auth
revision (etcd's ``auth/store.go``).

Buckets and keys are etcd's: bucket ``auth`` holds ``authEnabled`` (one byte, 1 or 0) and
``authRevision`` (8 bytes, big-endian); ``authUsers`` maps a user name to an ``authpb.User`` (roles
sorted, bcrypt hash of the password); ``authRoles`` maps a role name to an ``authpb.Role`` (permissions
sorted by key). The revision starts at 1 and grows by one with every change to users, roles or
permissions and with AuthDisable (not AuthEnable, as in etcd), so a token or a request checked at an
older revision can be told apart (``ErrAuthOldRevision``).

Every changing method is called by the server's apply loop, in raft order, on every member, so the
stores agree; each runs in one ``with backend.batch_tx()`` block (re-entrant: the applier's own block
around the entry holds the consistent index, so both land in one commit). Reads and permission checks
may come from any thread: the ``is_*_permitted`` checks and ``auth_info_from_*`` answer from memory
without the backend lock, so the API layer may call them on its event loop. Everything else is
blocking: bcrypt takes tens of milliseconds at cost 10 (``check_password``, ``user_add``,
``user_change_password``), and reads take the backend lock, which the applier holds for a whole batch.

``ROOT_USER`` and ``ROOT_ROLE`` are special as in etcd: auth can be enabled only once user ``root``
exists and holds role ``root``; while enabled neither can be deleted nor the role revoked from the user;
a holder of role ``root`` may do anything; role ``root`` may be granted before it exists.
"""

from __future__ import annotations

import bisect
import struct

import bcrypt

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.auth import metrics
from etcd.auth.authpb.auth_pb2 import Permission, Role, User, UserAddOptions
from etcd.auth.errors import (
    ErrAuthFailed,
    ErrAuthNotEnabled,
    ErrAuthOldRevision,
    ErrInvalidAuthMgmt,
    ErrInvalidAuthToken,
    ErrNoPasswordUser,
    ErrPermissionDenied,
    ErrPermissionNotGranted,
    ErrRoleAlreadyExist,
    ErrRoleEmpty,
    ErrRoleNotFound,
    ErrRoleNotGranted,
    ErrRootRoleNotExist,
    ErrRootUserNotExist,
    ErrUserAlreadyExist,
    ErrUserEmpty,
    ErrUserNotFound,
)
from etcd.auth.range_perm_cache import ROOT_ROLE, RangePermCache
from etcd.auth.tokens import AuthInfo, TokenProvider
from etcd.backend import buckets
from etcd.backend.backend import Backend
from etcd.backend.batch_tx import BatchTx
from etcd.backend.read_tx import ReadTx

ROOT_USER = "root"

ENABLE_FLAG_KEY = b"authEnabled"
AUTH_ENABLED = b"\x01"
AUTH_DISABLED = b"\x00"
REVISION_KEY = b"authRevision"

BCRYPT_MIN_COST = 4  # golang.org/x/crypto/bcrypt MinCost
BCRYPT_MAX_COST = 31  # MaxCost
BCRYPT_DEFAULT_COST = 10  # DefaultCost
# etcd 3.4 compat: the x/crypto/bcrypt of etcd 3.4 hashes only a password's first 72 bytes (later
# versions refuse longer ones; the Python bcrypt package refuses them too, so cut them here).
BCRYPT_MAX_PASSWORD = 72


def _bcrypt_password(password: str) -> bytes:
    return password.encode()[:BCRYPT_MAX_PASSWORD]


def has_root_role(user: User) -> bool:
    """Whether ``user`` holds role ``root`` (its roles are sorted, as in etcd's ``hasRootRole``)."""
    i = bisect.bisect_left(user.roles, ROOT_ROLE)
    return i < len(user.roles) and user.roles[i] == ROOT_ROLE


def _get_user(tx: ReadTx, name: str) -> User | None:
    kvs = tx.unsafe_range(buckets.AUTH_USERS, name.encode())
    if not kvs:
        return None
    user = User()
    user.ParseFromString(kvs[0][1])
    return user


def _get_all_users(tx: ReadTx) -> list[User]:
    return [User.FromString(v) for _, v in tx.unsafe_iter(buckets.AUTH_USERS, b"", None)]


def _get_role(tx: ReadTx, name: str) -> Role | None:
    kvs = tx.unsafe_range(buckets.AUTH_ROLES, name.encode())
    if not kvs:
        return None
    role = Role()
    role.ParseFromString(kvs[0][1])
    return role


def _get_all_roles(tx: ReadTx) -> list[Role]:
    return [Role.FromString(v) for _, v in tx.unsafe_iter(buckets.AUTH_ROLES, b"", None)]


def _get_revision(tx: ReadTx) -> int:
    kvs = tx.unsafe_range(buckets.AUTH, REVISION_KEY)
    if len(kvs) != 1:
        return 0  # a new store
    return int(struct.unpack(">Q", kvs[0][1])[0])


def _get_enabled(tx: ReadTx) -> bool:
    kvs = tx.unsafe_range(buckets.AUTH, ENABLE_FLAG_KEY)
    return len(kvs) == 1 and kvs[0][1] == AUTH_ENABLED


class AuthStore:
    """Users, roles, permissions, the enabled flag and the auth revision, kept in ``backend``.

    Opening it creates nothing but the revision (1, in a new backend) and reads the rest; ``recover``
    re-reads everything after the backend was replaced by a snapshot. ``bcrypt_cost`` outside 4..31
    falls back to 10 as in etcd. The ``token_provider`` is enabled and disabled with auth.

    The store has no lock of its own: every change holds the backend's write lock throughout, so changes
    serialize with each other and with the applier's batch; checks read an immutable cache.

    Methods named after etcd's raise the ``etcd.auth.errors`` classes with etcd's texts and take and
    return ``etcdserverpb`` messages as etcd's do (responses without a header: the server adds it).
    """

    def __init__(
        self, backend: Backend, *, bcrypt_cost: int = BCRYPT_DEFAULT_COST, token_provider: TokenProvider
    ) -> None:
        if not BCRYPT_MIN_COST <= bcrypt_cost <= BCRYPT_MAX_COST:
            bcrypt_cost = BCRYPT_DEFAULT_COST
        self.bcrypt_cost = bcrypt_cost
        self.token_provider = token_provider
        self._be = backend
        self._enabled = False
        self._revision = 0
        self._cache = RangePermCache({}, frozenset())
        with backend.batch_tx() as tx:
            for bucket in (buckets.AUTH, buckets.AUTH_USERS, buckets.AUTH_ROLES):
                tx.unsafe_create_bucket(bucket)
            self._enabled = _get_enabled(tx)
            self._revision = _get_revision(tx)
            if self._revision == 0:
                self._commit_revision(tx)
            self._refresh_range_perm_cache(tx)
        if self._enabled:
            token_provider.enable()
        backend.force_commit()
        metrics.current_auth_revision.set_function(lambda: float(self._revision))

    # -- state -----------------------------------------------------------------------------------------

    def is_auth_enabled(self) -> bool:
        return self._enabled

    def revision(self) -> int:
        """The auth revision: 1 in a new store, one more after every change."""
        return self._revision

    def recover(self, backend: Backend) -> None:
        """Re-reads everything from ``backend`` (a member restored from a snapshot)."""
        self._be = backend
        with backend.read_tx() as tx:
            self._enabled = _get_enabled(tx)
            self._revision = _get_revision(tx)
            self._refresh_range_perm_cache(tx)
            if self._enabled:
                self.token_provider.enable()
            else:
                # etcd's Recover leaves the provider as it was; tokens of a disabled store are worthless.
                self.token_provider.disable()

    def close(self) -> None:
        """Forgets the tokens (etcd's ``Close``); the backend is the caller's to close."""
        if self._enabled:
            self.token_provider.disable()

    def _commit_revision(self, tx: BatchTx) -> None:
        self._revision += 1
        tx.unsafe_put(buckets.AUTH, REVISION_KEY, struct.pack(">Q", self._revision))

    def _refresh_range_perm_cache(self, tx: ReadTx) -> None:
        roles = {r.name.decode(): r for r in _get_all_roles(tx)}
        self._cache = RangePermCache.build(_get_all_users(tx), roles)

    def _changed(self, tx: BatchTx) -> None:
        """After a change in ``tx``: the next revision, and a cache rebuilt from what ``tx`` now holds."""
        self._commit_revision(tx)
        self._refresh_range_perm_cache(tx)

    # -- enable / disable ------------------------------------------------------------------------------

    def auth_enable(self) -> None:
        """Turns auth on; a no-op when it is on.

        Raises:
            ErrRootUserNotExist: no user ``root``.
            ErrRootRoleNotExist: user ``root`` does not hold role ``root``.
        """
        with self._be.batch_tx() as tx:
            if self._enabled:
                return
            try:
                user = _get_user(tx, ROOT_USER)
                if user is None:
                    raise ErrRootUserNotExist()
                if not has_root_role(user):
                    raise ErrRootRoleNotExist()
                tx.unsafe_put(buckets.AUTH, ENABLE_FLAG_KEY, AUTH_ENABLED)
                self._enabled = True
                self.token_provider.enable()
                self._refresh_range_perm_cache(tx)
                self._revision = _get_revision(tx)
            finally:
                self._be.force_commit()

    def auth_disable(self) -> None:
        """Turns auth off (a no-op when it is off), forgetting every simple token."""
        with self._be.batch_tx() as tx:
            if not self._enabled:
                return
            tx.unsafe_put(buckets.AUTH, ENABLE_FLAG_KEY, AUTH_DISABLED)
            self._commit_revision(tx)
            self._be.force_commit()
            self._enabled = False
            self.token_provider.disable()

    # -- authentication --------------------------------------------------------------------------------

    def check_password(self, name: str, password: str) -> int:
        """Checks ``name``'s password; returns the auth revision it was checked at.

        The server calls it before proposing an Authenticate entry (the password never enters the raft
        log), then retries if the revision moved before the entry was applied.

        Raises:
            ErrAuthNotEnabled, ErrAuthFailed (unknown user or wrong password), ErrNoPasswordUser.
        """
        if not self._enabled:
            raise ErrAuthNotEnabled()
        with self._be.read_tx() as tx:
            user = _get_user(tx, name)
            if user is None:
                raise ErrAuthFailed()
            if user.options.no_password:
                raise ErrNoPasswordUser()
            revision = _get_revision(tx)
        # bcrypt outside the lock: it is slow, and nothing it reads can change under it.
        try:
            ok = bcrypt.checkpw(_bcrypt_password(password), user.password)
        except ValueError:
            ok = False  # not a bcrypt hash
        if not ok:
            raise ErrAuthFailed()
        return revision

    def gen_token_prefix(self) -> str:
        """The random part of a simple token, chosen by the member proposing Authenticate ("" for JWT)."""
        return self.token_provider.gen_token_prefix()

    def authenticate(self, name: str, *, index: int, simple_token_prefix: str) -> pb.AuthenticateResponse:
        """Applies an ``InternalAuthenticateRequest``: a token for ``name`` (the password was checked by
        ``check_password`` before proposing). ``index`` is the entry's raft index.

        Raises:
            ErrAuthNotEnabled, ErrAuthFailed (no such user, or a user without password).
        """
        if not self._enabled:
            raise ErrAuthNotEnabled()
        with self._be.read_tx() as tx:
            user = _get_user(tx, name)
        if user is None or user.options.no_password:
            raise ErrAuthFailed()
        token = self.token_provider.assign(name, self._revision, index=index, prefix=simple_token_prefix)
        return pb.AuthenticateResponse(token=token)

    def token_required_index(self, token: str) -> int:
        """The raft index to wait for before ``auth_info_from_token`` (a simple token is known only once
        its Authenticate entry is applied here; 0 for JWT).

        Raises:
            ErrInvalidAuthToken: not a token of this provider's form.
        """
        return self.token_provider.required_index(token)

    def auth_info_from_token(self, token: str) -> AuthInfo:
        """Who ``token`` (gRPC metadata ``token``, gateway header ``Authorization``) stands for.

        Raises:
            ErrInvalidAuthToken: unknown, expired, forged, or auth was disabled since.
        """
        try:
            return self.token_provider.info(token, self._revision)
        except ErrInvalidAuthToken:
            raise
        except Exception as err:  # a provider's own failure is an invalid token to the client
            raise ErrInvalidAuthToken() from err

    def auth_info_from_tls(self, common_name: str) -> AuthInfo:
        """A verified client certificate's common name as the user, at the current revision (etcd's
        ``AuthInfoFromTLS``; the caller skips it for gateway requests, which carry ``grpcgateway-accept``)."""
        return AuthInfo(common_name, self._revision)

    # -- users -----------------------------------------------------------------------------------------

    def user_add(self, r: pb.AuthUserAddRequest) -> pb.AuthUserAddResponse:
        """Raises: ErrUserEmpty, ErrUserAlreadyExist."""
        if not r.name:
            raise ErrUserEmpty()
        options = UserAddOptions()
        options.CopyFrom(r.options)
        hashed = b""
        if not options.no_password:
            hashed = bcrypt.hashpw(_bcrypt_password(r.password), bcrypt.gensalt(self.bcrypt_cost, b"2a"))
        with self._be.batch_tx() as tx:
            if _get_user(tx, r.name) is not None:
                raise ErrUserAlreadyExist()
            user = User(name=r.name.encode(), password=hashed, options=options)
            tx.unsafe_put(buckets.AUTH_USERS, user.name, user.SerializeToString())
            self._changed(tx)
        return pb.AuthUserAddResponse()

    def user_delete(self, r: pb.AuthUserDeleteRequest) -> pb.AuthUserDeleteResponse:
        """Raises: ErrInvalidAuthMgmt (``root`` while enabled), ErrUserNotFound."""
        if self._enabled and r.name == ROOT_USER:
            raise ErrInvalidAuthMgmt()
        with self._be.batch_tx() as tx:
            if _get_user(tx, r.name) is None:
                raise ErrUserNotFound()
            tx.unsafe_delete(buckets.AUTH_USERS, r.name.encode())
            self._changed(tx)
        self.token_provider.invalidate_user(r.name)
        return pb.AuthUserDeleteResponse()

    def user_change_password(self, r: pb.AuthUserChangePasswordRequest) -> pb.AuthUserChangePasswordResponse:
        """Raises: ErrUserNotFound. The user's simple tokens are invalidated."""
        hashed = bcrypt.hashpw(_bcrypt_password(r.password), bcrypt.gensalt(self.bcrypt_cost, b"2a"))
        with self._be.batch_tx() as tx:
            user = _get_user(tx, r.name)
            if user is None:
                raise ErrUserNotFound()
            # etcd 3.4 compat: a no-password user gets the hash too, and still cannot authenticate.
            user.password = hashed
            tx.unsafe_put(buckets.AUTH_USERS, user.name, user.SerializeToString())
            self._changed(tx)
        self.token_provider.invalidate_user(r.name)
        return pb.AuthUserChangePasswordResponse()

    def user_grant_role(self, r: pb.AuthUserGrantRoleRequest) -> pb.AuthUserGrantRoleResponse:
        """Raises: ErrUserNotFound, ErrRoleNotFound (``root`` may be granted before it exists).
        Granting a role the user holds changes nothing."""
        with self._be.batch_tx() as tx:
            user = _get_user(tx, r.user)
            if user is None:
                raise ErrUserNotFound()
            if r.role != ROOT_ROLE and _get_role(tx, r.role) is None:
                raise ErrRoleNotFound()
            roles = list(user.roles)
            i = bisect.bisect_left(roles, r.role)
            if i < len(roles) and roles[i] == r.role:
                return pb.AuthUserGrantRoleResponse()
            roles.insert(i, r.role)
            del user.roles[:]
            user.roles.extend(roles)
            tx.unsafe_put(buckets.AUTH_USERS, user.name, user.SerializeToString())
            self._changed(tx)
        return pb.AuthUserGrantRoleResponse()

    def user_get(self, r: pb.AuthUserGetRequest) -> pb.AuthUserGetResponse:
        """Raises: ErrUserNotFound."""
        with self._be.read_tx() as tx:
            user = _get_user(tx, r.name)
        if user is None:
            raise ErrUserNotFound()
        return pb.AuthUserGetResponse(roles=list(user.roles))

    def user_list(self, r: pb.AuthUserListRequest | None = None) -> pb.AuthUserListResponse:
        """Every user name, in byte order."""
        with self._be.read_tx() as tx:
            users = _get_all_users(tx)
        return pb.AuthUserListResponse(users=[u.name.decode() for u in users])

    def user_revoke_role(self, r: pb.AuthUserRevokeRoleRequest) -> pb.AuthUserRevokeRoleResponse:
        """Raises: ErrInvalidAuthMgmt (role ``root`` from user ``root`` while enabled), ErrUserNotFound,
        ErrRoleNotGranted."""
        if self._enabled and r.name == ROOT_USER and r.role == ROOT_ROLE:
            raise ErrInvalidAuthMgmt()
        with self._be.batch_tx() as tx:
            user = _get_user(tx, r.name)
            if user is None:
                raise ErrUserNotFound()
            kept = [role for role in user.roles if role != r.role]
            if len(kept) == len(user.roles):
                raise ErrRoleNotGranted()
            del user.roles[:]
            user.roles.extend(kept)
            tx.unsafe_put(buckets.AUTH_USERS, user.name, user.SerializeToString())
            self._changed(tx)
        return pb.AuthUserRevokeRoleResponse()

    def has_role(self, user: str, role: str) -> bool:
        """Whether ``user`` exists and holds ``role``."""
        with self._be.read_tx() as tx:
            u = _get_user(tx, user)
        return u is not None and role in u.roles

    # -- roles -----------------------------------------------------------------------------------------

    def role_add(self, r: pb.AuthRoleAddRequest) -> pb.AuthRoleAddResponse:
        """Raises: ErrRoleEmpty, ErrRoleAlreadyExist."""
        if not r.name:
            raise ErrRoleEmpty()
        with self._be.batch_tx() as tx:
            if _get_role(tx, r.name) is not None:
                raise ErrRoleAlreadyExist()
            role = Role(name=r.name.encode())
            tx.unsafe_put(buckets.AUTH_ROLES, role.name, role.SerializeToString())
            self._changed(tx)
        return pb.AuthRoleAddResponse()

    def role_get(self, r: pb.AuthRoleGetRequest) -> pb.AuthRoleGetResponse:
        """Raises: ErrRoleNotFound."""
        with self._be.read_tx() as tx:
            role = _get_role(tx, r.role)
        if role is None:
            raise ErrRoleNotFound()
        return pb.AuthRoleGetResponse(perm=list(role.keyPermission))

    def role_list(self, r: pb.AuthRoleListRequest | None = None) -> pb.AuthRoleListResponse:
        """Every role name, in byte order."""
        with self._be.read_tx() as tx:
            roles = _get_all_roles(tx)
        return pb.AuthRoleListResponse(roles=[role.name.decode() for role in roles])

    def role_delete(self, r: pb.AuthRoleDeleteRequest) -> pb.AuthRoleDeleteResponse:
        """Deletes the role and takes it from every user.

        Raises: ErrInvalidAuthMgmt (``root`` while enabled), ErrRoleNotFound."""
        if self._enabled and r.role == ROOT_ROLE:
            raise ErrInvalidAuthMgmt()
        with self._be.batch_tx() as tx:
            if _get_role(tx, r.role) is None:
                raise ErrRoleNotFound()
            tx.unsafe_delete(buckets.AUTH_ROLES, r.role.encode())
            for user in _get_all_users(tx):
                kept = [role for role in user.roles if role != r.role]
                if len(kept) == len(user.roles):
                    continue
                del user.roles[:]
                user.roles.extend(kept)
                tx.unsafe_put(buckets.AUTH_USERS, user.name, user.SerializeToString())
            self._changed(tx)
        return pb.AuthRoleDeleteResponse()

    def role_grant_permission(
        self, r: pb.AuthRoleGrantPermissionRequest
    ) -> pb.AuthRoleGrantPermissionResponse:
        """Adds ``r.perm`` to role ``r.name``, or sets the type of the permission on the same range.

        Raises: ErrRoleNotFound."""
        with self._be.batch_tx() as tx:
            role = _get_role(tx, r.name)
            if role is None:
                raise ErrRoleNotFound()
            perms = list(role.keyPermission)
            keys = [p.key for p in perms]
            i = bisect.bisect_left(keys, r.perm.key)
            # etcd 3.4 compat (auth/store.go RoleGrantPermission): only the first permission with this
            # key is compared, so a second range from one key is appended again rather than updated.
            if i < len(perms) and perms[i].key == r.perm.key and perms[i].range_end == r.perm.range_end:
                perms[i].permType = r.perm.permType
            else:
                perms.append(Permission(permType=r.perm.permType, key=r.perm.key, range_end=r.perm.range_end))
                perms.sort(key=lambda p: p.key)  # stable, as Go's sort of so few is
            updated = Role(name=role.name, keyPermission=perms)
            tx.unsafe_put(buckets.AUTH_ROLES, updated.name, updated.SerializeToString())
            self._changed(tx)
        return pb.AuthRoleGrantPermissionResponse()

    def role_revoke_permission(
        self, r: pb.AuthRoleRevokePermissionRequest
    ) -> pb.AuthRoleRevokePermissionResponse:
        """Removes every permission of the role on exactly [r.key, r.range_end).

        Raises: ErrRoleNotFound, ErrPermissionNotGranted."""
        with self._be.batch_tx() as tx:
            role = _get_role(tx, r.role)
            if role is None:
                raise ErrRoleNotFound()
            kept = [p for p in role.keyPermission if p.key != r.key or p.range_end != r.range_end]
            if len(kept) == len(role.keyPermission):
                raise ErrPermissionNotGranted()
            updated = Role(name=role.name, keyPermission=kept)
            tx.unsafe_put(buckets.AUTH_ROLES, updated.name, updated.SerializeToString())
            self._changed(tx)
        return pb.AuthRoleRevokePermissionResponse()

    # -- permission checks -----------------------------------------------------------------------------

    def _is_op_permitted(self, ai: AuthInfo | None, key: bytes, range_end: bytes, perm_type: int) -> None:
        if not self._enabled:
            return
        if ai is None or ai.revision == 0:
            raise ErrUserEmpty()  # no credentials came with the request
        if ai.revision < self._revision:
            raise ErrAuthOldRevision()
        cache = self._cache
        if not cache.has_user(ai.username):
            raise ErrPermissionDenied()
        if cache.has_root_role(ai.username):
            return
        if not cache.is_range_permitted(ai.username, key, range_end, perm_type):
            raise ErrPermissionDenied()

    def is_put_permitted(self, ai: AuthInfo | None, key: bytes) -> None:
        """Whether ``ai`` may write ``key``; returns when it may (or auth is off).

        Raises:
            ErrUserEmpty: no credentials (``ai`` None or revision 0).
            ErrAuthOldRevision: ``ai`` was checked at an older auth revision than the store's.
            ErrPermissionDenied: unknown user, or no role grants it.
        """
        self._is_op_permitted(ai, key, b"", Permission.WRITE)

    def is_range_permitted(self, ai: AuthInfo | None, key: bytes, range_end: bytes) -> None:
        """As ``is_put_permitted``, for reading [key, range_end) (a request's own key and range_end)."""
        self._is_op_permitted(ai, key, range_end, Permission.READ)

    def is_delete_range_permitted(self, ai: AuthInfo | None, key: bytes, range_end: bytes) -> None:
        """As ``is_put_permitted``, for deleting [key, range_end)."""
        self._is_op_permitted(ai, key, range_end, Permission.WRITE)

    def is_admin_permitted(self, ai: AuthInfo | None) -> None:
        """Whether ``ai`` holds role ``root`` (auth management, maintenance, membership); no revision check.

        Raises:
            ErrUserEmpty: no user name. ErrUserNotFound: no such user. ErrPermissionDenied: not root.
        """
        if not self._enabled:
            return
        if ai is None or not ai.username:
            raise ErrUserEmpty()
        # From the cache, not the backend: the API layer asks on the event loop, and the applier may
        # hold the backend lock for a whole batch (bcrypt included).
        cache = self._cache
        if not cache.has_user(ai.username):
            raise ErrUserNotFound()
        if not cache.has_root_role(ai.username):
            raise ErrPermissionDenied()
