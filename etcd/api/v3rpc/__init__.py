"""The v3 gRPC API (etcd's ``etcdserver/api/v3rpc``): its errors (``rpctypes``) and their mapping from
the inner packages' exceptions (``errors``)."""
