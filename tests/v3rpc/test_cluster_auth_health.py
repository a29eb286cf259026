"""Cluster, Auth and Health services with one member, and the wrapper's metrics; the expected errors are
etcd 3.4.23's for a one-member cluster with auth disabled (checked with etcdctl against the real etcd)."""

from __future__ import annotations

import grpc
import pytest
from prometheus_client import REGISTRY

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb import rpc_pb2_grpc as pb_grpc
from etcd.api.healthpb import health_pb2 as hpb
from etcd.api.healthpb import health_pb2_grpc as hpb_grpc
from etcd.api.v3rpc import rpctypes
from etcd.api.v3rpc.rpctypes import RPCError
from tests.v3rpc.conftest import Served, stub

T = 5.0


async def _error(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as ei:
        await call  # type: ignore[misc]
    return ei.value.code(), ei.value.details() or ""


def _pair(err: RPCError) -> tuple[grpc.StatusCode, str]:
    return err.code, err.message


async def test_member_list(served: Served) -> None:
    resp = await stub(pb_grpc.ClusterStub, served.channel).MemberList(pb.MemberListRequest(), timeout=T)
    assert (resp.header.cluster_id, resp.header.member_id, resp.header.revision) == (
        served.srv.cluster_id,
        served.srv.id,
        0,  # etcd 3.4's member list header has no revision
    )
    [m] = resp.members
    assert (m.ID, m.name, list(m.peerURLs), m.isLearner) == (
        served.srv.id,
        "m1",
        ["http://localhost:2380"],
        False,
    )


async def test_membership_changes_of_a_single_member(served: Served) -> None:
    c = stub(pb_grpc.ClusterStub, served.channel)
    me = served.srv.id
    cases = [
        (c.MemberPromote(pb.MemberPromoteRequest(ID=me), timeout=T), rpctypes.ErrGRPCMemberNotLearner),
        (c.MemberRemove(pb.MemberRemoveRequest(ID=0x1234), timeout=T), rpctypes.ErrGRPCMemberNotFound),
        (c.MemberUpdate(pb.MemberUpdateRequest(ID=0x1234), timeout=T), rpctypes.ErrGRPCMemberNotFound),
        (c.MemberPromote(pb.MemberPromoteRequest(ID=0x1234), timeout=T), rpctypes.ErrGRPCMemberNotFound),
        (c.MemberRemove(pb.MemberRemoveRequest(ID=me), timeout=T), rpctypes.WireMemberNotEnoughStarted),
        (
            c.MemberAdd(pb.MemberAddRequest(peerURLs=["http://localhost:2380"]), timeout=T),
            rpctypes.ErrGRPCPeerURLExist,
        ),
        (c.MemberAdd(pb.MemberAddRequest(peerURLs=["bad"]), timeout=T), rpctypes.ErrGRPCMemberBadURLs),
        # Not yet (issue 6): a real configuration change.
        (
            c.MemberAdd(pb.MemberAddRequest(peerURLs=["http://127.0.0.1:1"]), timeout=T),
            rpctypes.ErrGRPCNotCapable,
        ),
    ]
    for call, want in cases:
        assert await _error(call) == _pair(want)
    same = await c.MemberUpdate(pb.MemberUpdateRequest(ID=me, peerURLs=["http://localhost:2380"]), timeout=T)
    assert [m.ID for m in same.members] == [me]


async def test_auth_answers_as_etcd_with_auth_disabled(served: Served) -> None:
    a = stub(pb_grpc.AuthStub, served.channel)
    cases = [
        (a.AuthEnable(pb.AuthEnableRequest(), timeout=T), rpctypes.ErrGRPCRootUserNotExist),
        (
            a.Authenticate(pb.AuthenticateRequest(name="u", password="p"), timeout=T),
            rpctypes.ErrGRPCAuthNotEnabled,
        ),
        (a.UserGet(pb.AuthUserGetRequest(name="u"), timeout=T), rpctypes.ErrGRPCUserNotFound),
        (a.RoleGet(pb.AuthRoleGetRequest(role="r"), timeout=T), rpctypes.ErrGRPCRoleNotFound),
        (a.UserDelete(pb.AuthUserDeleteRequest(name="u"), timeout=T), rpctypes.ErrGRPCUserNotFound),
        (
            a.UserGrantRole(pb.AuthUserGrantRoleRequest(user="u", role="r"), timeout=T),
            rpctypes.ErrGRPCUserNotFound,
        ),
        (a.RoleDelete(pb.AuthRoleDeleteRequest(role="r"), timeout=T), rpctypes.ErrGRPCRoleNotFound),
        (a.UserAdd(pb.AuthUserAddRequest(), timeout=T), rpctypes.ErrGRPCUserEmpty),
        (a.RoleAdd(pb.AuthRoleAddRequest(), timeout=T), rpctypes.ErrGRPCRoleEmpty),
    ]
    for call, want in cases:
        assert await _error(call) == _pair(want)
    assert list((await a.UserList(pb.AuthUserListRequest(), timeout=T)).users) == []
    assert list((await a.RoleList(pb.AuthRoleListRequest(), timeout=T)).roles) == []
    disabled = await a.AuthDisable(pb.AuthDisableRequest(), timeout=T)
    assert disabled.header.member_id == served.srv.id


async def test_health_check(served: Served) -> None:
    h = stub(hpb_grpc.HealthStub, served.channel)
    assert (await h.Check(hpb.HealthCheckRequest(), timeout=T)).status == hpb.HealthCheckResponse.SERVING
    assert await _error(h.Check(hpb.HealthCheckRequest(service="nope"), timeout=T)) == (
        grpc.StatusCode.NOT_FOUND,
        "unknown service",
    )


def _sample(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_grpc_metrics_count_started_and_handled_by_code(served: Served) -> None:
    unary = {"grpc_type": "unary", "grpc_service": "etcdserverpb.KV", "grpc_method": "Range"}
    # Pre-registered at zero for every method, as go-grpc-prometheus does.
    assert (
        REGISTRY.get_sample_value("grpc_server_handled_total", {**unary, "grpc_code": "DataLoss"}) is not None
    )
    assert (
        REGISTRY.get_sample_value(
            "grpc_server_started_total",
            {"grpc_type": "bidi_stream", "grpc_service": "etcdserverpb.Watch", "grpc_method": "Watch"},
        )
        is not None
    )
    started = _sample("grpc_server_started_total", **unary)
    ok = _sample("grpc_server_handled_total", **unary, grpc_code="OK")
    bad = _sample("grpc_server_handled_total", **unary, grpc_code="InvalidArgument")
    kv = stub(pb_grpc.KVStub, served.channel)
    await kv.Range(pb.RangeRequest(key=b"a"), timeout=T)
    await _error(kv.Range(pb.RangeRequest(), timeout=T))
    assert _sample("grpc_server_started_total", **unary) == started + 2
    assert _sample("grpc_server_handled_total", **unary, grpc_code="OK") == ok + 1
    assert _sample("grpc_server_handled_total", **unary, grpc_code="InvalidArgument") == bad + 1


async def test_bytes_and_client_requests_are_counted(served: Served) -> None:
    sent = _sample("etcd_network_client_grpc_sent_bytes_total")
    received = _sample("etcd_network_client_grpc_received_bytes_total")
    by_version = _sample("etcd_server_client_requests_total", type="unary", client_api_version="3.4")
    req = pb.PutRequest(key=b"k", value=b"v" * 100)
    resp = await stub(pb_grpc.KVStub, served.channel).Put(
        req, metadata=(("client-api-version", "3.4"),), timeout=T
    )
    assert _sample("etcd_network_client_grpc_received_bytes_total") == received + req.ByteSize()
    assert _sample("etcd_network_client_grpc_sent_bytes_total") == sent + resp.ByteSize()
    assert (
        _sample("etcd_server_client_requests_total", type="unary", client_api_version="3.4") == by_version + 1
    )
