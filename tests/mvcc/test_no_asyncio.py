"""Storage packages import no asyncio (STYLE 2.8): checked in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import importlib, pkgutil, sys
import etcd.backend, etcd.mvcc
names = []
for pkg in (etcd.backend, etcd.mvcc):
    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        if m.name.endswith("_pb2_grpc"):  # generated gRPC stubs (none are used) import grpc.aio
            continue
        importlib.import_module(m.name)
        names.append(m.name)
print(len(names), "asyncio" in sys.modules)
"""


def test_backend_and_mvcc_import_no_asyncio():
    cmd = [sys.executable, "-c", CHECK]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60)
    count, has_asyncio = out.stdout.split()
    assert int(count) >= 20
    assert has_asyncio == "False"
