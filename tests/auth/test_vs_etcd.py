"""The auth store side by side with the real etcd 3.4: one script of auth calls runs against a real member
over gRPC and against our store (through ``etcd.auth.checks``, as the applier will call it), and every
step must answer alike: "ok", or the same gRPC code and text, our errors mapped to the ``ErrGRPC*`` error
of the same name (``ErrNoPasswordUser``: unmapped, UNKNOWN with its own text), as etcd's
``v3rpc/util.go`` does. Then JWTs: tokens of the real member verify here and ours there.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb import rpc_pb2_grpc
from etcd.api.etcdserverpb.raft_internal_pb2 import (
    InternalAuthenticateRequest,
    InternalRaftRequest,
    RequestHeader,
)
from etcd.api.v3rpc import rpctypes
from etcd.auth import errors
from etcd.auth.authpb.auth_pb2 import Permission, UserAddOptions
from etcd.auth.checks import apply_auth_request, check_request
from etcd.auth.store import AuthStore
from etcd.auth.tokens import JWTTokenProvider, new_token_provider
from etcd.backend.backend import Backend
from tests.auth.members import ManualClock, Member
from tests.real_etcd import requires_etcd, running_etcd

pytestmark = requires_etcd

READ, WRITE, READWRITE = Permission.READ, Permission.WRITE, Permission.READWRITE
BOGUS = "!bogus"  # "who" sending a token no member ever made

# InternalRaftRequest field -> (service, RPC name)
RPCS = {
    "auth_enable": ("auth", "AuthEnable"),
    "auth_disable": ("auth", "AuthDisable"),
    "auth_user_add": ("auth", "UserAdd"),
    "auth_user_delete": ("auth", "UserDelete"),
    "auth_user_change_password": ("auth", "UserChangePassword"),
    "auth_user_grant_role": ("auth", "UserGrantRole"),
    "auth_user_revoke_role": ("auth", "UserRevokeRole"),
    "auth_user_get": ("auth", "UserGet"),
    "auth_user_list": ("auth", "UserList"),
    "auth_role_add": ("auth", "RoleAdd"),
    "auth_role_get": ("auth", "RoleGet"),
    "auth_role_list": ("auth", "RoleList"),
    "auth_role_delete": ("auth", "RoleDelete"),
    "auth_role_grant_permission": ("auth", "RoleGrantPermission"),
    "auth_role_revoke_permission": ("auth", "RoleRevokePermission"),
    "range": ("kv", "Range"),
    "put": ("kv", "Put"),
    "delete_range": ("kv", "DeleteRange"),
    "txn": ("kv", "Txn"),
}


def stub(cls: Any, channel: grpc.Channel) -> Any:
    """A generated (untyped) gRPC stub on ``channel``."""
    return cls(channel)


def wire(err: Exception) -> str:
    """The gRPC answer etcd 3.4 gives for ``err`` (toGRPCErrorMap by name; else UNKNOWN with the text)."""
    rpc = getattr(rpctypes, "ErrGRPC" + type(err).__name__.removeprefix("Err"), None)
    if isinstance(err, errors.AuthError) and isinstance(rpc, rpctypes.RPCError):
        return f"{rpc.code.name}: {rpc.message}"
    return f"UNKNOWN: {err}"


@dataclass
class Step:
    who: str | None  # None: no token; a user name: that user's token; BOGUS
    field: str  # an InternalRaftRequest field, or "authenticate"
    request: Any
    want: str = "ok"  # what both must answer


@dataclass
class RealSide:
    channel: grpc.Channel
    tokens: dict[str, str] = field(default_factory=dict)

    def run(self, step: Step) -> str:
        md = None
        if step.who is not None:
            md = [("token", "bogus.1" if step.who == BOGUS else self.tokens[step.who])]
        try:
            if step.field == "authenticate":
                resp = stub(rpc_pb2_grpc.AuthStub, self.channel).Authenticate(step.request, timeout=10)
                self.tokens[step.request.name] = resp.token
                return "ok"
            service, name = RPCS[step.field]
            cls = rpc_pb2_grpc.AuthStub if service == "auth" else rpc_pb2_grpc.KVStub
            getattr(stub(cls, self.channel), name)(step.request, metadata=md, timeout=10)
            return "ok"
        except grpc.RpcError as e:
            return f"{e.code().name}: {e.details()}"


@dataclass
class OurSide:
    store: AuthStore
    tokens: dict[str, str] = field(default_factory=dict)
    index: int = 100

    def run(self, step: Step) -> str:
        try:
            header = RequestHeader(ID=self.index)
            if step.who is not None:
                token = "bogus.1" if step.who == BOGUS else self.tokens[step.who]
                ai = self.store.auth_info_from_token(token)
                header.username, header.auth_revision = ai.username, ai.revision
            self.index += 1
            if step.field == "authenticate":
                r = step.request
                self.store.check_password(r.name, r.password)  # the proposing member, before raft
                internal = InternalAuthenticateRequest(
                    name=r.name, simple_token=self.store.gen_token_prefix()
                )
                resp = apply_auth_request(
                    self.store, InternalRaftRequest(header=header, authenticate=internal), index=self.index
                )
                self.tokens[r.name] = resp.token
                return "ok"
            entry = InternalRaftRequest(header=header, **{step.field: step.request})
            if step.field in ("range", "put", "delete_range", "txn"):
                check_request(self.store, entry, lambda lease_id: None)
            else:
                apply_auth_request(self.store, entry, index=self.index)
            return "ok"
        except errors.AuthError as e:
            return wire(e)


def perm(role: str, t: Permission.Type, key: bytes, end: bytes = b"") -> pb.AuthRoleGrantPermissionRequest:
    return pb.AuthRoleGrantPermissionRequest(name=role, perm=Permission(permType=t, key=key, range_end=end))


def auth(name: str, password: str) -> pb.AuthenticateRequest:
    return pb.AuthenticateRequest(name=name, password=password)


E = "etcdserver: "
SCRIPT = [
    Step(None, "auth_enable", pb.AuthEnableRequest(), f"FAILED_PRECONDITION: {E}root user does not exist"),
    Step(None, "authenticate", auth("root", "x"), f"FAILED_PRECONDITION: {E}authentication is not enabled"),
    Step(
        None,
        "auth_user_add",
        pb.AuthUserAddRequest(name="", password="p"),
        f"INVALID_ARGUMENT: {E}user name is empty",
    ),
    Step(None, "auth_user_add", pb.AuthUserAddRequest(name="root", password="rootpw")),
    Step(
        None,
        "auth_user_add",
        pb.AuthUserAddRequest(name="root", password="p"),
        f"FAILED_PRECONDITION: {E}user name already exists",
    ),
    Step(
        None,
        "auth_enable",
        pb.AuthEnableRequest(),
        f"FAILED_PRECONDITION: {E}root user does not have root role",
    ),
    Step(None, "auth_role_add", pb.AuthRoleAddRequest(name=""), f"INVALID_ARGUMENT: {E}role name is empty"),
    Step(None, "auth_role_add", pb.AuthRoleAddRequest(name="r")),
    Step(
        None,
        "auth_role_add",
        pb.AuthRoleAddRequest(name="r"),
        f"FAILED_PRECONDITION: {E}role name already exists",
    ),
    Step(
        None,
        "auth_role_get",
        pb.AuthRoleGetRequest(role="nope"),
        f"FAILED_PRECONDITION: {E}role name not found",
    ),
    Step(
        None,
        "auth_user_get",
        pb.AuthUserGetRequest(name="nope"),
        f"FAILED_PRECONDITION: {E}user name not found",
    ),
    Step(None, "auth_role_grant_permission", perm("r", READ, b"a", b"c")),
    Step(None, "auth_role_grant_permission", perm("r", WRITE, b"w")),
    Step(None, "auth_role_grant_permission", perm("r", READWRITE, b"p/", b"p0")),  # --prefix p/
    Step(None, "auth_role_grant_permission", perm("r", READ, b"x", b"\x00")),  # --from-key x
    Step(
        None,
        "auth_role_grant_permission",
        perm("nope", READ, b"a"),
        f"FAILED_PRECONDITION: {E}role name not found",
    ),
    Step(
        None,
        "auth_user_grant_role",
        pb.AuthUserGrantRoleRequest(user="nobody", role="r"),
        f"FAILED_PRECONDITION: {E}user name not found",
    ),
    Step(
        None,
        "auth_user_grant_role",
        pb.AuthUserGrantRoleRequest(user="root", role="nope"),
        f"FAILED_PRECONDITION: {E}role name not found",
    ),
    Step(
        None,
        "auth_user_revoke_role",
        pb.AuthUserRevokeRoleRequest(name="root", role="r"),
        f"FAILED_PRECONDITION: {E}role is not granted to the user",
    ),
    Step(
        None,
        "auth_role_revoke_permission",
        pb.AuthRoleRevokePermissionRequest(role="r", key=b"k"),
        f"FAILED_PRECONDITION: {E}permission is not granted to the role",
    ),
    Step(None, "auth_user_add", pb.AuthUserAddRequest(name="u", password="upw")),
    Step(None, "auth_user_grant_role", pb.AuthUserGrantRoleRequest(user="u", role="r")),
    Step(None, "auth_user_add", pb.AuthUserAddRequest(name="v", password="vpw")),
    Step(None, "auth_user_add", pb.AuthUserAddRequest(name="cert", options=UserAddOptions(no_password=True))),
    Step(None, "auth_user_grant_role", pb.AuthUserGrantRoleRequest(user="root", role="root")),
    Step(None, "auth_enable", pb.AuthEnableRequest()),
    Step(
        None,
        "authenticate",
        auth("root", "wrong"),
        f"INVALID_ARGUMENT: {E}authentication failed, invalid user ID or password",
    ),
    Step(
        None,
        "authenticate",
        auth("nobody", "x"),
        f"INVALID_ARGUMENT: {E}authentication failed, invalid user ID or password",
    ),
    Step(
        None,
        "authenticate",
        auth("cert", "x"),
        "UNKNOWN: auth: authentication failed, password was given for no password user",
    ),
    Step(None, "authenticate", auth("root", "rootpw")),
    Step(None, "authenticate", auth("u", "upw")),
    Step(None, "authenticate", auth("v", "vpw")),
    Step(None, "range", pb.RangeRequest(key=b"a"), f"INVALID_ARGUMENT: {E}user name is empty"),
    Step(None, "put", pb.PutRequest(key=b"a"), f"INVALID_ARGUMENT: {E}user name is empty"),
    Step(BOGUS, "range", pb.RangeRequest(key=b"a"), f"UNAUTHENTICATED: {E}invalid auth token"),
    Step("u", "range", pb.RangeRequest(key=b"a", range_end=b"c")),
    Step("u", "range", pb.RangeRequest(key=b"a", range_end=b"d"), f"PERMISSION_DENIED: {E}permission denied"),
    Step("u", "range", pb.RangeRequest(key=b"b")),
    Step("u", "range", pb.RangeRequest(key=b"c"), f"PERMISSION_DENIED: {E}permission denied"),
    Step("u", "put", pb.PutRequest(key=b"w", value=b"1")),
    Step("u", "put", pb.PutRequest(key=b"a", value=b"1"), f"PERMISSION_DENIED: {E}permission denied"),
    Step(
        "u",
        "put",
        pb.PutRequest(key=b"w", value=b"1", prev_kv=True),
        f"PERMISSION_DENIED: {E}permission denied",
    ),
    Step("u", "put", pb.PutRequest(key=b"p/x", value=b"1")),
    Step("u", "range", pb.RangeRequest(key=b"p/", range_end=b"p0")),
    Step(
        "u", "range", pb.RangeRequest(key=b"p", range_end=b"p0"), f"PERMISSION_DENIED: {E}permission denied"
    ),
    Step("u", "delete_range", pb.DeleteRangeRequest(key=b"p/", range_end=b"p0", prev_kv=True)),
    Step(
        "u",
        "delete_range",
        pb.DeleteRangeRequest(key=b"w", prev_kv=True),
        f"PERMISSION_DENIED: {E}permission denied",
    ),
    Step("u", "range", pb.RangeRequest(key=b"x", range_end=b"\x00")),
    Step("u", "range", pb.RangeRequest(key=b"zz", range_end=b"\x00")),
    Step(
        "u", "range", pb.RangeRequest(key=b"w", range_end=b"\x00"), f"PERMISSION_DENIED: {E}permission denied"
    ),
    Step("u", "range", pb.RangeRequest(key=b"b", range_end=b"a")),  # inverted: the key alone counts
    Step("u", "range", pb.RangeRequest(key=b"d", range_end=b"a"), f"PERMISSION_DENIED: {E}permission denied"),
    Step(
        "u",
        "txn",
        pb.TxnRequest(
            compare=[pb.Compare(key=b"b", target=pb.Compare.VERSION)],
            success=[pb.RequestOp(request_put=pb.PutRequest(key=b"w"))],
            failure=[pb.RequestOp(request_range=pb.RangeRequest(key=b"a"))],
        ),
    ),
    Step(
        "u",
        "txn",
        pb.TxnRequest(compare=[pb.Compare(key=b"d", target=pb.Compare.VERSION)]),
        f"PERMISSION_DENIED: {E}permission denied",
    ),
    Step(
        "u",
        "txn",
        pb.TxnRequest(failure=[pb.RequestOp(request_put=pb.PutRequest(key=b"a"))]),
        f"PERMISSION_DENIED: {E}permission denied",
    ),
    Step("u", "auth_user_list", pb.AuthUserListRequest(), f"PERMISSION_DENIED: {E}permission denied"),
    Step("u", "auth_user_get", pb.AuthUserGetRequest(name="u")),
    Step(
        "u", "auth_user_get", pb.AuthUserGetRequest(name="root"), f"PERMISSION_DENIED: {E}permission denied"
    ),
    Step("u", "auth_role_get", pb.AuthRoleGetRequest(role="r")),
    Step("u", "auth_role_add", pb.AuthRoleAddRequest(name="x"), f"PERMISSION_DENIED: {E}permission denied"),
    Step("v", "range", pb.RangeRequest(key=b"a"), f"PERMISSION_DENIED: {E}permission denied"),
    Step("root", "range", pb.RangeRequest(key=b"\x00", range_end=b"\x00")),
    Step(
        "root",
        "auth_user_delete",
        pb.AuthUserDeleteRequest(name="root"),
        f"INVALID_ARGUMENT: {E}invalid auth management",
    ),
    Step(
        "root",
        "auth_user_revoke_role",
        pb.AuthUserRevokeRoleRequest(name="root", role="root"),
        f"INVALID_ARGUMENT: {E}invalid auth management",
    ),
    Step("root", "auth_role_add", pb.AuthRoleAddRequest(name="root")),
    Step(
        "root",
        "auth_role_delete",
        pb.AuthRoleDeleteRequest(role="root"),
        f"INVALID_ARGUMENT: {E}invalid auth management",
    ),
    Step(
        "root",
        "auth_role_delete",
        pb.AuthRoleDeleteRequest(role="gone"),
        f"FAILED_PRECONDITION: {E}role name not found",
    ),
    Step("root", "auth_user_change_password", pb.AuthUserChangePasswordRequest(name="u", password="new")),
    Step("u", "range", pb.RangeRequest(key=b"b"), f"UNAUTHENTICATED: {E}invalid auth token"),
    Step("root", "auth_user_delete", pb.AuthUserDeleteRequest(name="v")),
    Step("v", "range", pb.RangeRequest(key=b"a"), f"UNAUTHENTICATED: {E}invalid auth token"),
    Step("root", "auth_disable", pb.AuthDisableRequest()),
    Step(None, "put", pb.PutRequest(key=b"a", value=b"1")),
]


@pytest.fixture
def real(tmp_path: Path) -> Iterator[grpc.Channel]:
    with running_etcd(tmp_path) as m:
        channel = grpc.insecure_channel(f"127.0.0.1:{m.client_port}")
        try:
            yield channel
        finally:
            channel.close()


def test_auth_script_answers_as_etcd(real: grpc.Channel, member: Member) -> None:
    theirs, ours = RealSide(real), OurSide(member.store)
    for i, step in enumerate(SCRIPT):
        want = step.want
        got_real = theirs.run(step)
        got_ours = ours.run(step)
        where = f"step {i}: {step.who} {step.field} {step.request}"
        assert got_real == want, f"real etcd, {where}"
        assert got_ours == want, f"ours, {where}"


# -- JWT -------------------------------------------------------------------------------------------------


def jwt_claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return claims


@pytest.fixture
def rsa_files(tmp_path: Path) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    priv, pub = tmp_path / "jwt.key", tmp_path / "jwt.pub"
    priv.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return str(pub), str(priv)


def test_jwts_cross_between_etcd_and_us(tmp_path: Path, rsa_files: tuple[str, str]) -> None:
    pub, priv = rsa_files
    spec = f"jwt,pub-key={pub},priv-key={priv},sign-method=RS256,ttl=10m"
    with running_etcd(tmp_path, extra=(f"--auth-token={spec}",)) as m:
        channel = grpc.insecure_channel(f"127.0.0.1:{m.client_port}")
        try:
            auth_stub, kv = stub(rpc_pb2_grpc.AuthStub, channel), stub(rpc_pb2_grpc.KVStub, channel)
            auth_stub.UserAdd(pb.AuthUserAddRequest(name="root", password="pw"), timeout=10)
            auth_stub.UserGrantRole(pb.AuthUserGrantRoleRequest(user="root", role="root"), timeout=10)
            auth_stub.AuthEnable(pb.AuthEnableRequest(), timeout=10)
            theirs = auth_stub.Authenticate(
                pb.AuthenticateRequest(name="root", password="pw"), timeout=10
            ).token
            revision = jwt_claims(theirs)["revision"]
            assert set(jwt_claims(theirs)) == {"username", "revision", "exp"}

            provider = new_token_provider(spec)
            assert isinstance(provider, JWTTokenProvider)
            assert provider.info(theirs, 0).username == "root"
            assert provider.info(theirs, 0).revision == revision

            ours = provider.assign("root", revision)
            resp = kv.Range(pb.RangeRequest(key=b"k"), metadata=[("token", ours)], timeout=10)
            assert resp.count == 0
            # A token of ours at an older revision is refused there as our store refuses it.
            stale = provider.assign("root", revision - 1)
            with pytest.raises(grpc.RpcError) as exc:
                kv.Put(pb.PutRequest(key=b"k", value=b"v"), metadata=[("token", stale)], timeout=10)
            assert (exc.value.code(), exc.value.details()) == (
                grpc.StatusCode.INVALID_ARGUMENT,
                "etcdserver: revision of auth store is old",
            )
        finally:
            channel.close()


def test_old_jwt_revision_is_refused_by_our_store_too(tmp_path: Path, rsa_files: tuple[str, str]) -> None:
    pub, priv = rsa_files
    be = Backend(str(tmp_path / "db"), batch_interval=0)
    try:
        provider = new_token_provider(f"jwt,pub-key={pub},priv-key={priv},sign-method=RS256")
        store = AuthStore(be, bcrypt_cost=4, token_provider=provider)
        m = Member.__new__(Member)  # reuse the helpers on this store
        m.store, m.backend, m.clock = store, be, ManualClock()
        m.enable_with_root()
        token = store.authenticate("root", index=1, simple_token_prefix="").token
        store.is_put_permitted(store.auth_info_from_token(token), b"k")
        store.role_add(pb.AuthRoleAddRequest(name="later"))
        with pytest.raises(errors.ErrAuthOldRevision) as exc:
            store.is_put_permitted(store.auth_info_from_token(token), b"k")
        assert wire(exc.value) == "INVALID_ARGUMENT: etcdserver: revision of auth store is old"
    finally:
        be.close()


def test_maintenance_refusals_carry_our_inner_texts(real: grpc.Channel, member: Member) -> None:
    """etcd 3.4's Maintenance server returns the auth store's own error unmapped (UNKNOWN, "auth: ..."),
    which pins our inner texts to the real binary's."""
    a, mt = stub(rpc_pb2_grpc.AuthStub, real), stub(rpc_pb2_grpc.MaintenanceStub, real)
    a.UserAdd(pb.AuthUserAddRequest(name="root", password="r"), timeout=10)
    a.UserGrantRole(pb.AuthUserGrantRoleRequest(user="root", role="root"), timeout=10)
    a.UserAdd(pb.AuthUserAddRequest(name="u", password="p"), timeout=10)
    a.AuthEnable(pb.AuthEnableRequest(), timeout=10)
    token = a.Authenticate(pb.AuthenticateRequest(name="u", password="p"), timeout=10).token
    member.add_user("u")
    member.enable_with_root()
    for md, ai in (([("token", token)], member.info("u")), (None, None)):
        with pytest.raises(grpc.RpcError) as exc:
            mt.Defragment(pb.DefragmentRequest(), metadata=md, timeout=10)
        with pytest.raises(errors.AuthError) as ours:
            member.store.is_admin_permitted(ai)
        assert (exc.value.code(), exc.value.details()) == (grpc.StatusCode.UNKNOWN, str(ours.value))
