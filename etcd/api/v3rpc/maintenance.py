"""The Maintenance service (etcd's ``v3rpc/maintenance.go``): Status, Hash, HashKV, Alarm, Defragment,
the Snapshot stream and MoveLeader.

Snapshot streams the backend's snapshot in 32 KiB chunks, each with the bytes still to come in
``remaining_bytes`` (the stream is zero-padded to a multiple of 512 bytes, as etcdctl expects of
bbolt's pages), then one last message whose blob is the SHA-256 of every byte sent, which
``etcdctl snapshot save`` checks; as etcd 3.4, these messages carry no header. MoveLeader is refused
with ``ErrGRPCNotLeader`` on a member that is not the leader.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.etcdserverpb import rpc_pb2_grpc
from etcd.api.v3rpc import rpctypes
from etcd.api.v3rpc.header import Header
from etcd.api.v3rpc.rpctypes import RPCException
from etcd.api.v3rpc.server_api import Context, V3Server

SNAPSHOT_SEND_BUFFER_SIZE = 32 * 1024  # etcd's snapshotSendBufferSize
# etcdctl checks that a snapshot is a multiple of this long (snapshot/v3_snapshot.go hasChecksum).
SNAPSHOT_ALIGN = 512


class MaintenanceServer(rpc_pb2_grpc.MaintenanceServicer):
    def __init__(self, server: V3Server) -> None:
        self._server = server
        self._hdr = Header(server)

    async def Alarm(self, request: pb.AlarmRequest, context: Context) -> pb.AlarmResponse:
        # etcd 3.4 compat: v3rpc/maintenance.go passes the applier's answer on as it is, with no header
        # (its gateway answers an empty alarm list as {}).
        return await self._server.alarm(request)

    async def Status(self, request: pb.StatusRequest, context: Context) -> pb.StatusResponse:
        resp = await self._server.status()
        self._hdr.fill(resp.header)
        return resp

    async def Defragment(self, request: pb.DefragmentRequest, context: Context) -> pb.DefragmentResponse:
        await self._server.defragment()
        # etcd 3.4 compat: v3rpc/maintenance.go answers an empty DefragmentResponse, no header.
        return pb.DefragmentResponse()

    async def Hash(self, request: pb.HashRequest, context: Context) -> pb.HashResponse:
        resp = await self._server.hash()
        self._hdr.fill(resp.header)
        return resp

    async def HashKV(self, request: pb.HashKVRequest, context: Context) -> pb.HashKVResponse:
        resp = await self._server.hash_kv(request.revision)
        self._hdr.fill(resp.header)
        return resp

    async def MoveLeader(self, request: pb.MoveLeaderRequest, context: Context) -> pb.MoveLeaderResponse:
        if not self._server.is_leader():
            raise RPCException(rpctypes.ErrGRPCNotLeader)
        if request.targetID != self._server.id:
            # etcd 3.4 compat: etcdserver/server.go MoveLeader returns at once when the transferee already
            # leads (3.4.23 answers OK); our server refuses itself as a bad transferee.
            await self._server.move_leader(request.targetID)
        # etcd 3.4 compat: v3rpc/maintenance.go answers an empty MoveLeaderResponse, no header.
        return pb.MoveLeaderResponse()

    async def Snapshot(
        self, request: pb.SnapshotRequest, context: Context
    ) -> AsyncIterator[pb.SnapshotResponse]:
        snap = await asyncio.to_thread(self._server.backend.snapshot)
        try:
            f = await asyncio.to_thread(open, snap.path, "rb")
            try:
                h = hashlib.sha256()
                # etcd 3.4 compat: etcdctl snapshot save refuses a download whose length is not a multiple
                # of 512 (bbolt's page size) plus the 32-byte digest ("sha256 checksum not found"); zeros
                # after the backend snapshot's own end are ignored by its restore.
                total = snap.size + (-snap.size % SNAPSHOT_ALIGN)
                sent = 0
                while total - sent > 0:
                    want = min(SNAPSHOT_SEND_BUFFER_SIZE, total - sent)
                    blob = await asyncio.to_thread(f.read, want)
                    if len(blob) < want:
                        blob += bytes(want - len(blob))  # past the end of the file: the padding
                    sent += len(blob)
                    h.update(blob)
                    yield pb.SnapshotResponse(remaining_bytes=total - sent, blob=blob)
                yield pb.SnapshotResponse(remaining_bytes=0, blob=h.digest())
            finally:
                f.close()
        finally:
            await asyncio.to_thread(snap.close)
