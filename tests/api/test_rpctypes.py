"""The v3 API's gRPC errors, pinned to etcd 3.4.23, and the one table from inner errors to them.

The expected codes and texts below are copied from etcd v3.4.23's ``etcdserver/api/v3rpc/rpctypes/error.go``
and ``v3rpc/util.go`` (``toGRPCErrorMap``), not computed from our module; ``test_errors_vs_etcd.py``
checks the ones a single member can produce against the running etcd. Inner errors are raised by the
real packages on a real backend on tmp_path wherever the package raises them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from grpc import StatusCode as C

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.v3rpc import errors, rpctypes
from etcd.api.v3rpc.errors import to_grpc_error
from etcd.api.v3rpc.rpctypes import RPCError, RPCException
from etcd.auth import errors as auth_errors
from etcd.backend.backend import Backend
from etcd.backend.quota import ErrNoSpace
from etcd.lease import (
    ErrLeaseExists,
    ErrLeaseExpired,
    ErrLeaseNotFound,
    ErrLeaseTTLTooLarge,
    ErrNotPrimary,
    Lessor,
    MaxLeaseTTL,
)
from etcd.mvcc import errors as mvcc_errors
from etcd.mvcc.apply import Applier
from etcd.mvcc.kvstore import KVStore
from etcd.mvcc.txn_check import check_put_request, check_txn_request
from etcd.server import errors as server_errors
from etcd.server.apply import ErrCorrupt

# etcd v3.4.23 error.go, in its order: (identifier, code, message).
ETCD_3_4_23 = [
    ("ErrGRPCEmptyKey", C.INVALID_ARGUMENT, "etcdserver: key is not provided"),
    ("ErrGRPCKeyNotFound", C.INVALID_ARGUMENT, "etcdserver: key not found"),
    ("ErrGRPCValueProvided", C.INVALID_ARGUMENT, "etcdserver: value is provided"),
    ("ErrGRPCLeaseProvided", C.INVALID_ARGUMENT, "etcdserver: lease is provided"),
    ("ErrGRPCTooManyOps", C.INVALID_ARGUMENT, "etcdserver: too many operations in txn request"),
    ("ErrGRPCDuplicateKey", C.INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request"),
    ("ErrGRPCCompacted", C.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted"),
    ("ErrGRPCFutureRev", C.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision"),
    ("ErrGRPCNoSpace", C.RESOURCE_EXHAUSTED, "etcdserver: mvcc: database space exceeded"),
    ("ErrGRPCLeaseNotFound", C.NOT_FOUND, "etcdserver: requested lease not found"),
    ("ErrGRPCLeaseExist", C.FAILED_PRECONDITION, "etcdserver: lease already exists"),
    ("ErrGRPCLeaseTTLTooLarge", C.OUT_OF_RANGE, "etcdserver: too large lease TTL"),
    ("ErrGRPCWatchCanceled", C.CANCELLED, "etcdserver: watch canceled"),
    ("ErrGRPCMemberExist", C.FAILED_PRECONDITION, "etcdserver: member ID already exist"),
    ("ErrGRPCPeerURLExist", C.FAILED_PRECONDITION, "etcdserver: Peer URLs already exists"),
    (
        "ErrGRPCMemberNotEnoughStarted",
        C.FAILED_PRECONDITION,
        "etcdserver: re-configuration failed due to not enough started members",
    ),
    ("ErrGRPCMemberBadURLs", C.INVALID_ARGUMENT, "etcdserver: given member URLs are invalid"),
    ("ErrGRPCMemberNotFound", C.NOT_FOUND, "etcdserver: member not found"),
    ("ErrGRPCMemberNotLearner", C.FAILED_PRECONDITION, "etcdserver: can only promote a learner member"),
    (
        "ErrGRPCLearnerNotReady",
        C.FAILED_PRECONDITION,
        "etcdserver: can only promote a learner member which is in sync with leader",
    ),
    ("ErrGRPCTooManyLearners", C.FAILED_PRECONDITION, "etcdserver: too many learner members in cluster"),
    ("ErrGRPCRequestTooLarge", C.INVALID_ARGUMENT, "etcdserver: request is too large"),
    ("ErrGRPCRequestTooManyRequests", C.RESOURCE_EXHAUSTED, "etcdserver: too many requests"),
    ("ErrGRPCRootUserNotExist", C.FAILED_PRECONDITION, "etcdserver: root user does not exist"),
    ("ErrGRPCRootRoleNotExist", C.FAILED_PRECONDITION, "etcdserver: root user does not have root role"),
    ("ErrGRPCUserAlreadyExist", C.FAILED_PRECONDITION, "etcdserver: user name already exists"),
    ("ErrGRPCUserEmpty", C.INVALID_ARGUMENT, "etcdserver: user name is empty"),
    ("ErrGRPCUserNotFound", C.FAILED_PRECONDITION, "etcdserver: user name not found"),
    ("ErrGRPCRoleAlreadyExist", C.FAILED_PRECONDITION, "etcdserver: role name already exists"),
    ("ErrGRPCRoleNotFound", C.FAILED_PRECONDITION, "etcdserver: role name not found"),
    ("ErrGRPCRoleEmpty", C.INVALID_ARGUMENT, "etcdserver: role name is empty"),
    (
        "ErrGRPCAuthFailed",
        C.INVALID_ARGUMENT,
        "etcdserver: authentication failed, invalid user ID or password",
    ),
    ("ErrGRPCPermissionDenied", C.PERMISSION_DENIED, "etcdserver: permission denied"),
    ("ErrGRPCRoleNotGranted", C.FAILED_PRECONDITION, "etcdserver: role is not granted to the user"),
    (
        "ErrGRPCPermissionNotGranted",
        C.FAILED_PRECONDITION,
        "etcdserver: permission is not granted to the role",
    ),
    ("ErrGRPCAuthNotEnabled", C.FAILED_PRECONDITION, "etcdserver: authentication is not enabled"),
    ("ErrGRPCInvalidAuthToken", C.UNAUTHENTICATED, "etcdserver: invalid auth token"),
    ("ErrGRPCInvalidAuthMgmt", C.INVALID_ARGUMENT, "etcdserver: invalid auth management"),
    ("ErrGRPCAuthOldRevision", C.INVALID_ARGUMENT, "etcdserver: revision of auth store is old"),
    ("ErrGRPCNoLeader", C.UNAVAILABLE, "etcdserver: no leader"),
    ("ErrGRPCNotLeader", C.FAILED_PRECONDITION, "etcdserver: not leader"),
    ("ErrGRPCLeaderChanged", C.UNAVAILABLE, "etcdserver: leader changed"),
    ("ErrGRPCNotCapable", C.UNAVAILABLE, "etcdserver: not capable"),
    ("ErrGRPCStopped", C.UNAVAILABLE, "etcdserver: server stopped"),
    ("ErrGRPCTimeout", C.UNAVAILABLE, "etcdserver: request timed out"),
    (
        "ErrGRPCTimeoutDueToLeaderFail",
        C.UNAVAILABLE,
        "etcdserver: request timed out, possibly due to previous leader failure",
    ),
    (
        "ErrGRPCTimeoutDueToConnectionLost",
        C.UNAVAILABLE,
        "etcdserver: request timed out, possibly due to connection lost",
    ),
    (
        "ErrGRPCTimeoutWaitAppliedIndex",
        C.UNAVAILABLE,
        "etcdserver: request timed out, waiting for the applied index took too long",
    ),
    ("ErrGRPCUnhealthy", C.UNAVAILABLE, "etcdserver: unhealthy cluster"),
    ("ErrGRPCCorrupt", C.DATA_LOSS, "etcdserver: corrupt cluster"),
    ("ErrGPRCNotSupportedForLearner", C.UNAVAILABLE, "etcdserver: rpc not supported for learner"),
    ("ErrGRPCBadLeaderTransferee", C.FAILED_PRECONDITION, "etcdserver: bad leader transferee"),
]


# -- the constants ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "code", "message"), ETCD_3_4_23, ids=[row[0] for row in ETCD_3_4_23])
def test_constant_has_etcds_code_and_message(name: str, code: grpc.StatusCode, message: str) -> None:
    err = getattr(rpctypes, name)
    assert (err.code, err.message, str(err)) == (code, message, message)


def test_all_is_etcds_list_in_order_and_nothing_else() -> None:
    assert [(e.code, e.message) for e in rpctypes.ALL] == [(c, m) for _, c, m in ETCD_3_4_23]
    ours = sorted(n for n in dir(rpctypes) if n.startswith("ErrG"))
    assert ours == sorted([row[0] for row in ETCD_3_4_23] + ["ErrGRPCNotSupportedForLearner"])
    assert rpctypes.ErrGRPCNotSupportedForLearner is rpctypes.ErrGPRCNotSupportedForLearner


def test_no_3_5_errors() -> None:
    for name in ("ErrGRPCClusterVersionUnavailable", "ErrGRPCWrongDowngradeVersionFormat", "ErrGRPCNoPrefix"):
        assert not hasattr(rpctypes, name)


def test_messages_are_unique_and_prefixed() -> None:
    messages = [e.message for e in rpctypes.ALL]
    assert len(set(messages)) == len(messages) == 52
    assert all(m.startswith("etcdserver: ") for m in messages)


def test_errors_are_immutable_values() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        rpctypes.ErrGRPCNoLeader.message = "x"  # type: ignore[misc]
    assert RPCError(C.UNAVAILABLE, "etcdserver: no leader") == rpctypes.ErrGRPCNoLeader
    assert len({rpctypes.ErrGRPCNoLeader, RPCError(C.UNAVAILABLE, "etcdserver: no leader")}) == 1


def test_wire_forms_of_the_two_client_side_mappings() -> None:
    # util.go maps these to client-side EtcdErrors, which grpc-go sends as Unknown (the real etcd
    # answers so: test_errors_vs_etcd.test_member_errors).
    assert rpctypes.WireMemberNotEnoughStarted == RPCError(
        C.UNKNOWN, "etcdserver: re-configuration failed due to not enough started members"
    )
    assert rpctypes.WireTooManyRequests == RPCError(C.UNKNOWN, "etcdserver: too many requests")


# -- RPCException and the ErrorDesc helpers ---------------------------------------------------------


def test_rpc_exception_carries_the_error() -> None:
    with pytest.raises(RPCException) as info:
        raise RPCException(rpctypes.ErrGRPCNotLeader)
    exc = info.value
    assert (exc.error, exc.code, exc.message, str(exc)) == (
        rpctypes.ErrGRPCNotLeader,
        C.FAILED_PRECONDITION,
        "etcdserver: not leader",
        "etcdserver: not leader",
    )


@dataclass
class _FakeStatus(grpc.RpcError, grpc.Call):  # type: ignore[misc]
    """What a client holds after a failed call: an RpcError that is also a Call."""

    status: RPCError

    def code(self) -> grpc.StatusCode:
        return self.status.code

    def details(self) -> str:
        return self.status.message

    def initial_metadata(self) -> Any: ...
    def trailing_metadata(self) -> Any: ...
    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> Any: ...
    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Any) -> bool:
        return False


def test_error_desc() -> None:
    assert rpctypes.error_desc(rpctypes.ErrGRPCCorrupt) == "etcdserver: corrupt cluster"
    assert rpctypes.error_desc(RPCException(rpctypes.ErrGRPCCorrupt)) == "etcdserver: corrupt cluster"
    assert rpctypes.error_desc(_FakeStatus(rpctypes.ErrGRPCStopped)) == "etcdserver: server stopped"
    assert rpctypes.error_desc(ValueError("plain")) == "plain"


def test_from_desc_recognises_every_error_but_watch_canceled() -> None:
    for err in rpctypes.ALL:
        want = None if err is rpctypes.ErrGRPCWatchCanceled else err
        assert rpctypes.from_desc(err.message) is want
        assert rpctypes.from_desc(_FakeStatus(err)) is want
    # The Unknown-coded wire forms come back as the canonical error, as etcd's client-side Error().
    assert (
        rpctypes.from_desc(_FakeStatus(rpctypes.WireTooManyRequests))
        is rpctypes.ErrGRPCRequestTooManyRequests
    )
    assert rpctypes.from_desc("etcdserver: no such thing") is None
    assert rpctypes.from_desc(ValueError("etcdserver: no leader")) is rpctypes.ErrGRPCNoLeader


# -- the mapping, from errors the real packages raise -----------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 10**12

    def __call__(self) -> int:
        return self.now


@dataclass
class Member:
    backend: Backend
    lessor: Lessor
    kv: KVStore
    applier: Applier
    clock: Clock


@pytest.fixture
def member(tmp_path: Any) -> Iterator[Member]:
    backend = Backend(str(tmp_path / "db"), batch_interval=0, sync=False)
    clock = Clock()
    lessor = Lessor(backend, clock=clock)
    kv = KVStore(backend, lease_attacher=lessor)
    lessor.set_range_deleter(kv.write)
    try:
        yield Member(backend, lessor, kv, Applier(kv), clock)
    finally:
        kv.close()
        backend.close()


def raised(fn: Any, *args: Any) -> Exception:
    with pytest.raises(Exception) as info:
        fn(*args)
    return info.value


def test_mvcc_revision_errors(member: Member) -> None:
    first = member.kv.put(b"k", b"1")
    member.kv.put(b"k", b"2")
    member.kv.compact(member.kv.rev()).result(timeout=10)
    compacted = raised(member.applier.range, pb.RangeRequest(key=b"k", revision=first))
    future = raised(member.applier.range, pb.RangeRequest(key=b"k", revision=member.kv.rev() + 1))
    assert type(compacted) is mvcc_errors.ErrCompacted and type(future) is mvcc_errors.ErrFutureRev
    assert to_grpc_error(compacted) == RPCError(
        C.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted"
    )
    assert to_grpc_error(future) == RPCError(
        C.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision"
    )
    assert to_grpc_error(raised(member.kv.compact, first)) is rpctypes.ErrGRPCCompacted


def test_key_not_found(member: Member) -> None:
    exc = raised(member.applier.put, pb.PutRequest(key=b"absent", ignore_value=True))
    assert type(exc) is mvcc_errors.ErrKeyNotFound
    assert to_grpc_error(exc) == RPCError(C.INVALID_ARGUMENT, "etcdserver: key not found")


def _put(key: bytes) -> pb.RequestOp:
    return pb.RequestOp(request_put=pb.PutRequest(key=key, value=b"v"))


@pytest.mark.parametrize(
    ("check", "request_", "code", "message"),
    [
        (check_put_request, pb.PutRequest(key=b""), C.INVALID_ARGUMENT, "etcdserver: key is not provided"),
        (
            check_put_request,
            pb.PutRequest(key=b"k", value=b"v", ignore_value=True),
            C.INVALID_ARGUMENT,
            "etcdserver: value is provided",
        ),
        (
            check_put_request,
            pb.PutRequest(key=b"k", lease=7, ignore_lease=True),
            C.INVALID_ARGUMENT,
            "etcdserver: lease is provided",
        ),
        (
            check_txn_request,
            pb.TxnRequest(success=[_put(b"%d" % i) for i in range(129)]),
            C.INVALID_ARGUMENT,
            "etcdserver: too many operations in txn request",
        ),
        (
            check_txn_request,
            pb.TxnRequest(failure=[_put(b"d"), _put(b"d")]),
            C.INVALID_ARGUMENT,
            "etcdserver: duplicate key given in txn request",
        ),
        (
            check_txn_request,
            pb.TxnRequest(compare=[pb.Compare(key=b"")]),
            C.INVALID_ARGUMENT,
            "etcdserver: key is not provided",
        ),
    ],
    ids=["empty-key", "value-provided", "lease-provided", "too-many-ops", "duplicate-key", "txn-empty-key"],
)
def test_request_checks(check: Any, request_: Any, code: grpc.StatusCode, message: str) -> None:
    assert to_grpc_error(raised(check, request_)) == RPCError(code, message)


def test_lease_errors(member: Member) -> None:
    lessor = member.lessor
    not_found = raised(lessor.revoke, 99)
    lessor.grant(1, 10)
    exists = raised(lessor.grant, 1, 10)
    too_large = raised(lessor.grant, 2, MaxLeaseTTL + 1)
    not_primary = raised(lessor.renew, 1)
    lessor.promote(0)
    member.clock.now += 11 * 10**9
    expired = raised(lessor.renew, 1)
    assert [type(e) for e in (not_found, exists, too_large, not_primary, expired)] == [
        ErrLeaseNotFound,
        ErrLeaseExists,
        ErrLeaseTTLTooLarge,
        ErrNotPrimary,
        ErrLeaseExpired,
    ]
    assert to_grpc_error(not_found) == RPCError(C.NOT_FOUND, "etcdserver: requested lease not found")
    assert to_grpc_error(expired) == RPCError(C.NOT_FOUND, "etcdserver: requested lease not found")
    assert to_grpc_error(exists) == RPCError(C.FAILED_PRECONDITION, "etcdserver: lease already exists")
    assert to_grpc_error(too_large) == RPCError(C.OUT_OF_RANGE, "etcdserver: too large lease TTL")
    # Not in etcd's table (the server forwards a renewal to the leader instead): Unknown with its text.
    assert to_grpc_error(not_primary) == RPCError(C.UNKNOWN, "not a primary lessor")


def test_unknown_lease_on_put(member: Member) -> None:
    exc = raised(member.applier.put, pb.PutRequest(key=b"k", value=b"v", lease=42))
    assert to_grpc_error(exc) is rpctypes.ErrGRPCLeaseNotFound


def test_no_space() -> None:
    # The quota only answers available(); nothing in the tree raises ErrNoSpace yet, so build it.
    assert to_grpc_error(ErrNoSpace()) == RPCError(
        C.RESOURCE_EXHAUSTED, "etcdserver: mvcc: database space exceeded"
    )


def test_table_is_exactly_the_inner_errors_etcd_maps() -> None:
    assert dict(errors.TO_GRPC_ERROR) == {
        mvcc_errors.ErrCompacted: rpctypes.ErrGRPCCompacted,
        mvcc_errors.ErrFutureRev: rpctypes.ErrGRPCFutureRev,
        mvcc_errors.ErrKeyNotFound: rpctypes.ErrGRPCKeyNotFound,
        mvcc_errors.ErrEmptyKey: rpctypes.ErrGRPCEmptyKey,
        mvcc_errors.ErrValueProvided: rpctypes.ErrGRPCValueProvided,
        mvcc_errors.ErrLeaseProvided: rpctypes.ErrGRPCLeaseProvided,
        mvcc_errors.ErrTooManyOps: rpctypes.ErrGRPCTooManyOps,
        mvcc_errors.ErrDuplicateKey: rpctypes.ErrGRPCDuplicateKey,
        ErrNoSpace: rpctypes.ErrGRPCNoSpace,
        ErrLeaseNotFound: rpctypes.ErrGRPCLeaseNotFound,
        ErrLeaseExists: rpctypes.ErrGRPCLeaseExist,
        ErrLeaseTTLTooLarge: rpctypes.ErrGRPCLeaseTTLTooLarge,
        ErrCorrupt: rpctypes.ErrGRPCCorrupt,
        TimeoutError: RPCError(C.UNKNOWN, "context deadline exceeded"),
        server_errors.ErrTimeout: rpctypes.ErrGRPCTimeout,
        server_errors.ErrTimeoutDueToLeaderFail: rpctypes.ErrGRPCTimeoutDueToLeaderFail,
        server_errors.ErrTimeoutDueToConnectionLost: rpctypes.ErrGRPCTimeoutDueToConnectionLost,
        server_errors.ErrNoLeader: rpctypes.ErrGRPCNoLeader,
        server_errors.ErrNotLeader: rpctypes.ErrGRPCNotLeader,
        server_errors.ErrLeaderChanged: rpctypes.ErrGRPCLeaderChanged,
        server_errors.ErrStopped: rpctypes.ErrGRPCStopped,
        server_errors.ErrRequestTooLarge: rpctypes.ErrGRPCRequestTooLarge,
        server_errors.ErrTooManyRequests: rpctypes.WireTooManyRequests,
        server_errors.ErrUnhealthy: rpctypes.ErrGRPCUnhealthy,
        server_errors.ErrBadLeaderTransferee: rpctypes.ErrGRPCBadLeaderTransferee,
        server_errors.ErrNotEnoughStartedMembers: rpctypes.WireMemberNotEnoughStarted,
        server_errors.ErrLearnerNotReady: rpctypes.ErrGRPCLearnerNotReady,
        server_errors.ErrNotCapable: rpctypes.ErrGRPCNotCapable,
        auth_errors.ErrRootUserNotExist: rpctypes.ErrGRPCRootUserNotExist,
        auth_errors.ErrRootRoleNotExist: rpctypes.ErrGRPCRootRoleNotExist,
        auth_errors.ErrUserAlreadyExist: rpctypes.ErrGRPCUserAlreadyExist,
        auth_errors.ErrUserEmpty: rpctypes.ErrGRPCUserEmpty,
        auth_errors.ErrUserNotFound: rpctypes.ErrGRPCUserNotFound,
        auth_errors.ErrRoleAlreadyExist: rpctypes.ErrGRPCRoleAlreadyExist,
        auth_errors.ErrRoleNotFound: rpctypes.ErrGRPCRoleNotFound,
        auth_errors.ErrRoleEmpty: rpctypes.ErrGRPCRoleEmpty,
        auth_errors.ErrAuthFailed: rpctypes.ErrGRPCAuthFailed,
        auth_errors.ErrPermissionDenied: rpctypes.ErrGRPCPermissionDenied,
        auth_errors.ErrRoleNotGranted: rpctypes.ErrGRPCRoleNotGranted,
        auth_errors.ErrPermissionNotGranted: rpctypes.ErrGRPCPermissionNotGranted,
        auth_errors.ErrAuthNotEnabled: rpctypes.ErrGRPCAuthNotEnabled,
        auth_errors.ErrInvalidAuthToken: rpctypes.ErrGRPCInvalidAuthToken,
        auth_errors.ErrInvalidAuthMgmt: rpctypes.ErrGRPCInvalidAuthMgmt,
        auth_errors.ErrAuthOldRevision: rpctypes.ErrGRPCAuthOldRevision,
    }
    with pytest.raises(TypeError):
        errors.TO_GRPC_ERROR[ValueError] = rpctypes.ErrGRPCCorrupt  # type: ignore[index]


@pytest.mark.parametrize(
    "exc",
    [
        mvcc_errors.ErrClosed(),
        mvcc_errors.ErrCanceled(),
        mvcc_errors.ErrWatcherNotExist(),
        RuntimeError("mvcc: revision 5 in the index is missing from the backend"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_unmapped_errors_are_unknown_with_their_text(exc: Exception) -> None:
    assert to_grpc_error(exc) == RPCError(C.UNKNOWN, str(exc))


def test_unmapped_error_without_text_names_its_class() -> None:
    assert to_grpc_error(KeyError()) == RPCError(C.UNKNOWN, "KeyError")


def test_rpc_exception_passes_through() -> None:
    assert to_grpc_error(RPCException(rpctypes.ErrGRPCNoLeader)) is rpctypes.ErrGRPCNoLeader
    assert to_grpc_error(RPCException(rpctypes.WireTooManyRequests)) is rpctypes.WireTooManyRequests


def test_own_deadline_is_gos_context_error() -> None:
    assert to_grpc_error(TimeoutError()) == RPCError(C.UNKNOWN, "context deadline exceeded")
    assert errors.WireCanceled == RPCError(C.UNKNOWN, "context canceled")


def test_error_string_is_gos_status_error_text() -> None:
    # grpc-go's codes.Code.String() for every code, and status.Error(...).Error()'s layout.
    go_names = {
        C.OK: "OK",
        C.CANCELLED: "Canceled",
        C.UNKNOWN: "Unknown",
        C.INVALID_ARGUMENT: "InvalidArgument",
        C.DEADLINE_EXCEEDED: "DeadlineExceeded",
        C.NOT_FOUND: "NotFound",
        C.ALREADY_EXISTS: "AlreadyExists",
        C.PERMISSION_DENIED: "PermissionDenied",
        C.RESOURCE_EXHAUSTED: "ResourceExhausted",
        C.FAILED_PRECONDITION: "FailedPrecondition",
        C.ABORTED: "Aborted",
        C.OUT_OF_RANGE: "OutOfRange",
        C.UNIMPLEMENTED: "Unimplemented",
        C.INTERNAL: "Internal",
        C.UNAVAILABLE: "Unavailable",
        C.DATA_LOSS: "DataLoss",
        C.UNAUTHENTICATED: "Unauthenticated",
    }
    assert set(go_names) == set(C)
    for code, name in go_names.items():
        assert RPCError(code, "m").error_string() == f"rpc error: code = {name} desc = m"
    assert (
        rpctypes.ErrGRPCWatchCanceled.error_string()
        == "rpc error: code = Canceled desc = etcdserver: watch canceled"
    )
