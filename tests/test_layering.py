"""The import direction the design promises (DESIGN.md, STYLE.md §2.8), checked in fresh interpreters.

Storage and consensus packages are blocking or pure: importing every one of their modules pulls in no
asyncio, event loop, gRPC or HTTP framework, and nothing from the layers above them. mux knows nothing of
etcd. (etcd/raft's stricter no-I/O rule is tests/raft/test_imports.py; the mux matchers' is in
tests/mux/test_matchers.py.)
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
RUNTIME = ("asyncio", "uvloop", "grpc", "aiohttp")
UPPER_LAYERS = (
    "etcd.server",
    "etcd.embed",
    "etcd.etcdmain",
    "etcd.api.v3rpc",
    "etcd.api.v2http",
    "etcd.rafthttp",
)
LOWER_PACKAGES = [
    "etcd.raft",
    "etcd.wal",
    "etcd.snap",
    "etcd.backend",
    "etcd.mvcc",
    "etcd.lease",
    "etcd.v2store",
    "etcd.auth",
]

CHECK = f"""
import importlib, pkgutil, sys
package = importlib.import_module(sys.argv[1])
loaded = [package.__name__]
for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    if info.name.endswith("_pb2_grpc"):  # generated gRPC stubs, never used by these packages
        continue
    importlib.import_module(info.name)
    loaded.append(info.name)
runtime = sorted(m for m in sys.modules if m.split(".")[0] in {RUNTIME!r})
upper = sorted(m for m in sys.modules if m.startswith({UPPER_LAYERS!r}))
print(len(loaded), ",".join(runtime) or "-", ",".join(upper) or "-")
"""


@pytest.mark.parametrize("package", LOWER_PACKAGES)
def test_lower_package_imports_no_event_loop_and_nothing_above_it(package: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK, package],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    count, runtime, upper = done.stdout.split()
    assert int(count) >= 2, f"{package}: only {count} modules found"
    assert (runtime, upper) == ("-", "-"), f"{package} pulled in {runtime} / {upper}"


def test_mux_imports_nothing_from_etcd() -> None:
    offenders = []
    for path in (REPO / "mux").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n == "etcd" or n.startswith("etcd.")]
    assert offenders == []
