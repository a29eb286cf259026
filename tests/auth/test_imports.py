"""etcd.auth is a storage package: importing every module of it pulls in no event loop, gRPC or HTTP
framework, and nothing from the layers above (the rule tests/test_layering.py checks for the others)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]

CHECK = """
import importlib, pkgutil, sys
import etcd.auth as package
loaded = []
for info in pkgutil.walk_packages(package.__path__, "etcd.auth."):
    if info.name.endswith("_pb2_grpc"):
        continue
    importlib.import_module(info.name)
    loaded.append(info.name)
runtime = ("asyncio", "uvloop", "grpc", "aiohttp")
upper = ("etcd.server", "etcd.embed", "etcd.etcdmain", "etcd.api.v3rpc", "etcd.api.v2http")
bad = sorted(m for m in sys.modules if m.split(".")[0] in runtime or m.startswith(upper))
print(len(loaded), ",".join(bad) or "-")
"""


def test_auth_imports_no_event_loop_and_nothing_above_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=REPO, capture_output=True, text=True, check=True, timeout=60
    )
    count, bad = done.stdout.split()
    assert int(count) >= 6
    assert bad == "-"
