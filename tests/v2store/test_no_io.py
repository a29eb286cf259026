"""The v2 store stays sans-IO: importing it pulls in no asyncio, gRPC, aiohttp or etcd packages above it
(prometheus_client, for the metrics, brings the socket module along; it opens nothing)."""

from __future__ import annotations

import subprocess
import sys


def test_v2store_imports_no_asyncio_or_upper_layers() -> None:
    code = (
        "import sys, etcd.v2store\n"
        "bad = sorted(m for m in sys.modules if m in ('asyncio', 'grpc', 'aiohttp')\n"
        "             or m.startswith(('etcd.server', 'etcd.api.v3rpc', 'etcd.api.v2http', 'etcd.raft')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == ""
