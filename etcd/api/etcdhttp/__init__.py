"""The member's HTTP surface outside the v2 and v3 APIs (etcd 3.4's ``etcdserver/api/etcdhttp`` and the
HTTP half of ``embed/serve.go``): ``/health``, ``/version``, ``/metrics``, the access controller (CORS,
``--host-whitelist``, ``/v3beta``), Go's multiplexer behaviour, and the applications that put the client
and metrics ports together (``etcd.api.etcdhttp.app``).
"""
