"""The one wrapper every v3 gRPC method runs in (etcd's ``v3rpc/interceptor.go`` plus go-grpc-prometheus).

``wrap_handler`` takes a method handler as grpcio's generated ``add_*Servicer_to_server`` builds it and
returns one that, around the servicer's behaviour:

- refuses the call with ``ErrGRPCNoLeader`` when the client sent ``hasleader: true`` metadata and the
  member knows no leader (etcd checks this for unary calls and streams alike); such a stream, once
  open, ends with ``ErrGRPCNoLeader`` when the member has had no leader for ``MAX_NO_LEADER_CNT``
  election timeouts in a row (``LeaderMonitor``, etcd's ``monitorLeader``);
- refuses a request message over etcd's receive limit (``--max-request-bytes`` + 512 KiB) with grpc-go's
  RESOURCE_EXHAUSTED text, which clients of etcd see (grpc core's own check words it otherwise);
- turns any exception the servicer lets out into the status ``errors.to_grpc_error`` gives, so
  servicers just ``raise`` (etcd's ``togRPCError`` at every return);
- counts ``grpc_server_started_total``, ``grpc_server_handled_total`` (with the final code), the
  messages and bytes received and sent (``metrics``), and ``etcd_server_client_requests_total`` by
  ``client-api-version`` metadata.

A wrapper rather than a ``grpc.aio.ServerInterceptor``: the labels are computed once per method at
registration instead of once per call, and no continuation is awaited per call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from grpc import StatusCode

from etcd.api.v3rpc import metrics, rpctypes
from etcd.api.v3rpc.errors import to_grpc_error
from etcd.api.v3rpc.rpctypes import RPCError, RPCException
from etcd.api.v3rpc.server_api import V3Server
from etcd.server import metrics as server_metrics

# etcd's maxNoLeaderCnt: election timeouts without a leader before leader-requiring streams are ended.
MAX_NO_LEADER_CNT = 3


def _read_metadata(context: grpc.aio.ServicerContext[Any, Any]) -> tuple[str, bool]:
    """(the client's API version, or "unknown"; whether it asked for a leader with ``hasleader: true``),
    from one pass over the call's metadata (grpcio builds a fresh tuple on every read)."""
    version, wants_leader = "unknown", False
    for key, value in context.invocation_metadata() or ():
        if key == rpctypes.MetadataClientAPIVersionKey:
            version = str(value)
        elif key == rpctypes.MetadataRequireLeaderKey and value == rpctypes.MetadataHasLeader:
            wants_leader = True
    return version, wants_leader


def _require_leader(leader: Callable[[], int], wants_leader: bool) -> bool:
    """``wants_leader``, after raising ErrGRPCNoLeader if the call asked for a leader and there is none."""
    if wants_leader and leader() == 0:
        raise RPCException(rpctypes.ErrGRPCNoLeader)
    return wants_leader


class LeaderMonitor:
    """Ends the open streams that asked for a leader once the member has had none for ``MAX_NO_LEADER_CNT``
    election timeouts (etcd's ``monitorLeader``): it cancels each stream's task, whose wrapper then
    answers ErrGRPCNoLeader. Its checking task runs only while such streams are open."""

    def __init__(self, server: V3Server) -> None:
        self._server = server
        self._streams: set[asyncio.Task[Any]] = set()
        self._ended: set[asyncio.Task[Any]] = set()
        self._task: asyncio.Task[None] | None = None

    def register(self, task: asyncio.Task[Any]) -> None:
        self._streams.add(task)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="v3rpc-leader-monitor")

    def unregister(self, task: asyncio.Task[Any]) -> None:
        self._streams.discard(task)
        self._ended.discard(task)

    def ended_for_no_leader(self, task: asyncio.Task[Any]) -> bool:
        """True if this monitor cancelled ``task``, rather than the client or the server's shutdown."""
        return task in self._ended

    async def _run(self) -> None:
        interval = self._server.cfg.election_timeout / 1000
        no_leader = 0
        try:
            while self._streams and not self._server.stopping.is_set():
                await asyncio.sleep(interval)
                no_leader = no_leader + 1 if self._server.leader() == 0 else 0
                if no_leader >= MAX_NO_LEADER_CNT:
                    for t in self._streams:
                        self._ended.add(t)
                        t.cancel()
                    self._streams.clear()
        finally:
            self._task = None


@dataclass(frozen=True)
class _Oversize:
    """What the deserializer hands on instead of a request longer than the limit."""

    size: int


def _too_large(size: int, limit: int) -> RPCException:
    # grpc-go's text (etcd's server is grpc-go); grpc core's own check words it differently.
    return RPCException(
        RPCError(
            StatusCode.RESOURCE_EXHAUSTED, f"grpc: received message larger than max ({size} vs. {limit})"
        )
    )


def _limited(deserializer: Callable[[bytes], Any] | None, limit: int) -> Callable[[bytes], Any]:
    """The request deserializer, counting bytes received (etcd's codec) and marking oversize messages."""
    count = metrics.received_bytes.inc

    def deserialize(data: bytes) -> Any:
        count(len(data))
        if len(data) > limit:
            return _Oversize(len(data))
        return data if deserializer is None else deserializer(data)

    return deserialize


def _counting(serializer: Callable[[Any], bytes] | None) -> Callable[[Any], bytes]:
    """The response serializer, counting bytes sent (etcd's codec)."""
    count = metrics.sent_bytes.inc

    def serialize(message: Any) -> bytes:
        data: bytes = message if serializer is None else serializer(message)
        count(len(data))
        return data

    return serialize


def _checked(request: Any, limit: int) -> Any:
    if isinstance(request, _Oversize):
        raise _too_large(request.size, limit)
    return request


async def _counted(requests: AsyncIterator[Any], inc: Callable[[], None], limit: int) -> AsyncIterator[Any]:
    async for req in requests:
        inc()
        yield _checked(req, limit)


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
    handler: grpc.RpcMethodHandler,
    service: str,
    method: str,
    server: V3Server,
    monitor: LeaderMonitor,
    max_recv_bytes: int,
) -> grpc.RpcMethodHandler:
    """``handler`` guarded, error-mapped and counted; see the module docstring. A request message longer
    than ``max_recv_bytes`` fails the call with grpc-go's RESOURCE_EXHAUSTED text, as etcd's does (the
    grpcio server's own, larger limit must let it through to here)."""
    limit = max_recv_bytes
    deserialize = _limited(handler.request_deserializer, limit)
    serialize = _counting(handler.response_serializer)
    client_requests = server_metrics.client_requests
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
            version, wants_leader = _read_metadata(context)
            client_requests.labels("unary", version).inc()
            if handler.request_streaming:
                request = _counted(request, received.inc, limit)
            else:
                received.inc()
            # The final code is counted before abort(): the client may see the status before abort returns.
            try:
                if not handler.request_streaming:
                    request = _checked(request, limit)
                _require_leader(leader, wants_leader)
                resp = await behavior(request, context)
            except asyncio.CancelledError:
                handled.inc(StatusCode.CANCELLED)
                raise
            except grpc.aio.AbortError:
                handled.inc(_abort_code(context))
                raise
            except Exception as exc:
                err = to_grpc_error(exc)
                handled.inc(err.code)
                await context.abort(err.code, err.message)
                raise  # not reached: abort raises
            sent.inc()
            handled.inc(StatusCode.OK)
            return resp

        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(unary_out, deserialize, serialize)
        return grpc.unary_unary_rpc_method_handler(unary_out, deserialize, serialize)

    stream_behavior = handler.stream_stream if handler.request_streaming else handler.unary_stream

    async def stream_out(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
        started.inc()
        version, wants_leader = _read_metadata(context)
        client_requests.labels("stream", version).inc()
        if handler.request_streaming:
            request = _counted(request, received.inc, limit)
        else:
            received.inc()
        task: asyncio.Task[Any] | None = None
        try:
            if not handler.request_streaming:
                request = _checked(request, limit)
            if _require_leader(leader, wants_leader):
                task = asyncio.current_task()
                if task is not None:
                    monitor.register(task)
            # aclosing: a cancelled call must run the servicer's cleanup now, not at garbage collection.
            async with contextlib.aclosing(stream_behavior(request, context)) as responses:
                async for resp in responses:
                    sent.inc()
                    yield resp
        except asyncio.CancelledError:
            if task is not None and monitor.ended_for_no_leader(task):
                task.uncancel()
                handled.inc(rpctypes.ErrGRPCNoLeader.code)
                await context.abort(rpctypes.ErrGRPCNoLeader.code, rpctypes.ErrGRPCNoLeader.message)
            handled.inc(StatusCode.CANCELLED)
            raise
        except GeneratorExit:  # closed by grpc while a reply was in flight: nothing more may be awaited
            handled.inc(StatusCode.CANCELLED)
            raise
        except grpc.aio.AbortError:
            handled.inc(_abort_code(context))
            raise
        except Exception as exc:
            err = to_grpc_error(exc)
            handled.inc(err.code)
            await context.abort(err.code, err.message)
        else:
            handled.inc(StatusCode.OK)
        finally:
            if task is not None:
                monitor.unregister(task)

    if handler.request_streaming:
        return grpc.stream_stream_rpc_method_handler(stream_out, deserialize, serialize)
    return grpc.unary_stream_rpc_method_handler(stream_out, deserialize, serialize)
