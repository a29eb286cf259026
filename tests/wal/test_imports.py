"""The storage packages stay blocking and self-contained: importing them pulls in no asyncio (STYLE 2.8)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

MODULES = [
    "etcd.wal",
    "etcd.wal.wal",
    "etcd.wal.decoder",
    "etcd.wal.encoder",
    "etcd.wal.fileutil",
    "etcd.snap",
    "etcd.snap.snapshotter",
]


def test_wal_and_snap_import_no_asyncio() -> None:
    code = (
        "import importlib, sys\n"
        f"for m in {MODULES!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('asyncio', 'uvloop', 'grpc'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""
