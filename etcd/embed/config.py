"""etcd 3.4's member configuration (etcd's ``embed/config.go``): every flag as a field, ``validate()``.

``Config`` holds one field per etcd 3.4 flag, named as the flag in snake case, with etcd 3.4's default.
Units follow the flag: ``heartbeat_interval``, ``election_timeout`` and the ``proxy_*`` timeouts are
milliseconds; durations (``grpc_keepalive_*``, ``backend_batch_interval``, ``experimental_*`` times) are
seconds as floats; sizes are bytes. URL lists are canonical URL strings, sorted and without duplicates,
as etcd's ``types.NewURLs`` makes them (``parse_urls``).

``validate()`` applies etcd's rules in etcd's order and raises ``ConfigError`` with etcd 3.4.23's text.
The derived values etcd computes from a config (data dir, election ticks, the initial cluster rebuilt
from the name, minimum lease TTL, member and cluster IDs) are methods and functions here; nothing in
this module opens a file or a socket.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from etcd.pkg.gotime import parse_duration_ns

DEFAULT_NAME = "default"
DEFAULT_LISTEN_PEER_URLS = "http://localhost:2380"
DEFAULT_LISTEN_CLIENT_URLS = "http://localhost:2379"
DEFAULT_INITIAL_ADVERTISE_PEER_URLS = "http://localhost:2380"
DEFAULT_ADVERTISE_CLIENT_URLS = "http://localhost:2379"
DEFAULT_INITIAL_CLUSTER = "default=http://localhost:2380"
DEFAULT_LOG_OUTPUT = "default"
STDERR_LOG_OUTPUT = "stderr"
STDOUT_LOG_OUTPUT = "stdout"

CLUSTER_STATE_FLAG_NEW = "new"
CLUSTER_STATE_FLAG_EXISTING = "existing"
COMPACTOR_MODE_PERIODIC = "periodic"
COMPACTOR_MODE_REVISION = "revision"
PROXY_FLAG_OFF = "off"
PROXY_FLAG_READONLY = "readonly"
PROXY_FLAG_ON = "on"
FALLBACK_FLAG_EXIT = "exit"
FALLBACK_FLAG_PROXY = "proxy"

MAX_ELECTION_MS = 50000
MAX_UINT32 = 2**32 - 1
LOG_LEVELS = ("debug", "info", "warn", "error", "dpanic", "panic", "fatal")

# etcd 3.4 compat: embed/config.go error sentinels, verbatim.
ERR_CONFLICT_BOOTSTRAP_FLAGS = (
    'multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or '
    '"discovery-srv"'
)
ERR_LEASE_CHECKPOINT_PERSIST = (
    "setting experimental-enable-lease-checkpoint-persist requires experimental-enable-lease-checkpoint"
)
ERR_UNSET_ADVERTISE_CLIENT_URLS_FLAG = (
    "--advertise-client-urls is required when --listen-client-urls is set explicitly"
)

_URL_SCHEMES = ("http", "https", "unix", "unixs")
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")


class ConfigError(ValueError):
    """A configuration etcd 3.4 refuses; ``str()`` is etcd's message (without its "error verifying flags")."""


class UnsetAdvertiseClientURLsError(ConfigError):
    """etcd's ``ErrUnsetAdvertiseClientURLsFlag``: etcdmain tolerates it when the member may be a proxy."""

    def __init__(self) -> None:
        super().__init__(ERR_UNSET_ADVERTISE_CLIENT_URLS_FLAG)


def _go_quote(s: str) -> str:
    """Go's ``%q`` for the plain strings that reach error messages."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _go_quote_list(values: Sequence[str]) -> str:
    """Go's ``%q`` of a ``[]string``: ``["a" "b"]``."""
    return "[" + " ".join(_go_quote(v) for v in values) + "]"


def split_host_port(hostport: str) -> tuple[str, str] | None:
    """Go's ``net.SplitHostPort``: ``(host, port)``, or None where Go returns an error."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0 or not hostport[end + 1 :].startswith(":"):
            return None
        host, port = hostport[1:end], hostport[end + 2 :]
        if "[" in host or "]" in port or "[" in port:
            return None
        return host, port
    colon = hostport.rfind(":")
    if colon < 0:
        return None
    host, port = hostport[:colon], hostport[colon + 1 :]
    if ":" in host or "[" in host or "]" in host:
        return None
    return host, port


@dataclass(frozen=True, slots=True)
class URL:
    """One parsed URL of a flag: ``scheme://host:port`` plus whatever query Go would keep in ``String()``."""

    scheme: str
    host: str  # Go's url.Host: "host:port", with brackets for IPv6
    rest: str = ""

    def __str__(self) -> str:
        return f"{self.scheme}://{self.host}{self.rest}"

    @property
    def hostname(self) -> str:
        hp = split_host_port(self.host)
        return hp[0] if hp else self.host

    @property
    def port(self) -> str:
        hp = split_host_port(self.host)
        return hp[1] if hp else ""


def parse_url(raw: str) -> URL:
    """Parse and check one URL as etcd's ``types.NewURLs`` does.

    Raises:
        ConfigError: with etcd's text (scheme, ``host:port`` form, path, or Go's parse error).
    """
    s = raw.strip()
    m = _SCHEME_RE.match(s)
    if m is None:
        first_segment = s.split("/", 1)[0]
        if ":" in first_segment:
            raise ConfigError(f"parse {_go_quote(s)}: first path segment in URL cannot contain colon")
        raise ConfigError(f"URL scheme must be http, https, unix, or unixs: {s}")
    scheme = m.group(1).lower()
    remainder = s[m.end() :]
    if scheme not in _URL_SCHEMES:
        raise ConfigError(f"URL scheme must be http, https, unix, or unixs: {s}")
    rest = ""
    for sep in ("#", "?"):
        if sep in remainder:
            remainder, tail = remainder.split(sep, 1)
            rest = sep + tail + rest
    host, path = "", remainder
    if remainder.startswith("//"):
        authority, slash, tail = remainder[2:].partition("/")
        path = slash + tail
        host = authority.rpartition("@")[2]
        if host.count("[") != host.count("]"):
            raise ConfigError(f"parse {_go_quote(s)}: missing ']' in host")
    if split_host_port(host) is None:
        raise ConfigError(f'URL address does not have the form "host:port": {s}')
    if path:
        raise ConfigError(f"URL must not contain a path: {s}")
    return URL(scheme, host, rest)


def parse_urls(value: str | Iterable[str]) -> list[URL]:
    """etcd's unique-URLs flag value: comma-separated URLs, each checked, deduplicated and sorted by text.

    The whole value ``""`` gives an empty list (the exception etcd's URL flags allow); an empty item
    inside a list is refused, as in etcd ("URL scheme must be ...: ").
    """
    if value == "":
        return []
    parts = value.split(",") if isinstance(value, str) else list(value)
    urls = {str(u): u for u in (parse_url(p) for p in parts)}
    return [urls[k] for k in sorted(urls)]


def _check_bind_urls(urls: Sequence[URL]) -> None:
    for u in urls:
        if u.scheme in ("unix", "unixs"):
            continue
        host = u.hostname
        if host == "localhost":
            continue
        if not _is_ip(host):
            raise ConfigError(f"expected IP in URL for binding ({u})")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _check_host_urls(urls: Sequence[URL]) -> str | None:
    for u in urls:
        if u.scheme in ("unix", "unixs"):
            continue
        if u.hostname == "":
            return f"unexpected empty host ({u})"
    return None


def _urls(value: str) -> list[URL]:
    return parse_urls(value)


@dataclass
class Config:
    """Every etcd 3.4 flag (``etcd --help`` of 3.4.23 plus its hidden flags) with etcd's default."""

    # Member
    name: str = DEFAULT_NAME
    data_dir: str = ""  # "" means "<name>.etcd" (see effective_data_dir)
    wal_dir: str = ""
    snapshot_count: int = 100000
    heartbeat_interval: int = 100  # ms
    election_timeout: int = 1000  # ms
    initial_election_tick_advance: bool = True
    listen_peer_urls: list[URL] = field(default_factory=lambda: _urls(DEFAULT_LISTEN_PEER_URLS))
    listen_client_urls: list[URL] = field(default_factory=lambda: _urls(DEFAULT_LISTEN_CLIENT_URLS))
    max_snapshots: int = 5
    max_wals: int = 5
    quota_backend_bytes: int = 0  # 0 means etcd's default quota, 2 GiB
    backend_batch_interval: float = 0.0  # seconds; 0 means the backend's default
    backend_batch_limit: int = 0  # 0 means the backend's default
    max_txn_ops: int = 128
    max_request_bytes: int = 1572864
    max_concurrent_streams: int = MAX_UINT32
    grpc_keepalive_min_time: float = 5.0
    grpc_keepalive_interval: float = 7200.0
    grpc_keepalive_timeout: float = 20.0
    # Clustering
    initial_advertise_peer_urls: list[URL] = field(
        default_factory=lambda: _urls(DEFAULT_INITIAL_ADVERTISE_PEER_URLS)
    )
    initial_cluster: str = DEFAULT_INITIAL_CLUSTER
    initial_cluster_state: str = CLUSTER_STATE_FLAG_NEW
    initial_cluster_token: str = "etcd-cluster"
    advertise_client_urls: list[URL] | None = field(
        default_factory=lambda: _urls(DEFAULT_ADVERTISE_CLIENT_URLS)
    )
    discovery: str = ""
    discovery_fallback: str = FALLBACK_FLAG_PROXY
    discovery_proxy: str = ""
    discovery_srv: str = ""
    discovery_srv_name: str = ""
    strict_reconfig_check: bool = True
    pre_vote: bool = False
    auto_compaction_retention: str = "0"
    auto_compaction_mode: str = COMPACTOR_MODE_PERIODIC
    enable_v2: bool = False
    # Security
    cert_file: str = ""
    key_file: str = ""
    client_cert_auth: bool = False
    client_crl_file: str = ""
    client_cert_allowed_hostname: str = ""
    trusted_ca_file: str = ""
    auto_tls: bool = False
    peer_cert_file: str = ""
    peer_key_file: str = ""
    peer_client_cert_auth: bool = False
    peer_trusted_ca_file: str = ""
    peer_cert_allowed_cn: str = ""
    peer_cert_allowed_hostname: str = ""
    peer_auto_tls: bool = False
    peer_crl_file: str = ""
    cipher_suites: list[str] = field(default_factory=list)
    cors: list[str] = field(default_factory=lambda: ["*"])
    host_whitelist: list[str] = field(default_factory=lambda: ["*"])
    # Auth
    auth_token: str = "simple"
    bcrypt_cost: int = 10
    auth_token_ttl: int = 300  # seconds
    # Profiling and monitoring
    enable_pprof: bool = False
    metrics: str = "basic"
    listen_metrics_urls: list[URL] = field(default_factory=list)
    # Logging
    logger: str = "capnslog"
    log_outputs: list[str] = field(default_factory=lambda: [DEFAULT_LOG_OUTPUT])
    log_level: str = "info"
    # v2 proxy (ms)
    proxy: str = PROXY_FLAG_OFF
    proxy_failure_wait: int = 5000
    proxy_refresh_interval: int = 30000
    proxy_dial_timeout: int = 1000
    proxy_write_timeout: int = 5000
    proxy_read_timeout: int = 0
    # Experimental
    experimental_initial_corrupt_check: bool = False
    experimental_corrupt_check_time: float = 0.0
    experimental_enable_v2v3: str = ""
    experimental_backend_bbolt_freelist_type: str = "array"
    experimental_enable_lease_checkpoint: bool = False
    experimental_enable_lease_checkpoint_persist: bool = False
    experimental_compaction_batch_limit: int = 1000
    experimental_peer_skip_client_san_verification: bool = False
    experimental_watch_progress_notify_interval: float = 600.0
    experimental_warning_apply_duration: float = 0.1
    # Unsafe
    force_new_cluster: bool = False
    unsafe_no_fsync: bool = False
    # Hidden in 3.4's help, still accepted
    enable_grpc_gateway: bool = True
    # To be deprecated
    debug: bool = False
    log_package_levels: str = ""
    # CLI only
    version: bool = False
    config_file: str = ""

    # ----- validation -----

    def validate(self) -> None:
        """Check the config with etcd 3.4's rules, in etcd's order (``embed.Config.Validate``).

        Raises:
            UnsetAdvertiseClientURLsError: ``--listen-client-urls`` set without ``--advertise-client-urls``
                (the last rule but one, so etcdmain may tolerate it for a proxy).
            ConfigError: any other broken rule, with etcd's text.
        """
        self._validate_logging()
        _check_bind_urls(self.listen_peer_urls)
        _check_bind_urls(self.listen_client_urls)
        _check_bind_urls(self.listen_metrics_urls)
        err = _check_host_urls(self.initial_advertise_peer_urls)
        if err is not None:
            joined = ",".join(str(u) for u in self.initial_advertise_peer_urls)
            raise ConfigError(
                f'--initial-advertise-peer-urls {_go_quote(joined)} must be "host:port" ({err})'
            )
        err = _check_host_urls(self.advertise_client_urls or [])
        if err is not None:
            joined = ",".join(str(u) for u in self.advertise_client_urls or [])
            raise ConfigError(f'--advertise-client-urls {_go_quote(joined)} must be "host:port" ({err})')
        n_set = sum(1 for v in (self.discovery, self.initial_cluster, self.discovery_srv) if v != "")
        if self.initial_cluster_state not in (CLUSTER_STATE_FLAG_NEW, CLUSTER_STATE_FLAG_EXISTING):
            raise ConfigError(f"unexpected clusterState {_go_quote(self.initial_cluster_state)}")
        if n_set > 1:
            raise ConfigError(ERR_CONFLICT_BOOTSTRAP_FLAGS)
        if self.heartbeat_interval <= 0:
            raise ConfigError(f"--heartbeat-interval must be >0 (set to {self.heartbeat_interval}ms)")
        if self.election_timeout <= 0:
            raise ConfigError(f"--election-timeout must be >0 (set to {self.election_timeout}ms)")
        if 5 * self.heartbeat_interval > self.election_timeout:
            raise ConfigError(
                f"--election-timeout[{self.election_timeout}ms] should be at least as 5 times as "
                f"--heartbeat-interval[{self.heartbeat_interval}ms]"
            )
        if self.election_timeout > MAX_ELECTION_MS:
            raise ConfigError(
                f"--election-timeout[{self.election_timeout}ms] is too long, and should be set less than "
                f"{MAX_ELECTION_MS}ms"
            )
        # etcd checks this last (but one) since etcdmain may accept it for a proxy.
        if self.listen_client_urls and not self.advertise_client_urls:
            raise UnsetAdvertiseClientURLsError()
        if self.auto_compaction_mode not in ("", COMPACTOR_MODE_PERIODIC, COMPACTOR_MODE_REVISION):
            raise ConfigError(f"unknown auto-compaction-mode {_go_quote(self.auto_compaction_mode)}")
        checkpoint = self.experimental_enable_lease_checkpoint
        if self.experimental_enable_lease_checkpoint_persist and not checkpoint:
            raise ConfigError(ERR_LEASE_CHECKPOINT_PERSIST)

    def _validate_logging(self) -> None:
        # etcd 3.4 compat: embed/config_logging.go setupLogging; an unknown --log-level makes etcd 3.4.23
        # panic (exit 2); we refuse it with the panic's text instead.
        outputs = self.log_outputs or [DEFAULT_LOG_OUTPUT]
        if self.logger == "capnslog":
            if len(outputs) > 1:
                raise ConfigError(
                    "--logger=capnslog supports only 1 value in '--log-outputs', "
                    f"got {_go_quote_list(outputs)}"
                )
            if outputs[0] not in (DEFAULT_LOG_OUTPUT, STDERR_LOG_OUTPUT, STDOUT_LOG_OUTPUT):
                raise ConfigError(
                    f"unknown log-output {_go_quote(outputs[0])} (only supports "
                    f'"{DEFAULT_LOG_OUTPUT}", "{STDERR_LOG_OUTPUT}", "{STDOUT_LOG_OUTPUT}")'
                )
        elif self.logger == "zap":
            if len(outputs) > 1 and DEFAULT_LOG_OUTPUT in outputs:
                raise ConfigError(f"multi logoutput for {_go_quote(DEFAULT_LOG_OUTPUT)} is not supported yet")
        else:
            raise ConfigError(f"unknown logger option {_go_quote(self.logger)}")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"unknown level {_go_quote(self.log_level)}")

    # ----- derived values -----

    def effective_data_dir(self) -> str:
        """The data dir etcd uses: ``--data-dir``, or ``"<name>.etcd"`` when it is empty."""
        return self.data_dir or f"{self.name}.etcd"

    def effective_log_level(self) -> str:
        """``--debug`` forces ``debug`` (etcd 3.4's deprecated flag)."""
        return "debug" if self.debug else self.log_level

    def election_ticks(self) -> int:
        """Raft's ``ElectionTick``: election timeout over heartbeat interval (integer division, as etcd)."""
        return self.election_timeout // self.heartbeat_interval

    def min_lease_ttl(self) -> int:
        """The minimum lease TTL in whole seconds, as ``etcdserver/server.go`` computes it.

        ``(3 * election_ticks) // 2`` heartbeats (integer division in ticks, as etcd), rounded up to a
        second: 2 s for the defaults.
        """
        return math.ceil((3 * self.election_ticks()) // 2 * self.heartbeat_interval / 1000)

    def req_timeout(self) -> float:
        """etcd's ``ReqTimeout`` in seconds: 5 s + 2 x election timeout."""
        return 5.0 + 2 * self.election_timeout / 1000

    def initial_cluster_from_name(self, name: str) -> str:
        """``name=<peer url>`` for each advertised peer URL, as ``InitialClusterFromName``."""
        n = name or DEFAULT_NAME
        return ",".join(f"{n}={u}" for u in self.initial_advertise_peer_urls)

    def update_default_cluster_from_name(
        self, default_initial_cluster: str, default_host: str | None = None
    ) -> str:
        """etcd's ``UpdateDefaultClusterFromName``; returns the default host it substituted, or "".

        ``default_host`` is the host etcd would find from the default route (None: none found, which
        leaves the advertise URLs alone). When listening on ``0.0.0.0`` with the default advertise URL,
        the first advertise peer/client URL takes that host.
        """
        if default_host is None:
            if self.name != DEFAULT_NAME and self.initial_cluster == default_initial_cluster:
                self.initial_cluster = self.initial_cluster_from_name(self.name)
            return ""
        used = False
        lp = self.listen_peer_urls[0] if self.listen_peer_urls else None
        default_peer_host = (
            len(self.initial_advertise_peer_urls) == 1
            and str(self.initial_advertise_peer_urls[0]) == DEFAULT_INITIAL_ADVERTISE_PEER_URLS
        )
        if lp is not None and default_peer_host and lp.hostname == "0.0.0.0":
            ap = self.initial_advertise_peer_urls[0]
            self.initial_advertise_peer_urls[0] = URL(ap.scheme, f"{default_host}:{lp.port}")
            used = True
        if self.name != DEFAULT_NAME and self.initial_cluster == default_initial_cluster:
            self.initial_cluster = self.initial_cluster_from_name(self.name)
        lc = self.listen_client_urls[0] if self.listen_client_urls else None
        acs = self.advertise_client_urls or []
        default_client_host = len(acs) == 1 and str(acs[0]) == DEFAULT_ADVERTISE_CLIENT_URLS
        if lc is not None and default_client_host and lc.hostname == "0.0.0.0":
            acs[0] = URL(acs[0].scheme, f"{default_host}:{lc.port}")
            used = True
        return default_host if used else ""

    def peer_urls_map(self) -> dict[str, list[URL]]:
        """``--initial-cluster`` as member name -> sorted peer URLs (etcd's ``types.NewURLsMap``).

        etcd reads the value as a URL query string with ``,`` for ``&``, so a pair without ``=`` is a
        name with an empty URL. etcd's start-up prefixes errors with "error setting up initial cluster: ".

        Raises:
            ConfigError: a bad URL, with ``types.NewURLs``'s text.
        """
        result: dict[str, list[URL]] = {}
        for pair in self.initial_cluster.split(","):
            if pair == "":
                continue
            name, _, raw = pair.partition("=")
            result.setdefault(name, []).append(parse_url(raw))
        return {k: sorted(set(v), key=str) for k, v in result.items()}

    def auto_compaction_retention_value(self) -> int | float:
        """``--auto-compaction-retention`` as etcd's ``parseCompactionRetention`` reads it.

        A plain non-negative integer is a revision count in ``revision`` mode and hours in ``periodic``
        mode (returned in seconds); anything else is a Go duration, returned in seconds in ``periodic``
        mode and, as etcd 3.4 does, as that many nanoseconds worth of revisions in ``revision`` mode.

        Raises:
            ConfigError: neither an integer nor a duration (etcd: a fatal error at start-up).
        """
        retention = self.auto_compaction_retention or "0"
        revision_mode = self.auto_compaction_mode == COMPACTOR_MODE_REVISION
        if re.fullmatch(r"[+-]?[0-9]+", retention) and int(retention) >= 0:
            hours_or_revisions = int(retention)
            return hours_or_revisions if revision_mode else hours_or_revisions * 3600.0
        nanos = go_duration_ns(retention)
        if nanos is None:
            raise ConfigError(
                f"error parsing CompactionRetention: time: invalid duration {_go_quote(retention)}"
            )
        return nanos if revision_mode else nanos / 1e9

    def cipher_suites_openssl(self) -> list[str]:
        """``--cipher-suites`` as OpenSSL cipher names, in the order given (empty: the TLS defaults).

        Raises:
            ConfigError: a name Go does not know (etcd 3.4.23: a fatal error at start-up), case-sensitive.
        """
        names = []
        for suite in self.cipher_suites:
            if suite not in CIPHER_SUITES:
                raise ConfigError(f"unexpected TLS cipher suite {_go_quote(suite)}")
            names.append(CIPHER_SUITES[suite])
        return names

    def effective_bcrypt_cost(self) -> int:
        """``--bcrypt-cost``, or 10 when outside bcrypt's 4..31 (etcd 3.4 warns and falls back)."""
        return self.bcrypt_cost if 4 <= self.bcrypt_cost <= 31 else 10


# Go's TLS cipher suite names that etcd 3.4.23 accepts in --cipher-suites (checked against it), with the
# OpenSSL name Python's ssl module knows them by. TLS 1.3 suites keep their IANA names.
CIPHER_SUITES: dict[str, str] = {
    "TLS_RSA_WITH_RC4_128_SHA": "RC4-SHA",
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": "DES-CBC3-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256": "AES128-SHA256",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA": "ECDHE-ECDSA-RC4-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA": "ECDHE-RSA-RC4-SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": "ECDHE-RSA-DES-CBC3-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": "ECDHE-ECDSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": "ECDHE-RSA-AES128-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_AES_128_GCM_SHA256": "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384": "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256": "TLS_CHACHA20_POLY1305_SHA256",
}


# Go duration strings, as the flags and config file take them (etcd.pkg.gotime).
go_duration_ns = parse_duration_ns


def member_id(peer_urls: Iterable[URL | str], token: str, now_unix: int | None = None) -> int:
    """A member's ID as etcd computes it (``membership.NewMember``).

    SHA-1 over the sorted peer URLs concatenated, then the cluster token, then (for a member added at
    run time) the decimal Unix time; the ID is the first 8 bytes of the digest, big-endian. Checked
    against etcd's well-known single-member default, 8e9e05c52164694d.
    """
    data = "".join(sorted(str(u) for u in peer_urls)) + token
    if now_unix is not None:
        data += str(now_unix)
    return int(struct.unpack(">Q", hashlib.sha1(data.encode()).digest()[:8])[0])


def cluster_id(member_ids: Iterable[int]) -> int:
    """The cluster ID (``RaftCluster.genID``): SHA-1 over the sorted member IDs as 8-byte big-endian words,
    first 8 bytes big-endian. etcd's default single member gives cdf818194e3a8c32."""
    data = b"".join(struct.pack(">Q", m) for m in sorted(member_ids))
    return int(struct.unpack(">Q", hashlib.sha1(data).digest()[:8])[0])
