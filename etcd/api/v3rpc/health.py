"""``grpc.health.v1.Health`` as etcd registers it (grpc-go's health server): the whole server, service
``""``, is SERVING; any other service is unknown (Check: NOT_FOUND "unknown service"; Watch:
SERVICE_UNKNOWN, then the stream stays open, as grpc-go's does)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from etcd.api.healthpb import health_pb2 as hpb
from etcd.api.healthpb import health_pb2_grpc
from etcd.api.v3rpc.rpctypes import RPCError, RPCException
from etcd.api.v3rpc.server_api import Context

ErrUnknownService = RPCError(grpc.StatusCode.NOT_FOUND, "unknown service")
SERVING = hpb.HealthCheckResponse.SERVING
SERVICE_UNKNOWN = hpb.HealthCheckResponse.SERVICE_UNKNOWN


class HealthServer(health_pb2_grpc.HealthServicer):
    def __init__(self) -> None:
        self._status = {"": SERVING}

    async def Check(self, request: hpb.HealthCheckRequest, context: Context) -> hpb.HealthCheckResponse:
        status = self._status.get(request.service)
        if status is None:
            raise RPCException(ErrUnknownService)
        return hpb.HealthCheckResponse(status=status)

    async def Watch(
        self, request: hpb.HealthCheckRequest, context: Context
    ) -> AsyncIterator[hpb.HealthCheckResponse]:
        yield hpb.HealthCheckResponse(status=self._status.get(request.service, SERVICE_UNKNOWN))
        await asyncio.Event().wait()  # statuses never change here; the client ends the stream
