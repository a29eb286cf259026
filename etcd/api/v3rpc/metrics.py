"""The gRPC server's Prometheus metrics: go-grpc-prometheus's, which etcd 3.4 registers on its gRPC server
(``v3rpc/grpc.go``: ``grpc_prometheus.Register``), and etcd's own of ``v3rpc/metrics.go`` (bytes in and
out, stream failures); ``etcd_server_client_requests_total`` lives with the server's metrics.

``grpc_type`` is ``unary``, ``client_stream``, ``server_stream`` or ``bidi_stream``; ``grpc_code`` is
Go's name of the status code (``OK``, ``Canceled``, ``InvalidArgument``...). Every registered method is
pre-registered at zero (``pre_register``), as go-grpc-prometheus's ``preRegisterMethod`` does, so a
scrape lists every method before its first call.
"""

from __future__ import annotations

from grpc import StatusCode
from prometheus_client import Counter

from etcd.api.v3rpc.rpctypes import go_code_name

_LABELS = ("grpc_type", "grpc_service", "grpc_method")

started_counter = Counter("grpc_server_started_total", "Total number of RPCs started on the server.", _LABELS)
handled_counter = Counter(
    "grpc_server_handled_total",
    "Total number of RPCs completed on the server, regardless of success or failure.",
    (*_LABELS, "grpc_code"),
)
msg_received_counter = Counter(
    "grpc_server_msg_received_total", "Total number of RPC stream messages received on the server.", _LABELS
)
msg_sent_counter = Counter(
    "grpc_server_msg_sent_total", "Total number of gRPC stream messages sent by the server.", _LABELS
)

UNARY = "unary"
CLIENT_STREAM = "client_stream"
SERVER_STREAM = "server_stream"
BIDI_STREAM = "bidi_stream"


def grpc_type(client_streaming: bool, server_streaming: bool) -> str:
    if client_streaming:
        return BIDI_STREAM if server_streaming else CLIENT_STREAM
    return SERVER_STREAM if server_streaming else UNARY


def pre_register(kind: str, service: str, method: str) -> None:
    """Creates every series of one method at zero."""
    started_counter.labels(kind, service, method)
    msg_received_counter.labels(kind, service, method)
    msg_sent_counter.labels(kind, service, method)
    for code in StatusCode:
        handled_counter.labels(kind, service, method, go_code_name(code))


sent_bytes = Counter(
    "etcd_network_client_grpc_sent_bytes_total", "The total number of bytes sent to grpc clients."
)
received_bytes = Counter(
    "etcd_network_client_grpc_received_bytes_total", "The total number of bytes received from grpc clients."
)
stream_failures = Counter(
    "etcd_network_server_stream_failures_total",
    "The total number of stream failures from the local server.",
    ["Type", "API"],
)
