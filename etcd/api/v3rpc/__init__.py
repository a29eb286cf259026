"""The v3 gRPC API (etcd's ``etcdserver/api/v3rpc``): its errors (``rpctypes``), their mapping from the
inner packages' exceptions (``errors``), the servicers, and ``make_grpc_server`` which assembles them."""

from etcd.api.v3rpc.grpc_server import make_grpc_server

__all__ = ["make_grpc_server"]
