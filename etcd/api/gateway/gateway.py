"""The /v3 JSON gateway: one aiohttp handler that turns each route of ``ROUTES`` into a gRPC call.

etcd 3.4 serves ``/v3/*`` with grpc-gateway, which dials etcd's own gRPC listener; :class:`Gateway`
does the same over a ``grpc.aio`` channel it is given, so every request meets the same servicers,
interceptors and error mapping as a gRPC client does. What clients see is grpc-gateway's, as etcd
3.4.23 answers (pinned by tests/api/test_gateway_vs_etcd.py against the real etcd):

- ``/v3beta/...`` is ``/v3/...``; an unknown path is 404 ``Not Found``; a known path with a method
  other than POST is 405 ``Method Not Allowed`` (both plain text); OPTIONS is 200 with no body.
- The body is the request message in JSON (:mod:`etcd.api.gateway.jsonpb`); an ``Authorization``
  header travels as the ``token`` metadata etcd's auth reads.
- A unary answer is the response message's JSON; a failed call is
  ``{"error": msg, "message": msg, "code": grpc_code}`` with the HTTP status of :data:`HTTP_STATUS`;
  an unreadable body is InvalidArgument (400).
- A streaming answer (watch, lease keepalive, snapshot, election observe) starts with the first
  response message and writes each as a line ``{"result": ...}``; a failed stream ends with
  ``{"error": {"grpc_code", "http_code", "message", "http_status"}}``. A streaming request's body is a
  sequence of JSON messages: an unreadable first one fails the request as Unknown (500), a later
  one just ends the sending side, as grpc-gateway does. The call is cancelled when the client leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import grpc
from aiohttp import web
from google.protobuf.message import Message

from etcd.api.gateway import jsonpb
from etcd.api.gateway_routes import ROUTES, Route

# grpc-gateway's HTTPStatusFromCode.
HTTP_STATUS: Mapping[grpc.StatusCode, int] = MappingProxyType(
    {
        grpc.StatusCode.OK: 200,
        grpc.StatusCode.CANCELLED: 408,
        grpc.StatusCode.UNKNOWN: 500,
        grpc.StatusCode.INVALID_ARGUMENT: 400,
        grpc.StatusCode.DEADLINE_EXCEEDED: 504,
        grpc.StatusCode.NOT_FOUND: 404,
        grpc.StatusCode.ALREADY_EXISTS: 409,
        grpc.StatusCode.PERMISSION_DENIED: 403,
        grpc.StatusCode.UNAUTHENTICATED: 401,
        grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
        grpc.StatusCode.FAILED_PRECONDITION: 412,
        grpc.StatusCode.ABORTED: 409,
        grpc.StatusCode.OUT_OF_RANGE: 400,
        grpc.StatusCode.UNIMPLEMENTED: 501,
        grpc.StatusCode.INTERNAL: 500,
        grpc.StatusCode.UNAVAILABLE: 503,
        grpc.StatusCode.DATA_LOSS: 500,
    }
)

V3_PREFIX = "/v3/"
V3BETA_PREFIX = "/v3beta/"
JSON = "application/json"
# How often a stream waiting for its next message looks whether the HTTP client has gone.
DISCONNECT_POLL = 1.0


def _code_number(code: grpc.StatusCode) -> int:
    number: int = code.value[0]
    return number


def _http_status(code: grpc.StatusCode) -> int:
    return HTTP_STATUS.get(code, 500)


# grpc-gateway names the gRPC response's content type in a header on every answer from a call.
_FROM_GRPC = {"Grpc-Metadata-Content-Type": "application/grpc"}


def _plain(status: int) -> web.Response:
    """Go's ``http.Error`` with the status's own text (and its nosniff header)."""
    return web.Response(
        status=status,
        text=http.HTTPStatus(status).phrase + "\n",
        content_type="text/plain",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def error_response(code: grpc.StatusCode, message: str) -> web.Response:
    """A failed unary call as grpc-gateway answers it."""
    body = {"error": message, "message": message, "code": _code_number(code)}
    return web.Response(status=_http_status(code), body=jsonpb.dumps(body), content_type=JSON)


def stream_error_chunk(code: grpc.StatusCode, message: str) -> bytes:
    """A failed stream's last chunk as grpc-gateway writes it."""
    http_code = _http_status(code)
    error: dict[str, Any] = {
        "grpc_code": _code_number(code),
        "http_code": http_code,
        "message": message,
        "http_status": http.HTTPStatus(http_code).phrase,
    }
    if not error["grpc_code"]:
        del error["grpc_code"]
    if not message:
        del error["message"]
    return jsonpb.dumps({"error": error})


class _ClientGone(Exception):
    """The HTTP client closed its connection while a stream waited for a message."""


class Gateway:
    """Serves ``routes`` by calling their gRPC methods over ``channel``."""

    def __init__(self, channel: grpc.aio.Channel, routes: Mapping[str, Route] = ROUTES) -> None:
        self._channel = channel
        self._routes = routes

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path.startswith(V3BETA_PREFIX):
            path = V3_PREFIX + path.removeprefix(V3BETA_PREFIX)
        if request.method == "OPTIONS":
            return web.Response(status=200)
        route = self._routes.get(path)
        if route is None:
            return _plain(404)
        if request.method != "POST":
            return _plain(405)
        body = jsonpb.BodyReader(await request.read())
        metadata: tuple[tuple[str, str], ...] = ()
        token = request.headers.get("Authorization")
        if token is not None:
            metadata = (("token", token),)
        if route.client_streaming:
            return await self._bidi(request, route, body, metadata)
        try:
            message = body.next_message(route.request_type)
        except jsonpb.DecodeError as e:
            return error_response(grpc.StatusCode.INVALID_ARGUMENT, str(e))
        if route.server_streaming:
            call = self._channel.unary_stream(
                route.grpc_path,
                request_serializer=route.request_type.SerializeToString,
                response_deserializer=route.response_type.FromString,
            )(message, metadata=metadata)
            return await self._stream_out(request, call)
        unary = self._channel.unary_unary(
            route.grpc_path,
            request_serializer=route.request_type.SerializeToString,
            response_deserializer=route.response_type.FromString,
        )
        try:
            response = await unary(message, metadata=metadata)
        except grpc.aio.AioRpcError as e:
            return error_response(e.code(), e.details() or "")
        body_out = jsonpb.dumps(jsonpb.to_json(response))
        return web.Response(body=body_out, content_type=JSON, headers=_FROM_GRPC)

    async def _bidi(
        self,
        request: web.Request,
        route: Route,
        body: jsonpb.BodyReader,
        metadata: tuple[tuple[str, str], ...],
    ) -> web.StreamResponse:
        try:
            first = None if body.at_end() else body.next_message(route.request_type)
        except jsonpb.DecodeError as e:
            return error_response(grpc.StatusCode.UNKNOWN, str(e))
        call = self._channel.stream_stream(
            route.grpc_path,
            request_serializer=route.request_type.SerializeToString,
            response_deserializer=route.response_type.FromString,
        )(metadata=metadata)

        async def send() -> None:
            message = first
            while message is not None:
                await call.write(message)
                try:
                    message = None if body.at_end() else body.next_message(route.request_type)
                except jsonpb.DecodeError:
                    message = None  # grpc-gateway stops sending at a bad later message
            await call.done_writing()

        sender = asyncio.create_task(send())
        try:
            return await self._stream_out(request, call)
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError, grpc.aio.UsageError):
                await sender

    async def _stream_out(self, request: web.Request, call: Any) -> web.StreamResponse:
        """Writes the call's responses as grpc-gateway's result lines until it ends."""
        response: web.StreamResponse | None = None

        async def start(status: int) -> web.StreamResponse:
            headers = {"Content-Type": JSON, **(_FROM_GRPC if status == 200 else {})}
            out = web.StreamResponse(status=status, headers=headers)
            out.enable_chunked_encoding()
            await out.prepare(request)
            return out

        try:
            while True:
                message = await self._next(request, call)
                if message is None:
                    break
                if response is None:
                    response = await start(200)
                await response.write(jsonpb.dumps({"result": jsonpb.to_json(message)}) + b"\n")
        except grpc.aio.AioRpcError as e:
            if response is None:
                response = await start(_http_status(e.code()))
            await response.write(stream_error_chunk(e.code(), e.details() or ""))
        except (_ClientGone, ConnectionResetError):
            call.cancel()
            return response or web.Response(status=499)
        finally:
            call.cancel()
        if response is None:
            response = await start(200)
        await response.write_eof()
        return response

    @staticmethod
    async def _next(request: web.Request, call: Any) -> Message | None:
        """The call's next response, None at its end; raises ``_ClientGone`` if the client left."""
        read = asyncio.ensure_future(call.read())
        try:
            while True:
                done, _ = await asyncio.wait({read}, timeout=DISCONNECT_POLL)
                if done:
                    message = read.result()
                    return None if message is grpc.aio.EOF else message
                transport = request.transport
                if transport is None or transport.is_closing():
                    raise _ClientGone()
        finally:
            if not read.done():
                read.cancel()
                with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
                    await read


def make_gateway_app(channel: grpc.aio.Channel) -> web.Application:
    """An application serving ``/v3/*`` and ``/v3beta/*``, to run alone or be added as a subapp."""
    gateway = Gateway(channel)
    app = web.Application()
    app.router.add_route("*", "/v3/{tail:.*}", gateway.handle)
    app.router.add_route("*", "/v3beta/{tail:.*}", gateway.handle)
    return app
