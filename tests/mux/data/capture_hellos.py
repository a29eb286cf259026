"""Capture real TLS ClientHellos into ``tests/mux/data/*.bin`` for the parser tests.

Run from the repository root: ``.venv/bin/python tests/mux/data/capture_hellos.py [NAME...]``
(all samples by default; the tests only check properties that hold for every fresh capture).

A plain TCP listener on 127.0.0.1 reads each client's first flight record by record (its own
framing, independent of ``mux.tls_hello``) until the ClientHello handshake message is whole, saves
exactly those bytes and closes the connection, so every handshake fails on purpose. Clients:

- ``python_ssl.bin``: Python's ``ssl`` module, SNI ``etcd.example.com``, ALPN ``["h2", "http/1.1"]``;
- ``grpcio.bin``: a grpcio secure channel, SNI via ``grpc.ssl_target_name_override``; it offers
  only ``h2`` and, in grpcio 1.85, an X25519MLKEM768 key share;
- ``curl_ip.bin``: ``curl -k https://127.0.0.1:PORT/`` (no SNI for an IP literal);
- ``curl_sni.bin``: ``curl -k --resolve etcd.example.com:PORT:127.0.0.1 https://etcd.example.com:PORT/``.

It also captures curl's PROXY protocol v1 line (``curl --haproxy-protocol``) followed by its HTTP
request, over IPv4 and, when the machine has it, IPv6 loopback: ``proxy_v1_tcp4.bin``,
``proxy_v1_tcp6.bin``.

A ``.json`` file beside each ``.bin`` records the client and its version, for the tests to check.
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import grpc

HERE = Path(__file__).resolve().parent
SNI = "etcd.example.com"
TIMEOUT = 10.0


def read_hello(conn: socket.socket) -> bytes:
    """Read records until the first handshake message is complete; return the bytes read."""
    conn.settimeout(TIMEOUT)
    buf = b""
    payload = b""

    def read_exactly(k: int) -> bytes:
        nonlocal buf
        out = b""
        while len(out) < k:
            chunk = conn.recv(k - len(out))
            if not chunk:
                raise ConnectionError("client closed before the hello was complete")
            out += chunk
        buf += out
        return out

    while True:
        content_type, _version, length = struct.unpack(">BHH", read_exactly(5))
        if content_type != 22:
            raise ValueError(f"not a handshake record: {content_type}")
        payload += read_exactly(length)
        if len(payload) >= 4 and len(payload) >= 4 + int.from_bytes(payload[1:4], "big"):
            return buf


def read_http_request(conn: socket.socket) -> bytes:
    """Read until the end of the first HTTP request's header section."""
    conn.settimeout(TIMEOUT)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionError("client closed before the request was complete")
        buf += chunk
    return buf


class Listener:
    """Accepts connections on ``host`` and keeps the first capture ``read`` returns."""

    def __init__(self, read: Callable[[socket.socket], bytes] = read_hello, host: str = "127.0.0.1") -> None:
        self.read = read
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.create_server((host, 0), family=family)
        self.port: int = self.sock.getsockname()[1]
        self.hello: bytes | None = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    hello = self.read(conn)
                except (OSError, ValueError):
                    continue
                if self.hello is None:
                    self.hello = hello
                    self.done.set()

    def close(self) -> bytes:
        self.done.wait(TIMEOUT)
        self.sock.close()
        self.thread.join(TIMEOUT)
        if self.hello is None:
            raise RuntimeError("nothing captured")
        return self.hello


def capture_python_ssl() -> tuple[bytes, dict[str, str]]:
    listener = Listener()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", listener.port), timeout=TIMEOUT) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname=SNI):
                pass
        except (OSError, ssl.SSLError):
            pass  # the listener hangs up after the hello
    return listener.close(), {"client": f"python {sys.version.split()[0]} ssl", "tls": ssl.OPENSSL_VERSION}


def capture_grpcio() -> tuple[bytes, dict[str, str]]:
    listener = Listener()
    creds = grpc.ssl_channel_credentials()
    options = [("grpc.ssl_target_name_override", SNI)]
    channel = grpc.secure_channel(f"127.0.0.1:{listener.port}", creds, options=options)
    try:
        grpc.channel_ready_future(channel).result(timeout=3)
    except grpc.FutureTimeoutError:
        pass  # never ready: the listener hangs up after the hello
    finally:
        channel.close()
    return listener.close(), {"client": f"grpcio {grpc.__version__}"}


def capture_curl(with_sni: bool) -> tuple[bytes, dict[str, str]]:
    listener = Listener()
    if with_sni:
        url = f"https://{SNI}:{listener.port}/"
        args = ["curl", "-sk", "--max-time", "5", "--resolve", f"{SNI}:{listener.port}:127.0.0.1", url]
    else:
        args = ["curl", "-sk", "--max-time", "5", f"https://127.0.0.1:{listener.port}/"]
    subprocess.run(args, check=False, capture_output=True, timeout=TIMEOUT)
    version = subprocess.run(["curl", "--version"], check=True, capture_output=True, text=True).stdout
    return listener.close(), {"client": version.splitlines()[0]}


def capture_curl_proxy(host: str) -> tuple[bytes, dict[str, str]]:
    listener = Listener(read_http_request, host)
    url_host = f"[{host}]" if ":" in host else host
    args = ["curl", "-s", "--max-time", "5", "--haproxy-protocol", f"http://{url_host}:{listener.port}/"]
    subprocess.run(args, check=False, capture_output=True, timeout=TIMEOUT)
    version = subprocess.run(["curl", "--version"], check=True, capture_output=True, text=True).stdout
    return listener.close(), {"client": version.splitlines()[0]}


def has_ipv6_loopback() -> bool:
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        return False
    return True


def main() -> None:
    captures: dict[str, Callable[[], tuple[bytes, dict[str, str]]]] = {
        "python_ssl": capture_python_ssl,
        "grpcio": capture_grpcio,
        "curl_ip": lambda: capture_curl(False),
        "curl_sni": lambda: capture_curl(True),
        "proxy_v1_tcp4": lambda: capture_curl_proxy("127.0.0.1"),
    }
    if has_ipv6_loopback():
        captures["proxy_v1_tcp6"] = lambda: capture_curl_proxy("::1")
    wanted = set(sys.argv[1:]) or set(captures)
    for name, capture in captures.items():
        if name not in wanted:
            continue
        hello, meta = capture()
        (HERE / f"{name}.bin").write_bytes(hello)
        meta["bytes"] = str(len(hello))
        (HERE / f"{name}.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        print(f"{name}: {len(hello)} bytes ({meta['client']})")


if __name__ == "__main__":
    main()
