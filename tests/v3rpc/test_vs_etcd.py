"""The same requests to the real etcd 3.4.23 and to our member, side by side: the same status code and
details for every failure, and the same answer shape for the quirky successes.

The real etcd runs once for the module (free ports, tmp data dir, killed by PID); each test starts our
member. The requests are stateless with respect to one another (nothing they do changes what the next
one sees), so both servers start from the same empty state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.v3electionpb import v3election_pb2 as epb
from etcd.api.v3lockpb import v3lock_pb2 as lockpb
from tests import real_etcd
from tests.v3rpc.conftest import Served

pytestmark = real_etcd.requires_etcd
T = 5.0


@dataclass(frozen=True)
class Target:
    """One server as the requests see it: a channel, its member id and its peer URL."""

    channel: grpc.aio.Channel
    member_id: int
    peer_url: str

    async def call(self, method: str, request: Message, response: type[Message]) -> Message:
        fn = self.channel.unary_unary(
            method,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=response.FromString,
        )
        result: Message = await fn(request, timeout=T)
        return result


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[real_etcd.Member]:
    with real_etcd.running_etcd(tmp_path_factory.mktemp("real-vs")) as member:
        yield member


async def _targets(served: Served, real: real_etcd.Member) -> tuple[Target, Target]:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{real.client_port}")
    status = await channel.unary_unary(
        "/etcdserverpb.Maintenance/Status",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=pb.StatusResponse.FromString,
    )(pb.StatusRequest(), timeout=T)
    ours = served.srv.cluster.member(served.srv.id)
    assert ours is not None
    return (
        Target(channel, status.header.member_id, real.peer_url),
        Target(served.channel, served.srv.id, ours.peer_urls[0]),
    )


Case = tuple[str, Callable[[Target], Message], type[Message]]


def _unary_cases() -> list[Case]:
    big = b"x" * 1_600_000
    return [
        ("/etcdserverpb.KV/Range", lambda t: pb.RangeRequest(), pb.RangeResponse),
        ("/etcdserverpb.KV/Range", lambda t: pb.RangeRequest(key=b"a", revision=99), pb.RangeResponse),
        ("/etcdserverpb.KV/Put", lambda t: pb.PutRequest(value=b"v"), pb.PutResponse),
        (
            "/etcdserverpb.KV/Put",
            lambda t: pb.PutRequest(key=b"k", value=b"v", ignore_value=True),
            pb.PutResponse,
        ),
        (
            "/etcdserverpb.KV/Put",
            lambda t: pb.PutRequest(key=b"k", lease=9, ignore_lease=True),
            pb.PutResponse,
        ),
        ("/etcdserverpb.KV/Put", lambda t: pb.PutRequest(key=b"k", lease=9), pb.PutResponse),
        ("/etcdserverpb.KV/Put", lambda t: pb.PutRequest(key=b"k", value=big), pb.PutResponse),
        ("/etcdserverpb.KV/Put", lambda t: pb.PutRequest(key=b"k", value=big + big), pb.PutResponse),
        ("/etcdserverpb.KV/DeleteRange", lambda t: pb.DeleteRangeRequest(), pb.DeleteRangeResponse),
        (
            "/etcdserverpb.KV/Txn",
            lambda t: pb.TxnRequest(success=[pb.RequestOp(request_put=pb.PutRequest(key=b"d"))] * 2),
            pb.TxnResponse,
        ),
        (
            "/etcdserverpb.KV/Txn",
            lambda t: pb.TxnRequest(compare=[pb.Compare(key=b"")]),
            pb.TxnResponse,
        ),
        (
            "/etcdserverpb.KV/Txn",
            lambda t: pb.TxnRequest(success=[pb.RequestOp(request_range=pb.RangeRequest(key=b"r"))] * 129),
            pb.TxnResponse,
        ),
        ("/etcdserverpb.KV/Compact", lambda t: pb.CompactionRequest(revision=99), pb.CompactionResponse),
        ("/etcdserverpb.Lease/LeaseRevoke", lambda t: pb.LeaseRevokeRequest(ID=9), pb.LeaseRevokeResponse),
        (
            "/etcdserverpb.Lease/LeaseGrant",
            lambda t: pb.LeaseGrantRequest(TTL=9_000_000_001),
            pb.LeaseGrantResponse,
        ),
        (
            "/etcdserverpb.Cluster/MemberRemove",
            lambda t: pb.MemberRemoveRequest(ID=0x1234),
            pb.MemberRemoveResponse,
        ),
        (
            "/etcdserverpb.Cluster/MemberRemove",
            lambda t: pb.MemberRemoveRequest(ID=t.member_id),
            pb.MemberRemoveResponse,
        ),
        (
            "/etcdserverpb.Cluster/MemberUpdate",
            lambda t: pb.MemberUpdateRequest(ID=0x1234),
            pb.MemberUpdateResponse,
        ),
        (
            "/etcdserverpb.Cluster/MemberPromote",
            lambda t: pb.MemberPromoteRequest(ID=0x1234),
            pb.MemberPromoteResponse,
        ),
        (
            "/etcdserverpb.Cluster/MemberPromote",
            lambda t: pb.MemberPromoteRequest(ID=t.member_id),
            pb.MemberPromoteResponse,
        ),
        (
            "/etcdserverpb.Cluster/MemberAdd",
            lambda t: pb.MemberAddRequest(peerURLs=[t.peer_url]),
            pb.MemberAddResponse,
        ),
        (
            "/etcdserverpb.Cluster/MemberAdd",
            lambda t: pb.MemberAddRequest(peerURLs=["bad"]),
            pb.MemberAddResponse,
        ),
        (
            "/etcdserverpb.Maintenance/MoveLeader",
            lambda t: pb.MoveLeaderRequest(targetID=5),
            pb.MoveLeaderResponse,
        ),
        ("/etcdserverpb.Maintenance/HashKV", lambda t: pb.HashKVRequest(revision=99), pb.HashKVResponse),
        ("/etcdserverpb.Auth/AuthEnable", lambda t: pb.AuthEnableRequest(), pb.AuthEnableResponse),
        (
            "/etcdserverpb.Auth/Authenticate",
            lambda t: pb.AuthenticateRequest(name="u", password="p"),
            pb.AuthenticateResponse,
        ),
        ("/etcdserverpb.Auth/UserGet", lambda t: pb.AuthUserGetRequest(name="u"), pb.AuthUserGetResponse),
        (
            "/etcdserverpb.Auth/UserDelete",
            lambda t: pb.AuthUserDeleteRequest(name="u"),
            pb.AuthUserDeleteResponse,
        ),
        (
            "/etcdserverpb.Auth/UserChangePassword",
            lambda t: pb.AuthUserChangePasswordRequest(name="u", password="p"),
            pb.AuthUserChangePasswordResponse,
        ),
        (
            "/etcdserverpb.Auth/UserGrantRole",
            lambda t: pb.AuthUserGrantRoleRequest(user="u", role="r"),
            pb.AuthUserGrantRoleResponse,
        ),
        (
            "/etcdserverpb.Auth/UserRevokeRole",
            lambda t: pb.AuthUserRevokeRoleRequest(name="u", role="r"),
            pb.AuthUserRevokeRoleResponse,
        ),
        ("/etcdserverpb.Auth/UserAdd", lambda t: pb.AuthUserAddRequest(), pb.AuthUserAddResponse),
        ("/etcdserverpb.Auth/RoleAdd", lambda t: pb.AuthRoleAddRequest(), pb.AuthRoleAddResponse),
        ("/etcdserverpb.Auth/RoleGet", lambda t: pb.AuthRoleGetRequest(role="r"), pb.AuthRoleGetResponse),
        (
            "/etcdserverpb.Auth/RoleDelete",
            lambda t: pb.AuthRoleDeleteRequest(role="r"),
            pb.AuthRoleDeleteResponse,
        ),
        (
            "/etcdserverpb.Auth/RoleGrantPermission",
            lambda t: pb.AuthRoleGrantPermissionRequest(name="r"),
            pb.AuthRoleGrantPermissionResponse,
        ),
        (
            "/etcdserverpb.Auth/RoleRevokePermission",
            lambda t: pb.AuthRoleRevokePermissionRequest(role="r", key=b"k"),
            pb.AuthRoleRevokePermissionResponse,
        ),
        ("/v3lockpb.Lock/Lock", lambda t: lockpb.LockRequest(name=b"l", lease=9), lockpb.LockResponse),
        ("/v3lockpb.Lock/Unlock", lambda t: lockpb.UnlockRequest(), lockpb.UnlockResponse),
        ("/v3electionpb.Election/Leader", lambda t: epb.LeaderRequest(name=b"e"), epb.LeaderResponse),
        ("/v3electionpb.Election/Proclaim", lambda t: epb.ProclaimRequest(value=b"v"), epb.ProclaimResponse),
        ("/v3electionpb.Election/Resign", lambda t: epb.ResignRequest(), epb.ResignResponse),
        (
            "/v3electionpb.Election/Proclaim",
            lambda t: epb.ProclaimRequest(
                leader=epb.LeaderKey(name=b"e", key=b"e/1", rev=5, lease=1), value=b"v"
            ),
            epb.ProclaimResponse,
        ),
    ]


async def _outcome(t: Target, case: Case) -> tuple[Any, ...]:
    method, make, response = case
    try:
        resp = await t.call(method, make(t), response)
    except grpc.aio.AioRpcError as e:
        return ("error", e.code(), e.details())
    return ("ok", type(resp).__name__)


async def test_the_same_failures_as_etcd(served: Served, real: real_etcd.Member) -> None:
    theirs, ours = await _targets(served, real)
    try:
        for case in _unary_cases():
            want, got = await asyncio.gather(_outcome(theirs, case), _outcome(ours, case))
            assert got == want, case[0]
    finally:
        await theirs.channel.close()


async def test_the_same_quirky_successes_as_etcd(served: Served, real: real_etcd.Member) -> None:
    theirs, ours = await _targets(served, real)
    try:
        for t in (theirs, ours):
            ttl = await t.call(
                "/etcdserverpb.Lease/LeaseTimeToLive",
                pb.LeaseTimeToLiveRequest(ID=9),
                pb.LeaseTimeToLiveResponse,
            )
            assert (ttl.ID, ttl.TTL, ttl.header.member_id) == (9, -1, t.member_id)
            defrag = await t.call(
                "/etcdserverpb.Maintenance/Defragment", pb.DefragmentRequest(), pb.DefragmentResponse
            )
            assert defrag == pb.DefragmentResponse()
            move = await t.call(
                "/etcdserverpb.Maintenance/MoveLeader",
                pb.MoveLeaderRequest(targetID=t.member_id),
                pb.MoveLeaderResponse,
            )
            assert move == pb.MoveLeaderResponse()
            members = await t.call(
                "/etcdserverpb.Cluster/MemberList", pb.MemberListRequest(), pb.MemberListResponse
            )
            assert members.header.revision == 0
            users = await t.call(
                "/etcdserverpb.Auth/UserList", pb.AuthUserListRequest(), pb.AuthUserListResponse
            )
            assert list(users.users) == [] and users.header.member_id == t.member_id
    finally:
        await theirs.channel.close()


async def _watch_replies(t: Target, creates: list[pb.WatchCreateRequest]) -> list[tuple[Any, ...]]:
    call = t.channel.stream_stream(
        "/etcdserverpb.Watch/Watch",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=pb.WatchResponse.FromString,
    )(timeout=T)
    out = []
    try:
        for c in creates:
            await call.write(pb.WatchRequest(create_request=c))
            r = await asyncio.wait_for(call.read(), T)
            out.append((r.watch_id, r.created, r.canceled, r.cancel_reason))
        await call.write(pb.WatchRequest(progress_request=pb.WatchProgressRequest()))
        r = await asyncio.wait_for(call.read(), T)
        out.append((r.watch_id, r.created, r.canceled, len(r.events)))
    finally:
        call.cancel()
    return out


async def test_the_same_watch_replies_as_etcd(served: Served, real: real_etcd.Member, tmp_path: Path) -> None:
    theirs, ours = await _targets(served, real)
    creates = [
        pb.WatchCreateRequest(key=b"a", watch_id=7),
        pb.WatchCreateRequest(key=b"b", watch_id=7),
        pb.WatchCreateRequest(key=b"z", range_end=b"a"),
        pb.WatchCreateRequest(key=b"c"),
        pb.WatchCreateRequest(key=b""),
    ]
    try:
        assert await _watch_replies(ours, creates) == await _watch_replies(theirs, creates)
    finally:
        await theirs.channel.close()
