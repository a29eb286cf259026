"""``python -m mux``: the mux as a standalone single-port gateway.

    python -m mux --config gateway.yaml            # routes from a YAML file (see mux.gateway.config)
    python -m mux --config gateway.yaml --check    # only check the file: exit 0, or 2 naming the key
    python -m mux --listen 0.0.0.0:8443 --grpc unix:/run/grpc.sock --http 127.0.0.1:8080 \\
        --tls-cert site.pem --tls-key site.key --fallback 127.0.0.1:22 --admin 127.0.0.1:9100

With flags, the routes are: gRPC, HTTP/1.1, h2c (told to retry over HTTP/1.1), TLS (terminated, then the
same gRPC and HTTP routes inside) and the fallback. SIGHUP reloads the file, SIGTERM drains. Events go to
stderr as JSON lines; the access log (one JSON line per connection) to stdout unless configured.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any

import uvloop

from mux.gateway.app import Gateway
from mux.gateway.config import ConfigError, GatewayConfig, load, parse

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def config_from_flags(args: argparse.Namespace) -> GatewayConfig:
    inner: list[dict[str, object]] = []
    if args.grpc:
        inner.append({"name": "grpc", "match": "grpc", "proxy": args.grpc})
    if args.http:
        inner.append({"name": "http", "match": "http1", "proxy": args.http})
        inner.append({"name": "h2c", "match": "h2c", "http1_required": True})
    routes: list[dict[str, object]] = list(inner)
    if args.tls_cert or args.tls_key:
        if not inner:
            raise ConfigError("--tls-cert", "TLS termination needs --grpc or --http for what is inside")
        tls_routes = [{**r, "name": f"tls-{r['name']}"} for r in inner]
        tls: dict[str, object] = {"cert": args.tls_cert, "key": args.tls_key, "routes": tls_routes}
        routes.append({"name": "tls", "match": "tls", "tls": tls})
    if not routes:
        raise ConfigError("routes", "give --config FILE, or at least one of --grpc, --http")
    data: dict[str, object] = {
        "listen": args.listen or ["127.0.0.1:8443"],
        "routes": routes,
        "access_log": args.access_log,
    }
    if args.admin:
        data["admin"] = args.admin
    if args.fallback:
        data["fallback"] = {"name": "fallback", "proxy": args.fallback}
    return parse(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mux",
        description="One port for gRPC, HTTP/1.1, h2c and TLS, routed by first bytes to TCP or Unix "
        "upstreams",
    )
    parser.add_argument("--config", metavar="FILE", help="YAML configuration (reloaded on SIGHUP)")
    parser.add_argument("--check", action="store_true", help="check the configuration and exit")
    simple = parser.add_argument_group("without --config")
    simple.add_argument(
        "--listen", action="append", metavar="HOST:PORT", help="address to serve (repeatable)"
    )
    simple.add_argument("--admin", metavar="HOST:PORT", help="address for /metrics and /health")
    simple.add_argument("--grpc", metavar="UPSTREAM", help="where gRPC goes: unix:/path or host:port")
    simple.add_argument("--http", metavar="UPSTREAM", help="where HTTP/1.1 goes")
    simple.add_argument("--tls-cert", metavar="PEM", help="terminate TLS with this certificate ...")
    simple.add_argument("--tls-key", metavar="PEM", help="... and key; inside, gRPC and HTTP as above")
    simple.add_argument("--fallback", metavar="UPSTREAM", help="where everything else goes")
    simple.add_argument("--access-log", default="-", metavar="FILE", help="'-' (stdout), a file, or off")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    logging.getLogger("mux").setLevel(logging.WARNING if args.log_level == "info" else args.log_level.upper())
    logging.getLogger("mux.gateway").setLevel(args.log_level.upper())
    log = logging.getLogger("mux.gateway")

    try:
        config = load(args.config) if args.config else config_from_flags(args)
        if args.check:
            Gateway(config)._build(config)  # loads the certificates too
            print(f"{args.config or 'flags'}: ok ({len(config.routes)} routes)")
            return 0
    except ConfigError as e:
        print(f"mux: config error: {e}", file=sys.stderr)
        return 2
    gateway = Gateway(config, config_path=args.config)
    try:
        uvloop.run(gateway.run())
    except ConfigError as e:
        print(f"mux: config error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        log.error("cannot serve", extra={"error": str(e)})
        print(f"mux: cannot serve: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
