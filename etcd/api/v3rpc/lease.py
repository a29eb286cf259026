"""The Lease service (etcd's ``v3rpc/lease.go``): grant, revoke, the keep-alive stream, time-to-live
and the lease list.

As etcd: a keep-alive for a lease that does not exist answers TTL 0 (the stream goes on), and
time-to-live of one answers TTL -1; the keep-alive reply's header is taken before the renewal, so its
revision never runs ahead of the renewal it reports.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb import rpc_pb2_grpc
from etcd.api.v3rpc import metrics
from etcd.api.v3rpc.header import Header
from etcd.api.v3rpc.server_api import Context, V3Server
from etcd.lease.lessor import ErrLeaseNotFound


class LeaseServer(rpc_pb2_grpc.LeaseServicer):
    def __init__(self, server: V3Server) -> None:
        self._server = server
        self._hdr = Header(server)

    async def LeaseGrant(self, request: pb.LeaseGrantRequest, context: Context) -> pb.LeaseGrantResponse:
        resp = await self._server.lease_grant(request)
        self._hdr.fill(resp.header)
        return resp

    async def LeaseRevoke(self, request: pb.LeaseRevokeRequest, context: Context) -> pb.LeaseRevokeResponse:
        resp = await self._server.lease_revoke(request)
        self._hdr.fill(resp.header)
        return resp

    async def LeaseTimeToLive(
        self, request: pb.LeaseTimeToLiveRequest, context: Context
    ) -> pb.LeaseTimeToLiveResponse:
        resp = await self._server.lease_time_to_live(request)  # TTL -1 for a lease that does not exist
        self._hdr.fill(resp.header)
        return resp

    async def LeaseLeases(self, request: pb.LeaseLeasesRequest, context: Context) -> pb.LeaseLeasesResponse:
        resp = await self._server.lease_leases()
        self._hdr.fill(resp.header)
        return resp

    async def LeaseKeepAlive(
        self, request_iterator: AsyncIterator[pb.LeaseKeepAliveRequest], context: Context
    ) -> AsyncIterator[pb.LeaseKeepAliveResponse]:
        requests = aiter(request_iterator)
        while True:
            try:
                req = await anext(requests)
            except StopAsyncIteration:
                return
            except Exception:
                metrics.stream_failures.labels("receive", "lease-keepalive").inc()
                raise
            resp = pb.LeaseKeepAliveResponse(ID=req.ID)
            self._hdr.fill(resp.header)
            try:
                resp.TTL = await self._server.lease_renew(req.ID)
            except ErrLeaseNotFound:
                resp.TTL = 0
            yield resp
