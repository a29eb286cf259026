"""The gateway's configuration: a YAML file (or flags) read into frozen dataclasses, checked key by key.

Every problem is a ``ConfigError`` naming the offending key as a path, e.g.
``routes[2].tls.cert: cannot read file '/etc/site.pem'``, so an operator can find it in the file. The
shape (all keys but ``routes`` optional)::

    listen: ["0.0.0.0:8443"]            # host:port or unix:/path; one or a list
    admin: 127.0.0.1:9100               # /metrics and /health, on their own address
    match_timeout: 10                   # seconds to decide a route (then: the fallback)
    max_sniff_bytes: 65536
    max_connections: 10000              # open at once, all routes together
    proxy_protocol_from: [10.0.0.0/8]   # peers whose PROXY v1/v2 header is believed
    drain_grace: 10                     # seconds SIGTERM gives open connections
    access_log: "-"                     # "-" (stdout), a file path, or off
    routes:                             # in priority order
      - name: grpc
        match: grpc                     # or a list; see MATCHERS
        proxy: unix:/run/app/grpc.sock  # or {address: ..., proxy_protocol: 2, connect_timeout: 5}
        max_connections: 1000
      - name: site
        match: {tls: {server_names: ["www.example.com"]}}
        tls: {cert: site.pem, key: site.key, routes: [...], fallback: {...}}
      - name: ssh-deny
        match: {prefix: "SSH-"}
        close: true
      - name: h2c
        match: h2c
        http1_required: true            # tell h2c clients to retry over HTTP/1.1
    fallback: {name: echo, proxy: 127.0.0.1:7}  # what no route matched, or what stayed silent

This module only reads and checks; ``mux.gateway.build`` turns a config into routers.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml

from mux.matchers import TLS_VERSIONS
from mux.proxy import Upstream

T = TypeVar("T")

MATCHERS = (
    "grpc",
    "http1",
    "h2c",
    "tls",
    "prefix",
    "proxy_protocol",
    "any",
    "http1_header",
    "http2_header",
)
TARGETS = ("proxy", "tls", "close", "http1_required")
DEFAULT_ALPN = ("http/1.1", "h2")


class ConfigError(ValueError):
    """A configuration problem; ``key`` is the path of the offending key (``""`` for the whole file)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.message = message


@dataclass(frozen=True)
class MatcherConfig:
    """One matcher: ``kind`` is one of ``MATCHERS``; the other fields are that kind's options."""

    kind: str
    server_names: tuple[str, ...] = ()
    alpn: tuple[str, ...] = ()
    versions: tuple[str, ...] = ()
    prefixes: tuple[bytes, ...] = ()
    header: str = ""
    value: str = ""
    value_prefix: bool = False
    ignore_case: bool = False
    send_settings: bool = True


@dataclass(frozen=True)
class ProxyConfig:
    address: str
    proxy_protocol: int | None = None
    connect_timeout: float = 5.0


@dataclass(frozen=True)
class TLSConfig:
    cert: str
    key: str
    routes: tuple[RouteConfig, ...]
    fallback: RouteConfig | None = None
    ca: str | None = None
    require_client_cert: bool = False
    alpn: tuple[str, ...] = DEFAULT_ALPN
    handshake_timeout: float = 10.0


@dataclass(frozen=True)
class CloseConfig:
    pass


@dataclass(frozen=True)
class Http1RequiredConfig:
    linger: float = 2.0


TargetConfig = ProxyConfig | TLSConfig | CloseConfig | Http1RequiredConfig


@dataclass(frozen=True)
class RouteConfig:
    name: str
    matchers: tuple[MatcherConfig, ...]  # empty for a fallback
    target: TargetConfig
    max_connections: int | None = None
    key: str = ""  # where it was written, e.g. "routes[1]", for errors found later (certificates)


@dataclass(frozen=True)
class GatewayConfig:
    routes: tuple[RouteConfig, ...]
    listen: tuple[str, ...] = ("127.0.0.1:8443",)
    admin: str | None = None
    fallback: RouteConfig | None = None
    match_timeout: float | None = 10.0
    max_sniff_bytes: int = 65_536
    max_connections: int | None = None
    proxy_protocol_from: tuple[str, ...] = ()
    drain_grace: float = 10.0
    access_log: str | None = "-"


# Reading helpers: each takes the value and its key path and returns the typed value or raises.


def _mapping(
    value: object, key: str, allowed: Sequence[str], required: Sequence[str] = ()
) -> dict[str, object]:
    if not isinstance(value, Mapping):
        raise ConfigError(key, f"expected a mapping, got {_kind(value)}")
    out: dict[str, object] = {}
    for k, v in value.items():
        if not isinstance(k, str):
            raise ConfigError(key, f"keys must be strings, got {k!r}")
        if k not in allowed:
            raise ConfigError(_join(key, k), f"unknown key (expected one of: {', '.join(allowed)})")
        out[k] = v
    for k in required:
        if k not in out:
            raise ConfigError(_join(key, k), "required key is missing")
    return out


def _str(value: object, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(key, f"expected a non-empty string, got {_kind(value)}")
    return value


def _bool(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, f"expected true or false, got {_kind(value)}")
    return value


def _number(value: object, key: str, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(key, f"expected a number of seconds, got {_kind(value)}")
    if value <= minimum:
        raise ConfigError(key, f"must be greater than {minimum:g}, got {value}")
    return float(value)


def _int(value: object, key: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"expected an integer, got {_kind(value)}")
    if value < minimum:
        raise ConfigError(key, f"must be at least {minimum}, got {value}")
    return value


def _strings(value: object, key: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(_str(v, f"{key}[{i}]" if isinstance(value, list) else key) for i, v in enumerate(items))


def _optional(
    data: Mapping[str, object], name: str, key: str, read: Callable[[object, str], T], default: T
) -> T:
    if name not in data or data[name] is None:
        return default
    return read(data[name], _join(key, name))


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _kind(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})" if value else "an empty string"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


def _address(value: object, key: str) -> str:
    text = _str(value, key)
    if text.startswith(("unix:", "unix-abstract:")):
        if len(text.split(":", 1)[1]) == 0:
            raise ConfigError(key, f"{text!r}: empty socket path")
        return text
    _host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ConfigError(key, f"{text!r}: expected host:port or unix:/path")
    return text


def _upstream(value: object, key: str) -> str:
    text = _str(value, key)
    try:
        upstream = Upstream.parse(text)
    except ValueError as e:
        raise ConfigError(key, str(e)) from None
    if upstream.kind == "tcp" and not 0 < upstream.port < 65536:
        raise ConfigError(key, f"{text!r}: port {upstream.port} is out of range")
    return text


def _file(value: object, key: str, base: Path) -> str:
    path = Path(_str(value, key)).expanduser()
    if not path.is_absolute():
        path = base / path
    if not os.access(path, os.R_OK) or not path.is_file():
        raise ConfigError(key, f"cannot read file {str(path)!r}")
    return str(path)


# The parts.


def _matcher(value: object, key: str) -> MatcherConfig:
    if isinstance(value, str):
        kind, options = value, None
    elif isinstance(value, Mapping) and len(value) == 1:
        kind, options = next(iter(value.items()))
        if not isinstance(kind, str):
            raise ConfigError(key, f"matcher names are strings, got {kind!r}")
    else:
        raise ConfigError(
            key, f"expected a matcher name or a one-key mapping {{name: options}}, got {_kind(value)}"
        )
    kind = kind.replace("-", "_")
    if kind not in MATCHERS:
        raise ConfigError(key, f"unknown matcher {kind!r} (expected one of: {', '.join(MATCHERS)})")
    at = _join(key, kind)
    if kind == "prefix":
        if options is None:
            raise ConfigError(at, "prefix needs the bytes to match, e.g. {prefix: 'SSH-'}")
        raw = options.get("hex") if isinstance(options, Mapping) else None
        if raw is not None:
            _mapping(options, at, ("hex",))
            try:
                prefixes = tuple(bytes.fromhex(h) for h in _strings(raw, _join(at, "hex")))
            except ValueError:
                raise ConfigError(_join(at, "hex"), "not hexadecimal") from None
        else:
            prefixes = tuple(
                s.encode("utf-8").decode("unicode_escape").encode("latin-1") for s in _strings(options, at)
            )
        return MatcherConfig(kind, prefixes=prefixes)
    if options is None:
        if kind in ("http1_header", "http2_header"):
            raise ConfigError(at, f"{kind} needs {{name: ..., value: ...}}")
        return MatcherConfig(kind)
    if kind == "tls":
        data = _mapping(options, at, ("server_names", "sni", "alpn", "versions"))
        none: tuple[str, ...] = ()
        versions = _optional(data, "versions", at, _strings, none)
        for i, v in enumerate(versions):
            if v not in TLS_VERSIONS:
                raise ConfigError(
                    f"{at}.versions[{i}]", f"unknown TLS version {v!r} (one of {sorted(TLS_VERSIONS)})"
                )
        names = _optional(data, "server_names", at, _strings, none) + _optional(
            data, "sni", at, _strings, none
        )
        return MatcherConfig(
            kind, server_names=names, alpn=_optional(data, "alpn", at, _strings, none), versions=versions
        )
    if kind in ("http1_header", "http2_header"):
        data = _mapping(options, at, ("name", "value", "prefix", "ignore_case"), ("name", "value"))
        if kind == "http2_header" and "ignore_case" in data:
            raise ConfigError(_join(at, "ignore_case"), "only http1_header has ignore_case")
        return MatcherConfig(
            kind,
            header=_str(data["name"], _join(at, "name")),
            value=_str(data["value"], _join(at, "value")),
            value_prefix=_optional(data, "prefix", at, _bool, False),
            ignore_case=_optional(data, "ignore_case", at, _bool, False),
        )
    if kind == "grpc":
        data = _mapping(options, at, ("send_settings",))
        return MatcherConfig(kind, send_settings=_optional(data, "send_settings", at, _bool, True))
    if options == {} or options is True:
        return MatcherConfig(kind)
    raise ConfigError(at, f"{kind} takes no options")


def _matchers(value: object, key: str) -> tuple[MatcherConfig, ...]:
    if isinstance(value, list):
        if not value:
            raise ConfigError(key, "needs at least one matcher")
        return tuple(_matcher(v, f"{key}[{i}]") for i, v in enumerate(value))
    return (_matcher(value, key),)


def _proxy(value: object, key: str) -> ProxyConfig:
    if isinstance(value, str):
        return ProxyConfig(_upstream(value, key))
    data = _mapping(value, key, ("address", "proxy_protocol", "connect_timeout"), ("address",))
    version = data.get("proxy_protocol")
    if version is not None and (isinstance(version, bool) or version not in (1, 2)):
        raise ConfigError(_join(key, "proxy_protocol"), f"expected 1 or 2, got {_kind(version)}")
    return ProxyConfig(
        _upstream(data["address"], _join(key, "address")),
        version if isinstance(version, int) else None,
        _optional(data, "connect_timeout", key, _number, 5.0),
    )


def _tls(value: object, key: str, base: Path, names: set[str]) -> TLSConfig:
    data = _mapping(
        value,
        key,
        ("cert", "key", "ca", "require_client_cert", "alpn", "handshake_timeout", "routes", "fallback"),
        ("cert", "key", "routes"),
    )
    routes = _routes(data["routes"], _join(key, "routes"), base, names)
    fallback = _fallback(data.get("fallback"), _join(key, "fallback"), base, names)
    ca = _file(data["ca"], _join(key, "ca"), base) if data.get("ca") is not None else None
    require = _optional(data, "require_client_cert", key, _bool, False)
    if require and ca is None:
        raise ConfigError(_join(key, "require_client_cert"), "needs 'ca' to verify client certificates")
    return TLSConfig(
        cert=_file(data["cert"], _join(key, "cert"), base),
        key=_file(data["key"], _join(key, "key"), base),
        routes=routes,
        fallback=fallback,
        ca=ca,
        require_client_cert=require,
        alpn=_optional(data, "alpn", key, _strings, DEFAULT_ALPN),
        handshake_timeout=_optional(data, "handshake_timeout", key, _number, 10.0),
    )


def _route(value: object, key: str, base: Path, names: set[str], *, fallback: bool = False) -> RouteConfig:
    allowed = (
        ("name", "max_connections", *TARGETS) if fallback else ("name", "match", "max_connections", *TARGETS)
    )
    data = _mapping(value, key, allowed, ("name",) if fallback else ("name", "match"))
    name = _str(data["name"], _join(key, "name"))
    if name in names:
        raise ConfigError(_join(key, "name"), f"route name {name!r} is used twice (names label the metrics)")
    names.add(name)
    given = [t for t in TARGETS if t in data]
    if len(given) != 1:
        raise ConfigError(key, f"needs exactly one target of: {', '.join(TARGETS)}; got {given or 'none'}")
    kind = given[0]
    at = _join(key, kind)
    target: TargetConfig
    if kind == "proxy":
        target = _proxy(data[kind], at)
    elif kind == "tls":
        target = _tls(data[kind], at, base, names)
    elif kind == "close":
        if data[kind] is not True:
            raise ConfigError(at, "write 'close: true' to refuse these connections")
        target = CloseConfig()
    else:
        option = data[kind]
        if option is True:
            target = Http1RequiredConfig()
        else:
            opts = _mapping(option, at, ("linger",))
            target = Http1RequiredConfig(_optional(opts, "linger", at, _number, 2.0))
    return RouteConfig(
        name=name,
        matchers=() if fallback else _matchers(data["match"], _join(key, "match")),
        target=target,
        max_connections=_optional(data, "max_connections", key, _int, None),
        key=key,
    )


def _routes(value: object, key: str, base: Path, names: set[str]) -> tuple[RouteConfig, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(key, f"expected a non-empty list of routes, got {_kind(value)}")
    return tuple(_route(v, f"{key}[{i}]", base, names) for i, v in enumerate(value))


def _fallback(value: object, key: str, base: Path, names: set[str]) -> RouteConfig | None:
    return None if value is None else _route(value, key, base, names, fallback=True)


def _access_log(value: object, key: str) -> str | None:
    if value is False or value in ("off", "none"):
        return None
    return _str(value, key)


def _networks(value: object, key: str) -> tuple[str, ...]:
    items = _strings(value, key)
    for i, item in enumerate(items):
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError as e:
            raise ConfigError(f"{key}[{i}]" if isinstance(value, list) else key, str(e)) from None
    return items


TOP_LEVEL = (
    "listen",
    "admin",
    "routes",
    "fallback",
    "match_timeout",
    "max_sniff_bytes",
    "max_connections",
    "proxy_protocol_from",
    "drain_grace",
    "access_log",
)


def parse(data: object, base: Path | None = None) -> GatewayConfig:
    """Checks a loaded document (a dict, as from YAML); relative file names are taken from ``base``."""
    base = base or Path.cwd()
    top = _mapping(data, "", TOP_LEVEL, ("routes",))
    names: set[str] = set()
    listen = tuple(
        _address(v, f"listen[{i}]" if isinstance(top.get("listen"), list) else "listen")
        for i, v in enumerate(_strings(top["listen"], "listen") if "listen" in top else ("127.0.0.1:8443",))
    )
    match_timeout: float | None = 10.0
    if "match_timeout" in top:
        raw = top["match_timeout"]
        match_timeout = None if raw in (None, "off") else _number(raw, "match_timeout")
    return GatewayConfig(
        routes=_routes(top["routes"], "routes", base, names),
        listen=listen,
        admin=_address(top["admin"], "admin") if top.get("admin") is not None else None,
        fallback=_fallback(top.get("fallback"), "fallback", base, names),
        match_timeout=match_timeout,
        max_sniff_bytes=_optional(top, "max_sniff_bytes", "", _int, 65_536),
        max_connections=_optional(top, "max_connections", "", _int, None),
        proxy_protocol_from=_optional(top, "proxy_protocol_from", "", _networks, ()),
        drain_grace=_optional(top, "drain_grace", "", _number, 10.0),
        access_log=_access_log(top["access_log"], "access_log") if "access_log" in top else "-",
    )


def load(path: str | Path) -> GatewayConfig:
    """Reads and checks a YAML file; relative certificate paths are relative to the file's directory."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError("", f"cannot read {str(path)!r}: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError("", f"{path}: not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    if data is None:
        raise ConfigError("", f"{path} is empty")
    return parse(data, path.resolve().parent)
