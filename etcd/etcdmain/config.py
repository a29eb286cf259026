"""etcd 3.4's configuration sources (etcd's ``etcdmain/config.go``, ``pkg/flags``): argv, ETCD_* env, YAML.

``parse(argv, environ)`` returns a validated ``Config``. Flags are read as Go's ``flag`` package reads
them (``-f``/``--f``, ``--f=v`` or ``--f v``, booleans only as ``--f`` or ``--f=v``, ``--`` ends the flags).
Then, unless a config file is named (``--config-file`` or ``ETCD_CONFIG_FILE``), every flag not given on
the command line is taken from ``ETCD_<FLAG>`` when that variable is non-empty. With a config file, every
other flag and variable is ignored (etcd 3.4). Warnings go to ``warn``.

Errors and the exit code etcd 3.4.23 gives for them:
    FlagError (2): a malformed flag, unknown flag or bad value on the command line, Go's text.
    HelpRequested (0): ``-h``/``--help``; the caller prints ``help.usage()`` to stdout.
    ConfigError (1): everything else, etcd's text (the CLI prefixes "error verifying flags, ").
``--version`` is returned as ``cfg.version``; the caller prints the version and exits 0.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from etcd.embed.config import (
    CLUSTER_STATE_FLAG_EXISTING,
    CLUSTER_STATE_FLAG_NEW,
    FALLBACK_FLAG_EXIT,
    FALLBACK_FLAG_PROXY,
    MAX_UINT32,
    PROXY_FLAG_OFF,
    PROXY_FLAG_ON,
    PROXY_FLAG_READONLY,
    Config,
    ConfigError,
    UnsetAdvertiseClientURLsError,
    go_duration_ns,
    parse_urls,
)
from etcd.etcdmain.help import all_flag_names
from etcd.version import SERVER_VERSION

_log = logging.getLogger("etcd.etcdmain")

ENV_PREFIX = "ETCD"
MAX_UINT64 = 2**64 - 1
MAX_INT64 = 2**63 - 1


class FlagError(ValueError):
    """A command-line error Go's flag package reports (etcd exits 2 after printing it and the usage line)."""


class HelpRequested(Exception):
    """``-h``, ``-help`` or ``--help`` was given: print the usage to stdout and exit 0."""


# Kinds, as the Go value types etcd 3.4 registers each flag with.
BOOL, STRING, UINT, UINT32, INT, DURATION, URLS, CORS, STRINGS, UNIQUE_STRINGS, SELECT = (
    "bool", "string", "uint", "uint32", "int", "duration", "urls", "cors", "strings", "unique-strings",
    "select",
)

_SELECTIVE: dict[str, tuple[str, ...]] = {
    "initial-cluster-state": (CLUSTER_STATE_FLAG_NEW, CLUSTER_STATE_FLAG_EXISTING),
    "discovery-fallback": (FALLBACK_FLAG_PROXY, FALLBACK_FLAG_EXIT),
    "proxy": (PROXY_FLAG_OFF, PROXY_FLAG_READONLY, PROXY_FLAG_ON),
}
_URL_FLAGS = ("listen-peer-urls", "listen-client-urls", "initial-advertise-peer-urls",
              "advertise-client-urls", "listen-metrics-urls")
_DURATION_FLAGS = ("backend-batch-interval", "grpc-keepalive-min-time", "grpc-keepalive-interval",
                   "grpc-keepalive-timeout", "experimental-corrupt-check-time",
                   "experimental-watch-progress-notify-interval", "experimental-warning-apply-duration")
_UINT_FLAGS = ("snapshot-count", "heartbeat-interval", "election-timeout", "max-snapshots", "max-wals",
               "max-txn-ops", "max-request-bytes", "bcrypt-cost", "auth-token-ttl", "proxy-failure-wait",
               "proxy-refresh-interval", "proxy-dial-timeout", "proxy-write-timeout", "proxy-read-timeout")
_INT_FLAGS = ("quota-backend-bytes", "backend-batch-limit", "experimental-compaction-batch-limit")


def flag_kind(name: str) -> str:
    """The Go value type etcd 3.4 gives flag ``name``."""
    if name in _SELECTIVE:
        return SELECT
    if name in _URL_FLAGS:
        return URLS
    if name in _DURATION_FLAGS:
        return DURATION
    if name in _UINT_FLAGS:
        return UINT
    if name in _INT_FLAGS:
        return INT
    if name == "max-concurrent-streams":
        return UINT32
    if name == "cipher-suites":
        return STRINGS
    if name == "cors":
        return CORS
    if name in ("host-whitelist", "log-outputs"):
        return UNIQUE_STRINGS
    if isinstance(getattr(Config(), attr_name(name)), bool):
        return BOOL
    return STRING


def attr_name(flag: str) -> str:
    return flag.replace("-", "_")


def flag_to_env(flag: str) -> str:
    """``listen-client-urls`` -> ``ETCD_LISTEN_CLIENT_URLS`` (``pkg/flags.FlagToEnv``)."""
    return f"{ENV_PREFIX}_" + flag.upper().replace("-", "_")


# ----- Go's strconv and time.ParseDuration -----

_GO_INT_RE = re.compile(r"^(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)$")


class _ParseError(ValueError):
    pass


def parse_go_uint(s: str) -> int:
    """``strconv.ParseUint(s, 0, 64)``: decimal, 0x/0o/0b, leading-0 octal, underscores after a prefix."""
    if not _GO_INT_RE.match(s) or ("_" in s and not re.match(r"^0[xXoObB]?", s)) or "__" in s \
            or s.endswith("_"):
        raise _ParseError("parse error")
    body = s.replace("_", "")
    if len(body) > 1 and body[0] == "0" and body[1] not in "xXoObB":
        return int(body[1:], 8)
    return int(body, 0)


def parse_go_int(s: str) -> int:
    """``strconv.ParseInt(s, 0, 64)``: as ``parse_go_uint`` with an optional sign."""
    sign = -1 if s.startswith("-") else 1
    return sign * parse_go_uint(s[1:] if s[:1] in ("+", "-") else s)


def parse_duration_ns(s: str) -> int:
    """Go's ``time.ParseDuration`` in whole nanoseconds: ``"5s"``, ``"1h30m"``, ``"0"``; no bare numbers.

    Raises:
        _ParseError: where Go fails ("parse error", the text Go's flag package reports).
    """
    nanos = go_duration_ns(s)
    if nanos is None:
        raise _ParseError("parse error")
    return nanos


def parse_duration(s: str) -> float:
    """``parse_duration_ns`` in seconds, the unit of ``Config``'s duration fields."""
    return parse_duration_ns(s) / 1e9


_BOOL_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_BOOL_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def parse_go_bool(s: str) -> bool:
    """``strconv.ParseBool``."""
    if s in _BOOL_TRUE:
        return True
    if s in _BOOL_FALSE:
        return False
    raise _ParseError("parse error")


def _unique_sorted(s: str) -> list[str]:
    # Go's UniqueStringsValue keeps empty items: "--log-outputs=" is [""] (and then refused by validate).
    return sorted(set(s.split(",")))


def parse_cors(value: str) -> list[str]:
    """``--cors``: ``*``, or URLs in etcd's strict ``scheme://host:port`` form, sorted and unique.

    # etcd 3.4 compat: etcdmain/config.go registers --cors as a unique-URLs flag whose only exception is
    "*", so an origin without a port ("http://a.com") is refused, as etcd 3.4.23 does.
    """
    if value == "*":
        return ["*"]
    return [str(u) for u in parse_urls(value.split(","))]


def convert(flag: str, value: str) -> Any:
    """The field value for ``--flag=value``.

    Raises:
        _ParseError / ConfigError: Go's message for this value (the caller wraps it).
    """
    kind = flag_kind(flag)
    if kind == BOOL:
        return parse_go_bool(value)
    if kind == STRING:
        return value
    if kind == UINT:
        n = parse_go_uint(value)
        if n > MAX_UINT64:
            raise _ParseError("value out of range")
        return n
    if kind == UINT32:
        try:
            n = parse_go_uint(value)
        except _ParseError:
            raise _ParseError(f'strconv.ParseUint: parsing "{value}": invalid syntax') from None
        if n > MAX_UINT32:
            raise _ParseError(f'strconv.ParseUint: parsing "{value}": value out of range')
        return n
    if kind == INT:
        n = parse_go_int(value)
        if not -MAX_INT64 - 1 <= n <= MAX_INT64:
            raise _ParseError("value out of range")
        return n
    if kind == DURATION:
        return parse_duration(value)
    if kind == URLS:
        return parse_urls(value)
    if kind == CORS:
        return parse_cors(value)
    if kind == STRINGS:
        return value.split(",")
    if kind == UNIQUE_STRINGS:
        return _unique_sorted(value)
    if value not in _SELECTIVE[flag]:
        raise _ParseError("invalid value")
    return value


# ----- the command line -----


@dataclass
class _CommandLine:
    values: dict[str, Any]  # flag -> converted value, in the order given (the last one wins)
    rest: list[str]  # arguments after the flags


def parse_command_line(argv: Sequence[str], known: Sequence[str]) -> _CommandLine:
    """Go's ``FlagSet.Parse`` over ``argv`` (without the program name).

    Raises:
        FlagError: Go's text: bad flag syntax, an undefined flag, a missing argument or a bad value.
        HelpRequested: ``-h``/``-help``/``--help``.
    """
    known_set = set(known)
    values: dict[str, Any] = {}
    args = list(argv)
    while args:
        s = args[0]
        if len(s) < 2 or s[0] != "-":
            break
        minuses = 2 if s[1] == "-" else 1
        if s == "--":
            args.pop(0)
            break
        name = s[minuses:]
        if name == "" or name[0] in "-=":
            raise FlagError(f"bad flag syntax: {s}")
        args.pop(0)
        has_value, value = False, ""
        if "=" in name:
            name, value = name.split("=", 1)
            has_value = True
        if name not in known_set:
            if name in ("help", "h"):
                raise HelpRequested()
            raise FlagError(f"flag provided but not defined: -{name}")
        if flag_kind(name) == BOOL:
            if has_value:
                try:
                    values[name] = parse_go_bool(value)
                except _ParseError as e:
                    raise FlagError(f'invalid boolean value "{value}" for -{name}: {e}') from None
            else:
                values[name] = True
            continue
        if not has_value and args:
            value, has_value = args.pop(0), True
        if not has_value:
            raise FlagError(f"flag needs an argument: -{name}")
        try:
            values[name] = convert(name, value)
        except (_ParseError, ConfigError) as e:
            raise FlagError(f'invalid value "{value}" for flag -{name}: {e}') from None
    return _CommandLine(values, args)


def parse(
    argv: Sequence[str],
    environ: Mapping[str, str],
    *,
    warn: Callable[[str], None] | None = None,
) -> Config:
    """Build and validate the ``Config`` etcd 3.4 would run with for ``argv`` and ``environ``.

    ``argv`` excludes the program name. ``environ`` is read, never changed. See the module docstring
    for errors; ``cfg.version`` set means "print the version", and no validation was done.
    """
    say = warn or _log.warning
    cl = parse_command_line(argv, all_flag_names())
    if cl.rest:
        raise ConfigError(f"'{cl.rest[0]}' is not a valid flag")
    cfg = Config()
    if cl.values.get("version"):
        cfg.version = True
        return cfg
    config_file = cl.values.get("config-file", "") or environ.get(flag_to_env("config-file"), "")
    if config_file:
        cfg = config_from_file(config_file)
        cfg.config_file = config_file
        return cfg
    set_flags = _apply_env(cl.values, environ, say)
    for flag, value in set_flags.items():
        setattr(cfg, attr_name(flag), value)
    # etcd 3.4 compat: etcdmain/config.go configFromCmdLine drops the default advertise URL when only the
    # listen URL is given, so that validate() can insist on it.
    missing_ac = "listen-client-urls" in set_flags and "advertise-client-urls" not in set_flags
    if missing_ac and not may_be_proxy(cfg):
        cfg.advertise_client_urls = None
    if (cfg.discovery or cfg.discovery_srv or cfg.discovery_srv_name) and "initial-cluster" not in set_flags:
        cfg.initial_cluster = ""
    try:
        cfg.validate()
    except UnsetAdvertiseClientURLsError:
        if not may_be_proxy(cfg):
            raise
    return cfg


def is_proxy(cfg: Config) -> bool:
    """``--proxy`` is ``on`` or ``readonly``: an empty data dir starts the v2 proxy, not a member."""
    return cfg.proxy != PROXY_FLAG_OFF


def is_readonly_proxy(cfg: Config) -> bool:
    return cfg.proxy == PROXY_FLAG_READONLY


def should_fallback_to_proxy(cfg: Config) -> bool:
    """A full discovery cluster makes this member a v2 proxy (``--discovery-fallback=proxy``)."""
    return cfg.discovery_fallback == FALLBACK_FLAG_PROXY


def may_be_proxy(cfg: Config) -> bool:
    """etcdmain's ``mayBeProxy``: proxy mode on, or discovery that may fall back to a proxy."""
    may_fall_back = cfg.discovery != "" and cfg.discovery_fallback == FALLBACK_FLAG_PROXY
    return cfg.proxy != PROXY_FLAG_OFF or may_fall_back


def _apply_env(
    cmdline: dict[str, Any], environ: Mapping[str, str], say: Callable[[str], None]
) -> dict[str, Any]:
    """``pkg/flags.SetFlagsFromEnv``: the flags set by argv or env, argv first; checks the environment.

    Raises:
        ConfigError: a bad value in a used variable (``invalid value "x" for ETCD_Y: ...``), or a variable
            shadowed by a command-line flag, which etcd 3.4.23 treats as fatal.
    """
    set_flags = dict(cmdline)
    already = {flag_to_env(f) for f in cmdline}
    used: set[str] = set()
    if environ.get("ETCD_VERSION"):
        say(f"cannot set special environment variable ETCD_VERSION={environ['ETCD_VERSION']}")
    error: ConfigError | None = None
    for flag in sorted(all_flag_names()):
        key = flag_to_env(flag)
        if key in already or flag == "version":
            continue
        val = environ.get(key, "")
        if val == "":
            continue
        used.add(key)
        try:
            set_flags[flag] = convert(flag, val)
        except (_ParseError, ConfigError) as e:
            error = ConfigError(f'invalid value "{val}" for {key}: {e}')
            continue
        _log.info("recognized and used environment variable %s=%s", key, val)
    for key, val in environ.items():
        if key in used or key == "ETCD_VERSION":
            continue
        if key in already:
            # etcd 3.4 compat: pkg/flags/flag.go verifyEnv logs this at CRITICAL and exits 1.
            raise ConfigError(
                f'conflicting environment variable "{key}" is shadowed by corresponding command-line flag '
                "(either unset environment variable or disable flag)"
            )
        if key.startswith(f"{ENV_PREFIX}_"):
            say(f"unrecognized environment variable {key}={val}")
    if error is not None:
        raise error
    return set_flags


# ----- the config file -----

# Go field types of etcd 3.4's configYAML/configProxy, for its json type errors.
_GO_NUMBER_TYPES = {
    "snapshot-count": "uint64", "max-concurrent-streams": "uint32", "quota-backend-bytes": "int64",
    "backend-batch-limit": "int", "experimental-compaction-batch-limit": "int",
}
_GO_RANGES = {"uint": (0, MAX_UINT64), "uint64": (0, MAX_UINT64), "uint32": (0, MAX_UINT32),
              "int": (-MAX_INT64 - 1, MAX_INT64), "int64": (-MAX_INT64 - 1, MAX_INT64),
              "time.Duration": (-MAX_INT64 - 1, MAX_INT64)}
# etcd 3.4 reads these from a second struct (etcdmain's configProxy), after validating the rest.
_PROXY_KEYS = ("proxy", "proxy-failure-wait", "proxy-refresh-interval", "proxy-dial-timeout",
               "proxy-write-timeout", "proxy-read-timeout", "discovery-fallback")
# Top-level TLS keys are not read from a file by etcd 3.4 (its TLSInfo has no JSON names); they belong in
# client-transport-security / peer-transport-security.
_SECURITY_FLAG_NAMES = {
    "cert-file", "key-file", "client-cert-auth", "trusted-ca-file", "auto-tls", "client-crl-file",
    "client-cert-allowed-hostname", "peer-cert-file", "peer-key-file", "peer-client-cert-auth",
    "peer-trusted-ca-file", "peer-auto-tls", "peer-crl-file", "peer-cert-allowed-cn",
    "peer-cert-allowed-hostname",
}
_SECURITY_KEYS = {
    "cert-file": "cert_file", "key-file": "key_file", "client-cert-auth": "client_cert_auth",
    "trusted-ca-file": "trusted_ca_file", "auto-tls": "auto_tls", "crl-file": "crl_file",
    "allowed-cn": "allowed_cn", "allowed-hostname": "allowed_hostname",
}
_CLIENT_SECURITY = {"crl_file": "client_crl_file", "allowed_hostname": "client_cert_allowed_hostname"}
_PEER_SECURITY = {"crl_file": "peer_crl_file", "allowed_cn": "peer_cert_allowed_cn",
                  "allowed_hostname": "peer_cert_allowed_hostname"}


def _go_type(key: str) -> str:
    kind = flag_kind(key)
    if kind in (UINT, UINT32, INT):
        return _GO_NUMBER_TYPES.get(key, "uint")
    if kind == DURATION:
        return "time.Duration"
    if kind == BOOL:
        return "bool"
    if kind == STRINGS or key == "log-outputs":
        return "[]string"
    return "string"


def _type_error(field_path: str, value: Any, go_type: str) -> ConfigError:
    """Go's ``json.UnmarshalTypeError`` text, as etcd reports a wrongly typed key."""
    if isinstance(value, bool):
        got = "bool"
    elif isinstance(value, int | float):
        got = f"number {value}" if go_type in _GO_RANGES else "number"
    elif isinstance(value, list):
        got = "array"
    elif isinstance(value, dict):
        got = "object"
    else:
        got = "string"
    return ConfigError(
        "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal "
        f"{got} into Go struct field {field_path} of type {go_type}"
    )


def config_from_file(path: str) -> Config:
    """etcd 3.4's ``--config-file``: YAML keyed by flag names, over the defaults; validated.

    As in etcd: keys match case-insensitively; URL lists and ``cors``/``host-whitelist`` are
    comma-separated strings; ``log-outputs`` and ``cipher-suites`` are lists; durations are integers in
    nanoseconds; TLS settings are read only inside ``client-transport-security``/``peer-transport-security``;
    unknown keys are ignored; the proxy keys and ``discovery-fallback`` are checked after the rest is
    validated.

    Raises:
        ConfigError: unreadable file, bad YAML, a value of the wrong type, a bad URL, or a broken rule,
            with etcd 3.4.23's text.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"open {path}: {(e.strerror or str(e)).lower()}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"error converting YAML to JSON: yaml: {e}") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise ConfigError("error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into "
                          "Go value of type embed.configYAML")
    entries = [(str(k).lower(), v) for k, v in doc.items()]
    cfg = Config()
    default_initial_cluster = cfg.initial_cluster
    known = {attr_name(f) for f in all_flag_names()}
    for key, value in entries:
        if key in ("client-transport-security", "peer-transport-security"):
            _apply_security(cfg, key, value)
            continue
        if attr_name(key) not in known or key in _SECURITY_FLAG_NAMES or key in _PROXY_KEYS:
            continue
        if key in ("version", "config-file") or value is None:
            continue
        setattr(cfg, attr_name(key), _file_value(key, value))
    if (cfg.discovery or cfg.discovery_srv) and cfg.initial_cluster == default_initial_cluster:
        cfg.initial_cluster = ""
    if cfg.initial_cluster_state == "":
        cfg.initial_cluster_state = CLUSTER_STATE_FLAG_NEW
    cfg.validate()
    proxy_values = {k: v for k, v in entries if k in _PROXY_KEYS and v is not None}
    for key, value in proxy_values.items():
        go_type = "string" if key in _SELECTIVE else "uint"
        if go_type == "string" and not isinstance(value, str):
            raise _type_error(f"configProxy.{key}", value, go_type)
        if go_type == "uint":
            _check_number(f"configProxy.{key}", value, go_type)
    for key, label in (("discovery-fallback", "discovery-fallback flag"), ("proxy", "proxyFlag")):
        value = proxy_values.get(key, "")
        if value != "" and value not in _SELECTIVE[key]:
            raise ConfigError(f"unexpected error setting up {label}: invalid value")
    for key, value in proxy_values.items():
        if value != "":
            setattr(cfg, attr_name(key), value)
    return cfg


def _check_number(field_path: str, value: Any, go_type: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # etcd's YAML-to-JSON step writes whole floats as integers
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(field_path, value, go_type)
    low, high = _GO_RANGES[go_type]
    if not low <= value <= high:
        raise _type_error(field_path, value, go_type)
    return value


def _file_value(key: str, value: Any) -> Any:
    kind = flag_kind(key)
    go_type = _go_type(key)
    field_path = f"configYAML.{key}"
    if kind == BOOL:
        if not isinstance(value, bool):
            raise _type_error(field_path, value, go_type)
        return value
    if kind in (UINT, UINT32, INT):
        return _check_number(field_path, value, go_type)
    if kind == DURATION:
        return _check_number(field_path, value, go_type) / 1e9
    if go_type == "[]string":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _type_error(field_path, value, go_type)
        return sorted(set(value)) if key == "log-outputs" else list(value)
    if not isinstance(value, str):
        raise _type_error(field_path, value, go_type)
    if kind == URLS:
        if value == "":
            return getattr(Config(), attr_name(key))
        try:
            return parse_urls(value)
        except ConfigError as e:
            raise ConfigError(f"unexpected error setting up {key}: {e}") from None
    if kind == CORS:
        if value == "":
            return getattr(Config(), attr_name(key))
        try:
            return parse_cors(value)
        except ConfigError as e:
            # etcd 3.4.23 panics here (exit 2); the text is the panic's.
            raise ConfigError(f"new UniqueURLs should never fail: {e}") from None
    if kind == UNIQUE_STRINGS:
        return _unique_sorted(value) if value else getattr(Config(), attr_name(key))
    return value


def _apply_security(cfg: Config, section: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise _type_error(f"configYAML.{section}", value, "embed.securityConfig")
    peer = section.startswith("peer")
    for raw_key, v in value.items():
        key = str(raw_key).lower()
        name = _SECURITY_KEYS.get(key)
        if name is None or v is None:
            continue
        go_type = "bool" if name in ("client_cert_auth", "auto_tls") else "string"
        if isinstance(v, bool) != (go_type == "bool") or (go_type == "string" and not isinstance(v, str)):
            raise _type_error(f"securityConfig.{section}.{key}", v, go_type)
        attr = _PEER_SECURITY.get(name, f"peer_{name}") if peer else _CLIENT_SECURITY.get(name, name)
        if attr == "allowed_cn":
            continue  # etcd 3.4 has no client-side allowed CN
        setattr(cfg, attr, v)


def load(
    argv: Sequence[str], environ: Mapping[str, str], out: Any, err: Any, *, version: str = SERVER_VERSION
) -> Config | int:
    """``parse`` with etcd's CLI reporting: the ``Config`` to run, or the exit code after printing.

    Exit codes as etcd 3.4.23: 2 for a flag error (message and usage line on ``err``), 0 for ``--help``
    (usage on ``out``) and ``--version`` (version on ``out``), 1 for a configuration error
    (``error verifying flags, <msg>. See 'etcd --help'.`` on ``err``, plus etcd's hint for a missing
    ``--advertise-client-urls``).
    """
    from etcd.etcdmain.help import USAGE_LINE, usage
    try:
        cfg = parse(argv, environ)
    except FlagError as e:
        print(e, file=err)
        print(USAGE_LINE, file=err)
        return 2
    except HelpRequested:
        print(usage(), file=out)
        return 0
    except ConfigError as e:
        print(f"error verifying flags, {e}. See 'etcd --help'.", file=err)
        if isinstance(e, UnsetAdvertiseClientURLsError):
            print("When listening on specific address(es), this etcd process must advertise accessible "
                  "url(s) to each connected client.", file=err)
        return 1
    if cfg.version:
        print(f"etcd Version: {version}", file=out)
        print(f"Python Version: {sys.version.split()[0]}", file=out)
        return 0
    return cfg
