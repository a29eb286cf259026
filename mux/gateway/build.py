"""From a checked ``GatewayConfig`` to the mux's routers: matchers, byte-proxy targets, TLS termination.

Everything that can still fail (certificates and keys that do not load, a key that does not fit its
certificate) fails here, before the running mux is touched, and is reported as a ``ConfigError`` naming
the key. ``carry_stats`` moves each route's counters to the route of the same name in a new router, so a
reload does not reset the metrics (counters never go backwards) and connections still open on an old
route keep the shared ``active`` gauge right.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Callable

from mux import matchers as m
from mux.gateway.config import (
    CloseConfig,
    ConfigError,
    GatewayConfig,
    Http1RequiredConfig,
    MatcherConfig,
    ProxyConfig,
    RouteConfig,
    TLSConfig,
)
from mux.handoff import Target
from mux.mux import Mux, Route, Router
from mux.proxy import proxy_to
from mux.targets import close, http1_required
from mux.tls_server import server_context, terminate_tls

# Called for every target built, with its route's config; returns the target to install (e.g. one that
# writes the access log around it). The default installs the target as it is.
Wrap = Callable[[Target, RouteConfig], Target]


def _same(target: Target, route: RouteConfig) -> Target:
    return target


def matcher(spec: MatcherConfig) -> m.Matcher:
    kind = spec.kind
    if kind == "grpc":
        return m.grpc(send_settings=spec.send_settings)
    if kind == "http1":
        return m.http1()
    if kind == "h2c":
        return m.http2()
    if kind == "tls":
        return m.tls(versions=spec.versions, server_names=spec.server_names, alpn=spec.alpn)
    if kind == "prefix":
        return m.prefix(*spec.prefixes)
    if kind == "proxy_protocol":
        return m.proxy_protocol()
    if kind == "any":
        return m.any_()
    if kind == "http1_header":
        return m.http1_header(spec.header, spec.value, prefix=spec.value_prefix, ignore_case=spec.ignore_case)
    if kind == "http2_header":
        return m.http2_header(spec.header, spec.value, prefix=spec.value_prefix)
    raise AssertionError(f"unknown matcher kind {kind!r}")  # config.py admits only MATCHERS


def tls_context(tls: TLSConfig, key: str) -> ssl.SSLContext:
    try:
        return server_context(
            tls.cert, tls.key, cafile=tls.ca, require_client_cert=tls.require_client_cert, alpn=tls.alpn
        )
    except ssl.SSLError as e:
        raise ConfigError(
            f"{key}.tls", f"certificate {tls.cert!r} / key {tls.key!r}: {e.reason or e}"
        ) from None
    except OSError as e:
        raise ConfigError(f"{key}.tls", f"cannot load certificate or key: {e}") from None
    except ValueError as e:
        raise ConfigError(f"{key}.tls.alpn", str(e)) from None


def target(route: RouteConfig, wrap: Wrap = _same) -> Target:
    spec = route.target
    built: Target
    if isinstance(spec, ProxyConfig):
        built = proxy_to(
            spec.address, connect_timeout=spec.connect_timeout, send_proxy_protocol=spec.proxy_protocol
        )
    elif isinstance(spec, TLSConfig):
        built = terminate_tls(
            tls_context(spec, route.key),
            router(spec.routes, spec.fallback, wrap),
            handshake_timeout=spec.handshake_timeout,
        )
    elif isinstance(spec, CloseConfig):
        built = close()
    elif isinstance(spec, Http1RequiredConfig):
        built = http1_required(spec.linger)
    else:
        raise AssertionError(f"unknown target {spec!r}")
    return wrap(built, route)


def router(routes: tuple[RouteConfig, ...], fallback: RouteConfig | None, wrap: Wrap = _same) -> Router:
    """Routes in order; the fallback is a last route matching anything.

    As the last route it gets what every other route refused (a plain TCP client, say) and, at the match
    deadline, what stayed undecided or silent (server-speaks-first protocols).
    """
    r = Router()
    for spec in routes:
        r.route(
            spec.name,
            *(matcher(s) for s in spec.matchers),
            target=target(spec, wrap),
            max_connections=spec.max_connections,
        )
    if fallback is not None:
        r.route(
            fallback.name, m.any_(), target=target(fallback, wrap), max_connections=fallback.max_connections
        )
    return r


def build(config: GatewayConfig, wrap: Wrap = _same) -> Router:
    return router(config.routes, config.fallback, wrap)


def all_routes(root: Router) -> list[Route]:
    """Every route of ``root`` and of the routers nested in its TLS targets."""
    found: list[Route] = []
    pending = [root]
    while pending:
        current = pending.pop(0)
        for route in current.all_routes():
            found.append(route)
            inner = getattr(route.target, "router", None)  # TLS targets (wrapped or not) expose it
            if isinstance(inner, Router):
                pending.append(inner)
    return found


def carry_stats(old: Router, new: Router) -> None:
    """Gives each new route the counters of the old route of the same name (names are unique)."""
    by_name = {route.name: route for route in all_routes(old)}
    for route in all_routes(new):
        previous = by_name.get(route.name)
        if previous is not None:
            route.stats = previous.stats


def apply_settings(mux: Mux, config: GatewayConfig) -> None:
    """The mux-wide settings a reload may change (listen addresses need a restart)."""
    mux.match_timeout = config.match_timeout
    mux.max_sniff_bytes = config.max_sniff_bytes
    mux.max_connections = config.max_connections
    mux.proxy_protocol_from = tuple(ipaddress.ip_network(n, strict=False) for n in config.proxy_protocol_from)
