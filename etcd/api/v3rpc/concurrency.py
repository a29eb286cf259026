"""What etcd's ``clientv3/concurrency`` does for its server-side Lock and Election services, done here
against the member directly: prefix ranges, a session lease, watching one key from the store, and
``wait_deletes`` (wait until every key under a prefix created before a revision is gone).

etcd's v3lock and v3election dial the member's own client port; these run the same requests through
``V3Server`` (linearizable ranges, proposed txns) and watch through an mvcc ``WatchStream``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from grpc import StatusCode

from etcd.api.etcdserverpb import rpc_pb2 as pb
from etcd.api.v3rpc.errors import to_grpc_error
from etcd.api.v3rpc.rpctypes import RPCError, RPCException
from etcd.api.v3rpc.server_api import V3Server
from etcd.mvcc.errors import ErrCompacted
from etcd.mvcc.mvccpb.kv_pb2 import Event
from etcd.mvcc.watcher import WatchResponse

P = ParamSpec("P")
R = TypeVar("R")


def as_client_error(exc: Exception) -> RPCException:
    """``exc`` as etcd's v3lock/v3election send it: they call the member through a clientv3 client, whose
    errors carry no gRPC status, so grpc-go sends every failure as UNKNOWN with its text (etcd 3.4.23:
    Lock with an unknown lease is UNKNOWN "etcdserver: requested lease not found")."""
    return RPCException(RPCError(StatusCode.UNKNOWN, to_grpc_error(exc).message))


def client_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Decorates a servicer method so that whatever it raises goes out as ``as_client_error`` says."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:
            raise as_client_error(exc) from exc

    return wrapper


DEFAULT_SESSION_TTL = 60  # seconds, concurrency's defaultSessionTTL: the lease made for a request without one


def prefix_end(prefix: bytes) -> bytes:
    """The range end that covers every key starting with ``prefix`` (clientv3's ``GetPrefixRangeEnd``)."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"  # every byte 0xff: all keys from prefix on


def lease_key(prefix: bytes, lease: int) -> bytes:
    """``<prefix><lease in lowercase hex>``, the key a session owns under a lock or election prefix."""
    return prefix + f"{lease:x}".encode()


async def session_lease(server: V3Server, lease: int) -> int:
    """``lease``, or a new ``DEFAULT_SESSION_TTL`` lease when 0, as ``concurrency.NewSession`` does."""
    if lease:
        return lease
    resp = await server.lease_grant(pb.LeaseGrantRequest(TTL=DEFAULT_SESSION_TTL))
    return int(resp.ID)


def first_create(prefix: bytes) -> pb.RangeRequest:
    """The oldest key under ``prefix`` (clientv3's ``WithFirstCreate``)."""
    return pb.RangeRequest(
        key=prefix,
        range_end=prefix_end(prefix),
        sort_order=pb.RangeRequest.ASCEND,
        sort_target=pb.RangeRequest.CREATE,
        limit=1,
    )


async def watch(
    server: V3Server, key: bytes, end: bytes | None, start_rev: int
) -> AsyncGenerator[WatchResponse, None]:
    """The store's responses for ``[key, end)`` (``end`` None: the key alone) from ``start_rev`` on, until
    the caller stops iterating. Raises ErrCompacted if ``start_rev`` is compacted."""
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()

    def on_ready() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed under a late push
            loop.call_soon_threadsafe(ready.set)

    ws = server.kv.new_watch_stream(on_ready=on_ready)
    try:
        ws.watch(key, end, start_rev)
        while True:
            await ready.wait()
            ready.clear()
            for resp in ws.poll():
                if resp.compact_revision:
                    raise ErrCompacted()
                yield resp
    finally:
        ws.close()


async def wait_delete(server: V3Server, key: bytes, rev: int) -> None:
    """Returns once ``key`` is deleted at or after revision ``rev``."""
    async with contextlib.aclosing(watch(server, key, None, rev)) as responses:
        async for resp in responses:
            if any(ev.type == Event.DELETE for ev in resp.events):
                return


async def wait_deletes(server: V3Server, prefix: bytes, max_create_rev: int) -> pb.ResponseHeader:
    """Waits until no key under ``prefix`` has a create revision <= ``max_create_rev``; returns the header
    of the range that found none (concurrency's ``waitDeletes``: always waits on the newest such key)."""
    req = pb.RangeRequest(
        key=prefix,
        range_end=prefix_end(prefix),
        sort_order=pb.RangeRequest.DESCEND,
        sort_target=pb.RangeRequest.CREATE,
        limit=1,
        max_create_revision=max_create_rev,
    )
    while True:
        resp = await server.range(req)
        if not resp.kvs:
            return resp.header
        await wait_delete(server, resp.kvs[0].key, resp.header.revision)
