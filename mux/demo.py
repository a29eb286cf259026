"""A small demo of the mux: one port serving a grpcio service and an aiohttp app side by side.

    python -m mux.demo --listen 127.0.0.1:2379           # serve
    curl http://127.0.0.1:2379/hello                     # HTTP/1.1 -> aiohttp
    curl --http2-prior-knowledge http://127.0.0.1:2379/hello   # h2c -> told to use HTTP/1.1, curl retries
    python -m mux.demo --call 127.0.0.1:2379 world       # gRPC -> grpcio, through the same port
    curl http://127.0.0.1:2379/metrics                   # the mux's per-route counters

The gRPC service is ``demo.Greeter/Hello`` with raw bytes in and out, so no .proto is needed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import time

import grpc
import uvloop
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest

from mux import Mux, http1, http1_required, http2, proxy_to, serve_protocol
from mux import grpc as grpc_matcher
from mux.info import ConnectionInfo
from mux.metrics import MuxCollector

log = logging.getLogger("mux.demo")
METHOD = "/demo.Greeter/Hello"


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        return json.dumps(entry)


async def serve(host: str, port: int) -> None:
    mux = Mux(match_timeout=10.0)
    socket_dir = tempfile.mkdtemp(prefix="mux-demo-")
    grpc_socket = os.path.join(socket_dir, "grpc.sock")

    async def hello(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        info = mux.registry.lookup(context.peer())
        who = f"{info.client[0]}:{info.client[1]}" if info and isinstance(info.client, tuple) else "?"
        return b"hello " + request + f" (gRPC via mux route, client {who})".encode()

    grpc_server = grpc.aio.server()
    grpc_server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "demo.Greeter", {"Hello": grpc.unary_unary_rpc_method_handler(hello)}
            )
        ]
    )
    grpc_server.add_insecure_port(f"unix:{grpc_socket}")
    await grpc_server.start()

    registry = CollectorRegistry()
    registry.register(MuxCollector(mux))

    async def http_hello(request: web.Request) -> web.Response:
        info = request.transport.get_extra_info("mux") if request.transport else None
        route = info.route if isinstance(info, ConnectionInfo) else "?"
        return web.Response(text=f"hello from aiohttp (mux route {route!r}, client {request.remote})\n")

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(registry), content_type="text/plain")

    app = web.Application()
    app.router.add_get("/hello", http_hello)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"health": "true"})

    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, handle_signals=False, access_log=log)
    await runner.setup()
    http_server = runner.server
    assert http_server is not None

    mux.route("grpc", grpc_matcher(), target=proxy_to(f"unix:{grpc_socket}"))
    mux.route("http", http1(), target=serve_protocol(http_server))
    mux.route("h2c", http2(), target=http1_required())
    await mux.start(host, port)
    host, port = mux.addresses()[0]  # the real port when asked for port 0
    log.info("serving gRPC and HTTP on %s:%d; try: curl http://%s:%d/hello", host, port, host, port)
    log.info("gRPC: python -m mux.demo --call %s:%d world", host, port)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down: draining connections for up to 5 s")
    await asyncio.gather(mux.close(grace=5.0), http_server.shutdown(5.0), grpc_server.stop(5.0))
    await runner.cleanup()
    with contextlib.suppress(OSError):
        os.unlink(grpc_socket)
        os.rmdir(socket_dir)


async def call(target: str, name: str) -> int:
    async with grpc.aio.insecure_channel(target) as channel:
        try:
            reply = await channel.unary_unary(METHOD)(name.encode(), timeout=5)
        except grpc.aio.AioRpcError as e:
            print(f"gRPC call failed: {e.code().name}: {e.details()}", file=sys.stderr)
            return 1
    print(reply.decode())
    return 0


def parse_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected host:port, e.g. 127.0.0.1:2379")
    return host.strip("[]") or "127.0.0.1", int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mux.demo",
        description="Serve a gRPC service and an HTTP app on one port through the mux, or call it.",
    )
    parser.add_argument(
        "--listen", type=parse_address, default=("127.0.0.1", 2379), help="host:port to serve on"
    )
    parser.add_argument(
        "--call", metavar="HOST:PORT", help="instead of serving, make one gRPC call to a demo server"
    )
    parser.add_argument("name", nargs="?", default="world", help="what --call sends")
    parser.add_argument("--log-format", choices=["json", "text"], default="json")
    args = parser.parse_args(argv)
    handler = logging.StreamHandler()
    if args.log_format == "json":
        handler.setFormatter(JSONFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    if args.call:
        return uvloop.run(call(args.call, args.name))
    host, port = args.listen
    try:
        uvloop.run(serve(host, port))
    except OSError as e:
        print(
            f"cannot serve on {host}:{port}: {e.strerror}; is something else listening there? "
            "Pick another with --listen HOST:PORT",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
