"""The ``/v2/keys`` handler: HTTP around ``keys_request.parse``, ``EtcdServer.v2_do`` and
``keys_response.render`` (etcd 3.4's ``keysHandler.ServeHTTP`` and ``handleKeyWatch``).

A request passes etcd's steps in order: the method (405 with ``Allow`` otherwise), the form (body for
POST/PUT with an urlencoded Content-Type, then the query), ``parse``, then the server. An event is
written with its status and headers (``X-Raft-Index``/``X-Raft-Term`` are the server's commit index
and term after the request, as etcd's ``Do`` fills them); a HEAD answer has the same headers and no
body. A watch (``wait=true``) answers 200 with its headers at once and then writes the event (or, with
``stream=true``, each event, chunked, until the client leaves or the store drops the watcher); the
watcher is removed whenever the answer ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Final

from aiohttp import web

from etcd.api import v2error
from etcd.api.etcdhttp.gohttp import Handler
from etcd.api.v2http import metrics
from etcd.api.v2http.keys_request import ALLOWED_METHODS, ParsedKeyRequest, parse, parse_query
from etcd.api.v2http.keys_response import (
    Rendered,
    render,
    render_method_not_allowed,
    render_watch_event,
    render_watch_start,
)
from etcd.server.errors import ErrTimeout
from etcd.v2store.event import Event
from etcd.v2store.watcher import Watcher

if TYPE_CHECKING:
    from etcd.server.etcdserver import EtcdServer

FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
# How often a watch waiting for its next event looks whether the client has gone.
DISCONNECT_POLL: Final = 0.5


def to_response(r: Rendered) -> web.Response:
    """A rendered answer as an aiohttp response (aiohttp leaves the body out for HEAD)."""
    return web.Response(status=r.status, headers=r.headers, body=r.body)


class _ClientGone(Exception):
    """The HTTP client closed its connection while its watch waited."""


class _WatchWaiter:
    """Wakes the handler when the store queues an event for the watcher (or drops it)."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()

    def notify(self) -> None:
        """The watcher's ``notify``: may run in the store's apply thread, so it only schedules."""
        self._loop.call_soon_threadsafe(self._wakeup.set)

    async def next_event(self, request: web.Request, watcher: Watcher) -> Event | None:
        """The watcher's next event; None once it is removed and drained. Raises ``_ClientGone``."""
        while True:
            self._wakeup.clear()
            ev = watcher.next_event()
            if ev is not None:
                return ev
            if watcher.removed:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), DISCONNECT_POLL)
            transport = request.transport
            if transport is None or transport.is_closing():
                raise _ClientGone()


async def read_form(request: web.Request) -> dict[str, list[str]]:
    """Go's ``ParseForm`` body half: an urlencoded body of POST, PUT or PATCH, else nothing."""
    if request.method not in ("POST", "PUT", "PATCH") or request.content_type != FORM_CONTENT_TYPE:
        return {}
    raw = await request.read()
    return parse_query(raw.decode("utf-8", errors="replace"))


def make_keys_handler(server: EtcdServer) -> Handler:
    """The handler for ``/v2/keys`` and ``/v2/keys/...`` on ``server``."""

    def rendered(result: Event | BaseException, no_value_on_success: bool = False) -> web.Response:
        return to_response(
            render(
                result,
                raft_index=server.commit_index(),
                raft_term=server.term(),
                cluster_id=server.cluster_id,
                no_value_on_success=no_value_on_success,
            )
        )

    async def handle_keys(request: web.Request, path: str) -> web.StreamResponse:
        if request.method not in ALLOWED_METHODS:
            return to_response(render_method_not_allowed())
        start = time.monotonic()
        try:
            form = await read_form(request)
            query = parse_query(request.rel_url.raw_query_string)
            parsed = parse(request.method, path, query, form, time.time_ns())
        except v2error.Error as e:
            return rendered(e)
        rr = parsed.request
        if not rr.Wait:
            metrics.report_received(rr)
        waiter = _WatchWaiter() if rr.Wait else None
        try:
            result = await server.v2_do(rr, notify=waiter.notify if waiter is not None else None)
        except TimeoutError:
            # etcd's parseProposeCtxErr: a proposal that found no leader in time is ErrTimeout.
            metrics.report_failed(rr, ErrTimeout())
            return rendered(ErrTimeout())
        except Exception as e:
            metrics.report_failed(rr, e)
            return rendered(e)
        if isinstance(result, Watcher):
            assert waiter is not None
            return await _serve_watch(request, server, result, waiter, parsed)
        metrics.report_completed(rr, time.monotonic() - start)
        return rendered(result, parsed.no_value_on_success)

    return handle_keys


async def _serve_watch(
    request: web.Request, server: EtcdServer, watcher: Watcher, waiter: _WatchWaiter, parsed: ParsedKeyRequest
) -> web.StreamResponse:
    head = render_watch_start(
        watcher.start_index,
        raft_index=server.commit_index(),
        raft_term=server.term(),
        cluster_id=server.cluster_id,
    )
    response = web.StreamResponse(status=head.status, headers=head.headers)
    response.enable_chunked_encoding()
    try:
        await response.prepare(request)
        while True:
            ev = await waiter.next_event(request, watcher)
            if ev is None:
                break
            await response.write(render_watch_event(ev))
            if not parsed.request.Stream:
                break
    except (_ClientGone, ConnectionResetError):
        return response
    finally:
        watcher.remove()
    await response.write_eof()
    return response
