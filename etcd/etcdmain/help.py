"""etcd's command-line help: every flag, grouped as ``etcd --help`` of 3.4 groups them (wording ours).

``FLAG_GROUPS`` is the single list of flags the CLI knows, in help order; ``usage()`` renders the help
text with each flag's default taken from ``Config()``. Flags etcd 3.4 accepts but leaves out of its help
are in ``HIDDEN_FLAGS``.
"""

from __future__ import annotations

from etcd.embed.config import Config

USAGE_LINE = """Usage:

  etcd [flags]
    Start an etcd member.

  etcd --version
    Print the version and exit.

  etcd -h | --help
    Print this help and exit.

  etcd --config-file
    Read the configuration from a YAML file whose keys are the flag names; with a file, every other
    command-line flag and ETCD_* environment variable is ignored.
"""

# (group title, [(flag, description)]); the order is etcd 3.4's.
FLAG_GROUPS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Member", [
        ("name", "Name of this member, unique in the cluster."),
        ("data-dir", "Directory for the member's data."),
        ("wal-dir", "Separate directory for the write-ahead log."),
        ("snapshot-count", "Applied entries between two snapshots to disk."),
        ("heartbeat-interval", "Heartbeat period in milliseconds."),
        ("election-timeout", "Election timeout in milliseconds (at least 5 heartbeats)."),
        ("initial-election-tick-advance", "Skip most of the first election timeout on start-up."),
        ("listen-peer-urls", "URLs to accept peer traffic on."),
        ("listen-client-urls", "URLs to accept client traffic on."),
        ("max-snapshots", "Snapshot files to keep (0: all)."),
        ("max-wals", "WAL files to keep (0: all)."),
        ("quota-backend-bytes", "Backend size that raises the NOSPACE alarm (0: the default quota)."),
        ("backend-batch-interval", "Longest time before a backend batch commits."),
        ("backend-batch-limit", "Most writes in one backend batch."),
        ("max-txn-ops", "Most operations in one transaction."),
        ("max-request-bytes", "Largest client request accepted, in bytes."),
        ("max-concurrent-streams", "Most concurrent streams per client connection."),
        ("grpc-keepalive-min-time", "Shortest interval a client may ping at."),
        ("grpc-keepalive-interval", "Server ping interval on idle connections (0: off)."),
        ("grpc-keepalive-timeout", "Wait for a ping answer before closing (0: off)."),
    ]),
    ("Clustering", [
        ("initial-advertise-peer-urls", "Peer URLs this member announces to the cluster."),
        ("initial-cluster", "Members at bootstrap, as name=peer-url pairs."),
        ("initial-cluster-state", "'new' to bootstrap a cluster, 'existing' to join one."),
        ("initial-cluster-token", "Token that keeps separate clusters apart at bootstrap."),
        ("advertise-client-urls", "Client URLs this member announces; clients must reach them."),
        ("discovery", "Discovery URL to bootstrap the cluster from."),
        ("discovery-fallback", "'exit' or 'proxy' (v2 only) when discovery finds the cluster full."),
        ("discovery-proxy", "HTTP proxy for talking to the discovery service."),
        ("discovery-srv", "DNS domain whose SRV records list the cluster."),
        ("discovery-srv-name", "Suffix of the SRV name queried at bootstrap."),
        ("strict-reconfig-check", "Refuse membership changes that would lose quorum."),
        ("pre-vote", "Run raft's pre-vote phase before elections."),
        ("auto-compaction-retention", "Auto-compaction retention (0: off)."),
        ("auto-compaction-mode", "'periodic' (a duration, hours without unit) or 'revision' (a count)."),
        ("enable-v2", "Serve the v2 API."),
    ]),
    ("Security", [
        ("cert-file", "Client TLS certificate."),
        ("key-file", "Client TLS key."),
        ("client-cert-auth", "Require client certificates."),
        ("client-crl-file", "Client certificate revocation list."),
        ("client-cert-allowed-hostname", "Hostname a client certificate must carry."),
        ("trusted-ca-file", "CA for client certificates."),
        ("auto-tls", "Generate a self-signed client TLS certificate."),
        ("peer-cert-file", "Peer TLS certificate."),
        ("peer-key-file", "Peer TLS key."),
        ("peer-client-cert-auth", "Require peer client certificates."),
        ("peer-trusted-ca-file", "CA for peer certificates."),
        ("peer-cert-allowed-cn", "Common name a peer certificate must carry."),
        ("peer-cert-allowed-hostname", "Hostname a peer certificate must carry."),
        ("peer-auto-tls", "Generate a self-signed peer certificate when none is given."),
        ("peer-crl-file", "Peer certificate revocation list."),
        ("cipher-suites", "Comma-separated TLS cipher suites (empty: the defaults)."),
        ("cors", "Comma-separated CORS origins (empty or *: all)."),
        ("host-whitelist", "Accepted Host headers on plain HTTP (empty or *: all)."),
    ]),
    ("Auth", [
        ("auth-token", "Token type: 'simple' or 'jwt' with its options."),
        ("bcrypt-cost", "bcrypt cost for passwords (4 to 31)."),
        ("auth-token-ttl", "Lifetime of a simple token in seconds."),
    ]),
    ("Profiling and Monitoring", [
        ("enable-pprof", "Serve profiling data under /debug/pprof/."),
        ("metrics", "'basic', or 'extensive' for histograms too."),
        ("listen-metrics-urls", "Extra URLs serving only /metrics and /health."),
    ]),
    ("Logging", [
        ("logger", "'capnslog' or 'zap' (structured)."),
        ("log-outputs", "'default', 'stdout', 'stderr' or file paths, comma-separated."),
        ("log-level", "debug, info, warn, error, panic or fatal."),
    ]),
    ("v2 Proxy (to be deprecated in v4)", [
        ("proxy", "'off', 'readonly' or 'on'."),
        ("proxy-failure-wait", "Milliseconds a failed endpoint stays out."),
        ("proxy-refresh-interval", "Milliseconds between endpoint refreshes."),
        ("proxy-dial-timeout", "Dial timeout in milliseconds."),
        ("proxy-write-timeout", "Write timeout in milliseconds."),
        ("proxy-read-timeout", "Read timeout in milliseconds (0: none)."),
    ]),
    ("Experimental feature", [
        ("experimental-initial-corrupt-check", "Compare KV hashes with peers before serving."),
        ("experimental-corrupt-check-time", "Period of the cluster corruption check (0: off)."),
        ("experimental-enable-v2v3", "Serve v2 through the v3 store under this prefix."),
        ("experimental-backend-bbolt-freelist-type", "Backend freelist type ('array' or 'map')."),
        ("experimental-enable-lease-checkpoint", "Checkpoint remaining lease TTLs through raft."),
        ("experimental-compaction-batch-limit", "Revisions removed per compaction batch."),
        ("experimental-peer-skip-client-san-verification", "Skip SAN checks of peer client certs."),
        ("experimental-watch-progress-notify-interval", "Period of watch progress notifications."),
        ("experimental-warning-apply-duration", "Warn about applies slower than this."),
    ]),
    ("Unsafe feature", [
        ("force-new-cluster", "Restart as a new single-member cluster."),
    ]),
    ("TO BE DEPRECATED", [
        ("debug", "Debug logging; use --log-level=debug."),
        ("log-package-levels", "Per-package log levels (e.g. 'etcdmain=CRITICAL')."),
    ]),
]

HIDDEN_FLAGS = [
    "experimental-enable-lease-checkpoint-persist",
    "unsafe-no-fsync",
    "enable-grpc-gateway",
    "version",
    "config-file",
]


def all_flag_names() -> list[str]:
    """Every flag the CLI accepts, help order first, hidden ones last."""
    return [name for _, flags in FLAG_GROUPS for name, _ in flags] + HIDDEN_FLAGS


# Defaults etcd's help spells its own way rather than printing the value.
_DEFAULT_SPELLING = {
    "data-dir": "${name}.etcd",
    "max-concurrent-streams": "math.MaxUint32",
    "backend-batch-interval": "",
}
_DURATION_FLAGS = (
    "grpc-keepalive-min-time", "grpc-keepalive-interval", "grpc-keepalive-timeout",
    "experimental-corrupt-check-time", "experimental-watch-progress-notify-interval",
    "experimental-warning-apply-duration",
)


def _default_text(cfg: Config, flag: str) -> str:
    if flag in _DEFAULT_SPELLING:
        return _DEFAULT_SPELLING[flag]
    value = getattr(cfg, flag.replace("-", "_"))
    if flag in _DURATION_FLAGS:
        return format_duration(float(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def format_duration(seconds: float) -> str:
    """A duration the short way etcd's help writes defaults: ``0s``, ``100ms``, ``20s``, ``10m``, ``2h``.

    The largest unit that divides the value exactly is used (milliseconds below a second).
    """
    millis = round(seconds * 1000)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if millis and millis % size == 0:
            return f"{millis // size}{unit}"
    return f"{millis}ms" if millis else "0s"


def usage() -> str:
    """The full ``--help`` text."""
    cfg = Config()
    lines = [USAGE_LINE]
    for title, flags in FLAG_GROUPS:
        lines.append(f"{title}:")
        for name, text in flags:
            lines.append(f"  --{name} '{_default_text(cfg, name)}'")
            lines.append(f"    {text}")
        lines.append("")
    return "\n".join(lines)
