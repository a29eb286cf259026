"""etcdctl 3.4 (grpc-go, a SETTINGS-first client) reaching a grpcio service through the mux."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

import mux
from etcd.api.etcdserverpb import rpc_pb2
from etcd.mvcc.mvccpb import kv_pb2

ETCDCTL = shutil.which("etcdctl")
pytestmark = pytest.mark.skipif(
    ETCDCTL is None, reason="etcdctl is not installed (apt-get install etcd-client)"
)


@pytest.fixture
async def fake_kv(tmp_path: Path) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A grpcio server whose KV.Range answers every key with the value b"bar"; records the keys asked."""
    asked: list[bytes] = []

    async def range_(
        request: rpc_pb2.RangeRequest, context: grpc.aio.ServicerContext
    ) -> rpc_pb2.RangeResponse:
        asked.append(request.key)
        kv = kv_pb2.KeyValue(key=request.key, value=b"bar", create_revision=2, mod_revision=2, version=1)
        return rpc_pb2.RangeResponse(header=rpc_pb2.ResponseHeader(revision=2), kvs=[kv], count=1)

    handler = grpc.method_handlers_generic_handler(
        "etcdserverpb.KV",
        {
            "Range": grpc.unary_unary_rpc_method_handler(
                range_,
                request_deserializer=rpc_pb2.RangeRequest.FromString,
                response_serializer=rpc_pb2.RangeResponse.SerializeToString,
            )
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers([handler])
    address = f"unix:{tmp_path}/kv.sock"
    server.add_insecure_port(address)
    await server.start()
    yield address, asked
    await server.stop(0)


async def test_etcdctl_get_through_the_mux(fake_kv: tuple[str, list[bytes]]) -> None:
    address, asked = fake_kv
    m = mux.Mux(match_timeout=5.0)
    route = m.route("grpc", mux.grpc(), target=mux.proxy_to(address))
    m.route("http", mux.http1(), target=mux.close())
    port = (await m.start()).sockets[0].getsockname()[1]
    try:
        assert ETCDCTL is not None
        # From a worker thread: the loop's own spawning runs Python's after-fork hooks in the child,
        # which can crash next to grpcio's threads.
        command = [
            ETCDCTL,
            f"--endpoints=127.0.0.1:{port}",
            "--dial-timeout=5s",
            "--command-timeout=5s",
            "get",
            "foo",
        ]
        env = {"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"}
        done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, timeout=20)
        out, err = done.stdout, done.stderr
        assert done.returncode == 0, err.decode()
        assert out.decode().splitlines() == ["foo", "bar"]
        assert asked == [b"foo"]
        assert route.stats.matched >= 1
    finally:
        await m.close(grace=1.0)
