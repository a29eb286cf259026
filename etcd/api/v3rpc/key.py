"""The KV service (etcd's ``v3rpc/key.go``): Range, Put, DeleteRange, Txn and Compact.

Each method checks its request as etcd's ``check*Request`` do (empty keys, ``ignore_value``/
``ignore_lease`` misuse, ``--max-txn-ops``, a key written twice in one txn: ``mvcc/txn_check.py``),
hands it to the member and fills the reply's header. Errors are raised, mapped by the wrapper.
"""

from __future__ import annotations

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb import rpc_pb2_grpc
from etcd.api.v3rpc.header import Header
from etcd.api.v3rpc.server_api import Context, V3Server
from etcd.mvcc.errors import ErrEmptyKey
from etcd.mvcc.txn_check import check_put_request, check_txn_request


class KVServer(rpc_pb2_grpc.KVServicer):
    def __init__(self, server: V3Server) -> None:
        self._server = server
        self._hdr = Header(server)

    async def Range(self, request: pb.RangeRequest, context: Context) -> pb.RangeResponse:
        if not request.key:
            raise ErrEmptyKey()
        resp = await self._server.range(request)
        self._hdr.fill(resp.header)
        return resp

    async def Put(self, request: pb.PutRequest, context: Context) -> pb.PutResponse:
        check_put_request(request)
        resp = await self._server.put(request)
        self._hdr.fill(resp.header)
        return resp

    async def DeleteRange(self, request: pb.DeleteRangeRequest, context: Context) -> pb.DeleteRangeResponse:
        if not request.key:
            raise ErrEmptyKey()
        resp = await self._server.delete_range(request)
        self._hdr.fill(resp.header)
        return resp

    async def Txn(self, request: pb.TxnRequest, context: Context) -> pb.TxnResponse:
        check_txn_request(request, self._server.cfg.max_txn_ops)
        resp = await self._server.txn(request)
        self._hdr.fill(resp.header)
        return resp

    async def Compact(self, request: pb.CompactionRequest, context: Context) -> pb.CompactionResponse:
        resp = await self._server.compact(request)
        self._hdr.fill(resp.header)
        return resp
