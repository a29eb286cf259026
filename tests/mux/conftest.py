"""Real servers for the mux's runtime tests: a grpcio aio echo server on a Unix socket, an aiohttp app,
a development CA with server and client certificates, and a check that no test leaves tasks behind."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mux.info import ConnectionInfo

ECHO_SERVICE = "mux.test.Echo"


@pytest.fixture
async def no_leaked_tasks() -> AsyncIterator[None]:
    """Fails a test that leaves tasks running on its loop (cmux's leakCheck)."""
    before = asyncio.all_tasks()
    yield
    deadline = asyncio.get_running_loop().time() + 2.0
    while True:
        leaked = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()]
        if not leaked or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.01)
    assert not leaked, f"tasks left running: {leaked}"


@dataclass
class GrpcEcho:
    """A grpcio aio server whose Echo returns the request and whose Who returns the caller's route."""

    address: str  # unix:/path
    server: grpc.aio.Server
    seen_peers: list[str]
    lookup: list[object]


@pytest.fixture
async def grpc_echo(tmp_path: Path) -> AsyncIterator[GrpcEcho]:
    path = tmp_path / "grpc.sock"
    seen: list[str] = []
    echo = GrpcEcho(f"unix:{path}", grpc.aio.server(), seen, [])

    async def echo_call(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        seen.append(context.peer())
        return request

    async def who(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        registry = echo.lookup[0] if echo.lookup else None
        info = registry.lookup(context.peer()) if registry is not None else None  # type: ignore[attr-defined]
        if not isinstance(info, ConnectionInfo):
            return b"unknown"
        alpn = info.tls.alpn if info.tls else ""
        return f"{info.route}|{info.client[0]}:{info.client[1]}|{alpn}".encode()  # type: ignore[index]

    async def stream(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        for i in range(int(request or b"3")):
            yield str(i).encode()

    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(echo_call),
        "Who": grpc.unary_unary_rpc_method_handler(who),
        "Count": grpc.unary_stream_rpc_method_handler(stream),
    }
    echo.server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(ECHO_SERVICE, handlers)])
    echo.server.add_insecure_port(echo.address)
    await echo.server.start()
    yield echo
    await echo.server.stop(0)


def grpc_method(channel: grpc.aio.Channel, name: str) -> grpc.aio.UnaryUnaryMultiCallable:
    return channel.unary_unary(f"/{ECHO_SERVICE}/{name}")


@pytest.fixture
async def http_app() -> AsyncIterator[web.AppRunner]:
    """An aiohttp app: /health, /slow (answers after ?s= seconds), /who (the mux's view of the caller)."""

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"health": "true"})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("s", "0.5")))
        return web.Response(text="slow done")

    async def who(request: web.Request) -> web.Response:
        info = request.transport.get_extra_info("mux") if request.transport else None
        route = info.route if isinstance(info, ConnectionInfo) else "?"
        alpn = info.tls.alpn if isinstance(info, ConnectionInfo) and info.tls else ""
        return web.Response(text=f"{route}|{request.remote}|{alpn}")

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/slow", slow)
    app.router.add_get("/who", who)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    yield runner
    await runner.cleanup()


@dataclass(frozen=True)
class DevCerts:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None = None) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        key_path = path.with_suffix(".key")
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        os.chmod(key_path, 0o600)


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    usage: ExtendedKeyUsageOID | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        if usage is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="session")
def dev_certs(tmp_path_factory: pytest.TempPathFactory) -> DevCerts:
    """A CA, a server certificate for 127.0.0.1/localhost, a client certificate, and an unrelated CA."""
    d = tmp_path_factory.mktemp("certs")
    ca_key = _key()
    ca = _cert("mux test CA", ca_key, None, ca_key, ca=True)
    server_key = _key()
    server = _cert("127.0.0.1", server_key, ca, ca_key, usage=ExtendedKeyUsageOID.SERVER_AUTH)
    client_key = _key()
    client = _cert("test-client", client_key, ca, ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    other_key = _key()
    other = _cert("another CA", other_key, None, other_key, ca=True)
    _write(d / "ca.pem", ca)
    _write(d / "server.pem", server, server_key)
    _write(d / "client.pem", client, client_key)
    _write(d / "other-ca.pem", other)
    return DevCerts(
        d / "ca.pem",
        d / "server.pem",
        d / "server.key",
        d / "client.pem",
        d / "client.key",
        d / "other-ca.pem",
    )
