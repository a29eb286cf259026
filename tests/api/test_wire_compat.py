"""Our .proto files against the real etcd 3.4.23: every service, through stubs generated from our files.

One etcd process serves the whole module (started on free ports with a tmp data dir, killed by PID).
Each test asserts the returned values field by field, so a misnumbered or mistyped field fails: the
real etcd encodes with its own numbers and we decode with ours. Beside gRPC, two other encodings are
pinned: ``etcdctl -w json`` (Go's encoding/json of the generated structs) and the /v3 JSON gateway
(protobuf's JSON mapping with original field names), both against what our parsed messages hold.

Tests run in file order and share the store; each works under its own key prefix. The compaction
test comes late because it drops history the earlier tests read.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import queue
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from etcd.api import gateway_routes
from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb import rpc_pb2_grpc as pb_grpc
from etcd.api.healthpb import health_pb2, health_pb2_grpc
from etcd.api.v3electionpb import v3election_pb2 as electionpb
from etcd.api.v3electionpb import v3election_pb2_grpc as election_grpc
from etcd.api.v3lockpb import v3lock_pb2 as lockpb
from etcd.api.v3lockpb import v3lock_pb2_grpc as lock_grpc
from etcd.auth.authpb import auth_pb2 as authpb
from etcd.mvcc.mvccpb import kv_pb2 as mvccpb
from tests import real_etcd

ETCDCTL = "/usr/bin/etcdctl"
ETCD_VERSION = "3.4.23"
MEMBER_NAME = "wirecompat"
T = 5.0  # seconds; the deadline of every call, so a hang fails instead of blocking the run

pytestmark = real_etcd.requires_etcd


# ---------------------------------------------------------------------------------------------------
# The real etcd and our stubs


@dataclass(frozen=True)
class Stubs:
    kv: pb_grpc.KVStub
    watch: pb_grpc.WatchStub
    lease: pb_grpc.LeaseStub
    cluster: pb_grpc.ClusterStub
    maintenance: pb_grpc.MaintenanceStub
    auth: pb_grpc.AuthStub
    lock: lock_grpc.LockStub
    election: election_grpc.ElectionStub
    health: health_pb2_grpc.HealthStub


@dataclass(frozen=True)
class RealEtcd:
    client_url: str
    peer_url: str
    cluster_id: int
    member_id: int
    stubs: Stubs


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealEtcd]:
    with real_etcd.running_etcd(tmp_path_factory.mktemp("real-etcd"), MEMBER_NAME) as member:
        channel = grpc.insecure_channel(f"127.0.0.1:{member.client_port}")
        try:
            stubs = Stubs(
                kv=pb_grpc.KVStub(channel),
                watch=pb_grpc.WatchStub(channel),
                lease=pb_grpc.LeaseStub(channel),
                cluster=pb_grpc.ClusterStub(channel),
                maintenance=pb_grpc.MaintenanceStub(channel),
                auth=pb_grpc.AuthStub(channel),
                lock=lock_grpc.LockStub(channel),
                election=election_grpc.ElectionStub(channel),
                health=health_pb2_grpc.HealthStub(channel),
            )
            status = stubs.maintenance.Status(pb.StatusRequest(), timeout=20, wait_for_ready=True)
            yield RealEtcd(
                client_url=member.client_url,
                peer_url=member.peer_url,
                cluster_id=status.header.cluster_id,
                member_id=status.header.member_id,
                stubs=stubs,
            )
        finally:
            channel.close()


@pytest.fixture
def s(etcd: RealEtcd) -> Stubs:
    return etcd.stubs


# ---------------------------------------------------------------------------------------------------
# Helpers


class BidiStream:
    """A bidirectional call fed from a queue, so a test can interleave sends and receives.

    ``recv`` waits at most until the call's deadline, then raises ``grpc.RpcError``.
    """

    _END = object()

    def __init__(self, method: Callable[..., Any], *, timeout: float = T, metadata: Any = None) -> None:
        self._requests: queue.Queue[Any] = queue.Queue()
        self._call = method(iter(self._requests.get, self._END), timeout=timeout, metadata=metadata)

    def send(self, request: Message) -> None:
        self._requests.put(request)

    def recv(self) -> Any:
        return next(self._call)

    def close(self) -> None:
        self._requests.put(self._END)
        self._call.cancel()


def rpc_error(call: Callable[..., Any], request: Message, **kwargs: Any) -> grpc.RpcError:
    """Makes the call, which must fail, and returns its error."""
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=T, **kwargs)
    return info.value


def put(s: Stubs, key: bytes, value: bytes, **kwargs: Any) -> pb.PutResponse:
    return s.kv.Put(pb.PutRequest(key=key, value=value, **kwargs), timeout=T)


def get(s: Stubs, key: bytes, *, metadata: Any = None, **kwargs: Any) -> pb.RangeResponse:
    return s.kv.Range(pb.RangeRequest(key=key, **kwargs), timeout=T, metadata=metadata)


def prefix_end(prefix: bytes) -> bytes:
    """The range_end that makes [prefix, range_end) every key starting with prefix (no 0xff bytes)."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


def go_json(msg: Message) -> dict[str, Any]:
    """``msg`` as etcdctl prints it with ``-w json``: Go's encoding/json of the gogo-generated struct.

    The structs tag every field ``omitempty`` with the proto name, so zero values are left out,
    64-bit integers and enums are numbers, and bytes are standard base64.
    """
    return {field.name: _go_value(field, value) for field, value in msg.ListFields()}


def _go_value(field: FieldDescriptor, value: Any) -> Any:
    if field.is_repeated:
        return [_go_scalar(field, v) for v in value]
    return _go_scalar(field, value)


def _go_scalar(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return go_json(value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode()
    return value


def gateway_json(msg: Message) -> dict[str, Any]:
    """``msg`` in protobuf's JSON mapping with original field names, as etcd's /v3 gateway writes it."""
    decoded: dict[str, Any] = json.loads(json_format.MessageToJson(msg, preserving_proto_field_name=True))
    return decoded


def curl_gateway_status(etcd: RealEtcd, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POSTs ``body`` to the real etcd's gateway with curl; returns the HTTP status and the decoded body."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    url = etcd.client_url + path
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "--max-time",
            str(T),
            "-w",
            "\\n%{http_code}",
            "-X",
            "POST",
            url,
            "-d",
            json.dumps(body),
        ],
        check=True,
        capture_output=True,
        timeout=T + 5,
    )
    text, _, status = out.stdout.decode().rpartition("\n")
    return int(status), json.loads(text)


def curl_gateway(etcd: RealEtcd, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, decoded = curl_gateway_status(etcd, path, body)
    assert status == 200, decoded
    return decoded


def gateway_round_trip(etcd: RealEtcd, path: str, request: Message) -> Any:
    """Sends ``request`` in our JSON mapping to etcd's gateway and parses the answer into our message.

    Parsing fails on any field name our .proto files lack, and printing the parsed message back
    must give etcd's JSON exactly.
    """
    printed = curl_gateway(etcd, path, gateway_json(request))
    parsed = json_format.ParseDict(printed, gateway_routes.ROUTES[path].response_type())
    assert gateway_json(parsed) == printed
    return parsed


def etcdctl_json(etcd: RealEtcd, *args: str) -> dict[str, Any]:
    if not os.path.exists(ETCDCTL):
        pytest.skip(f"etcdctl not installed at {ETCDCTL}")
    out = subprocess.run(
        [ETCDCTL, f"--endpoints={etcd.client_url}", "--command-timeout=5s", "-w", "json", *args],
        check=True,
        capture_output=True,
        timeout=T + 10,
        env={**os.environ, "ETCDCTL_API": "3"},
    )
    return json.loads(out.stdout)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ---------------------------------------------------------------------------------------------------
# KV


def test_put_and_range_carry_every_key_value_field(etcd: RealEtcd, s: Stubs) -> None:
    first = put(s, b"/put/a", b"one")
    second = put(s, b"/put/a", b"two", prev_kv=True)

    assert first.header.cluster_id == etcd.cluster_id != 0
    assert first.header.member_id == etcd.member_id != 0
    assert first.header.raft_term >= 2
    assert second.header.revision == first.header.revision + 1
    assert not first.HasField("prev_kv")
    prev = second.prev_kv
    assert (prev.key, prev.value, prev.version, prev.lease) == (b"/put/a", b"one", 1, 0)
    assert prev.create_revision == prev.mod_revision == first.header.revision

    got = get(s, b"/put/a")
    assert got.header.revision == second.header.revision
    assert (got.count, got.more, len(got.kvs)) == (1, False, 1)
    kv = got.kvs[0]
    assert (kv.key, kv.value, kv.version, kv.lease) == (b"/put/a", b"two", 2, 0)
    assert kv.create_revision == first.header.revision
    assert kv.mod_revision == second.header.revision


def test_put_ignore_value_keeps_the_value_and_needs_the_key(s: Stubs) -> None:
    put(s, b"/ign/k", b"kept")
    r = put(s, b"/ign/k", b"", ignore_value=True, prev_kv=True)
    assert r.prev_kv.value == b"kept"
    kv = get(s, b"/ign/k").kvs[0]
    assert (kv.value, kv.version, kv.mod_revision) == (b"kept", 2, r.header.revision)

    err = rpc_error(s.kv.Put, pb.PutRequest(key=b"/ign/missing", ignore_value=True))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert err.details() == "etcdserver: key not found"


def test_range_options(s: Stubs) -> None:
    # Values sort in the reverse order of keys, so sorting by VALUE is told apart from sorting by KEY.
    revs = {}
    for key, value in [(b"a", b"5"), (b"b", b"4"), (b"c", b"3"), (b"d", b"2"), (b"e", b"1")]:
        revs[key] = put(s, b"/rng/" + key, value).header.revision
    revs[b"b"] = put(s, b"/rng/b", b"4").header.revision  # now b is the last modified
    prefix = {"key": b"/rng/", "range_end": prefix_end(b"/rng/")}

    def keys(r: pb.RangeResponse) -> list[bytes]:
        return [kv.key.removeprefix(b"/rng/") for kv in r.kvs]

    limited = get(s, limit=2, **prefix)
    assert (keys(limited), limited.more, limited.count) == ([b"a", b"b"], True, 5)

    desc = get(s, sort_order=pb.RangeRequest.DESCEND, sort_target=pb.RangeRequest.KEY, **prefix)
    assert keys(desc) == [b"e", b"d", b"c", b"b", b"a"]
    by_value = get(s, sort_order=pb.RangeRequest.ASCEND, sort_target=pb.RangeRequest.VALUE, **prefix)
    assert keys(by_value) == [b"e", b"d", b"c", b"b", b"a"]
    by_mod = get(s, sort_order=pb.RangeRequest.DESCEND, sort_target=pb.RangeRequest.MOD, **prefix)
    assert keys(by_mod)[0] == b"b"
    by_version = get(s, sort_order=pb.RangeRequest.DESCEND, sort_target=pb.RangeRequest.VERSION, **prefix)
    assert keys(by_version)[0] == b"b" and by_version.kvs[0].version == 2
    by_create = get(s, sort_order=pb.RangeRequest.DESCEND, sort_target=pb.RangeRequest.CREATE, **prefix)
    assert keys(by_create) == [b"e", b"d", b"c", b"b", b"a"]

    keys_only = get(s, keys_only=True, **prefix)
    assert keys(keys_only) == [b"a", b"b", b"c", b"d", b"e"]
    assert all(kv.value == b"" and kv.mod_revision > 0 for kv in keys_only.kvs)

    count_only = get(s, count_only=True, **prefix)
    assert (len(count_only.kvs), count_only.count) == (0, 5)

    at_c = get(s, revision=revs[b"c"], **prefix)
    assert keys(at_c) == [b"a", b"b", b"c"]
    assert at_c.kvs[1].value == b"4" and at_c.kvs[1].version == 1

    mod_window = get(s, min_mod_revision=revs[b"c"], max_mod_revision=revs[b"e"], **prefix)
    assert keys(mod_window) == [b"c", b"d", b"e"]
    create_window = get(s, min_create_revision=revs[b"a"], max_create_revision=revs[b"c"], **prefix)
    assert keys(create_window) == [b"a", b"b", b"c"]  # b's re-put keeps its create revision

    from_c = get(s, key=b"/rng/c", range_end=b"\0")
    assert keys(from_c)[:3] == [b"c", b"d", b"e"]
    serializable = get(s, serializable=True, **prefix)
    assert keys(serializable) == [b"a", b"b", b"c", b"d", b"e"]


def test_delete_range_reports_count_and_previous_values(s: Stubs) -> None:
    put(s, b"/del/a", b"1")
    last = put(s, b"/del/b", b"2")
    put(s, b"/del0", b"outside")
    r = s.kv.DeleteRange(
        pb.DeleteRangeRequest(key=b"/del/", range_end=prefix_end(b"/del/"), prev_kv=True), timeout=T
    )
    assert r.header.revision == last.header.revision + 2  # /del0, then one revision for the whole delete
    assert r.deleted == 2
    assert [(kv.key, kv.value) for kv in r.prev_kvs] == [(b"/del/a", b"1"), (b"/del/b", b"2")]
    assert get(s, b"/del/", range_end=prefix_end(b"/del/")).count == 0
    assert get(s, b"/del0").count == 1

    quiet = s.kv.DeleteRange(pb.DeleteRangeRequest(key=b"/del0"), timeout=T)
    assert (quiet.deleted, len(quiet.prev_kvs)) == (1, 0)


def test_txn_with_compares_and_nested_ops(s: Stubs) -> None:
    x = put(s, b"/txn/x", b"1").header.revision
    y = put(s, b"/txn/y", b"2").header.revision
    C = pb.Compare
    compares = [
        C(key=b"/txn/x", target=C.VALUE, result=C.EQUAL, value=b"1"),
        C(key=b"/txn/x", target=C.VERSION, result=C.GREATER, version=0),
        C(key=b"/txn/x", target=C.CREATE, result=C.EQUAL, create_revision=x),
        C(key=b"/txn/y", target=C.MOD, result=C.LESS, mod_revision=y + 1),
        C(key=b"/txn/y", target=C.VALUE, result=C.NOT_EQUAL, value=b"3"),
        C(key=b"/txn/x", target=C.LEASE, result=C.EQUAL, lease=0),
        C(key=b"/txn/", range_end=prefix_end(b"/txn/"), target=C.VERSION, result=C.GREATER, version=0),
    ]
    # etcd 3.4 compat: etcdserver/apply.go evaluates the compares of nested txns before running any
    # op, so this compare sees no /txn/z and fails, while the failure op, run in order, sees it.
    nested = pb.TxnRequest(
        compare=[C(key=b"/txn/z", target=C.VALUE, result=C.EQUAL, value=b"3")],
        success=[pb.RequestOp(request_put=pb.PutRequest(key=b"/txn/never", value=b"?"))],
        failure=[pb.RequestOp(request_range=pb.RangeRequest(key=b"/txn/z"))],
    )
    r = s.kv.Txn(
        pb.TxnRequest(
            compare=compares,
            success=[
                pb.RequestOp(request_put=pb.PutRequest(key=b"/txn/z", value=b"3", prev_kv=True)),
                pb.RequestOp(request_range=pb.RangeRequest(key=b"/txn/", range_end=prefix_end(b"/txn/"))),
                pb.RequestOp(request_delete_range=pb.DeleteRangeRequest(key=b"/txn/y", prev_kv=True)),
                pb.RequestOp(request_txn=nested),
            ],
            failure=[pb.RequestOp(request_put=pb.PutRequest(key=b"/txn/failed", value=b"!"))],
        ),
        timeout=T,
    )
    assert r.succeeded
    assert r.header.revision == y + 1
    assert [op.WhichOneof("response") for op in r.responses] == [
        "response_put",
        "response_range",
        "response_delete_range",
        "response_txn",
    ]
    assert not r.responses[0].response_put.HasField("prev_kv")
    seen = r.responses[1].response_range
    assert [(kv.key, kv.value) for kv in seen.kvs] == [
        (b"/txn/x", b"1"),
        (b"/txn/y", b"2"),
        (b"/txn/z", b"3"),
    ]
    assert seen.kvs[2].mod_revision == y + 1
    deleted = r.responses[2].response_delete_range
    assert deleted.deleted == 1 and deleted.prev_kvs[0].value == b"2"
    inner = r.responses[3].response_txn
    assert not inner.succeeded
    # etcd 3.4 compat: a nested txn's header is present but empty; its ops' headers hold the revision.
    assert inner.HasField("header") and inner.header == pb.ResponseHeader()
    nested_range = inner.responses[0].response_range
    assert nested_range.header == pb.ResponseHeader(revision=r.header.revision)
    assert nested_range.kvs[0].value == b"3"

    # Every compare below fails, so only the failure branch runs.
    failing = s.kv.Txn(
        pb.TxnRequest(
            compare=[
                C(key=b"/txn/x", target=C.LEASE, result=C.EQUAL, lease=12345),
                C(key=b"/txn/", range_end=prefix_end(b"/txn/"), target=C.MOD, result=C.LESS, mod_revision=1),
            ],
            success=[pb.RequestOp(request_put=pb.PutRequest(key=b"/txn/never", value=b"?"))],
            failure=[pb.RequestOp(request_put=pb.PutRequest(key=b"/txn/failed", value=b"!"))],
        ),
        timeout=T,
    )
    assert not failing.succeeded
    assert failing.responses[0].WhichOneof("response") == "response_put"
    assert failing.header.revision == r.header.revision + 1
    assert get(s, b"/txn/failed").kvs[0].value == b"!"
    assert get(s, b"/txn/never").count == 0


# ---------------------------------------------------------------------------------------------------
# Watch


def _collect(stream: BidiStream, want: Callable[[list[pb.WatchResponse]], bool]) -> list[pb.WatchResponse]:
    """Receives until ``want`` holds; bounded by 20 responses and by the stream's deadline."""
    got: list[pb.WatchResponse] = []
    for _ in range(20):
        got.append(stream.recv())
        if want(got):
            return got
    raise AssertionError(f"watch responses never satisfied the test: {got}")


def _events(responses: list[pb.WatchResponse], watch_id: int) -> list[mvccpb.Event]:
    return [e for r in responses if r.watch_id == watch_id for e in r.events]


def test_watch_events_filters_progress_and_cancel(s: Stubs) -> None:
    start = put(s, b"/w0", b"before").header.revision
    key, end = b"/w/", prefix_end(b"/w/")
    stream = BidiStream(s.watch.Watch, timeout=10)
    try:
        stream.send(
            pb.WatchRequest(
                create_request=pb.WatchCreateRequest(
                    key=key, range_end=end, watch_id=7, prev_kv=True, filters=[pb.WatchCreateRequest.NODELETE]
                )
            )
        )
        created = stream.recv()
        assert (created.created, created.watch_id, created.canceled) == (True, 7, False)
        assert created.header.revision == start
        assert created.header.member_id != 0

        r1 = put(s, b"/w/a", b"1").header.revision
        r2 = put(s, b"/w/a", b"2").header.revision
        r3 = s.kv.DeleteRange(pb.DeleteRangeRequest(key=b"/w/a"), timeout=T).header.revision
        puts = _events(_collect(stream, lambda got: len(_events(got, 7)) >= 2), 7)
        assert [e.type for e in puts] == [mvccpb.Event.PUT, mvccpb.Event.PUT]
        assert (puts[0].kv.key, puts[0].kv.value, puts[0].kv.version) == (b"/w/a", b"1", 1)
        assert puts[0].kv.create_revision == puts[0].kv.mod_revision == r1
        assert not puts[0].HasField("prev_kv")
        assert (puts[1].kv.value, puts[1].kv.mod_revision, puts[1].prev_kv.value) == (b"2", r2, b"1")

        # A second watcher on the same stream, from the past, seeing only deletes.
        stream.send(
            pb.WatchRequest(
                create_request=pb.WatchCreateRequest(
                    key=key,
                    range_end=end,
                    watch_id=8,
                    start_revision=r1,
                    filters=[pb.WatchCreateRequest.NOPUT],
                    fragment=True,
                    progress_notify=True,  # accepted; etcd's first notification would come after 10 min
                )
            )
        )
        got = _collect(stream, lambda got: len(_events(got, 8)) >= 1)
        assert any(r.created and r.watch_id == 8 for r in got)
        assert _events(got, 7) == []  # the delete was filtered out of watcher 7
        (deleted,) = _events(got, 8)
        assert deleted.type == mvccpb.Event.DELETE
        assert (deleted.kv.key, deleted.kv.mod_revision, deleted.kv.version, deleted.kv.value) == (
            b"/w/a",
            r3,
            0,
            b"",
        )

        # etcd 3.4 answers a progress request with watch_id -1 (clientv3.InvalidWatchID).
        stream.send(pb.WatchRequest(progress_request=pb.WatchProgressRequest()))
        progress = stream.recv()
        assert (progress.watch_id, len(progress.events), progress.header.revision) == (-1, 0, r3)

        stream.send(pb.WatchRequest(cancel_request=pb.WatchCancelRequest(watch_id=7)))
        canceled = stream.recv()
        assert (canceled.watch_id, canceled.canceled, canceled.created) == (7, True, False)
    finally:
        stream.close()


# ---------------------------------------------------------------------------------------------------
# Lease


def test_lease_grant_keepalive_timetolive_leases_revoke(s: Stubs) -> None:
    lease_id = 0x7E57_0001
    granted = s.lease.LeaseGrant(pb.LeaseGrantRequest(TTL=60, ID=lease_id), timeout=T)
    assert (granted.ID, granted.TTL, granted.error) == (lease_id, 60, "")
    assert granted.header.revision > 0

    put(s, b"/lease/k", b"v", lease=lease_id)
    assert get(s, b"/lease/k").kvs[0].lease == lease_id
    put(s, b"/lease/k", b"v2", ignore_lease=True)
    assert get(s, b"/lease/k").kvs[0].lease == lease_id
    C = pb.Compare
    held = s.kv.Txn(
        pb.TxnRequest(compare=[C(key=b"/lease/k", target=C.LEASE, result=C.EQUAL, lease=lease_id)]), timeout=T
    )
    assert held.succeeded

    ttl = s.lease.LeaseTimeToLive(pb.LeaseTimeToLiveRequest(ID=lease_id, keys=True), timeout=T)
    assert (ttl.ID, ttl.grantedTTL, list(ttl.keys)) == (lease_id, 60, [b"/lease/k"])
    assert 50 < ttl.TTL <= 60
    no_keys = s.lease.LeaseTimeToLive(pb.LeaseTimeToLiveRequest(ID=lease_id), timeout=T)
    assert list(no_keys.keys) == []

    leases = s.lease.LeaseLeases(pb.LeaseLeasesRequest(), timeout=T)
    assert lease_id in [status.ID for status in leases.leases]

    stream = BidiStream(s.lease.LeaseKeepAlive)
    try:
        for _ in range(2):
            stream.send(pb.LeaseKeepAliveRequest(ID=lease_id))
            alive = stream.recv()
            assert alive == pb.LeaseKeepAliveResponse(header=alive.header, ID=lease_id, TTL=60)
            assert alive.header.member_id != 0
    finally:
        stream.close()

    revoked = s.lease.LeaseRevoke(pb.LeaseRevokeRequest(ID=lease_id), timeout=T)
    assert revoked.header.revision > granted.header.revision
    assert get(s, b"/lease/k").count == 0
    gone = s.lease.LeaseTimeToLive(pb.LeaseTimeToLiveRequest(ID=lease_id), timeout=T)
    assert gone == pb.LeaseTimeToLiveResponse(header=gone.header, ID=lease_id, TTL=-1)

    err = rpc_error(s.lease.LeaseRevoke, pb.LeaseRevokeRequest(ID=lease_id))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert err.details() == "etcdserver: requested lease not found"


# ---------------------------------------------------------------------------------------------------
# Cluster


def test_member_list_add_update_remove(etcd: RealEtcd, s: Stubs) -> None:
    listed = s.cluster.MemberList(pb.MemberListRequest(), timeout=T)
    assert listed.header.cluster_id == etcd.cluster_id
    (me,) = listed.members
    assert (me.ID, me.name, me.isLearner) == (etcd.member_id, MEMBER_NAME, False)
    assert (list(me.peerURLs), list(me.clientURLs)) == ([etcd.peer_url], [etcd.client_url])

    # A learner does not count for quorum, so adding an unreachable one leaves the cluster working.
    added = s.cluster.MemberAdd(
        pb.MemberAddRequest(peerURLs=["http://127.0.0.1:9"], isLearner=True), timeout=T
    )
    try:
        assert added.member.isLearner and list(added.member.peerURLs) == ["http://127.0.0.1:9"]
        assert added.member.name == "" and list(added.member.clientURLs) == []
        assert sorted(m.ID for m in added.members) == sorted([etcd.member_id, added.member.ID])

        updated = s.cluster.MemberUpdate(
            pb.MemberUpdateRequest(ID=added.member.ID, peerURLs=["http://127.0.0.1:10"]), timeout=T
        )
        (learner,) = [m for m in updated.members if m.ID == added.member.ID]
        assert list(learner.peerURLs) == ["http://127.0.0.1:10"]

        err = rpc_error(s.cluster.MemberPromote, pb.MemberPromoteRequest(ID=etcd.member_id))
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert err.details() == "etcdserver: can only promote a learner member"
    finally:
        removed = s.cluster.MemberRemove(pb.MemberRemoveRequest(ID=added.member.ID), timeout=T)
    assert [m.ID for m in removed.members] == [etcd.member_id]


# ---------------------------------------------------------------------------------------------------
# Maintenance


def test_status(etcd: RealEtcd, s: Stubs) -> None:
    st = s.maintenance.Status(pb.StatusRequest(), timeout=T)
    assert st.version == ETCD_VERSION
    assert st.leader == st.header.member_id == etcd.member_id
    assert st.raftTerm == st.header.raft_term >= 2
    assert st.raftIndex >= st.raftAppliedIndex > 0
    assert st.dbSize >= st.dbSizeInUse > 0
    assert (st.isLearner, list(st.errors)) == (False, [])


def test_move_leader_to_a_stranger_is_refused(s: Stubs) -> None:
    err = rpc_error(s.maintenance.MoveLeader, pb.MoveLeaderRequest(targetID=0xBAD))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert err.details() == "etcdserver: bad leader transferee"


def test_alarm_activate_get_deactivate(etcd: RealEtcd, s: Stubs) -> None:
    A = pb.AlarmRequest
    assert list(s.maintenance.Alarm(A(action=A.GET), timeout=T).alarms) == []
    raised = s.maintenance.Alarm(A(action=A.ACTIVATE, memberID=etcd.member_id, alarm=pb.NOSPACE), timeout=T)
    try:
        assert [(a.memberID, a.alarm) for a in raised.alarms] == [(etcd.member_id, pb.NOSPACE)]
        listed = s.maintenance.Alarm(A(action=A.GET, alarm=pb.NONE), timeout=T)
        assert [(a.memberID, a.alarm) for a in listed.alarms] == [(etcd.member_id, pb.NOSPACE)]
        err = rpc_error(s.kv.Put, pb.PutRequest(key=b"/alarm/k", value=b"v"))
        assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert err.details() == "etcdserver: mvcc: database space exceeded"
    finally:
        cleared = s.maintenance.Alarm(
            A(action=A.DEACTIVATE, memberID=etcd.member_id, alarm=pb.NOSPACE), timeout=T
        )
    assert [(a.memberID, a.alarm) for a in cleared.alarms] == [(etcd.member_id, pb.NOSPACE)]
    assert list(s.maintenance.Alarm(A(action=A.GET), timeout=T).alarms) == []
    put(s, b"/alarm/k", b"v")


def test_hash_hashkv_defragment(s: Stubs) -> None:
    at = put(s, b"/hash/k", b"1").header.revision
    h = s.maintenance.Hash(pb.HashRequest(), timeout=T)
    assert h.hash != 0 and h.header.revision == at
    kv1 = s.maintenance.HashKV(pb.HashKVRequest(revision=at), timeout=T)
    assert kv1.hash != 0 and kv1.header.revision == at
    put(s, b"/hash/k", b"2")
    # The hash up to a fixed revision ignores later writes; the hash at the newest one does not.
    assert s.maintenance.HashKV(pb.HashKVRequest(revision=at), timeout=T).hash == kv1.hash
    assert s.maintenance.HashKV(pb.HashKVRequest(), timeout=T).hash != kv1.hash

    # etcd 3.4 compat: v3rpc/maintenance.go answers Defragment without a header.
    d = s.maintenance.Defragment(pb.DefragmentRequest(), timeout=T)
    assert not d.HasField("header")


def test_snapshot_streams_the_bolt_file_then_its_sha256(s: Stubs) -> None:
    chunks = list(s.maintenance.Snapshot(pb.SnapshotRequest(), timeout=T))
    assert len(chunks) >= 2
    *data_chunks, digest = chunks
    data = b"".join(c.blob for c in data_chunks)
    assert data_chunks[0].remaining_bytes + len(data_chunks[0].blob) == len(data)
    remaining = [c.remaining_bytes for c in data_chunks]
    assert remaining == sorted(remaining, reverse=True) and remaining[-1] == 0
    assert (digest.remaining_bytes, digest.blob) == (0, hashlib.sha256(data).digest())
    # bbolt's first meta page: a 16-byte page header, then the magic 0xED0CDAED (little-endian).
    assert data[16:20] == (0xED0CDAED).to_bytes(4, "little")
    assert not any(c.HasField("header") for c in chunks)  # etcd 3.4 compat: v3rpc/maintenance.go


# ---------------------------------------------------------------------------------------------------
# Auth


def test_auth_users_roles_tokens(s: Stubs) -> None:
    a = s.auth
    a.UserAdd(pb.AuthUserAddRequest(name="root", password="rootpw"), timeout=T)
    a.UserGrantRole(pb.AuthUserGrantRoleRequest(user="root", role="root"), timeout=T)
    a.RoleAdd(pb.AuthRoleAddRequest(name="reader"), timeout=T)
    perm = authpb.Permission(permType=authpb.Permission.READ, key=b"/auth/", range_end=prefix_end(b"/auth/"))
    a.RoleGrantPermission(pb.AuthRoleGrantPermissionRequest(name="reader", perm=perm), timeout=T)
    a.UserAdd(pb.AuthUserAddRequest(name="alice", password="alicepw"), timeout=T)
    a.UserGrantRole(pb.AuthUserGrantRoleRequest(user="alice", role="reader"), timeout=T)
    put(s, b"/auth/k", b"secret")

    enabled = a.AuthEnable(pb.AuthEnableRequest(), timeout=T)
    assert enabled.header.revision > 0
    root: list[tuple[str, str]] = []
    try:
        auth_resp = a.Authenticate(pb.AuthenticateRequest(name="alice", password="alicepw"), timeout=T)
        assert auth_resp.token and auth_resp.header.member_id != 0
        alice = [("token", auth_resp.token)]
        root_resp = a.Authenticate(pb.AuthenticateRequest(name="root", password="rootpw"), timeout=T)
        root = [("token", root_resp.token)]

        assert get(s, b"/auth/k", metadata=alice).kvs[0].value == b"secret"
        denied = rpc_error(s.kv.Put, pb.PutRequest(key=b"/auth/k", value=b"x"), metadata=alice)
        assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
        assert denied.details() == "etcdserver: permission denied"
        anonymous = rpc_error(s.kv.Range, pb.RangeRequest(key=b"/auth/k"))
        assert anonymous.details() == "etcdserver: user name is empty"
        wrong = rpc_error(a.Authenticate, pb.AuthenticateRequest(name="alice", password="nope"))
        assert wrong.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert wrong.details() == "etcdserver: authentication failed, invalid user ID or password"

        role = a.RoleGet(pb.AuthRoleGetRequest(role="reader"), timeout=T, metadata=root)
        assert list(role.perm) == [perm]
        user = a.UserGet(pb.AuthUserGetRequest(name="alice"), timeout=T, metadata=root)
        assert list(user.roles) == ["reader"]
        users = a.UserList(pb.AuthUserListRequest(), timeout=T, metadata=root)
        assert list(users.users) == ["alice", "root"]
        roles = a.RoleList(pb.AuthRoleListRequest(), timeout=T, metadata=root)
        assert list(roles.roles) == ["reader"]  # "root" was granted, never added
    finally:
        a.AuthDisable(pb.AuthDisableRequest(), timeout=T, metadata=root)

    assert get(s, b"/auth/k").count == 1  # auth is off again: no token needed
    a.RoleRevokePermission(
        pb.AuthRoleRevokePermissionRequest(role="reader", key=perm.key, range_end=perm.range_end), timeout=T
    )
    assert list(a.RoleGet(pb.AuthRoleGetRequest(role="reader"), timeout=T).perm) == []
    a.UserRevokeRole(pb.AuthUserRevokeRoleRequest(name="alice", role="reader"), timeout=T)
    assert list(a.UserGet(pb.AuthUserGetRequest(name="alice"), timeout=T).roles) == []
    a.UserChangePassword(pb.AuthUserChangePasswordRequest(name="alice", password="other"), timeout=T)
    a.UserDelete(pb.AuthUserDeleteRequest(name="alice"), timeout=T)
    a.RoleDelete(pb.AuthRoleDeleteRequest(role="reader"), timeout=T)
    assert list(a.UserList(pb.AuthUserListRequest(), timeout=T).users) == ["root"]
    missing = rpc_error(a.UserGet, pb.AuthUserGetRequest(name="alice"))
    assert missing.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert missing.details() == "etcdserver: user name not found"


# ---------------------------------------------------------------------------------------------------
# Lock, Election, Health


def test_lock_and_unlock(s: Stubs) -> None:
    lease_id = s.lease.LeaseGrant(pb.LeaseGrantRequest(TTL=30), timeout=T).ID
    try:
        locked = s.lock.Lock(lockpb.LockRequest(name=b"/lk", lease=lease_id), timeout=T)
        # The ownership key is the lock name, a slash, and the lease ID in hex.
        assert locked.key == b"/lk/" + format(lease_id, "x").encode()
        held = get(s, locked.key)
        assert held.kvs[0].lease == lease_id
        assert locked.header.revision == held.kvs[0].create_revision
        unlocked = s.lock.Unlock(lockpb.UnlockRequest(key=locked.key), timeout=T)
        assert unlocked.header.revision == locked.header.revision + 1
        assert get(s, locked.key).count == 0
    finally:
        s.lease.LeaseRevoke(pb.LeaseRevokeRequest(ID=lease_id), timeout=T)


def test_election_campaign_proclaim_observe_resign(s: Stubs) -> None:
    e = s.election
    lease_id = s.lease.LeaseGrant(pb.LeaseGrantRequest(TTL=30), timeout=T).ID
    try:
        won = e.Campaign(electionpb.CampaignRequest(name=b"/el", lease=lease_id, value=b"v1"), timeout=T)
        leader = won.leader
        assert (leader.name, leader.lease) == (b"/el", lease_id)
        assert leader.key == b"/el/" + format(lease_id, "x").encode()
        assert leader.rev == won.header.revision

        now = e.Leader(electionpb.LeaderRequest(name=b"/el"), timeout=T)
        assert (now.kv.key, now.kv.value, now.kv.lease, now.kv.create_revision) == (
            leader.key,
            b"v1",
            lease_id,
            leader.rev,
        )

        e.Proclaim(electionpb.ProclaimRequest(leader=leader, value=b"v2"), timeout=T)
        observe = e.Observe(electionpb.LeaderRequest(name=b"/el"), timeout=T)
        try:
            seen = next(observe)
            assert (seen.kv.key, seen.kv.value, seen.kv.version) == (leader.key, b"v2", 2)
        finally:
            observe.cancel()

        resigned = e.Resign(electionpb.ResignRequest(leader=leader), timeout=T)
        assert resigned.header.revision > now.header.revision
        assert get(s, leader.key).count == 0
        err = rpc_error(e.Leader, electionpb.LeaderRequest(name=b"/el"))
        assert err.details() == "election: no leader"
    finally:
        s.lease.LeaseRevoke(pb.LeaseRevokeRequest(ID=lease_id), timeout=T)


def test_health_check(s: Stubs) -> None:
    r = s.health.Check(health_pb2.HealthCheckRequest(), timeout=T)
    assert r.status == health_pb2.HealthCheckResponse.SERVING
    err = rpc_error(s.health.Check, health_pb2.HealthCheckRequest(service="no.such.Service"))
    assert err.code() == grpc.StatusCode.NOT_FOUND


# ---------------------------------------------------------------------------------------------------
# Other encodings of the same messages


def test_etcdctl_json_matches_our_messages(etcd: RealEtcd, s: Stubs) -> None:
    printed_put = etcdctl_json(etcd, "put", "/ctl/k", "value")
    ours = get(s, b"/ctl/k")
    assert printed_put == go_json(pb.PutResponse(header=ours.header))
    assert etcdctl_json(etcd, "get", "/ctl/k") == go_json(ours)
    assert etcdctl_json(etcd, "get", "/ctl/", "--prefix", "--keys-only") == go_json(
        get(s, b"/ctl/", range_end=prefix_end(b"/ctl/"), keys_only=True)
    )
    assert etcdctl_json(etcd, "member", "list") == go_json(
        s.cluster.MemberList(pb.MemberListRequest(), timeout=T)
    )


def test_gateway_json_matches_our_json_mapping(etcd: RealEtcd, s: Stubs) -> None:
    put(s, b"/gw/a", b"1")
    put(s, b"/gw/b", b"2")
    body = {"key": b64(b"/gw/"), "range_end": b64(prefix_end(b"/gw/")), "limit": 1}
    printed = curl_gateway(etcd, "/v3/kv/range", body)
    ours = get(s, b"/gw/", range_end=prefix_end(b"/gw/"), limit=1)
    assert printed == gateway_json(ours)
    # The shape itself: 64-bit integers as strings, bytes as base64, original field names.
    assert printed["header"]["revision"] == str(ours.header.revision)
    assert printed["count"] == "2" and printed["more"] is True
    assert printed["kvs"][0]["key"] == b64(b"/gw/a") and "create_revision" in printed["kvs"][0]

    assert curl_gateway(etcd, "/v3/cluster/member/list", {}) == gateway_json(
        s.cluster.MemberList(pb.MemberListRequest(), timeout=T)
    )
    status = curl_gateway(etcd, "/v3/maintenance/status", {})
    assert status == gateway_json(s.maintenance.Status(pb.StatusRequest(), timeout=T))
    assert {"dbSize", "raftIndex", "raftAppliedIndex", "dbSizeInUse"} <= status.keys()
    assert curl_gateway(etcd, "/v3/maintenance/alarm", {}) == gateway_json(
        s.maintenance.Alarm(pb.AlarmRequest(), timeout=T)
    )


def test_gateway_round_trips_through_our_messages(etcd: RealEtcd) -> None:
    # Requests go out in our JSON mapping: a misnamed request field would be ignored by the gateway
    # (it drops unknown fields), so each answer is also checked for the option's effect.
    key, end = b"/gwr/", prefix_end(b"/gwr/")
    lease = gateway_round_trip(etcd, "/v3/lease/grant", pb.LeaseGrantRequest(TTL=30, ID=0x6A7E))
    assert (lease.ID, lease.TTL) == (0x6A7E, 30)

    gateway_round_trip(etcd, "/v3/kv/put", pb.PutRequest(key=b"/gwr/a", value=b"1", lease=lease.ID))
    second = gateway_round_trip(
        etcd, "/v3/kv/put", pb.PutRequest(key=b"/gwr/a", value=b"2", prev_kv=True, ignore_lease=True)
    )
    assert (second.prev_kv.value, second.prev_kv.lease) == (b"1", lease.ID)
    gateway_round_trip(etcd, "/v3/kv/put", pb.PutRequest(key=b"/gwr/b", value=b"3"))

    ranged = gateway_round_trip(
        etcd,
        "/v3/kv/range",
        pb.RangeRequest(key=key, range_end=end, limit=1, sort_order=pb.RangeRequest.DESCEND, keys_only=True),
    )
    assert ([kv.key for kv in ranged.kvs], ranged.kvs[0].value, ranged.more, ranged.count) == (
        [b"/gwr/b"],
        b"",
        True,
        2,
    )

    C = pb.Compare
    txn = gateway_round_trip(
        etcd,
        "/v3/kv/txn",
        pb.TxnRequest(
            compare=[C(key=b"/gwr/a", target=C.VALUE, result=C.EQUAL, value=b"2")],
            success=[pb.RequestOp(request_range=pb.RangeRequest(key=b"/gwr/b"))],
        ),
    )
    assert txn.succeeded and txn.responses[0].response_range.kvs[0].value == b"3"

    ttl = gateway_round_trip(etcd, "/v3/lease/timetolive", pb.LeaseTimeToLiveRequest(ID=lease.ID, keys=True))
    assert (ttl.grantedTTL, list(ttl.keys)) == (30, [b"/gwr/a"])
    leases = gateway_round_trip(etcd, "/v3/kv/lease/leases", pb.LeaseLeasesRequest())
    assert lease.ID in [status.ID for status in leases.leases]

    locked = gateway_round_trip(etcd, "/v3/lock/lock", lockpb.LockRequest(name=b"/gwr-lock", lease=lease.ID))
    assert locked.key.startswith(b"/gwr-lock/")
    gateway_round_trip(etcd, "/v3/lock/unlock", lockpb.UnlockRequest(key=locked.key))

    won = gateway_round_trip(
        etcd, "/v3/election/campaign", electionpb.CampaignRequest(name=b"/gwr-el", lease=lease.ID, value=b"x")
    )
    leader = gateway_round_trip(etcd, "/v3/election/leader", electionpb.LeaderRequest(name=b"/gwr-el"))
    assert (leader.kv.key, leader.kv.value) == (won.leader.key, b"x")
    gateway_round_trip(etcd, "/v3/election/resign", electionpb.ResignRequest(leader=won.leader))

    deleted = gateway_round_trip(
        etcd, "/v3/kv/deleterange", pb.DeleteRangeRequest(key=key, range_end=end, prev_kv=True)
    )
    assert (deleted.deleted, [kv.key for kv in deleted.prev_kvs]) == (2, [b"/gwr/a", b"/gwr/b"])
    gateway_round_trip(etcd, "/v3/lease/revoke", pb.LeaseRevokeRequest(ID=lease.ID))

    for path, request in [
        ("/v3/maintenance/status", pb.StatusRequest()),
        ("/v3/maintenance/hash", pb.HashRequest()),
        ("/v3/maintenance/alarm", pb.AlarmRequest()),
        ("/v3/cluster/member/list", pb.MemberListRequest()),
        ("/v3/auth/user/list", pb.AuthUserListRequest()),
        ("/v3/auth/user/get", pb.AuthUserGetRequest(name="root")),
        ("/v3/auth/role/list", pb.AuthRoleListRequest()),
    ]:
        gateway_round_trip(etcd, path, request)


def test_gateway_watch_stream_lines_parse_as_our_watch_responses(etcd: RealEtcd, s: Stubs) -> None:
    request = pb.WatchRequest(create_request=pb.WatchCreateRequest(key=b"/gww/k", prev_kv=True))
    conn = http.client.HTTPConnection(etcd.client_url.removeprefix("http://"), timeout=T)
    try:
        conn.request("POST", "/v3/watch", body=json.dumps(gateway_json(request)))
        resp = conn.getresponse()
        assert resp.status == 200

        def next_result() -> pb.WatchResponse:
            line = json.loads(resp.readline())
            assert set(line) == {"result"}  # each streamed message is wrapped, one per line
            parsed = json_format.ParseDict(line["result"], pb.WatchResponse())
            assert gateway_json(parsed) == line["result"]
            return parsed

        created = next_result()
        assert created.created and created.watch_id == 0
        put(s, b"/gww/k", b"1")
        rev = put(s, b"/gww/k", b"2").header.revision
        events = []
        for _ in range(3):
            events += next_result().events
            if len(events) == 2:
                break
        assert [(e.type, e.kv.value, e.prev_kv.value) for e in events] == [
            (mvccpb.Event.PUT, b"1", b""),
            (mvccpb.Event.PUT, b"2", b"1"),
        ]
        assert events[1].kv.mod_revision == rev
    finally:
        conn.close()


def test_gateway_error_shape(etcd: RealEtcd) -> None:
    # Recorded for the /v3 gateway we write: gRPC code in the body, HTTP status derived from it.
    message = "etcdserver: requested lease not found"
    status, body = curl_gateway_status(
        etcd, "/v3/lease/revoke", gateway_json(pb.LeaseRevokeRequest(ID=12345))
    )
    assert (status, body) == (
        404,
        {"error": message, "message": message, "code": grpc.StatusCode.NOT_FOUND.value[0]},
    )
    status, body = curl_gateway_status(
        etcd, "/v3/kv/range", gateway_json(pb.RangeRequest(key=b"k", revision=10**9))
    )
    assert (status, body["code"]) == (400, grpc.StatusCode.OUT_OF_RANGE.value[0])
    assert body["error"] == "etcdserver: mvcc: required revision is a future revision"


# ---------------------------------------------------------------------------------------------------
# Compaction: last, since it drops the history earlier tests read.


def test_compaction_drops_history_for_range_and_watch(etcd: RealEtcd, s: Stubs) -> None:
    old = put(s, b"/cmp/k", b"1").header.revision
    new = put(s, b"/cmp/k", b"2").header.revision
    r = s.kv.Compact(pb.CompactionRequest(revision=new, physical=True), timeout=T)
    assert r.header.revision == new

    err = rpc_error(s.kv.Range, pb.RangeRequest(key=b"/cmp/k", revision=old))
    assert err.code() == grpc.StatusCode.OUT_OF_RANGE
    assert err.details() == "etcdserver: mvcc: required revision has been compacted"
    assert get(s, b"/cmp/k", revision=new).kvs[0].value == b"2"

    stream = BidiStream(s.watch.Watch)
    try:
        stream.send(pb.WatchRequest(create_request=pb.WatchCreateRequest(key=b"/cmp/k", start_revision=old)))
        got = _collect(stream, lambda got: any(x.compact_revision for x in got))
        assert got[0].created
        (compacted,) = [x for x in got if x.compact_revision]
        assert (compacted.compact_revision, compacted.canceled, len(compacted.events)) == (new, True, 0)
    finally:
        stream.close()

    hkv = s.maintenance.HashKV(pb.HashKVRequest(), timeout=T)
    assert hkv.compact_revision == new

    # etcd 3.4 compat: /v3/maintenance/hash is declared for both Hash and HashKV; it answers Hash.
    via_gateway = curl_gateway(etcd, "/v3/maintenance/hash", {"revision": str(new)})
    assert set(via_gateway) == {"header", "hash"}
    assert via_gateway["hash"] == s.maintenance.Hash(pb.HashRequest(), timeout=T).hash
