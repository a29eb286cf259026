"""``python -m mux.loadtest``: load-test protocol routing through a single-port gateway.

    python -m mux.loadtest run --target 127.0.0.1:8443 --duration 10 \\
        --mix grpc_unary=4,grpc_stream=2,http_keepalive=4,http_new_conn=2,https=2,h2c=1 \\
        --expect grpc=grpc-a --expect http=rest-a --expect https=site --plot report.png --json report.json
    python -m mux.loadtest backends --grpc grpc-a=unix:/tmp/g.sock --http rest-a=127.0.0.1:8081

``run`` prints a progress line every second (to stderr) and then the report; the exit status is 0 when
every request was answered by its expected backend, 1 when some failed or were misrouted. ``backends``
serves identifying backends (``mux.loadtest.backends``) until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import ssl
import sys

import uvloop

from mux.loadtest import report
from mux.loadtest.backends import Backends
from mux.loadtest.clients import Endpoint
from mux.loadtest.run import parse_expect, parse_mix, run_load


def _target(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected host:port")
    return host.strip("[]") or "127.0.0.1", int(port)


def _named(text: str) -> tuple[str, str]:
    name, sep, address = text.partition("=")
    if not sep or not name or not address:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=ADDRESS")
    return name, address


async def _run(args: argparse.Namespace) -> int:
    host, port = args.target
    endpoint = Endpoint(host, port, sni=args.sni, ca=args.ca, timeout=args.timeout)
    tty = sys.stderr.isatty()

    def progress(line: str) -> None:
        print(("\r" + line[:200]) if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)

    result = await run_load(
        endpoint,
        args.mix,
        args.duration,
        expect=args.expect,
        progress=None if args.quiet else progress,
    )
    if tty and not args.quiet:
        print(file=sys.stderr)
    print(report.text(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report.to_json(result), f, indent=2)
    if args.plot:
        why_not = report.plot(result, args.plot)
        print(why_not if why_not else f"plot written to {args.plot}", file=sys.stderr)
    return 1 if result.errors or result.misroutes else 0


async def _backends(args: argparse.Namespace) -> int:
    backends = Backends()
    try:
        for name, address in args.grpc or []:
            await backends.add_grpc(name, address)
        for name, address in args.http or []:
            await backends.add_http(name, address)
        if args.https:
            if not (args.cert and args.key):
                raise SystemExit("--https needs --cert and --key")
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(args.cert, args.key)
            for name, address in args.https:
                await backends.add_http(name, address, ssl_context=ctx)
        for name, address in args.echo or []:
            await backends.add_echo(name, address)
        print("backends serving; Ctrl-C to stop", file=sys.stderr, flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await backends.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv.insert(0, "run")
    parser = argparse.ArgumentParser(prog="python -m mux.loadtest", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="drive load at a gateway and report")
    run.add_argument("--target", type=_target, required=True, metavar="HOST:PORT")
    run.add_argument("--duration", type=float, default=10.0, help="seconds (default 10)")
    run.add_argument(
        "--mix",
        type=parse_mix,
        default=parse_mix("all=2"),
        help="KIND=CONCURRENCY,...; kinds: grpc_unary, grpc_stream, http_keepalive, http_new_conn, https, "
        "h2c; aliases grpc, http, tls, all (default all=2)",
    )
    run.add_argument(
        "--expect",
        action="append",
        default=[],
        metavar="KIND=BACKEND",
        help="the backend that must answer KIND (or alias); others count as misroutes",
    )
    run.add_argument("--sni", help="server name for https (and its certificate check with --ca)")
    run.add_argument("--ca", help="CA file to verify the gateway's certificate; default: no verification")
    run.add_argument("--timeout", type=float, default=5.0, help="per request, seconds")
    run.add_argument("--json", metavar="FILE", help="write the report as JSON")
    run.add_argument("--plot", metavar="FILE.png", help="write a plot (needs matplotlib)")
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    serve = sub.add_parser("backends", help="serve identifying backends")
    serve.add_argument("--grpc", type=_named, action="append", metavar="NAME=ADDRESS")
    serve.add_argument("--http", type=_named, action="append", metavar="NAME=ADDRESS")
    serve.add_argument("--https", type=_named, action="append", metavar="NAME=ADDRESS")
    serve.add_argument("--cert", help="certificate for --https")
    serve.add_argument("--key", help="key for --https")
    serve.add_argument("--echo", type=_named, action="append", metavar="NAME=ADDRESS")
    args = parser.parse_args(argv)
    if args.command == "run":
        try:
            args.expect = parse_expect(args.expect)
        except ValueError as e:
            parser.error(str(e))
        return uvloop.run(_run(args))
    return uvloop.run(_backends(args))


if __name__ == "__main__":
    sys.exit(main())
