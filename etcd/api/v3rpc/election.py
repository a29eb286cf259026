"""The Election service (``v3electionpb.Election``, etcd's ``v3election/election.go`` over
``concurrency.Election``).

A candidate puts ``<name>/<lease hex>`` with its value and becomes leader once every key under
``<name>/`` created before it is deleted. ``LeaderKey`` (name, key, create revision, lease) names a
leadership; Proclaim rewrites its value and Resign deletes its key, both only while the key still has
that create revision. Leader is the oldest key under the prefix; Observe streams it and every change
of it. Every failure is UNKNOWN with etcd's text, as etcd's (``concurrency.as_client_error``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

import grpc

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.v3electionpb import v3election_pb2 as epb
from etcd.api.v3electionpb import v3election_pb2_grpc
from etcd.api.v3rpc import concurrency
from etcd.api.v3rpc.header import Header
from etcd.api.v3rpc.rpctypes import RPCError, RPCException
from etcd.api.v3rpc.server_api import Context, V3Server
from etcd.mvcc.mvccpb.kv_pb2 import Event, KeyValue

# concurrency/election.go and v3election/election.go, sent by grpc-go as UNKNOWN.
ErrElectionNotLeader = RPCError(grpc.StatusCode.UNKNOWN, "election: not leader")
ErrElectionNoLeader = RPCError(grpc.StatusCode.UNKNOWN, "election: no leader")
ErrMissingLeaderKey = RPCError(grpc.StatusCode.UNKNOWN, '"leader" field must be provided')


def _is_key(key: bytes, rev: int) -> pb.Compare:
    return pb.Compare(key=key, target=pb.Compare.CREATE, result=pb.Compare.EQUAL, create_revision=rev)


class ElectionServer(v3election_pb2_grpc.ElectionServicer):
    def __init__(self, server: V3Server) -> None:
        self._server = server
        self._hdr = Header(server)

    async def _proclaim(self, key: bytes, rev: int, value: bytes) -> pb.ResponseHeader:
        resp = await self._server.txn(
            pb.TxnRequest(
                compare=[_is_key(key, rev)],
                success=[pb.RequestOp(request_put=pb.PutRequest(key=key, value=value, ignore_lease=True))],
            )
        )
        if not resp.succeeded:
            raise RPCException(ErrElectionNotLeader)
        return resp.header

    async def _resign(self, key: bytes, rev: int) -> pb.ResponseHeader:
        resp = await self._server.txn(
            pb.TxnRequest(
                compare=[_is_key(key, rev)],
                success=[pb.RequestOp(request_delete_range=pb.DeleteRangeRequest(key=key))],
            )
        )
        return resp.header

    @concurrency.client_errors
    async def Campaign(self, request: epb.CampaignRequest, context: Context) -> epb.CampaignResponse:
        s = self._server
        lease = await concurrency.session_lease(s, request.lease)
        pfx = request.name + b"/"
        key = concurrency.lease_key(pfx, lease)
        resp = await s.txn(
            pb.TxnRequest(
                compare=[_is_key(key, 0)],
                success=[pb.RequestOp(request_put=pb.PutRequest(key=key, value=request.value, lease=lease))],
                failure=[pb.RequestOp(request_range=pb.RangeRequest(key=key))],
            )
        )
        rev = resp.header.revision
        if not resp.succeeded:
            kv = resp.responses[0].response_range.kvs[0]
            rev = kv.create_revision
            if kv.value != request.value:
                try:
                    await self._proclaim(key, rev, request.value)
                except Exception:
                    with contextlib.suppress(Exception):
                        await self._resign(key, rev)
                    raise
        try:
            await concurrency.wait_deletes(s, pfx, rev - 1)
        except BaseException:
            # etcd resigns when the caller gave up (its context ended), so the key blocks no one.
            with contextlib.suppress(Exception):
                await self._resign(key, rev)
            raise
        return epb.CampaignResponse(
            header=self._hdr.fill(resp.header),
            leader=epb.LeaderKey(name=request.name, key=key, rev=rev, lease=lease),
        )

    @concurrency.client_errors
    async def Proclaim(self, request: epb.ProclaimRequest, context: Context) -> epb.ProclaimResponse:
        if not request.HasField("leader"):
            raise RPCException(ErrMissingLeaderKey)
        ld = request.leader
        hdr = await self._proclaim(ld.key, ld.rev, request.value)
        return epb.ProclaimResponse(header=self._hdr.fill(hdr))

    @concurrency.client_errors
    async def Resign(self, request: epb.ResignRequest, context: Context) -> epb.ResignResponse:
        if not request.HasField("leader"):
            raise RPCException(ErrMissingLeaderKey)
        hdr = await self._resign(request.leader.key, request.leader.rev)
        return epb.ResignResponse(header=self._hdr.fill(hdr))

    @concurrency.client_errors
    async def Leader(self, request: epb.LeaderRequest, context: Context) -> epb.LeaderResponse:
        resp = await self._server.range(concurrency.first_create(request.name + b"/"))
        if not resp.kvs:
            raise RPCException(ErrElectionNoLeader)
        return epb.LeaderResponse(header=self._hdr.fill(resp.header), kv=resp.kvs[0])

    async def Observe(
        self, request: epb.LeaderRequest, context: Context
    ) -> AsyncIterator[epb.LeaderResponse]:
        """concurrency's ``Election.observe``: the current leader (or the first one to appear), then each
        new value of its key until it is deleted, then the next leader, until the client leaves."""
        try:
            async with contextlib.aclosing(self._observe(request)) as responses:
                async for resp in responses:
                    yield resp
        except Exception as exc:
            raise concurrency.as_client_error(exc) from exc

    async def _observe(self, request: epb.LeaderRequest) -> AsyncGenerator[epb.LeaderResponse, None]:
        s = self._server
        pfx = request.name + b"/"
        while True:
            resp = await s.range(concurrency.first_create(pfx))
            kv: KeyValue | None = None
            if resp.kvs:
                hdr, kv = resp.header, resp.kvs[0]
            else:
                # Wait for the first put under the prefix; deletes would make this spin.
                end = concurrency.prefix_end(pfx)
                async with contextlib.aclosing(concurrency.watch(s, pfx, end, resp.header.revision)) as wch:
                    async for wr in wch:
                        put = next((ev for ev in wr.events if ev.type == Event.PUT), None)
                        if put is not None:
                            kv = put.kv
                            hdr = self._hdr.new(kv.mod_revision)
                            break
            assert kv is not None  # the watch above only ends by finding a put
            yield epb.LeaderResponse(header=self._hdr.fill(hdr), kv=kv)
            async with contextlib.aclosing(concurrency.watch(s, kv.key, None, hdr.revision + 1)) as wch:
                async for wr in wch:
                    deleted = False
                    for ev in wr.events:
                        if ev.type == Event.DELETE:
                            deleted = True
                            break
                        yield epb.LeaderResponse(header=self._hdr.new(wr.revision), kv=ev.kv)
                    if deleted:
                        break
