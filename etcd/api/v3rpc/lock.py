"""The Lock service (``v3lockpb.Lock``, etcd's ``v3lock/lock.go`` over ``concurrency.Mutex``).

Lock puts ``<name>/<lease hex>`` with the caller's lease (a new 60 s lease if it gave none), then waits
until every key under ``<name>/`` created before it is deleted; the caller owns the lock from then
until it deletes the key (Unlock) or its lease ends. A call cancelled while waiting deletes its key.
Every failure is UNKNOWN with etcd's text, as etcd's (``concurrency.as_client_error``): a lease that
does not exist fails the put with ``etcdserver: requested lease not found``.
"""

from __future__ import annotations

import contextlib

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.v3lockpb import v3lock_pb2 as lockpb
from etcd.api.v3lockpb import v3lock_pb2_grpc
from etcd.api.v3rpc import concurrency
from etcd.api.v3rpc.header import Header
from etcd.api.v3rpc.server_api import Context, V3Server
from etcd.mvcc.errors import ErrEmptyKey


class LockServer(v3lock_pb2_grpc.LockServicer):
    def __init__(self, server: V3Server) -> None:
        self._server = server
        self._hdr = Header(server)

    @concurrency.client_errors
    async def Lock(self, request: lockpb.LockRequest, context: Context) -> lockpb.LockResponse:
        s = self._server
        lease = await concurrency.session_lease(s, request.lease)
        pfx = request.name + b"/"
        my_key = concurrency.lease_key(pfx, lease)
        get_owner = pb.RequestOp(request_range=concurrency.first_create(pfx))
        resp = await s.txn(
            pb.TxnRequest(
                compare=[
                    pb.Compare(
                        key=my_key, target=pb.Compare.CREATE, result=pb.Compare.EQUAL, create_revision=0
                    )
                ],
                success=[pb.RequestOp(request_put=pb.PutRequest(key=my_key, lease=lease)), get_owner],
                # The session already holds (or waits for) the lock: reuse its key.
                failure=[pb.RequestOp(request_range=pb.RangeRequest(key=my_key)), get_owner],
            )
        )
        my_rev = resp.header.revision
        if not resp.succeeded:
            my_rev = resp.responses[0].response_range.kvs[0].create_revision
        owner = resp.responses[1].response_range.kvs
        hdr = resp.header
        if owner and owner[0].create_revision != my_rev:
            try:
                hdr = await concurrency.wait_deletes(s, pfx, my_rev - 1)
            except BaseException:
                # etcd's Mutex.Lock: a failed wait releases the key so later waiters are not blocked by it.
                with contextlib.suppress(Exception):
                    await s.delete_range(pb.DeleteRangeRequest(key=my_key))
                raise
        return lockpb.LockResponse(header=self._hdr.fill(hdr), key=my_key)

    @concurrency.client_errors
    async def Unlock(self, request: lockpb.UnlockRequest, context: Context) -> lockpb.UnlockResponse:
        if not request.key:
            raise ErrEmptyKey()
        resp = await self._server.delete_range(pb.DeleteRangeRequest(key=request.key))
        return lockpb.UnlockResponse(header=self._hdr.fill(resp.header))
