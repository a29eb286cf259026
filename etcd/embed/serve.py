"""The member's sockets (etcd's ``embed/serve.go`` and the listener half of ``embed/etcd.go``).

- ``bind(url)``: one listening socket for a ``--listen-*-urls`` entry, bound at once (so a taken port fails
  the start with Go's text) but accepted from only when the caller starts a mux on it. etcd binds client
  listeners before the member is ready and serves them after, so early clients wait in the backlog.
- ``check_client_tls``/``check_peer_tls``: etcd's refusals of https/unixs without a certificate.
- ``grpc_http_mux``, ``http_mux``: the routes of a client or peer port (gRPC -> the internal grpcio server,
  HTTP/1.1 -> aiohttp, other h2c -> "use HTTP/1.1") and of the metrics port (HTTP only).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import resource
import shutil
import socket
import stat
import tempfile
from collections.abc import Callable

from etcd.embed.config import URL, Config
from mux import Mux, grpc, http1, http1_required, http2, proxy_to, serve_protocol

BACKLOG = 1024
# TCP keep-alive idle time and probe interval, seconds: etcd's client listeners use 30
# (pkg/transport/keepalive_listener.go), Go's net.Listen gives every other TCP connection 15.
CLIENT_KEEPALIVE = 30
DEFAULT_KEEPALIVE = 15
# File descriptors etcd keeps for its own use; client connections may use the rest (embed/etcd.go).
RESERVED_INTERNAL_FDS = 150
# The client-side h2c refusal lingers this long for the client's retry on HTTP/1.1 (mux's default).
H2C_LINGER = 2.0


class StartError(Exception):
    """The member cannot start; ``str()`` is etcd's text (etcd logs it as "failed to start etcd", exits 1)."""


# ----- binding


def _go_errno_text(e: OSError) -> str:
    """Go's text for a syscall error: ``address already in use`` (lower case, as Go's ``syscall.Errno``)."""
    text = e.strerror or os.strerror(e.errno or 0)
    return text[:1].lower() + text[1:]


def bind(url: URL, *, keepalive: int = DEFAULT_KEEPALIVE, backlog: int = BACKLOG) -> socket.socket:
    """A listening socket for ``url``: TCP for http/https, a Unix socket for unix/unixs.

    For unix URLs the socket file is ``url.host`` (``unix://localhost:2379`` is the file ``localhost:2379``
    in the working directory), removed first if it is a stale socket, as etcd's ``NewUnixListener`` does.
    TCP hosts bind as Go's ``net.Listen("tcp", ...)`` binds them: ``localhost`` on 127.0.0.1, and the
    wildcards ``0.0.0.0`` and ``::`` on one dual-stack IPv6 socket (IPv4 only where IPv6 is missing).
    Accepted connections inherit TCP keep-alive with ``keepalive`` seconds of idle time and interval.

    Raises:
        StartError: Go's text, e.g. ``listen tcp 127.0.0.1:2379: bind: address already in use``.
    """
    if url.scheme in ("unix", "unixs"):
        return _bind_unix(url.host, backlog)
    host = url.hostname
    port = int(url.port or 0)
    bind_host = "127.0.0.1" if host == "localhost" else host
    dual_stack = bind_host in ("0.0.0.0", "::") and socket.has_ipv6
    try:
        try:
            sock = _tcp_listener("::" if dual_stack else bind_host, port, keepalive, backlog, dual_stack)
        except OSError as e:
            if not dual_stack or bind_host != "0.0.0.0" or e.errno != errno.EAFNOSUPPORT:
                raise
            sock = _tcp_listener(bind_host, port, keepalive, backlog, False)
    except OSError as e:
        raise StartError(f"listen tcp {url.host}: bind: {_go_errno_text(e)}") from e
    return sock


def _tcp_listener(host: str, port: int, keepalive: int, backlog: int, dual_stack: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Linux hands these to every accepted socket, so no per-connection call is needed.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, keepalive)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, keepalive)
        if dual_stack:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _bind_unix(path: str, backlog: int) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as e:
        sock.close()
        raise StartError(f"listen unix {path}: bind: {_go_errno_text(e)}") from e
    return sock


def unlink_unix(url: URL) -> None:
    """Removes the socket file of a unix URL after its listener closed (etcd's ``unixListener.Close``)."""
    if url.scheme in ("unix", "unixs"):
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(url.host).st_mode):
                os.unlink(url.host)


def is_secure(url: URL) -> bool:
    return url.scheme in ("https", "unixs")


def check_client_tls(url: URL, cfg: Config) -> None:
    """etcd's ``configureClientListeners`` check for one URL.

    Raises:
        StartError: https/unixs without ``--cert-file``/``--key-file`` (etcd's text), or with them, since
            TLS serving is not built yet (issue 7).
    """
    if not is_secure(url):
        return
    if not (cfg.cert_file and cfg.key_file) and not cfg.auto_tls:
        # etcd 3.4 compat: embed/etcd.go configureClientListeners.
        raise StartError(
            f"TLS key/cert (--cert-file, --key-file) must be provided for client url {url} with HTTPS scheme"
        )
    raise StartError(f"serving client url {url} over TLS is not available yet (issue 7)")


def check_peer_tls(url: URL, cfg: Config) -> None:
    """etcd's peer listener check (``transport.newTLSListener``); see ``check_client_tls``."""
    if not is_secure(url):
        return
    if not (cfg.peer_cert_file and cfg.peer_key_file) and not cfg.peer_auto_tls:
        # etcd 3.4 compat: pkg/transport/listener.go newTLSListener.
        raise StartError(f"cannot listen on TLS for {url.host}: KeyFile and CertFile are not presented")
    raise StartError(f"serving peer url {url} over TLS is not available yet (issue 7)")


def check_metrics_tls(url: URL, cfg: Config) -> None:
    """etcd's ``serveMetrics`` check: an https metrics URL uses the client certificate."""
    if not is_secure(url):
        return
    if not (cfg.cert_file and cfg.key_file) and not cfg.auto_tls:
        # etcd 3.4 compat: serveMetrics goes through transport.newTLSListener, hence the listener's text.
        raise StartError(f"cannot listen on TLS for {url.host}: KeyFile and CertFile are not presented")
    raise StartError(f"serving metrics url {url} over TLS is not available yet (issue 7)")


def client_connection_limit() -> int:
    """How many client connections may be open at once: the fd limit less etcd's reserve.

    Raises:
        StartError: the fd limit is at or below the reserve (etcd's fatal text).
    """
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1 << 20
    if soft <= RESERVED_INTERNAL_FDS:
        # etcd 3.4 compat: embed/etcd.go configureClientListeners.
        raise StartError(
            f"file descriptor limit[{soft}] of etcd process is too low, and should be set higher than "
            f"{RESERVED_INTERNAL_FDS} to ensure internal usage"
        )
    return soft - RESERVED_INTERNAL_FDS


SOCKET_DIR_PREFIX = "etcd-grpc-"


def make_socket_dir() -> str:
    """A private (0700) directory for the internal gRPC socket, named ``etcd-grpc-<pid>-<random>``.

    A member killed with SIGKILL cannot remove its directory, so directories of this user whose pid no
    longer runs are removed first (a bounded scan of the temp dir; a reused pid merely keeps one).
    """
    remove_stale_socket_dirs(tempfile.gettempdir())
    return tempfile.mkdtemp(prefix=f"{SOCKET_DIR_PREFIX}{os.getpid()}-")


def remove_stale_socket_dirs(parent: str, limit: int = 10_000) -> list[str]:
    """Removes ``etcd-grpc-<pid>-*`` directories in ``parent`` owned by this user whose process is gone."""
    removed: list[str] = []
    try:
        entries = os.scandir(parent)
    except OSError:
        return removed
    with entries:
        for n, entry in enumerate(entries):
            if n >= limit:
                break
            pid_text = entry.name[len(SOCKET_DIR_PREFIX) :].split("-", 1)[0]
            if not entry.name.startswith(SOCKET_DIR_PREFIX) or not pid_text.isdigit():
                continue
            try:
                if not entry.is_dir(follow_symlinks=False) or entry.stat().st_uid != os.getuid():
                    continue
                os.kill(int(pid_text), 0)  # signal 0: only asks whether the process exists
            except ProcessLookupError:
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(entry.path)
            except OSError:
                continue
    return removed


def address_key(url: URL) -> str:
    """Client URLs sharing this key share one listener (etcd merges http and https on one host:port)."""
    return f"unix:{url.host}" if url.scheme in ("unix", "unixs") else url.host


# ----- muxes


def grpc_http_mux(
    grpc_upstream: str, http_server: Callable[[], asyncio.BaseProtocol], *, max_connections: int | None = None
) -> Mux:
    """A client or peer port: gRPC to ``grpc_upstream`` (``unix:/path``), HTTP/1.1 to ``http_server`` (an
    ``aiohttp.web.Server``; matched as cmux does, so a malformed request line gets aiohttp's 400), h2c that
    is not gRPC told to retry on HTTP/1.1 (aiohttp has no HTTP/2). etcd's peer port serves the v3 gRPC
    services too (``servePeers``), so etcdctl works against it.

    ``max_connections`` stands in for etcd's ``LimitListener``: where etcd leaves the excess in the backlog,
    the mux closes it at accept."""
    m = Mux(max_connections=max_connections)
    m.route("grpc", grpc(), target=proxy_to(grpc_upstream))
    m.route("http", http1(lenient=True), target=serve_protocol(http_server))
    m.route("h2c", http2(), target=http1_required(H2C_LINGER))
    return m


def http_mux(http_server: Callable[[], asyncio.BaseProtocol]) -> Mux:
    """A port that speaks HTTP/1.1 only (the metrics port)."""
    m = Mux()
    m.route("http", http1(lenient=True), target=serve_protocol(http_server))
    m.route("h2c", http2(), target=http1_required(H2C_LINGER))
    return m
