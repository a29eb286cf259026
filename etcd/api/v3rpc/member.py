"""The Cluster service (etcd's ``v3rpc/member.go``): the member list, and the membership changes as far
as a one-member cluster can answer them without a configuration change.

MemberList is etcd's: members sorted by id, the header without a revision. For the changes, the checks
etcd makes before proposing are made here with etcd's errors (verified against etcd 3.4.23 with one
member): bad peer URLs, a peer URL already used, an unknown member id, promoting a voter, removing the
last voter; an update that changes nothing succeeds. A change that would need a raft configuration
change answers ``ErrGRPCNotCapable`` until membership changes exist (issue 6).
"""

from __future__ import annotations

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb import rpc_pb2_grpc
from etcd.api.v3rpc import rpctypes
from etcd.api.v3rpc.header import Header
from etcd.api.v3rpc.rpctypes import RPCException
from etcd.api.v3rpc.server_api import Context, MemberLike, V3Server
from etcd.embed.config import ConfigError, parse_url


def _check_urls(urls: list[str]) -> None:
    try:
        for u in urls:
            parse_url(u)
    except ConfigError:
        raise RPCException(rpctypes.ErrGRPCMemberBadURLs) from None


class ClusterServer(rpc_pb2_grpc.ClusterServicer):
    def __init__(self, server: V3Server) -> None:
        self._server = server
        self._hdr = Header(server)

    def _header(self) -> pb.ResponseHeader:
        # etcd 3.4 compat: v3rpc/member.go ClusterServer.header sets no revision.
        s = self._server
        return pb.ResponseHeader(cluster_id=s.cluster_id, member_id=s.id, raft_term=s.term())

    def _members(self) -> list[MemberLike]:
        return sorted(self._server.cluster.members(), key=lambda m: m.id)

    def _proto_members(self) -> list[pb.Member]:
        return [
            pb.Member(
                ID=m.id,
                name=m.name,
                peerURLs=list(m.peer_urls),
                clientURLs=list(m.client_urls),
                isLearner=m.is_learner,
            )
            for m in self._members()
        ]

    def _member(self, member_id: int) -> MemberLike:
        for m in self._members():
            if m.id == member_id:
                return m
        raise RPCException(rpctypes.ErrGRPCMemberNotFound)

    async def MemberList(self, request: pb.MemberListRequest, context: Context) -> pb.MemberListResponse:
        return pb.MemberListResponse(header=self._header(), members=self._proto_members())

    async def MemberAdd(self, request: pb.MemberAddRequest, context: Context) -> pb.MemberAddResponse:
        _check_urls(list(request.peerURLs))
        used = {u for m in self._members() for u in m.peer_urls}
        if any(u in used for u in request.peerURLs):
            raise RPCException(rpctypes.ErrGRPCPeerURLExist)
        raise RPCException(rpctypes.ErrGRPCNotCapable)  # TODO(issue 6): membership changes

    async def MemberRemove(
        self, request: pb.MemberRemoveRequest, context: Context
    ) -> pb.MemberRemoveResponse:
        m = self._member(request.ID)
        voters = [v for v in self._members() if not v.is_learner]
        if not m.is_learner and len(voters) == 1:
            # etcd's mayRemoveMember: no started voter would be left for a quorum.
            raise RPCException(rpctypes.WireMemberNotEnoughStarted)
        raise RPCException(rpctypes.ErrGRPCNotCapable)  # TODO(issue 6): membership changes

    async def MemberUpdate(
        self, request: pb.MemberUpdateRequest, context: Context
    ) -> pb.MemberUpdateResponse:
        _check_urls(list(request.peerURLs))
        m = self._member(request.ID)
        if sorted(request.peerURLs) == sorted(m.peer_urls):
            return pb.MemberUpdateResponse(header=self._header(), members=self._proto_members())
        raise RPCException(rpctypes.ErrGRPCNotCapable)  # TODO(issue 6): membership changes

    async def MemberPromote(
        self, request: pb.MemberPromoteRequest, context: Context
    ) -> pb.MemberPromoteResponse:
        m = self._member(request.ID)
        if not m.is_learner:
            raise RPCException(rpctypes.ErrGRPCMemberNotLearner)
        raise RPCException(rpctypes.ErrGRPCNotCapable)  # TODO(issue 6): membership changes
