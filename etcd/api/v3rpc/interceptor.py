"""The one wrapper every v3 gRPC method runs in (etcd's ``v3rpc/interceptor.go`` plus go-grpc-prometheus).

``wrap_handler`` takes a method handler as grpcio's generated ``add_*Servicer_to_server`` builds it and
returns one that, around the servicer's behaviour:

- refuses the call with ``ErrGRPCNoLeader`` when the client sent ``hasleader: true`` metadata and the
  member knows no leader (etcd checks this for unary calls and streams alike);
- turns any exception the servicer lets out into the status ``errors.to_grpc_error`` gives, so
  servicers just ``raise`` (etcd's ``togRPCError`` at every return);
- counts ``grpc_server_started_total``, ``grpc_server_handled_total`` (with the final code) and the
  messages received and sent (``metrics``).

A wrapper rather than a ``grpc.aio.ServerInterceptor``: the labels are computed once per method at
registration instead of once per call, and no continuation is awaited per call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from grpc import StatusCode

from etcd.api.v3rpc import metrics, rpctypes
from etcd.api.v3rpc.errors import to_grpc_error
from etcd.api.v3rpc.rpctypes import RPCException
from etcd.api.v3rpc.server_api import V3Server

LeaderFunc = Callable[[], int]


def _require_leader(leader: LeaderFunc, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    md = context.invocation_metadata()
    if not md:
        return
    for key, value in md:
        if key == rpctypes.MetadataRequireLeaderKey and value == rpctypes.MetadataHasLeader:
            if leader() == 0:
                raise RPCException(rpctypes.ErrGRPCNoLeader)
            return


async def _counted(requests: AsyncIterator[Any], inc: Callable[[], None]) -> AsyncIterator[Any]:
    async for req in requests:
        inc()
        yield req


class _Handled:
    """The final-code counter of one method, by Go code name."""

    def __init__(self, kind: str, service: str, method: str) -> None:
        self._children = {
            code: metrics.handled_counter.labels(kind, service, method, rpctypes.go_code_name(code))
            for code in StatusCode
        }

    def inc(self, code: StatusCode) -> None:
        self._children[code].inc()


def _abort_code(context: grpc.aio.ServicerContext[Any, Any]) -> StatusCode:
    code = context.code()
    return code if isinstance(code, StatusCode) else StatusCode.UNKNOWN


def wrap_handler(
    handler: grpc.RpcMethodHandler, service: str, method: str, server: V3Server
) -> grpc.RpcMethodHandler:
    """``handler`` guarded, error-mapped and counted; see the module docstring."""
    kind = metrics.grpc_type(handler.request_streaming, handler.response_streaming)
    metrics.pre_register(kind, service, method)
    started = metrics.started_counter.labels(kind, service, method)
    received = metrics.msg_received_counter.labels(kind, service, method)
    sent = metrics.msg_sent_counter.labels(kind, service, method)
    handled = _Handled(kind, service, method)
    leader = server.leader

    if not handler.response_streaming:
        behavior = handler.stream_unary if handler.request_streaming else handler.unary_unary

        async def unary_out(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            started.inc()
            if handler.request_streaming:
                request = _counted(request, received.inc)
            else:
                received.inc()
            code = StatusCode.OK
            try:
                _require_leader(leader, context)
                resp = await behavior(request, context)
                sent.inc()
                return resp
            except asyncio.CancelledError:
                code = StatusCode.CANCELLED
                raise
            except grpc.aio.AbortError:
                code = _abort_code(context)
                raise
            except Exception as exc:
                err = to_grpc_error(exc)
                code = err.code
                await context.abort(err.code, err.message)
            finally:
                handled.inc(code)

        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(
                unary_out, handler.request_deserializer, handler.response_serializer
            )
        return grpc.unary_unary_rpc_method_handler(
            unary_out, handler.request_deserializer, handler.response_serializer
        )

    stream_behavior = handler.stream_stream if handler.request_streaming else handler.unary_stream

    async def stream_out(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        started.inc()
        if handler.request_streaming:
            request = _counted(request, received.inc)
        else:
            received.inc()
        code = StatusCode.OK
        try:
            _require_leader(leader, context)
            # aclosing: a cancelled call must run the servicer's cleanup now, not at garbage collection.
            async with contextlib.aclosing(stream_behavior(request, context)) as responses:
                async for resp in responses:
                    sent.inc()
                    yield resp
        except (asyncio.CancelledError, GeneratorExit):
            code = StatusCode.CANCELLED
            raise
        except grpc.aio.AbortError:
            code = _abort_code(context)
            raise
        except Exception as exc:
            err = to_grpc_error(exc)
            code = err.code
            await context.abort(err.code, err.message)
        finally:
            handled.inc(code)

    if handler.request_streaming:
        return grpc.stream_stream_rpc_method_handler(
            stream_out, handler.request_deserializer, handler.response_serializer
        )
    return grpc.unary_stream_rpc_method_handler(
        stream_out, handler.request_deserializer, handler.response_serializer
    )
