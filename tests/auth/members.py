"""An auth store over a real RocksDB backend in a tmp dir that tests can reopen, and a hand-moved clock."""

from __future__ import annotations

from pathlib import Path

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.auth.authpb.auth_pb2 import Permission
from etcd.auth.store import AuthStore
from etcd.auth.tokens import AuthInfo, SimpleTokenProvider
from etcd.backend.backend import Backend

FAST_COST = 4  # bcrypt's minimum: tests hash many passwords


class ManualClock:
    """Seconds, moved only by ``advance``."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Member:
    """One auth store over its own backend; ``reopen`` closes both and opens them again from disk."""

    def __init__(self, path: Path, clock: ManualClock, *, ttl: float = 300.0, cost: int = FAST_COST) -> None:
        self.path = path
        self.clock = clock
        self.ttl = ttl
        self.cost = cost
        self._open()

    def _open(self) -> None:
        self.backend = Backend(str(self.path), batch_interval=0)
        self.tokens = SimpleTokenProvider(self.ttl, clock=self.clock)
        self.store = AuthStore(self.backend, bcrypt_cost=self.cost, token_provider=self.tokens)

    def close(self) -> None:
        self.store.close()
        self.backend.close()

    def reopen(self) -> None:
        self.close()
        self._open()

    # Shorthands for the setup most tests need.

    def add_user(self, name: str, password: str = "pw", *, roles: tuple[str, ...] = ()) -> None:
        self.store.user_add(pb.AuthUserAddRequest(name=name, password=password))
        for role in roles:
            self.store.user_grant_role(pb.AuthUserGrantRoleRequest(user=name, role=role))

    def add_role(self, name: str, *perms: tuple[Permission.Type, bytes, bytes]) -> None:
        self.store.role_add(pb.AuthRoleAddRequest(name=name))
        for perm_type, key, range_end in perms:
            self.grant(name, perm_type, key, range_end)

    def grant(self, role: str, perm_type: Permission.Type, key: bytes, range_end: bytes = b"") -> None:
        perm = Permission(permType=perm_type, key=key, range_end=range_end)
        self.store.role_grant_permission(pb.AuthRoleGrantPermissionRequest(name=role, perm=perm))

    def enable_with_root(self) -> None:
        self.add_user("root", "rootpw", roles=("root",))
        self.store.auth_enable()

    def info(self, user: str) -> AuthInfo:
        """``user`` as a request checked at the current revision would carry it."""
        return AuthInfo(user, self.store.revision())
