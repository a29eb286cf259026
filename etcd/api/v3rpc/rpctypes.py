"""The gRPC errors of etcd 3.4's v3 API: status code and exact text (etcd's ``v3rpc/rpctypes/error.go``).

Clients compare the text, so every message is etcd 3.4.23's verbatim, and identifiers keep etcd's
spelling so one grep finds both sides, typo included (``ErrGPRCNotSupportedForLearner``; the correctly
spelt name is an alias of the same object). Only the errors etcd 3.4 has are here: the 3.5 additions
(``ErrGRPCClusterVersionUnavailable``, ``ErrGRPCWrongDowngradeVersionFormat``, ...) are not.

A servicer fails a call with ``raise RPCException(ErrGRPCNoLeader)``; the interceptor turns any
exception into ``context.abort(err.code, err.message)`` through ``errors.to_grpc_error``. Client-side
code (proxies, the gateway, tests) goes the other way with ``error_desc`` and ``from_desc``, etcd's
``ErrorDesc`` and ``Error``. The metadata names of etcd's ``rpctypes`` are here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import grpc
from grpc import StatusCode


@dataclass(frozen=True)
class RPCError:
    """One gRPC status etcd answers with: ``code`` and ``message`` (the status details)."""

    code: StatusCode
    message: str

    def __str__(self) -> str:
        return self.message

    def error_string(self) -> str:
        """Go's ``status.Error(code, message).Error()``, the text etcd puts in a WatchResponse's
        ``cancel_reason`` when auth refuses a watch: ``rpc error: code = PermissionDenied desc = ...``."""
        return f"rpc error: code = {_GO_CODE_NAMES[self.code]} desc = {self.message}"


# Go's codes.Code names (google.golang.org/grpc/codes), as its status errors print them.
_GO_CODE_NAMES: Mapping[StatusCode, str] = MappingProxyType(
    {
        StatusCode.OK: "OK",
        StatusCode.CANCELLED: "Canceled",
        StatusCode.UNKNOWN: "Unknown",
        StatusCode.INVALID_ARGUMENT: "InvalidArgument",
        StatusCode.DEADLINE_EXCEEDED: "DeadlineExceeded",
        StatusCode.NOT_FOUND: "NotFound",
        StatusCode.ALREADY_EXISTS: "AlreadyExists",
        StatusCode.PERMISSION_DENIED: "PermissionDenied",
        StatusCode.RESOURCE_EXHAUSTED: "ResourceExhausted",
        StatusCode.FAILED_PRECONDITION: "FailedPrecondition",
        StatusCode.ABORTED: "Aborted",
        StatusCode.OUT_OF_RANGE: "OutOfRange",
        StatusCode.UNIMPLEMENTED: "Unimplemented",
        StatusCode.INTERNAL: "Internal",
        StatusCode.UNAVAILABLE: "Unavailable",
        StatusCode.DATA_LOSS: "DataLoss",
        StatusCode.UNAUTHENTICATED: "Unauthenticated",
    }
)


def go_code_name(code: StatusCode) -> str:
    """Go's name of ``code`` (``Canceled``, ``InvalidArgument``...), as go-grpc-prometheus labels it."""
    return _GO_CODE_NAMES[code]


class RPCException(Exception):
    """An ``RPCError`` raised by a servicer; ``str(exc)`` is the message, as Go's ``err.Error()``."""

    def __init__(self, error: RPCError) -> None:
        super().__init__(error.message)
        self.error = error

    @property
    def code(self) -> StatusCode:
        return self.error.code

    @property
    def message(self) -> str:
        return self.error.message


# gRPC metadata keys and values of etcd's rpctypes/md.go and metadatafields.go.
MetadataRequireLeaderKey = "hasleader"  # with MetadataHasLeader: fail with ErrGRPCNoLeader when leaderless
MetadataHasLeader = "true"
MetadataClientAPIVersionKey = "client-api-version"
TokenFieldNameGRPC = "token"
TokenFieldNameSwagger = "authorization"  # the gateway's Authorization header

_E = RPCError

# server-side errors, in error.go's order
ErrGRPCEmptyKey = _E(StatusCode.INVALID_ARGUMENT, "etcdserver: key is not provided")
ErrGRPCKeyNotFound = _E(StatusCode.INVALID_ARGUMENT, "etcdserver: key not found")
ErrGRPCValueProvided = _E(StatusCode.INVALID_ARGUMENT, "etcdserver: value is provided")
ErrGRPCLeaseProvided = _E(StatusCode.INVALID_ARGUMENT, "etcdserver: lease is provided")
ErrGRPCTooManyOps = _E(StatusCode.INVALID_ARGUMENT, "etcdserver: too many operations in txn request")
ErrGRPCDuplicateKey = _E(StatusCode.INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request")
ErrGRPCCompacted = _E(StatusCode.OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted")
ErrGRPCFutureRev = _E(StatusCode.OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision")
ErrGRPCNoSpace = _E(StatusCode.RESOURCE_EXHAUSTED, "etcdserver: mvcc: database space exceeded")

ErrGRPCLeaseNotFound = _E(StatusCode.NOT_FOUND, "etcdserver: requested lease not found")
ErrGRPCLeaseExist = _E(StatusCode.FAILED_PRECONDITION, "etcdserver: lease already exists")
ErrGRPCLeaseTTLTooLarge = _E(StatusCode.OUT_OF_RANGE, "etcdserver: too large lease TTL")

ErrGRPCWatchCanceled = _E(StatusCode.CANCELLED, "etcdserver: watch canceled")

ErrGRPCMemberExist = _E(StatusCode.FAILED_PRECONDITION, "etcdserver: member ID already exist")
ErrGRPCPeerURLExist = _E(StatusCode.FAILED_PRECONDITION, "etcdserver: Peer URLs already exists")
ErrGRPCMemberNotEnoughStarted = _E(
    StatusCode.FAILED_PRECONDITION, "etcdserver: re-configuration failed due to not enough started members"
)
ErrGRPCMemberBadURLs = _E(StatusCode.INVALID_ARGUMENT, "etcdserver: given member URLs are invalid")
ErrGRPCMemberNotFound = _E(StatusCode.NOT_FOUND, "etcdserver: member not found")
ErrGRPCMemberNotLearner = _E(StatusCode.FAILED_PRECONDITION, "etcdserver: can only promote a learner member")
ErrGRPCLearnerNotReady = _E(
    StatusCode.FAILED_PRECONDITION,
    "etcdserver: can only promote a learner member which is in sync with leader",
)
ErrGRPCTooManyLearners = _E(StatusCode.FAILED_PRECONDITION, "etcdserver: too many learner members in cluster")

ErrGRPCRequestTooLarge = _E(StatusCode.INVALID_ARGUMENT, "etcdserver: request is too large")
ErrGRPCRequestTooManyRequests = _E(StatusCode.RESOURCE_EXHAUSTED, "etcdserver: too many requests")

ErrGRPCRootUserNotExist = _E(StatusCode.FAILED_PRECONDITION, "etcdserver: root user does not exist")
ErrGRPCRootRoleNotExist = _E(StatusCode.FAILED_PRECONDITION, "etcdserver: root user does not have root role")
ErrGRPCUserAlreadyExist = _E(StatusCode.FAILED_PRECONDITION, "etcdserver: user name already exists")
ErrGRPCUserEmpty = _E(StatusCode.INVALID_ARGUMENT, "etcdserver: user name is empty")
ErrGRPCUserNotFound = _E(StatusCode.FAILED_PRECONDITION, "etcdserver: user name not found")
ErrGRPCRoleAlreadyExist = _E(StatusCode.FAILED_PRECONDITION, "etcdserver: role name already exists")
ErrGRPCRoleNotFound = _E(StatusCode.FAILED_PRECONDITION, "etcdserver: role name not found")
ErrGRPCRoleEmpty = _E(StatusCode.INVALID_ARGUMENT, "etcdserver: role name is empty")
ErrGRPCAuthFailed = _E(
    StatusCode.INVALID_ARGUMENT, "etcdserver: authentication failed, invalid user ID or password"
)
ErrGRPCPermissionDenied = _E(StatusCode.PERMISSION_DENIED, "etcdserver: permission denied")
ErrGRPCRoleNotGranted = _E(StatusCode.FAILED_PRECONDITION, "etcdserver: role is not granted to the user")
ErrGRPCPermissionNotGranted = _E(
    StatusCode.FAILED_PRECONDITION, "etcdserver: permission is not granted to the role"
)
ErrGRPCAuthNotEnabled = _E(StatusCode.FAILED_PRECONDITION, "etcdserver: authentication is not enabled")
ErrGRPCInvalidAuthToken = _E(StatusCode.UNAUTHENTICATED, "etcdserver: invalid auth token")
ErrGRPCInvalidAuthMgmt = _E(StatusCode.INVALID_ARGUMENT, "etcdserver: invalid auth management")
ErrGRPCAuthOldRevision = _E(StatusCode.INVALID_ARGUMENT, "etcdserver: revision of auth store is old")

ErrGRPCNoLeader = _E(StatusCode.UNAVAILABLE, "etcdserver: no leader")
ErrGRPCNotLeader = _E(StatusCode.FAILED_PRECONDITION, "etcdserver: not leader")
ErrGRPCLeaderChanged = _E(StatusCode.UNAVAILABLE, "etcdserver: leader changed")
ErrGRPCNotCapable = _E(StatusCode.UNAVAILABLE, "etcdserver: not capable")
ErrGRPCStopped = _E(StatusCode.UNAVAILABLE, "etcdserver: server stopped")
ErrGRPCTimeout = _E(StatusCode.UNAVAILABLE, "etcdserver: request timed out")
ErrGRPCTimeoutDueToLeaderFail = _E(
    StatusCode.UNAVAILABLE, "etcdserver: request timed out, possibly due to previous leader failure"
)
ErrGRPCTimeoutDueToConnectionLost = _E(
    StatusCode.UNAVAILABLE, "etcdserver: request timed out, possibly due to connection lost"
)
ErrGRPCTimeoutWaitAppliedIndex = _E(
    StatusCode.UNAVAILABLE, "etcdserver: request timed out, waiting for the applied index took too long"
)
ErrGRPCUnhealthy = _E(StatusCode.UNAVAILABLE, "etcdserver: unhealthy cluster")
ErrGRPCCorrupt = _E(StatusCode.DATA_LOSS, "etcdserver: corrupt cluster")
ErrGPRCNotSupportedForLearner = _E(StatusCode.UNAVAILABLE, "etcdserver: rpc not supported for learner")
ErrGRPCNotSupportedForLearner = ErrGPRCNotSupportedForLearner
ErrGRPCBadLeaderTransferee = _E(StatusCode.FAILED_PRECONDITION, "etcdserver: bad leader transferee")

# etcd 3.4 maps two server errors not to the statuses above but to client-side errors that carry no
# gRPC status (util.go: ``rpctypes.ErrMemberNotEnoughStarted``, ``rpctypes.ErrTooManyRequests``), so
# grpc-go sends them as UNKNOWN with the same text. These are what goes on the wire.
WireMemberNotEnoughStarted = _E(StatusCode.UNKNOWN, ErrGRPCMemberNotEnoughStarted.message)
WireTooManyRequests = _E(StatusCode.UNKNOWN, ErrGRPCRequestTooManyRequests.message)

# Every server-side error, once each (the alias is left out), in error.go's order.
ALL: tuple[RPCError, ...] = (
    ErrGRPCEmptyKey,
    ErrGRPCKeyNotFound,
    ErrGRPCValueProvided,
    ErrGRPCLeaseProvided,
    ErrGRPCTooManyOps,
    ErrGRPCDuplicateKey,
    ErrGRPCCompacted,
    ErrGRPCFutureRev,
    ErrGRPCNoSpace,
    ErrGRPCLeaseNotFound,
    ErrGRPCLeaseExist,
    ErrGRPCLeaseTTLTooLarge,
    ErrGRPCWatchCanceled,
    ErrGRPCMemberExist,
    ErrGRPCPeerURLExist,
    ErrGRPCMemberNotEnoughStarted,
    ErrGRPCMemberBadURLs,
    ErrGRPCMemberNotFound,
    ErrGRPCMemberNotLearner,
    ErrGRPCLearnerNotReady,
    ErrGRPCTooManyLearners,
    ErrGRPCRequestTooLarge,
    ErrGRPCRequestTooManyRequests,
    ErrGRPCRootUserNotExist,
    ErrGRPCRootRoleNotExist,
    ErrGRPCUserAlreadyExist,
    ErrGRPCUserEmpty,
    ErrGRPCUserNotFound,
    ErrGRPCRoleAlreadyExist,
    ErrGRPCRoleNotFound,
    ErrGRPCRoleEmpty,
    ErrGRPCAuthFailed,
    ErrGRPCPermissionDenied,
    ErrGRPCRoleNotGranted,
    ErrGRPCPermissionNotGranted,
    ErrGRPCAuthNotEnabled,
    ErrGRPCInvalidAuthToken,
    ErrGRPCInvalidAuthMgmt,
    ErrGRPCAuthOldRevision,
    ErrGRPCNoLeader,
    ErrGRPCNotLeader,
    ErrGRPCLeaderChanged,
    ErrGRPCNotCapable,
    ErrGRPCStopped,
    ErrGRPCTimeout,
    ErrGRPCTimeoutDueToLeaderFail,
    ErrGRPCTimeoutDueToConnectionLost,
    ErrGRPCTimeoutWaitAppliedIndex,
    ErrGRPCUnhealthy,
    ErrGRPCCorrupt,
    ErrGPRCNotSupportedForLearner,
    ErrGRPCBadLeaderTransferee,
)

# etcd's errStringToError: every server-side error but the watch one, by message.
_BY_DESC: Mapping[str, RPCError] = MappingProxyType(
    {err.message: err for err in ALL if err is not ErrGRPCWatchCanceled}
)


def error_desc(err: BaseException | RPCError) -> str:
    """The status message of a gRPC error, else the exception's text (etcd's ``ErrorDesc``)."""
    if isinstance(err, RPCError):
        return err.message
    if isinstance(err, grpc.RpcError) and isinstance(err, grpc.Call):
        return err.details() or ""
    return str(err)


def from_desc(err: BaseException | RPCError | str) -> RPCError | None:
    """The etcd error whose message ``err`` carries, whatever code it came with (etcd's client-side
    ``rpctypes.Error``, which also recognises the UNKNOWN-coded wire errors above); None if not etcd's."""
    desc = err if isinstance(err, str) else error_desc(err)
    return _BY_DESC.get(desc)
