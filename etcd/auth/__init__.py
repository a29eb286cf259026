"""etcd's auth (``auth/``): users, roles and key permissions kept in the backend (``store.py``), each
user's merged permissions for fast checks (``range_perm_cache.py``), the ``simple`` and ``jwt`` token
providers (``tokens.py``), the checks the server makes of a request before applying it (``checks.py``)
and the errors with etcd's texts (``errors.py``).

This package imports nothing here: ``authpb`` is imported by the generated ``etcdserverpb`` modules,
which the store imports in turn.
"""
