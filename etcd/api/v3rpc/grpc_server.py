"""The member's grpcio aio server with every v3 service (etcd's ``v3rpc/grpc.go`` ``Server``).

``make_grpc_server(server)`` registers KV, Watch, Lease, Cluster, Auth, Maintenance, ``v3lockpb.Lock``,
``v3electionpb.Election`` and ``grpc.health.v1.Health``, each method wrapped by
``interceptor.wrap_handler`` (leader check, error mapping, metrics), with etcd's server options. It
binds no port and does not start: the embedder adds ``add_insecure_port("unix:...")`` and starts it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import grpc

from etcd.api.etcdserverpb import rpc_pb2_grpc
from etcd.api.healthpb import health_pb2_grpc
from etcd.api.v3electionpb import v3election_pb2_grpc
from etcd.api.v3lockpb import v3lock_pb2_grpc
from etcd.api.v3rpc.auth import AuthServer
from etcd.api.v3rpc.election import ElectionServer
from etcd.api.v3rpc.health import HealthServer
from etcd.api.v3rpc.interceptor import LeaderMonitor, wrap_handler
from etcd.api.v3rpc.key import KVServer
from etcd.api.v3rpc.lease import LeaseServer
from etcd.api.v3rpc.lock import LockServer
from etcd.api.v3rpc.maintenance import MaintenanceServer
from etcd.api.v3rpc.member import ClusterServer
from etcd.api.v3rpc.server_api import V3Server
from etcd.api.v3rpc.watch import WatchServer

GRPC_OVERHEAD_BYTES = 512 * 1024  # etcd's grpcOverheadBytes, allowed on top of --max-request-bytes
# grpcio's own receive limit is this many times ours, so that a request somewhat over ours reaches the
# wrapper, which refuses it with grpc-go's words; beyond it grpc core refuses it with its own.
CORE_RECV_FACTOR = 4
MAX_SEND_BYTES = 2**31 - 1  # etcd's math.MaxInt32
_MAX_C_INT = 2**31 - 1  # grpc core's channel arguments are C ints


class _HandlerCollector:
    """Stands in for a server in the generated ``add_*Servicer_to_server``, keeping the method handlers."""

    def __init__(self) -> None:
        self.services: dict[str, dict[str, grpc.RpcMethodHandler]] = {}

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        pass  # the same handlers come again through add_registered_method_handlers

    def add_registered_method_handlers(
        self, service: str, handlers: dict[str, grpc.RpcMethodHandler]
    ) -> None:
        self.services[service] = handlers


def max_recv_bytes(server: V3Server) -> int:
    """etcd's MaxRecvMsgSize: ``--max-request-bytes`` plus the gRPC overhead allowance."""
    return server.cfg.max_request_bytes + GRPC_OVERHEAD_BYTES


def server_options(server: V3Server) -> list[tuple[str, int]]:
    """etcd's gRPC server options: message sizes, concurrent streams and keepalive (enforcement: a client
    may ping at most every ``--grpc-keepalive-min-time``, and only while it has calls open)."""
    cfg = server.cfg
    return [
        ("grpc.max_receive_message_length", min(max_recv_bytes(server) * CORE_RECV_FACTOR, _MAX_C_INT)),
        ("grpc.max_send_message_length", MAX_SEND_BYTES),
        ("grpc.max_concurrent_streams", min(cfg.max_concurrent_streams, _MAX_C_INT)),
        ("grpc.keepalive_time_ms", int(cfg.grpc_keepalive_interval * 1000)),
        ("grpc.keepalive_timeout_ms", int(cfg.grpc_keepalive_timeout * 1000)),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", int(cfg.grpc_keepalive_min_time * 1000)),
        ("grpc.keepalive_permit_without_calls", 0),
    ]


def _servicers(server: V3Server) -> list[tuple[Callable[[Any, Any], None], object]]:
    """Each service's generated registration function with our servicer for it."""
    return [
        (rpc_pb2_grpc.add_KVServicer_to_server, KVServer(server)),
        (rpc_pb2_grpc.add_WatchServicer_to_server, WatchServer(server)),
        (rpc_pb2_grpc.add_LeaseServicer_to_server, LeaseServer(server)),
        (rpc_pb2_grpc.add_ClusterServicer_to_server, ClusterServer(server)),
        (rpc_pb2_grpc.add_AuthServicer_to_server, AuthServer(server)),
        (rpc_pb2_grpc.add_MaintenanceServicer_to_server, MaintenanceServer(server)),
        (v3lock_pb2_grpc.add_LockServicer_to_server, LockServer(server)),
        (v3election_pb2_grpc.add_ElectionServicer_to_server, ElectionServer(server)),
        (health_pb2_grpc.add_HealthServicer_to_server, HealthServer()),
    ]


def make_grpc_server(server: V3Server) -> grpc.aio.Server:
    """A grpcio aio server serving every v3 service of ``server``; no port bound, not started."""
    collector = _HandlerCollector()
    for add, servicer in _servicers(server):
        add(servicer, collector)

    grpc_server = grpc.aio.server(options=server_options(server))
    monitor = LeaderMonitor(server)
    limit = max_recv_bytes(server)
    for service, handlers in collector.services.items():
        wrapped = {
            method: wrap_handler(h, service, method, server, monitor, limit) for method, h in handlers.items()
        }
        grpc_server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, wrapped),))
        grpc_server.add_registered_method_handlers(service, wrapped)
    return grpc_server
