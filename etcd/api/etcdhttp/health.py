"""``/health`` (etcd 3.4.23's ``etcdhttp/metrics.go`` health handler).

Healthy means, checked in this order: no active alarm (as this member has applied them, read
locally as etcd's ``Alarms()``) except those named by ``?exclude=`` (e.g.
``exclude=NOSPACE``), a known leader, and a quorum read (a v2 ``QGET`` through raft, as etcd does)
that answers within one second. The answer is ``{"health":"true"}`` (200, which Go labels
``text/plain``) or ``{"health":"false"}`` (503, through ``http.Error``). Each check counts in
``etcd_server_health_success`` or ``etcd_server_health_failures``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Final

from aiohttp import web

from etcd.api.etcdhttp.gohttp import TEXT_PLAIN, Handler, http_error, method_not_allowed
from etcd.api.etcdhttp.metrics import health_failures, health_success
from etcd.api.etcdserverpb import etcdserver_pb2, rpc_pb2

if TYPE_CHECKING:
    from etcd.server.etcdserver import EtcdServer

log = logging.getLogger(__name__)

QGET_TIMEOUT: Final = 1.0  # seconds, etcd's context.WithTimeout(..., time.Second)
HEALTHY: Final = b'{"health":"true"}'
UNHEALTHY: Final = '{"health":"false"}'


async def check_health(server: EtcdServer, excluded_alarms: Collection[str]) -> bool:
    """etcd's ``checkHealth``: alarms (minus ``excluded_alarms``, by name), leader, quorum read."""
    healthy = await _check(server, excluded_alarms)
    (health_success if healthy else health_failures).inc()
    return healthy


async def _check(server: EtcdServer, excluded_alarms: Collection[str]) -> bool:
    for alarm in server.alarms():
        name = rpc_pb2.AlarmType.Name(alarm.alarm)
        if name in excluded_alarms:
            continue
        log.warning("/health error due to memberID:%d alarm:%s", alarm.memberID, name)
        return False
    if server.leader() == 0:
        log.warning("/health error; no leader (status code 503)")
        return False
    try:
        await asyncio.wait_for(server.v2_do(etcdserver_pb2.Request(Method="QGET")), QGET_TIMEOUT)
    except Exception as e:  # any failure of the quorum read makes the member unhealthy
        log.warning("/health error; QGET failed %s (status code 503)", e or type(e).__name__)
        return False
    return True


def make_health_handler(server: EtcdServer) -> Handler:
    """The ``/health`` handler for ``server`` (GET only; 405 with ``Allow: GET`` otherwise)."""

    async def handle_health(request: web.Request, _path: str) -> web.StreamResponse:
        if request.method != "GET":
            return method_not_allowed("GET")
        excluded = request.rel_url.query.getall("exclude", [])
        if await check_health(server, excluded):
            return web.Response(status=200, body=HEALTHY, headers={"Content-Type": TEXT_PLAIN})
        return http_error(503, UNHEALTHY)

    return handle_health
