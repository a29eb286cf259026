"""mux: gRPC, HTTP/1.1, TLS and more on one port, told apart by the first bytes of each connection.

The Python analogue of Go's cmux, with safe defaults: matchers are sans-IO and probed side by side, the
match deadline and the sniff cap are on by default, SETTINGS-first HTTP/2 clients are answered (and their
ACK kept from the backend), TLS is terminated in the mux without losing the ClientHello, and every route
keeps counters. A short tour::

    mux = Mux()
    mux.route("grpc", grpc(), target=proxy_to("unix:/run/app/grpc.sock"))
    mux.route("http", http1(), target=serve_protocol(aiohttp_server))
    mux.route("h2c", http2(), target=http1_required())
    await mux.start("0.0.0.0", 8080)
"""

from mux.errors import MuxError
from mux.info import ConnectionInfo
from mux.matchers import (
    Verdict,
    any_,
    custom,
    grpc,
    http1,
    http1_header,
    http2,
    http2_header,
    prefix,
    proxy_protocol,
    tls,
)
from mux.mux import Mux, Route, Router
from mux.proxy import proxy_to
from mux.targets import Listener, close, http1_required, serve_protocol
from mux.tls_server import server_context, terminate_tls

__all__ = [
    "ConnectionInfo",
    "Listener",
    "Mux",
    "MuxError",
    "Route",
    "Router",
    "Verdict",
    "any_",
    "close",
    "custom",
    "grpc",
    "http1",
    "http1_header",
    "http1_required",
    "http2",
    "http2_header",
    "prefix",
    "proxy_protocol",
    "proxy_to",
    "serve_protocol",
    "server_context",
    "terminate_tls",
    "tls",
]
