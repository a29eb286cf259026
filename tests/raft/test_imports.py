"""etcd/raft is pure: none of its modules imports I/O, clocks, threads or asyncio (STYLE §2.8)."""

from __future__ import annotations

import ast
import pathlib

import etcd.raft

FORBIDDEN = {
    "asyncio",
    "socket",
    "threading",
    "time",
    "os",
    "io",
    "pathlib",
    "shutil",
    "select",
    "selectors",
    "subprocess",
    "multiprocessing",
    "concurrent",
    "tempfile",
    "uvloop",
    "datetime",
}


def imported_modules(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_raft_imports_no_io() -> None:
    root = pathlib.Path(etcd.raft.__file__).parent
    files = [
        p
        for p in root.rglob("*.py")
        if not p.name.endswith("_pb2.py") and not p.name.endswith("_pb2_grpc.py")
    ]
    assert len(files) > 10
    bad = {str(p.relative_to(root)): sorted(imported_modules(p) & FORBIDDEN) for p in files}
    assert {k: v for k, v in bad.items() if v} == {}


def test_raft_source_never_opens_files() -> None:
    root = pathlib.Path(etcd.raft.__file__).parent
    for p in root.rglob("*.py"):
        if "_pb2" in p.name:
            continue
        tree = ast.parse(p.read_text())
        calls = [
            n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        ]
        assert "open" not in calls, p
