"""One in-process member per test, its v3 gRPC server on a free 127.0.0.1 port, and a channel to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from etcd.api.v3rpc import make_grpc_server
from etcd.server.etcdserver import EtcdServer
from tests.server.member import running_member


@dataclass
class Served:
    srv: EtcdServer
    port: int
    channel: grpc.aio.Channel

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"


def stub(cls: Any, channel: grpc.aio.Channel) -> Any:
    """A generated stub (``rpc_pb2_grpc.KVStub``...) on ``channel``; the generated classes are untyped."""
    return cls(channel)


@pytest.fixture
def member_overrides() -> dict[str, Any]:
    """Config fields for the member; a test module overrides this fixture to change them."""
    return {}


@pytest.fixture
async def served(tmp_path: Path, member_overrides: dict[str, Any]) -> AsyncIterator[Served]:
    async with running_member(tmp_path / "m1", **member_overrides) as srv:
        server = make_grpc_server(srv)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        try:
            yield Served(srv, port, channel)
        finally:
            await channel.close()
            await server.stop(None)
