"""The server-side checks of ``etcd.auth.checks``: applying auth requests from raft entries with etcd's admin
rule (``needAdminPermission``, UserGet/RoleGet for oneself), and the KV/lease checks of ``authApplierV3``,
Txn branches and compares included."""

from __future__ import annotations

import pytest

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb.raft_internal_pb2 import (
    InternalAuthenticateRequest,
    InternalRaftRequest,
    RequestHeader,
)
from etcd.auth import errors
from etcd.auth.authpb.auth_pb2 import Permission
from etcd.auth.checks import (
    ADMIN_FIELDS,
    apply_auth_request,
    check_request,
    check_txn_auth,
    is_auth_request,
    needs_admin_permission,
)
from etcd.auth.tokens import AuthInfo
from tests.auth.members import Member

READ, WRITE, READWRITE = Permission.READ, Permission.WRITE, Permission.READWRITE


def entry(member: Member, user: str = "", **request: object) -> InternalRaftRequest:
    """An InternalRaftRequest as the proposing member builds it: header with ``user`` at the current
    revision (no user: no credentials)."""
    header = RequestHeader(ID=1, username=user, auth_revision=member.store.revision() if user else 0)
    return InternalRaftRequest(header=header, **request)  # type: ignore[arg-type]


@pytest.fixture
def setup(member: Member) -> Member:
    """Role ``r`` reads [a, c) and writes key ``w``; user ``u`` holds it; auth is on."""
    member.add_role("r", (READ, b"a", b"c"), (WRITE, b"w", b""))
    member.add_user("u", roles=("r",))
    member.enable_with_root()
    return member


def no_leases(lease_id: int) -> None:
    return None


def test_admin_fields_are_etcds() -> None:
    assert len(ADMIN_FIELDS) == 13
    assert needs_admin_permission(InternalRaftRequest(auth_user_list=pb.AuthUserListRequest()))
    assert not needs_admin_permission(InternalRaftRequest(auth_user_get=pb.AuthUserGetRequest()))
    assert is_auth_request(InternalRaftRequest(auth_user_get=pb.AuthUserGetRequest()))
    assert is_auth_request(InternalRaftRequest(authenticate=InternalAuthenticateRequest()))
    assert not is_auth_request(InternalRaftRequest(put=pb.PutRequest(key=b"k")))


def test_anyone_manages_auth_while_it_is_off(member: Member) -> None:
    resp = apply_auth_request(
        member.store, entry(member, auth_role_add=pb.AuthRoleAddRequest(name="r")), index=3
    )
    assert resp == pb.AuthRoleAddResponse()
    assert list(member.store.role_list().roles) == ["r"]


def test_management_needs_root_while_on(setup: Member) -> None:
    add = {"auth_user_add": pb.AuthUserAddRequest(name="x", password="p")}
    with pytest.raises(errors.ErrUserEmpty):
        apply_auth_request(setup.store, entry(setup, **add), index=5)
    with pytest.raises(errors.ErrPermissionDenied):
        apply_auth_request(setup.store, entry(setup, "u", **add), index=5)
    with pytest.raises(errors.ErrUserNotFound):
        apply_auth_request(setup.store, entry(setup, "ghost", **add), index=5)
    assert apply_auth_request(setup.store, entry(setup, "root", **add), index=5) == pb.AuthUserAddResponse()


def test_enable_and_disable_through_entries(member: Member) -> None:
    member.add_user("root", roles=("root",))
    assert apply_auth_request(member.store, entry(member, auth_enable=pb.AuthEnableRequest()), index=2) == (
        pb.AuthEnableResponse()
    )
    assert member.store.is_auth_enabled()
    with pytest.raises(errors.ErrUserEmpty):
        apply_auth_request(member.store, entry(member, auth_disable=pb.AuthDisableRequest()), index=3)
    apply_auth_request(member.store, entry(member, "root", auth_disable=pb.AuthDisableRequest()), index=3)
    assert not member.store.is_auth_enabled()


def test_authenticate_entry_gives_the_token_at_its_index(setup: Member) -> None:
    req = InternalAuthenticateRequest(name="u", simple_token="q" * 16)
    resp = apply_auth_request(setup.store, entry(setup, authenticate=req), index=77)
    assert resp.token == "q" * 16 + ".77"
    assert setup.store.auth_info_from_token(resp.token).username == "u"


def test_user_get_of_oneself_needs_no_root(setup: Member) -> None:
    own = apply_auth_request(
        setup.store, entry(setup, "u", auth_user_get=pb.AuthUserGetRequest(name="u")), index=9
    )
    assert list(own.roles) == ["r"]
    with pytest.raises(errors.ErrPermissionDenied):
        apply_auth_request(
            setup.store, entry(setup, "u", auth_user_get=pb.AuthUserGetRequest(name="root")), index=9
        )


def test_role_get_of_a_held_role_needs_no_root(setup: Member) -> None:
    setup.add_role("other")
    resp = apply_auth_request(
        setup.store, entry(setup, "u", auth_role_get=pb.AuthRoleGetRequest(role="r")), index=9
    )
    assert len(resp.perm) == 2
    with pytest.raises(errors.ErrPermissionDenied):
        apply_auth_request(
            setup.store, entry(setup, "u", auth_role_get=pb.AuthRoleGetRequest(role="other")), index=9
        )


def test_not_an_auth_request_is_a_bug(member: Member) -> None:
    with pytest.raises(ValueError):
        apply_auth_request(member.store, entry(member, put=pb.PutRequest(key=b"k")), index=1)


def test_kv_requests_are_checked_with_the_header_user(setup: Member) -> None:
    s = setup.store
    check_request(s, entry(setup, "u", range=pb.RangeRequest(key=b"a", range_end=b"c")), no_leases)
    check_request(s, entry(setup, "u", put=pb.PutRequest(key=b"w")), no_leases)
    check_request(s, entry(setup, "u", compaction=pb.CompactionRequest(revision=1)), no_leases)
    refused: list[dict[str, object]] = [
        {"range": pb.RangeRequest(key=b"a", range_end=b"d")},
        {"put": pb.PutRequest(key=b"a")},
        {"put": pb.PutRequest(key=b"w", prev_kv=True)},  # prev_kv needs read too
        {"delete_range": pb.DeleteRangeRequest(key=b"w", prev_kv=True)},
        {"delete_range": pb.DeleteRangeRequest(key=b"b")},
    ]
    for request in refused:
        with pytest.raises(errors.ErrPermissionDenied):
            check_request(s, entry(setup, "u", **request), no_leases)
    with pytest.raises(errors.ErrUserEmpty):
        check_request(s, entry(setup, put=pb.PutRequest(key=b"w")), no_leases)


def test_stale_header_revision_is_refused(setup: Member) -> None:
    stale = entry(setup, "u", put=pb.PutRequest(key=b"w"))
    setup.add_role("later")
    with pytest.raises(errors.ErrAuthOldRevision):
        check_request(setup.store, stale, no_leases)


def test_lease_with_keys_one_may_not_write(setup: Member) -> None:
    attached = {5: [b"w"], 6: [b"w", b"a"]}

    def lease_keys(lease_id: int) -> list[bytes] | None:
        return attached.get(lease_id)

    check_request(setup.store, entry(setup, "u", put=pb.PutRequest(key=b"w", lease=5)), lease_keys)
    check_request(setup.store, entry(setup, "u", lease_revoke=pb.LeaseRevokeRequest(ID=5)), lease_keys)
    check_request(setup.store, entry(setup, "u", lease_revoke=pb.LeaseRevokeRequest(ID=99)), lease_keys)
    with pytest.raises(errors.ErrPermissionDenied):
        check_request(setup.store, entry(setup, "u", put=pb.PutRequest(key=b"w", lease=6)), lease_keys)
    with pytest.raises(errors.ErrPermissionDenied):
        check_request(setup.store, entry(setup, "u", lease_revoke=pb.LeaseRevokeRequest(ID=6)), lease_keys)


def txn(compare: list[pb.Compare], success: list[pb.RequestOp], failure: list[pb.RequestOp]) -> pb.TxnRequest:
    return pb.TxnRequest(compare=compare, success=success, failure=failure)


def test_txn_checks_compares_and_both_branches(setup: Member) -> None:
    s, ai = setup.store, setup.info("u")
    read_b = pb.RequestOp(request_range=pb.RangeRequest(key=b"b"))
    put_w = pb.RequestOp(request_put=pb.PutRequest(key=b"w"))
    put_a = pb.RequestOp(request_put=pb.PutRequest(key=b"a"))
    cmp_a = pb.Compare(key=b"a", target=pb.Compare.VERSION)
    cmp_z = pb.Compare(key=b"z", target=pb.Compare.VERSION)
    cmp_range = pb.Compare(key=b"a", range_end=b"d", target=pb.Compare.VERSION)
    check_txn_auth(s, ai, txn([cmp_a], [read_b, put_w], [put_w]))
    for bad in (
        txn([cmp_z], [read_b], []),
        txn([cmp_range], [], []),
        txn([cmp_a], [read_b], [put_a]),  # the failure branch is checked too
        txn([], [pb.RequestOp(request_delete_range=pb.DeleteRangeRequest(key=b"w", prev_kv=True))], []),
    ):
        with pytest.raises(errors.ErrPermissionDenied):
            check_txn_auth(s, ai, bad)
    check_txn_auth(s, ai, txn([], [pb.RequestOp(request_delete_range=pb.DeleteRangeRequest(key=b"w"))], []))
    with pytest.raises(errors.ErrPermissionDenied):
        check_request(s, entry(setup, "u", txn=txn([cmp_z], [], [])), no_leases)


def test_root_passes_every_check(setup: Member) -> None:
    check_txn_auth(
        setup.store,
        setup.info("root"),
        txn(
            [pb.Compare(key=b"\x00", range_end=b"\x00")],
            [pb.RequestOp(request_delete_range=pb.DeleteRangeRequest(key=b"\x00", range_end=b"\x00"))],
            [],
        ),
    )
    assert AuthInfo("root", setup.store.revision()) == setup.info("root")
