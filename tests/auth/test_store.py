"""The auth store's rules, one behaviour per test, against etcd 3.4.23's ``auth/store.go`` (texts from
its error declarations; rules from its methods), on a real RocksDB backend."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import bcrypt
import pytest

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.auth import errors
from etcd.auth.authpb.auth_pb2 import Permission, User, UserAddOptions
from etcd.auth.store import AuthStore
from etcd.auth.tokens import AuthInfo, SimpleTokenProvider
from etcd.backend import buckets
from etcd.backend.backend import Backend
from tests.auth.members import ManualClock, Member

READ, WRITE, READWRITE = Permission.READ, Permission.WRITE, Permission.READWRITE

# etcd 3.4.23 auth/store.go and auth/jwt.go/options.go, verbatim.
ETCD_TEXTS = {
    errors.ErrRootUserNotExist: "auth: root user does not exist",
    errors.ErrRootRoleNotExist: "auth: root user does not have root role",
    errors.ErrUserAlreadyExist: "auth: user already exists",
    errors.ErrUserEmpty: "auth: user name is empty",
    errors.ErrUserNotFound: "auth: user not found",
    errors.ErrRoleAlreadyExist: "auth: role already exists",
    errors.ErrRoleNotFound: "auth: role not found",
    errors.ErrRoleEmpty: "auth: role name is empty",
    errors.ErrAuthFailed: "auth: authentication failed, invalid user ID or password",
    errors.ErrNoPasswordUser: "auth: authentication failed, password was given for no password user",
    errors.ErrPermissionDenied: "auth: permission denied",
    errors.ErrRoleNotGranted: "auth: role is not granted to the user",
    errors.ErrPermissionNotGranted: "auth: permission is not granted to the role",
    errors.ErrAuthNotEnabled: "auth: authentication is not enabled",
    errors.ErrAuthOldRevision: "auth: revision in header is old",
    errors.ErrInvalidAuthToken: "auth: invalid auth token",
    errors.ErrInvalidAuthOpts: "auth: invalid auth options",
    errors.ErrInvalidAuthMgmt: "auth: invalid auth management",
    errors.ErrInvalidAuthMethod: "auth: invalid auth signature method",
    errors.ErrMissingKey: "auth: missing key data",
    errors.ErrKeyMismatch: "auth: public and private keys don't match",
    errors.ErrVerifyOnly: "auth: token signing attempted with verify-only key",
}


@pytest.mark.parametrize(("cls", "text"), ETCD_TEXTS.items(), ids=lambda x: getattr(x, "__name__", ""))
def test_error_text_is_etcds(cls: type[errors.AuthError], text: str) -> None:
    assert str(cls()) == text
    assert isinstance(cls(), errors.AuthError)


def raises_exactly(cls: type[errors.AuthError]):  # type: ignore[no-untyped-def]
    """pytest.raises for ``cls`` with etcd's text."""
    return pytest.raises(cls, match=f"^{re.escape(ETCD_TEXTS[cls])}$")


# -- revision and persistence ----------------------------------------------------------------------------


def test_new_store_starts_at_revision_one_and_disabled(member: Member) -> None:
    assert member.store.revision() == 1
    assert not member.store.is_auth_enabled()
    with member.backend.read_tx() as tx:
        assert tx.unsafe_range(buckets.AUTH, b"authRevision") == [(b"authRevision", (1).to_bytes(8, "big"))]


def test_every_change_adds_one_to_the_revision(member: Member) -> None:
    s = member.store
    steps: list[Callable[[], object]] = [
        lambda: s.user_add(pb.AuthUserAddRequest(name="u", password="p")),
        lambda: s.role_add(pb.AuthRoleAddRequest(name="r")),
        lambda: member.grant("r", READ, b"k"),
        lambda: s.user_grant_role(pb.AuthUserGrantRoleRequest(user="u", role="r")),
        lambda: s.role_revoke_permission(pb.AuthRoleRevokePermissionRequest(role="r", key=b"k")),
        lambda: s.user_revoke_role(pb.AuthUserRevokeRoleRequest(name="u", role="r")),
        lambda: s.user_change_password(pb.AuthUserChangePasswordRequest(name="u", password="q")),
        lambda: s.role_delete(pb.AuthRoleDeleteRequest(role="r")),
        lambda: s.user_delete(pb.AuthUserDeleteRequest(name="u")),
    ]
    for i, step in enumerate(steps, start=2):
        step()
        assert s.revision() == i


def test_failed_change_and_reads_keep_the_revision(member: Member) -> None:
    s = member.store
    member.add_user("u")
    rev = s.revision()
    with pytest.raises(errors.ErrUserAlreadyExist):
        s.user_add(pb.AuthUserAddRequest(name="u", password="p"))
    s.user_get(pb.AuthUserGetRequest(name="u"))
    s.user_list(pb.AuthUserListRequest())
    s.role_list(pb.AuthRoleListRequest())
    assert s.revision() == rev


def test_enable_keeps_the_revision_and_disable_adds_one(member: Member) -> None:
    member.add_user("root", roles=("root",))
    rev = member.store.revision()
    member.store.auth_enable()
    assert member.store.revision() == rev  # etcd's AuthEnable does not commitRevision
    member.store.auth_disable()
    assert member.store.revision() == rev + 1


def test_store_survives_reopen(member: Member) -> None:
    member.add_role("r", (READWRITE, b"a", b"c"))
    member.add_user("u", "secret", roles=("r",))
    member.enable_with_root()
    rev = member.store.revision()
    member.reopen()
    s = member.store
    assert s.is_auth_enabled()
    assert s.revision() == rev
    assert list(s.user_list().users) == ["root", "u"]
    assert list(s.user_get(pb.AuthUserGetRequest(name="u")).roles) == ["r"]
    assert list(s.role_get(pb.AuthRoleGetRequest(role="r")).perm) == [
        Permission(permType=READWRITE, key=b"a", range_end=b"c")
    ]
    assert s.check_password("u", "secret") == rev
    # The permission cache is rebuilt from disk.
    s.is_put_permitted(member.info("u"), b"b")
    with raises_exactly(errors.ErrPermissionDenied):
        s.is_put_permitted(member.info("u"), b"c")


def test_simple_tokens_do_not_survive_reopen(member: Member) -> None:
    member.enable_with_root()
    token = member.store.authenticate("root", index=5, simple_token_prefix="a" * 16).token
    member.reopen()
    with raises_exactly(errors.ErrInvalidAuthToken):
        member.store.auth_info_from_token(token)


def test_recover_reads_a_restored_backend(tmp_path: Path, member: Member, clock: ManualClock) -> None:
    other = Member(tmp_path / "other", clock)
    try:
        other.add_role("r", (READ, b"x", b""))
        other.add_user("v", roles=("r",))
        other.enable_with_root()
        snap = other.backend.snapshot()
        try:
            with open(snap.path, "rb") as f:
                Backend.restore_from(f, str(tmp_path / "restored"))
        finally:
            snap.close()
    finally:
        other.close()
    restored = Backend(str(tmp_path / "restored"), batch_interval=0)
    try:
        member.store.recover(restored)
        assert member.store.is_auth_enabled()
        assert list(member.store.user_list().users) == ["root", "v"]
        member.store.is_range_permitted(member.info("v"), b"x", b"")
        with raises_exactly(errors.ErrPermissionDenied):
            member.store.is_range_permitted(member.info("v"), b"y", b"")
    finally:
        member.store.recover(member.backend)
        restored.close()


# -- enable / disable ------------------------------------------------------------------------------------


def test_enable_without_root_user_is_refused(member: Member) -> None:
    with raises_exactly(errors.ErrRootUserNotExist):
        member.store.auth_enable()
    assert not member.store.is_auth_enabled()


def test_enable_with_root_lacking_root_role_is_refused(member: Member) -> None:
    member.add_user("root")
    with raises_exactly(errors.ErrRootRoleNotExist):
        member.store.auth_enable()
    assert not member.store.is_auth_enabled()
    with member.backend.read_tx() as tx:
        assert tx.unsafe_range(buckets.AUTH, b"authEnabled") == []


def test_root_role_may_be_granted_before_it_exists(member: Member) -> None:
    member.add_user("root")
    member.store.user_grant_role(pb.AuthUserGrantRoleRequest(user="root", role="root"))
    assert list(member.store.role_list().roles) == []
    member.store.auth_enable()
    assert member.store.is_auth_enabled()
    with member.backend.read_tx() as tx:
        assert tx.unsafe_range(buckets.AUTH, b"authEnabled") == [(b"authEnabled", b"\x01")]


def test_enable_twice_is_a_no_op(member: Member) -> None:
    member.enable_with_root()
    member.store.auth_enable()
    assert member.store.is_auth_enabled()


def test_disable_when_disabled_is_a_no_op(member: Member) -> None:
    rev = member.store.revision()
    member.store.auth_disable()
    assert member.store.revision() == rev


def test_disable_writes_the_flag_and_forgets_tokens(member: Member) -> None:
    member.enable_with_root()
    token = member.store.authenticate("root", index=3, simple_token_prefix="b" * 16).token
    member.store.auth_disable()
    assert not member.store.is_auth_enabled()
    with member.backend.read_tx() as tx:
        assert tx.unsafe_range(buckets.AUTH, b"authEnabled") == [(b"authEnabled", b"\x00")]
    with raises_exactly(errors.ErrInvalidAuthToken):
        member.store.auth_info_from_token(token)


# -- users -----------------------------------------------------------------------------------------------


def test_user_add_with_empty_name_is_refused(member: Member) -> None:
    with raises_exactly(errors.ErrUserEmpty):
        member.store.user_add(pb.AuthUserAddRequest(name="", password="p"))


def test_user_add_twice_is_refused(member: Member) -> None:
    member.add_user("u")
    with raises_exactly(errors.ErrUserAlreadyExist):
        member.store.user_add(pb.AuthUserAddRequest(name="u", password="other"))


def stored_user(member: Member, name: str) -> User:
    with member.backend.read_tx() as tx:
        [(_, value)] = tx.unsafe_range(buckets.AUTH_USERS, name.encode())
    user = User()
    user.ParseFromString(value)
    return user


@pytest.mark.parametrize("cost", [4, 5])
def test_password_is_a_bcrypt_hash_at_the_configured_cost(
    tmp_path: Path, clock: ManualClock, cost: int
) -> None:
    m = Member(tmp_path / "db", clock, cost=cost)
    try:
        m.add_user("u", "hunter2")
        hashed = stored_user(m, "u").password
        # "$2a$" as Go's x/crypto/bcrypt writes it, then the cost.
        assert hashed.startswith(f"$2a${cost:02d}$".encode())
        assert bcrypt.checkpw(b"hunter2", hashed)
        assert b"hunter2" not in hashed
    finally:
        m.close()


@pytest.mark.parametrize("cost", [0, 3, 32])
def test_bcrypt_cost_out_of_range_falls_back_to_ten(tmp_path: Path, cost: int) -> None:
    be = Backend(str(tmp_path / "db"), batch_interval=0)
    try:
        store = AuthStore(be, bcrypt_cost=cost, token_provider=SimpleTokenProvider())
        assert store.bcrypt_cost == 10
    finally:
        be.close()


def test_no_password_user_has_no_hash_and_cannot_log_in(member: Member) -> None:
    s = member.store
    s.user_add(
        pb.AuthUserAddRequest(name="cert", password="ignored", options=UserAddOptions(no_password=True))
    )
    user = stored_user(member, "cert")
    assert user.password == b""
    assert user.options.no_password
    member.enable_with_root()
    with raises_exactly(errors.ErrNoPasswordUser):
        s.check_password("cert", "ignored")
    with raises_exactly(errors.ErrAuthFailed):
        s.authenticate("cert", index=9, simple_token_prefix="c" * 16)


def test_user_add_without_options_stores_no_password_false(member: Member) -> None:
    member.add_user("u")
    user = stored_user(member, "u")
    assert user.HasField("options")
    assert not user.options.no_password


def test_check_password_needs_auth_enabled(member: Member) -> None:
    member.add_user("u", "p")
    with raises_exactly(errors.ErrAuthNotEnabled):
        member.store.check_password("u", "p")


def test_check_password_answers(member: Member) -> None:
    member.add_user("u", "right")
    member.enable_with_root()
    assert member.store.check_password("u", "right") == member.store.revision()
    with raises_exactly(errors.ErrAuthFailed):
        member.store.check_password("u", "wrong")
    with raises_exactly(errors.ErrAuthFailed):
        member.store.check_password("nobody", "right")


def test_password_beyond_72_bytes_is_cut_as_etcd_3_4_does(member: Member) -> None:
    member.add_user("u", "x" * 72 + "tail")
    member.enable_with_root()
    member.store.check_password("u", "x" * 72)
    member.store.check_password("u", "x" * 72 + "other")


def test_user_delete(member: Member) -> None:
    member.add_user("u")
    member.store.user_delete(pb.AuthUserDeleteRequest(name="u"))
    assert list(member.store.user_list().users) == []
    with raises_exactly(errors.ErrUserNotFound):
        member.store.user_delete(pb.AuthUserDeleteRequest(name="u"))


def test_root_user_cannot_be_deleted_while_enabled(member: Member) -> None:
    member.enable_with_root()
    with raises_exactly(errors.ErrInvalidAuthMgmt):
        member.store.user_delete(pb.AuthUserDeleteRequest(name="root"))
    member.store.auth_disable()
    member.store.user_delete(pb.AuthUserDeleteRequest(name="root"))
    assert list(member.store.user_list().users) == []


def test_user_delete_invalidates_its_tokens_only(member: Member) -> None:
    member.add_user("u", "p")
    member.add_user("v", "p")
    member.enable_with_root()
    tu = member.store.authenticate("u", index=10, simple_token_prefix="u" * 16).token
    tv = member.store.authenticate("v", index=11, simple_token_prefix="v" * 16).token
    member.store.user_delete(pb.AuthUserDeleteRequest(name="u"))
    with raises_exactly(errors.ErrInvalidAuthToken):
        member.store.auth_info_from_token(tu)
    assert member.store.auth_info_from_token(tv).username == "v"


def test_change_password(member: Member) -> None:
    member.add_user("u", "old", roles=())
    member.enable_with_root()
    token = member.store.authenticate("u", index=4, simple_token_prefix="d" * 16).token
    member.store.user_change_password(pb.AuthUserChangePasswordRequest(name="u", password="new"))
    with raises_exactly(errors.ErrAuthFailed):
        member.store.check_password("u", "old")
    member.store.check_password("u", "new")
    with raises_exactly(errors.ErrInvalidAuthToken):
        member.store.auth_info_from_token(token)
    with raises_exactly(errors.ErrUserNotFound):
        member.store.user_change_password(pb.AuthUserChangePasswordRequest(name="nobody", password="x"))


def test_change_password_keeps_roles_and_options(member: Member) -> None:
    member.add_role("r")
    member.store.user_add(pb.AuthUserAddRequest(name="c", options=UserAddOptions(no_password=True)))
    member.store.user_grant_role(pb.AuthUserGrantRoleRequest(user="c", role="r"))
    member.store.user_change_password(pb.AuthUserChangePasswordRequest(name="c", password="now"))
    user = stored_user(member, "c")
    assert list(user.roles) == ["r"]
    assert user.options.no_password
    member.enable_with_root()
    with raises_exactly(errors.ErrNoPasswordUser):
        member.store.check_password("c", "now")


def test_grant_role_keeps_roles_sorted_and_ignores_a_repeat(member: Member) -> None:
    member.add_role("b")
    member.add_role("a")
    member.add_user("u", roles=("b", "a"))
    assert list(member.store.user_get(pb.AuthUserGetRequest(name="u")).roles) == ["a", "b"]
    rev = member.store.revision()
    member.store.user_grant_role(pb.AuthUserGrantRoleRequest(user="u", role="a"))
    assert member.store.revision() == rev
    assert list(stored_user(member, "u").roles) == ["a", "b"]


def test_grant_role_needs_user_and_role(member: Member) -> None:
    member.add_role("r")
    member.add_user("u")
    with raises_exactly(errors.ErrUserNotFound):
        member.store.user_grant_role(pb.AuthUserGrantRoleRequest(user="nobody", role="r"))
    with raises_exactly(errors.ErrRoleNotFound):
        member.store.user_grant_role(pb.AuthUserGrantRoleRequest(user="u", role="nope"))


def test_revoke_role(member: Member) -> None:
    member.add_role("r")
    member.add_user("u", roles=("r",))
    member.store.user_revoke_role(pb.AuthUserRevokeRoleRequest(name="u", role="r"))
    assert list(member.store.user_get(pb.AuthUserGetRequest(name="u")).roles) == []
    with raises_exactly(errors.ErrRoleNotGranted):
        member.store.user_revoke_role(pb.AuthUserRevokeRoleRequest(name="u", role="r"))
    with raises_exactly(errors.ErrUserNotFound):
        member.store.user_revoke_role(pb.AuthUserRevokeRoleRequest(name="nobody", role="r"))


def test_root_role_cannot_be_revoked_from_root_while_enabled(member: Member) -> None:
    member.enable_with_root()
    with raises_exactly(errors.ErrInvalidAuthMgmt):
        member.store.user_revoke_role(pb.AuthUserRevokeRoleRequest(name="root", role="root"))
    member.store.auth_disable()
    member.store.user_revoke_role(pb.AuthUserRevokeRoleRequest(name="root", role="root"))
    with raises_exactly(errors.ErrRootRoleNotExist):
        member.store.auth_enable()


def test_user_get_and_list(member: Member) -> None:
    with raises_exactly(errors.ErrUserNotFound):
        member.store.user_get(pb.AuthUserGetRequest(name="u"))
    for name in ("zed", "Alice", "bob"):
        member.add_user(name)
    assert list(member.store.user_list().users) == ["Alice", "bob", "zed"]  # byte order
    assert list(member.store.user_get(pb.AuthUserGetRequest(name="bob")).roles) == []


def test_has_role(member: Member) -> None:
    member.add_role("r")
    member.add_user("u", roles=("r",))
    assert member.store.has_role("u", "r")
    assert not member.store.has_role("u", "s")
    assert not member.store.has_role("nobody", "r")


# -- roles -----------------------------------------------------------------------------------------------


def test_role_add(member: Member) -> None:
    with raises_exactly(errors.ErrRoleEmpty):
        member.store.role_add(pb.AuthRoleAddRequest(name=""))
    member.add_role("r")
    with raises_exactly(errors.ErrRoleAlreadyExist):
        member.store.role_add(pb.AuthRoleAddRequest(name="r"))
    assert list(member.store.role_get(pb.AuthRoleGetRequest(role="r")).perm) == []


def test_role_get_and_list(member: Member) -> None:
    with raises_exactly(errors.ErrRoleNotFound):
        member.store.role_get(pb.AuthRoleGetRequest(role="r"))
    for name in ("w", "root", "a"):
        member.add_role(name)
    assert list(member.store.role_list().roles) == ["a", "root", "w"]


def test_role_delete_takes_it_from_every_user(member: Member) -> None:
    member.add_role("r", (READ, b"k", b""))
    member.add_role("s")
    member.add_user("u", roles=("r", "s"))
    member.add_user("v", roles=("r",))
    member.store.role_delete(pb.AuthRoleDeleteRequest(role="r"))
    assert list(member.store.role_list().roles) == ["s"]
    assert list(stored_user(member, "u").roles) == ["s"]
    assert list(stored_user(member, "v").roles) == []
    with raises_exactly(errors.ErrRoleNotFound):
        member.store.role_delete(pb.AuthRoleDeleteRequest(role="r"))


def test_root_role_cannot_be_deleted_while_enabled(member: Member) -> None:
    member.add_role("root")
    member.enable_with_root()
    with raises_exactly(errors.ErrInvalidAuthMgmt):
        member.store.role_delete(pb.AuthRoleDeleteRequest(role="root"))
    member.store.auth_disable()
    member.store.role_delete(pb.AuthRoleDeleteRequest(role="root"))
    assert list(stored_user(member, "root").roles) == []


def test_grant_permission_sorts_by_key_and_updates_the_same_range(member: Member) -> None:
    member.add_role("r", (READ, b"m", b""), (WRITE, b"a", b"c"), (READ, b"z", b"\x00"))
    member.grant("r", READWRITE, b"a", b"c")
    perms = list(member.store.role_get(pb.AuthRoleGetRequest(role="r")).perm)
    assert perms == [
        Permission(permType=READWRITE, key=b"a", range_end=b"c"),
        Permission(permType=READ, key=b"m"),
        Permission(permType=READ, key=b"z", range_end=b"\x00"),
    ]


def test_grant_permission_compares_only_the_first_range_of_a_key(member: Member) -> None:
    # etcd 3.4 compat: [a,b) then [a,c): granting [a,c) again appends it instead of updating.
    member.add_role("r", (READ, b"a", b"b"), (READ, b"a", b"c"))
    member.grant("r", WRITE, b"a", b"c")
    perms = list(member.store.role_get(pb.AuthRoleGetRequest(role="r")).perm)
    assert [(p.key, p.range_end, p.permType) for p in perms] == [
        (b"a", b"b", READ),
        (b"a", b"c", READ),
        (b"a", b"c", WRITE),
    ]


def test_grant_permission_needs_the_role(member: Member) -> None:
    with raises_exactly(errors.ErrRoleNotFound):
        member.grant("nope", READ, b"k")


def test_revoke_permission_matches_key_and_range_end(member: Member) -> None:
    member.add_role("r", (READ, b"a", b""), (READ, b"a", b"b"))
    with raises_exactly(errors.ErrPermissionNotGranted):
        member.store.role_revoke_permission(
            pb.AuthRoleRevokePermissionRequest(role="r", key=b"a", range_end=b"c")
        )
    member.store.role_revoke_permission(
        pb.AuthRoleRevokePermissionRequest(role="r", key=b"a", range_end=b"b")
    )
    assert list(member.store.role_get(pb.AuthRoleGetRequest(role="r")).perm) == [
        Permission(permType=READ, key=b"a")
    ]
    with raises_exactly(errors.ErrRoleNotFound):
        member.store.role_revoke_permission(pb.AuthRoleRevokePermissionRequest(role="x", key=b"a"))


# -- authenticate and tokens -----------------------------------------------------------------------------


def test_authenticate_needs_auth_enabled(member: Member) -> None:
    member.add_user("u")
    with raises_exactly(errors.ErrAuthNotEnabled):
        member.store.authenticate("u", index=2, simple_token_prefix="e" * 16)


def test_authenticate_unknown_user_fails(member: Member) -> None:
    member.enable_with_root()
    with raises_exactly(errors.ErrAuthFailed):
        member.store.authenticate("nobody", index=2, simple_token_prefix="e" * 16)


def test_authenticate_gives_a_simple_token_with_the_index(member: Member) -> None:
    member.add_user("u")
    member.enable_with_root()
    prefix = member.store.gen_token_prefix()
    assert len(prefix) == 16 and prefix.isalpha()
    resp = member.store.authenticate("u", index=42, simple_token_prefix=prefix)
    assert resp.token == f"{prefix}.42"
    assert member.store.token_required_index(resp.token) == 42
    assert member.store.auth_info_from_token(resp.token) == AuthInfo("u", member.store.revision())


def test_tls_common_name_is_the_user_at_the_current_revision(member: Member) -> None:
    member.add_user("client")
    assert member.store.auth_info_from_tls("client") == AuthInfo("client", member.store.revision())


# -- permission checks -----------------------------------------------------------------------------------


def test_checks_pass_anything_while_disabled(member: Member) -> None:
    s = member.store
    s.is_put_permitted(None, b"k")
    s.is_range_permitted(AuthInfo("", 0), b"a", b"\x00")
    s.is_delete_range_permitted(AuthInfo("nobody", 1), b"a", b"b")
    s.is_admin_permitted(None)


def test_check_without_credentials_is_user_empty(member: Member) -> None:
    member.enable_with_root()
    for ai in (None, AuthInfo("", 0), AuthInfo("root", 0)):
        with raises_exactly(errors.ErrUserEmpty):
            member.store.is_range_permitted(ai, b"k", b"")


def test_check_at_an_older_revision_is_refused(member: Member) -> None:
    member.enable_with_root()
    old = member.info("root")
    member.add_role("r")
    with raises_exactly(errors.ErrAuthOldRevision):
        member.store.is_put_permitted(old, b"k")
    member.store.is_put_permitted(member.info("root"), b"k")
    # A newer revision (a member behind the proposer) is not refused.
    member.store.is_put_permitted(AuthInfo("root", member.store.revision() + 5), b"k")


def test_unknown_user_is_denied(member: Member) -> None:
    member.enable_with_root()
    with raises_exactly(errors.ErrPermissionDenied):
        member.store.is_range_permitted(member.info("ghost"), b"k", b"")


def test_root_role_may_do_anything(member: Member) -> None:
    member.add_user("admin", roles=("root",))
    member.enable_with_root()
    ai = member.info("admin")
    member.store.is_delete_range_permitted(ai, b"\x00", b"\x00")
    member.store.is_put_permitted(ai, b"anything")
    member.store.is_admin_permitted(ai)


def test_key_permission(member: Member) -> None:
    member.add_role("r", (READ, b"foo", b""))
    member.add_user("u", roles=("r",))
    member.enable_with_root()
    s, ai = member.store, member.info("u")
    s.is_range_permitted(ai, b"foo", b"")
    for key, end in ((b"fo", b""), (b"foo0", b""), (b"foo", b"fop"), (b"foo", b"\x00")):
        with raises_exactly(errors.ErrPermissionDenied):
            s.is_range_permitted(ai, key, end)
    s.is_range_permitted(ai, b"foo", b"foo\x00")  # the one-key range is the key
    with raises_exactly(errors.ErrPermissionDenied):
        s.is_put_permitted(ai, b"foo")


def test_range_permission(member: Member) -> None:
    member.add_role("r", (WRITE, b"b", b"d"))
    member.add_user("u", roles=("r",))
    member.enable_with_root()
    s, ai = member.store, member.info("u")
    s.is_put_permitted(ai, b"b")
    s.is_put_permitted(ai, b"czzz")
    s.is_delete_range_permitted(ai, b"b", b"d")
    s.is_delete_range_permitted(ai, b"bb", b"c")
    for key, end in ((b"a", b"c"), (b"b", b"e"), (b"d", b"")):
        with raises_exactly(errors.ErrPermissionDenied):
            s.is_delete_range_permitted(ai, key, end)
    with raises_exactly(errors.ErrPermissionDenied):
        s.is_range_permitted(ai, b"b", b"")


def test_prefix_permission(member: Member) -> None:
    # etcdctl role grant-permission --prefix r readwrite /app/ sends range_end "/app0".
    member.add_role("r", (READWRITE, b"/app/", b"/app0"))
    member.add_user("u", roles=("r",))
    member.enable_with_root()
    s, ai = member.store, member.info("u")
    s.is_range_permitted(ai, b"/app/", b"/app0")
    s.is_range_permitted(ai, b"/app/x/", b"/app/x0")
    s.is_put_permitted(ai, b"/app/x/y")
    with raises_exactly(errors.ErrPermissionDenied):
        s.is_put_permitted(ai, b"/apq")
    with raises_exactly(errors.ErrPermissionDenied):
        s.is_range_permitted(ai, b"/", b"0")


def test_from_key_permission(member: Member) -> None:
    member.add_role("r", (READ, b"m", b"\x00"))
    member.add_user("u", roles=("r",))
    member.enable_with_root()
    s, ai = member.store, member.info("u")
    s.is_range_permitted(ai, b"m", b"\x00")
    s.is_range_permitted(ai, b"zzz", b"\x00")
    s.is_range_permitted(ai, b"\xff\xff", b"")
    with raises_exactly(errors.ErrPermissionDenied):
        s.is_range_permitted(ai, b"l", b"\x00")


def test_whole_keyspace_permission_as_etcdctl_sends_it(member: Member) -> None:
    # etcdctl role grant-permission --prefix r read "" sends key "\0", range_end "\0".
    member.add_role("r", (READ, b"\x00", b"\x00"))
    member.add_user("u", roles=("r",))
    member.enable_with_root()
    member.store.is_range_permitted(member.info("u"), b"\x00", b"\x00")
    member.store.is_range_permitted(member.info("u"), b"any", b"")


def test_permissions_of_several_roles_join(member: Member) -> None:
    member.add_role("r1", (READ, b"a", b"c"))
    member.add_role("r2", (READWRITE, b"c", b"e"))
    member.add_user("u", roles=("r1", "r2"))
    member.enable_with_root()
    s, ai = member.store, member.info("u")
    s.is_range_permitted(ai, b"a", b"e")  # [a,c) and [c,e) touch: one range
    with raises_exactly(errors.ErrPermissionDenied):
        s.is_delete_range_permitted(ai, b"a", b"e")
    s.is_delete_range_permitted(ai, b"c", b"e")


def test_permission_changes_take_effect_at_once(member: Member) -> None:
    member.add_role("r")
    member.add_user("u", roles=("r",))
    member.enable_with_root()
    with raises_exactly(errors.ErrPermissionDenied):
        member.store.is_put_permitted(member.info("u"), b"k")
    member.grant("r", WRITE, b"k")
    member.store.is_put_permitted(member.info("u"), b"k")
    member.store.user_revoke_role(pb.AuthUserRevokeRoleRequest(name="u", role="r"))
    with raises_exactly(errors.ErrPermissionDenied):
        member.store.is_put_permitted(member.info("u"), b"k")


def test_admin_check(member: Member) -> None:
    member.add_user("u")
    member.enable_with_root()
    s = member.store
    s.is_admin_permitted(member.info("root"))
    with raises_exactly(errors.ErrUserEmpty):
        s.is_admin_permitted(None)
    with raises_exactly(errors.ErrUserEmpty):
        s.is_admin_permitted(AuthInfo("", 3))
    with raises_exactly(errors.ErrUserNotFound):
        s.is_admin_permitted(member.info("ghost"))
    with raises_exactly(errors.ErrPermissionDenied):
        s.is_admin_permitted(member.info("u"))
    # No revision check for admin (etcd's IsAdminPermitted).
    s.is_admin_permitted(AuthInfo("root", 1))


def test_revision_gauge_reports_the_open_store(member: Member) -> None:
    from prometheus_client import REGISTRY

    member.add_user("u")
    assert REGISTRY.get_sample_value("etcd_debugging_auth_revision") == member.store.revision() == 2


def test_two_members_applying_the_same_changes_store_the_same(tmp_path: Path, clock: ManualClock) -> None:
    """As every member applies the same entries: equal buckets, but for each member's own bcrypt salt
    (etcd 3.4 hashes at apply time too)."""
    members = [Member(tmp_path / name, clock) for name in ("m1", "m2")]
    try:
        for m in members:
            m.add_role("r", (READ, b"a", b"c"), (READWRITE, b"p/", b"p0"))
            m.add_user("u", "pw", roles=("r",))
            m.enable_with_root()
            m.store.user_revoke_role(pb.AuthUserRevokeRoleRequest(name="u", role="r"))
            m.reopen()

        def contents(m: Member) -> tuple[object, ...]:
            with m.backend.read_tx() as tx:
                users = []
                for _, v in tx.unsafe_iter(buckets.AUTH_USERS, b"", None):
                    user = User()
                    user.ParseFromString(v)
                    if user.name == b"u":
                        assert bcrypt.checkpw(b"pw", user.password)
                    user.password = b"(salted hash)"
                    users.append(user.SerializeToString())
                return (
                    list(tx.unsafe_iter(buckets.AUTH, b"", None)),
                    list(tx.unsafe_iter(buckets.AUTH_ROLES, b"", None)),
                    users,
                )

        assert contents(members[0]) == contents(members[1])
        assert members[0].store.revision() == members[1].store.revision() == 9
    finally:
        for m in members:
            m.close()
