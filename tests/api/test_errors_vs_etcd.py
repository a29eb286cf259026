"""Our ``rpctypes`` constants against the real etcd 3.4.23: each error provoked from a client through
stubs generated from our .proto files, its status code and details compared with our constant.

One etcd process serves most of the module (free ports, tmp data dir, killed by PID), with a 4 MiB
backend quota so the NOSPACE alarm is reachable. Tests run in file order and share the server: KV,
lease and cluster errors first, then auth (enabled, then disabled again), then the quota, which leaves
the alarm raised. A second pair of processes then gives a learner (which refuses most calls), a
follower (not leader) and a leader that has lost its quorum (no leader; a write then fails at etcd's
request timeout with Go's UNKNOWN "context deadline exceeded", a 6 s test). Errors etcd cannot be
made to show on demand (the ErrGRPCTimeout family, corrupt, too many requests, member exists, ...)
are pinned only by ``test_rpctypes.py``.
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb import rpc_pb2_grpc as pb_grpc
from etcd.api.v3rpc import errors, rpctypes
from etcd.api.v3rpc.rpctypes import RPCError
from etcd.auth.authpb import auth_pb2 as authpb
from etcd.mvcc import errors as mvcc_errors
from tests import real_etcd

T = 5.0  # seconds; the deadline of every call
QUOTA_BYTES = 4 * 1024 * 1024

pytestmark = real_etcd.requires_etcd


@dataclass(frozen=True)
class Etcd:
    kv: pb_grpc.KVStub
    lease: pb_grpc.LeaseStub
    cluster: pb_grpc.ClusterStub
    maintenance: pb_grpc.MaintenanceStub
    auth: pb_grpc.AuthStub
    watch: pb_grpc.WatchStub
    member_id: int
    peer_url: str
    proc: subprocess.Popen[bytes]


@contextlib.contextmanager
def running_etcd(
    base: Path, name: str, ports: list[int], initial_cluster: str = "", extra: tuple[str, ...] = ()
) -> Iterator[Etcd]:
    """One real etcd member (``tests.real_etcd``) with our stubs on a channel to it."""
    with real_etcd.running_etcd(
        base, name, ports=ports, initial_cluster=initial_cluster, extra=extra
    ) as member:
        channel = grpc.insecure_channel(
            f"127.0.0.1:{member.client_port}", options=[("grpc.max_send_message_length", 8 * 1024 * 1024)]
        )
        try:
            maintenance = pb_grpc.MaintenanceStub(channel)
            status = maintenance.Status(pb.StatusRequest(), timeout=20, wait_for_ready=True)
            yield Etcd(
                kv=pb_grpc.KVStub(channel),
                lease=pb_grpc.LeaseStub(channel),
                cluster=pb_grpc.ClusterStub(channel),
                maintenance=maintenance,
                auth=pb_grpc.AuthStub(channel),
                watch=pb_grpc.WatchStub(channel),
                member_id=status.header.member_id,
                peer_url=member.peer_url,
                proc=member.proc,
            )
        finally:
            channel.close()


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Etcd]:
    base = tmp_path_factory.mktemp("real-etcd-errors")
    with running_etcd(
        base, "errors", real_etcd.free_ports(2), extra=(f"--quota-backend-bytes={QUOTA_BYTES}",)
    ) as e:
        yield e


def fails_with(expected: RPCError, call: Callable[..., Any], request: Message, **kwargs: Any) -> None:
    """Makes the unary call, which must fail with exactly ``expected``'s code and details."""
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=T, **kwargs)
    err: Any = info.value
    assert (err.code(), err.details()) == (expected.code, expected.message)
    assert rpctypes.error_desc(err) == expected.message
    if expected.message.startswith("etcdserver: "):
        # Client side, the status maps back to the constant with its message (etcd's rpctypes.Error).
        canonical = rpctypes.from_desc(err)
        assert canonical is not None and canonical.message == expected.message


def put_op(key: bytes, value: bytes = b"v") -> pb.RequestOp:
    return pb.RequestOp(request_put=pb.PutRequest(key=key, value=value))


def watch_creates(
    etcd: Etcd, *creates: pb.WatchCreateRequest, metadata: Any = None
) -> list[pb.WatchResponse]:
    """Sends the creates on one watch stream and returns the first response to each."""
    requests: queue.Queue[Any] = queue.Queue()
    stream = etcd.watch.Watch(iter(requests.get, None), timeout=T, metadata=metadata)
    try:
        responses = []
        for create in creates:
            requests.put(pb.WatchRequest(create_request=create))
            responses.append(next(stream))
        return responses
    finally:
        requests.put(None)
        stream.cancel()


# ---------------------------------------------------------------------------------------------------
# KV


def test_empty_key(etcd: Etcd) -> None:
    fails_with(rpctypes.ErrGRPCEmptyKey, etcd.kv.Put, pb.PutRequest(key=b"", value=b"v"))
    fails_with(rpctypes.ErrGRPCEmptyKey, etcd.kv.Range, pb.RangeRequest(key=b""))
    fails_with(rpctypes.ErrGRPCEmptyKey, etcd.kv.DeleteRange, pb.DeleteRangeRequest(key=b""))
    fails_with(rpctypes.ErrGRPCEmptyKey, etcd.kv.Txn, pb.TxnRequest(success=[put_op(b"")]))
    compare = pb.Compare(key=b"", target=pb.Compare.VERSION, version=0)
    fails_with(rpctypes.ErrGRPCEmptyKey, etcd.kv.Txn, pb.TxnRequest(compare=[compare]))


def test_value_and_lease_provided_and_key_not_found(etcd: Etcd) -> None:
    etcd.kv.Put(pb.PutRequest(key=b"/kv/present", value=b"v"), timeout=T)
    fails_with(
        rpctypes.ErrGRPCValueProvided,
        etcd.kv.Put,
        pb.PutRequest(key=b"/kv/present", value=b"v", ignore_value=True),
    )
    fails_with(
        rpctypes.ErrGRPCLeaseProvided,
        etcd.kv.Put,
        pb.PutRequest(key=b"/kv/present", lease=1, ignore_lease=True),
    )
    fails_with(rpctypes.ErrGRPCKeyNotFound, etcd.kv.Put, pb.PutRequest(key=b"/kv/absent", ignore_value=True))
    fails_with(rpctypes.ErrGRPCKeyNotFound, etcd.kv.Put, pb.PutRequest(key=b"/kv/absent", ignore_lease=True))


def test_too_many_ops_and_duplicate_key(etcd: Etcd) -> None:
    ops = [put_op(b"/txn/%d" % i) for i in range(129)]
    fails_with(rpctypes.ErrGRPCTooManyOps, etcd.kv.Txn, pb.TxnRequest(success=ops))
    assert etcd.kv.Txn(pb.TxnRequest(success=ops[:128]), timeout=T).succeeded
    dup = [put_op(b"/txn/dup"), put_op(b"/txn/dup")]
    fails_with(rpctypes.ErrGRPCDuplicateKey, etcd.kv.Txn, pb.TxnRequest(success=dup))
    overlapping = [
        put_op(b"/txn/b"),
        pb.RequestOp(request_delete_range=pb.DeleteRangeRequest(key=b"/txn/a", range_end=b"/txn/c")),
    ]
    fails_with(rpctypes.ErrGRPCDuplicateKey, etcd.kv.Txn, pb.TxnRequest(failure=overlapping))


def test_future_and_compacted_revisions(etcd: Etcd) -> None:
    rev = etcd.kv.Put(pb.PutRequest(key=b"/rev/k", value=b"1"), timeout=T).header.revision
    fails_with(rpctypes.ErrGRPCFutureRev, etcd.kv.Range, pb.RangeRequest(key=b"/rev/k", revision=rev + 100))
    fails_with(rpctypes.ErrGRPCFutureRev, etcd.kv.Compact, pb.CompactionRequest(revision=rev + 100))
    rev2 = etcd.kv.Put(pb.PutRequest(key=b"/rev/k", value=b"2"), timeout=T).header.revision
    etcd.kv.Compact(pb.CompactionRequest(revision=rev2, physical=True), timeout=T)
    fails_with(rpctypes.ErrGRPCCompacted, etcd.kv.Range, pb.RangeRequest(key=b"/rev/k", revision=rev))
    fails_with(rpctypes.ErrGRPCCompacted, etcd.kv.Compact, pb.CompactionRequest(revision=rev2))
    txn = pb.TxnRequest(success=[pb.RequestOp(request_range=pb.RangeRequest(key=b"/rev/k", revision=rev))])
    fails_with(rpctypes.ErrGRPCCompacted, etcd.kv.Txn, txn)
    # A watch from a compacted revision is created, then canceled in-band with the compact revision.
    create = pb.WatchRequest(create_request=pb.WatchCreateRequest(key=b"/rev/k", start_revision=rev))
    stream = etcd.watch.Watch(iter([create]), timeout=T)
    try:
        created, canceled = next(stream), next(stream)
    finally:
        stream.cancel()
    assert (created.created, created.canceled) == (True, False)
    assert (canceled.watch_id, canceled.canceled, canceled.compact_revision, canceled.cancel_reason) == (
        created.watch_id,
        True,
        rev2,
        "",
    )


def test_watch_create_failures_are_in_band(etcd: Etcd) -> None:
    # A failed create is a response, not a status: created and canceled, watch ID -1, mvcc's text.
    ok, dup, empty = watch_creates(
        etcd,
        pb.WatchCreateRequest(key=b"/w/a", watch_id=7),
        pb.WatchCreateRequest(key=b"/w/b", watch_id=7),
        pb.WatchCreateRequest(key=b"/w/b", range_end=b"/w/a"),
    )
    assert (ok.watch_id, ok.created, ok.canceled) == (7, True, False)
    assert (dup.watch_id, dup.created, dup.canceled, dup.cancel_reason) == (
        -1,
        True,
        True,
        mvcc_errors.ErrWatcherDuplicateID.message,
    )
    assert dup.cancel_reason == "mvcc: duplicate watch ID provided on the WatchStream"
    assert (empty.watch_id, empty.created, empty.canceled, empty.cancel_reason) == (
        -1,
        True,
        True,
        "mvcc: watcher range is empty",
    )
    assert empty.cancel_reason == mvcc_errors.ErrEmptyWatcherRange.message


def test_request_too_large(etcd: Etcd) -> None:
    big = b"x" * (1024 * 1024 + 600 * 1024)  # above --max-request-bytes' 1.5 MiB default
    fails_with(rpctypes.ErrGRPCRequestTooLarge, etcd.kv.Put, pb.PutRequest(key=b"/big", value=big))


# ---------------------------------------------------------------------------------------------------
# Lease


def test_lease_errors(etcd: Etcd) -> None:
    unknown = 0x7E57
    fails_with(rpctypes.ErrGRPCLeaseNotFound, etcd.lease.LeaseRevoke, pb.LeaseRevokeRequest(ID=unknown))
    fails_with(
        rpctypes.ErrGRPCLeaseNotFound, etcd.kv.Put, pb.PutRequest(key=b"/lease/k", value=b"v", lease=unknown)
    )
    fails_with(
        rpctypes.ErrGRPCLeaseTTLTooLarge, etcd.lease.LeaseGrant, pb.LeaseGrantRequest(TTL=9_000_000_001)
    )
    granted = etcd.lease.LeaseGrant(pb.LeaseGrantRequest(TTL=60), timeout=T)
    fails_with(rpctypes.ErrGRPCLeaseExist, etcd.lease.LeaseGrant, pb.LeaseGrantRequest(TTL=60, ID=granted.ID))
    # Unknown leases are not errors here: TimeToLive answers TTL -1, KeepAlive TTL 0 (v3rpc/lease.go).
    ttl = etcd.lease.LeaseTimeToLive(pb.LeaseTimeToLiveRequest(ID=unknown), timeout=T)
    assert (unknown, -1) == (ttl.ID, ttl.TTL)
    requests: queue.Queue[Any] = queue.Queue()
    stream = etcd.lease.LeaseKeepAlive(iter(requests.get, None), timeout=T)
    requests.put(pb.LeaseKeepAliveRequest(ID=unknown))
    resp = next(stream)
    requests.put(None)
    stream.cancel()
    assert (unknown, 0) == (resp.ID, resp.TTL)


# ---------------------------------------------------------------------------------------------------
# Cluster


def test_member_errors(etcd: Etcd) -> None:
    unknown = 0xDEAD
    fails_with(rpctypes.ErrGRPCMemberNotFound, etcd.cluster.MemberRemove, pb.MemberRemoveRequest(ID=unknown))
    update = pb.MemberUpdateRequest(ID=unknown, peerURLs=["http://127.0.0.1:1"])
    fails_with(rpctypes.ErrGRPCMemberNotFound, etcd.cluster.MemberUpdate, update)
    fails_with(
        rpctypes.ErrGRPCMemberNotFound, etcd.cluster.MemberPromote, pb.MemberPromoteRequest(ID=unknown)
    )
    fails_with(
        rpctypes.ErrGRPCMemberBadURLs, etcd.cluster.MemberAdd, pb.MemberAddRequest(peerURLs=["not a url"])
    )
    fails_with(
        rpctypes.ErrGRPCPeerURLExist, etcd.cluster.MemberAdd, pb.MemberAddRequest(peerURLs=[etcd.peer_url])
    )
    # Removing the only voter: etcd 3.4 sends this one as UNKNOWN (util.go maps it to a client-side error).
    remove_self = pb.MemberRemoveRequest(ID=etcd.member_id)
    fails_with(rpctypes.WireMemberNotEnoughStarted, etcd.cluster.MemberRemove, remove_self)
    fails_with(
        rpctypes.ErrGRPCBadLeaderTransferee,
        etcd.maintenance.MoveLeader,
        pb.MoveLeaderRequest(targetID=unknown),
    )


def test_learner_errors(etcd: Etcd) -> None:
    # A learner that never starts: it does not count towards quorum, and is never in sync.
    (port1, port2) = real_etcd.free_ports(2)
    added = etcd.cluster.MemberAdd(
        pb.MemberAddRequest(peerURLs=[f"http://127.0.0.1:{port1}"], isLearner=True), timeout=T
    )
    learner = added.member.ID
    try:
        second = pb.MemberAddRequest(peerURLs=[f"http://127.0.0.1:{port2}"], isLearner=True)
        fails_with(rpctypes.ErrGRPCTooManyLearners, etcd.cluster.MemberAdd, second)
        fails_with(
            rpctypes.ErrGRPCLearnerNotReady, etcd.cluster.MemberPromote, pb.MemberPromoteRequest(ID=learner)
        )
        fails_with(
            rpctypes.ErrGRPCMemberNotLearner,
            etcd.cluster.MemberPromote,
            pb.MemberPromoteRequest(ID=etcd.member_id),
        )
        to_learner = pb.MoveLeaderRequest(targetID=learner)
        fails_with(rpctypes.ErrGRPCBadLeaderTransferee, etcd.maintenance.MoveLeader, to_learner)
    finally:
        etcd.cluster.MemberRemove(pb.MemberRemoveRequest(ID=learner), timeout=T)


# ---------------------------------------------------------------------------------------------------
# Auth (enabled, then disabled again at the end of the section)


def test_auth_errors_while_disabled(etcd: Etcd) -> None:
    a = etcd.auth
    fails_with(rpctypes.ErrGRPCAuthNotEnabled, a.Authenticate, pb.AuthenticateRequest(name="u", password="p"))
    fails_with(rpctypes.ErrGRPCUserNotFound, a.UserGet, pb.AuthUserGetRequest(name="nobody"))
    fails_with(rpctypes.ErrGRPCRoleNotFound, a.RoleGet, pb.AuthRoleGetRequest(role="norole"))
    fails_with(rpctypes.ErrGRPCUserEmpty, a.UserAdd, pb.AuthUserAddRequest(name="", password="p"))
    fails_with(rpctypes.ErrGRPCRoleEmpty, a.RoleAdd, pb.AuthRoleAddRequest(name=""))
    a.UserAdd(pb.AuthUserAddRequest(name="alice", password="pw"), timeout=T)
    a.RoleAdd(pb.AuthRoleAddRequest(name="reader"), timeout=T)
    fails_with(
        rpctypes.ErrGRPCUserAlreadyExist, a.UserAdd, pb.AuthUserAddRequest(name="alice", password="pw")
    )
    fails_with(rpctypes.ErrGRPCRoleAlreadyExist, a.RoleAdd, pb.AuthRoleAddRequest(name="reader"))
    fails_with(
        rpctypes.ErrGRPCRoleNotGranted,
        a.UserRevokeRole,
        pb.AuthUserRevokeRoleRequest(name="alice", role="reader"),
    )
    revoke = pb.AuthRoleRevokePermissionRequest(role="reader", key=b"/ro/")
    fails_with(rpctypes.ErrGRPCPermissionNotGranted, a.RoleRevokePermission, revoke)
    fails_with(
        rpctypes.ErrGRPCUserNotFound,
        a.UserGrantRole,
        pb.AuthUserGrantRoleRequest(user="nobody", role="reader"),
    )
    fails_with(
        rpctypes.ErrGRPCRoleNotFound,
        a.UserGrantRole,
        pb.AuthUserGrantRoleRequest(user="alice", role="norole"),
    )

    fails_with(rpctypes.ErrGRPCRootUserNotExist, a.AuthEnable, pb.AuthEnableRequest())
    a.UserAdd(pb.AuthUserAddRequest(name="root", password="rootpw"), timeout=T)
    fails_with(rpctypes.ErrGRPCRootRoleNotExist, a.AuthEnable, pb.AuthEnableRequest())


def test_auth_errors_while_enabled(etcd: Etcd) -> None:
    a = etcd.auth
    a.UserGrantRole(pb.AuthUserGrantRoleRequest(user="root", role="root"), timeout=T)
    perm = authpb.Permission(permType=authpb.Permission.READ, key=b"/ro/", range_end=b"/ro0")
    a.RoleGrantPermission(pb.AuthRoleGrantPermissionRequest(name="reader", perm=perm), timeout=T)
    a.UserGrantRole(pb.AuthUserGrantRoleRequest(user="alice", role="reader"), timeout=T)
    a.UserAdd(
        pb.AuthUserAddRequest(name="certonly", options=authpb.UserAddOptions(no_password=True)), timeout=T
    )
    a.AuthEnable(pb.AuthEnableRequest(), timeout=T)
    root = [
        ("token", a.Authenticate(pb.AuthenticateRequest(name="root", password="rootpw"), timeout=T).token)
    ]
    try:
        fails_with(
            rpctypes.ErrGRPCAuthFailed, a.Authenticate, pb.AuthenticateRequest(name="alice", password="no")
        )
        fails_with(
            rpctypes.ErrGRPCAuthFailed, a.Authenticate, pb.AuthenticateRequest(name="nobody", password="x")
        )
        alice = [
            ("token", a.Authenticate(pb.AuthenticateRequest(name="alice", password="pw"), timeout=T).token)
        ]
        put = pb.PutRequest(key=b"/ro/k", value=b"v")
        fails_with(rpctypes.ErrGRPCPermissionDenied, etcd.kv.Put, put, metadata=alice)
        fails_with(
            rpctypes.ErrGRPCPermissionDenied, etcd.kv.Range, pb.RangeRequest(key=b"/rw/k"), metadata=alice
        )
        assert etcd.kv.Range(pb.RangeRequest(key=b"/ro/k"), timeout=T, metadata=alice).count == 0
        fails_with(rpctypes.ErrGRPCUserEmpty, etcd.kv.Put, put)
        fails_with(rpctypes.ErrGRPCInvalidAuthToken, etcd.kv.Put, put, metadata=[("token", "bogus.1")])
        revoke_root = pb.AuthUserRevokeRoleRequest(name="root", role="root")
        fails_with(rpctypes.ErrGRPCInvalidAuthMgmt, a.UserRevokeRole, revoke_root, metadata=root)
        # etcd 3.4 leaves auth.ErrNoPasswordUser out of its table: UNKNOWN with the auth package's text.
        no_password = RPCError(
            grpc.StatusCode.UNKNOWN, "auth: authentication failed, password was given for no password user"
        )
        fails_with(no_password, a.Authenticate, pb.AuthenticateRequest(name="certonly", password="x"))
        # Watches refused by auth are in-band too, the reason being Go's text of the status error.
        denied = [
            (r.watch_id, r.created, r.canceled, r.cancel_reason)
            for r in [
                *watch_creates(etcd, pb.WatchCreateRequest(key=b"/rw/k"), metadata=alice),
                *watch_creates(etcd, pb.WatchCreateRequest(key=b"/ro/k"), metadata=[("token", "bogus.1")]),
                *watch_creates(etcd, pb.WatchCreateRequest(key=b"/ro/k")),
            ]
        ]
        assert denied == [
            (-1, True, True, "rpc error: code = PermissionDenied desc = etcdserver: permission denied"),
            (-1, True, True, "rpc error: code = Unauthenticated desc = etcdserver: invalid auth token"),
            (-1, True, True, "rpc error: code = InvalidArgument desc = etcdserver: user name is empty"),
        ]
        assert [d[3] for d in denied] == [
            e.error_string()
            for e in (
                rpctypes.ErrGRPCPermissionDenied,
                rpctypes.ErrGRPCInvalidAuthToken,
                rpctypes.ErrGRPCUserEmpty,
            )
        ]
    finally:
        a.AuthDisable(pb.AuthDisableRequest(), timeout=T, metadata=root)
    fails_with(
        rpctypes.ErrGRPCAuthNotEnabled, a.Authenticate, pb.AuthenticateRequest(name="root", password="rootpw")
    )


# ---------------------------------------------------------------------------------------------------
# Quota (last: it leaves the NOSPACE alarm raised)


def test_no_space(etcd: Etcd) -> None:
    value = b"q" * (1024 * 1024)
    # etcd compares the size as of the backend's last commit (every 100 ms), so a quick burst of puts
    # may overshoot the quota by a few before one is refused.
    for i in range(16 * QUOTA_BYTES // len(value)):
        try:
            etcd.kv.Put(pb.PutRequest(key=b"/quota/%d" % i, value=value), timeout=T)
        except grpc.RpcError as e:
            err: Any = e
            break
    else:
        pytest.fail("etcd accepted sixteen times its quota")
    assert (err.code(), err.details()) == (rpctypes.ErrGRPCNoSpace.code, rpctypes.ErrGRPCNoSpace.message)
    # Once the alarm is up, every write is refused, however small.
    fails_with(rpctypes.ErrGRPCNoSpace, etcd.kv.Put, pb.PutRequest(key=b"/quota/small", value=b"v"))
    fails_with(rpctypes.ErrGRPCNoSpace, etcd.kv.Txn, pb.TxnRequest(success=[put_op(b"/quota/txn")]))
    fails_with(rpctypes.ErrGRPCNoSpace, etcd.lease.LeaseGrant, pb.LeaseGrantRequest(TTL=60))
    alarms = etcd.maintenance.Alarm(pb.AlarmRequest(action=pb.AlarmRequest.GET), timeout=T).alarms
    assert [(a.memberID, a.alarm) for a in alarms] == [(etcd.member_id, pb.NOSPACE)]


# ---------------------------------------------------------------------------------------------------
# Two members: a learner, then a follower, then a leader that lost its quorum


@dataclass(frozen=True)
class Pair:
    leader: Etcd
    learner: Etcd


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    base = tmp_path_factory.mktemp("real-etcd-pair")
    ports = real_etcd.free_ports(4)
    with running_etcd(base, "a", ports[:2]) as a:
        learner_peer = f"http://127.0.0.1:{ports[3]}"
        a.cluster.MemberAdd(pb.MemberAddRequest(peerURLs=[learner_peer], isLearner=True), timeout=T)
        with running_etcd(base, "b", ports[2:], initial_cluster=f"a={a.peer_url},b={learner_peer}") as b:
            yield Pair(a, b)


def test_learner_serves_only_status_and_serializable_range(pair: Pair) -> None:
    b = pair.learner
    refused = rpctypes.ErrGPRCNotSupportedForLearner
    fails_with(refused, b.kv.Put, pb.PutRequest(key=b"k", value=b"v"))
    fails_with(refused, b.kv.Range, pb.RangeRequest(key=b"k"))
    fails_with(refused, b.lease.LeaseGrant, pb.LeaseGrantRequest(TTL=60))
    fails_with(refused, b.cluster.MemberList, pb.MemberListRequest())
    watch = b.watch.Watch(iter([pb.WatchRequest(create_request=pb.WatchCreateRequest(key=b"k"))]), timeout=T)
    with pytest.raises(grpc.RpcError) as info:
        next(watch)
    err: Any = info.value
    assert (err.code(), err.details()) == (refused.code, refused.message)
    assert b.kv.Range(pb.RangeRequest(key=b"k", serializable=True), timeout=T).count == 0


def test_follower_is_not_leader(pair: Pair) -> None:
    a, b = pair.leader, pair.learner
    deadline = time.monotonic() + 10
    while True:  # the learner is promotable once its log has caught up with the leader's
        try:
            a.cluster.MemberPromote(pb.MemberPromoteRequest(ID=b.member_id), timeout=T)
            break
        except grpc.RpcError as e:
            err: Any = e
            assert err.details() == rpctypes.ErrGRPCLearnerNotReady.message
            assert time.monotonic() < deadline, "the learner did not catch up in 10 s"
            time.sleep(0.05)
    # The promotion reaches the member a moment after the leader applied it.
    while b.maintenance.Status(pb.StatusRequest(), timeout=T).isLearner:
        assert time.monotonic() < deadline, "the promoted member still calls itself a learner after 10 s"
        time.sleep(0.05)
    fails_with(
        rpctypes.ErrGRPCNotLeader, b.maintenance.MoveLeader, pb.MoveLeaderRequest(targetID=a.member_id)
    )


def test_no_leader_after_quorum_loss(pair: Pair) -> None:
    a, b = pair.leader, pair.learner
    b.proc.kill()
    b.proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    # CheckQuorum: the leader steps down one election timeout (0.5 s) after losing its only peer.
    while a.maintenance.Status(pb.StatusRequest(), timeout=T).leader != 0:
        assert time.monotonic() < deadline, "the leader did not step down in 10 s"
        time.sleep(0.05)
    need_leader = [(rpctypes.MetadataRequireLeaderKey, rpctypes.MetadataHasLeader)]
    fails_with(rpctypes.ErrGRPCNoLeader, a.kv.Range, pb.RangeRequest(key=b"k"), metadata=need_leader)
    watch = a.watch.Watch(
        iter([pb.WatchRequest(create_request=pb.WatchCreateRequest(key=b"k"))]),
        timeout=T,
        metadata=need_leader,
    )
    with pytest.raises(grpc.RpcError) as info:
        next(watch)
    err: Any = info.value
    assert (err.code(), err.details()) == (rpctypes.ErrGRPCNoLeader.code, rpctypes.ErrGRPCNoLeader.message)


def test_write_without_leader_fails_at_its_deadline(pair: Pair) -> None:
    a = pair.leader
    # With nobody to elect (the only peer is dead) raft never takes the proposal; etcd gives up at its
    # request timeout (5 s + 2 election timeouts) with Go's context error, not with ErrGRPCTimeout.
    with pytest.raises(grpc.RpcError) as info:
        a.kv.Put(pb.PutRequest(key=b"k", value=b"v"), timeout=15)
    err: Any = info.value
    assert (err.code(), err.details()) == (grpc.StatusCode.UNKNOWN, "context deadline exceeded")
    assert errors.WireDeadlineExceeded == RPCError(err.code(), err.details())
    assert rpctypes.from_desc(err) is None
