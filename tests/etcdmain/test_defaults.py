"""Config() carries etcd 3.4.23's defaults, one row per flag (values from `etcd --help` of 3.4.23)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from etcd.embed.config import Config, cluster_id, member_id, parse_urls
from etcd.etcdmain.help import all_flag_names

DEFAULTS = [
    ("name", "default"),
    ("data_dir", ""),
    ("wal_dir", ""),
    ("snapshot_count", 100000),
    ("heartbeat_interval", 100),
    ("election_timeout", 1000),
    ("initial_election_tick_advance", True),
    ("listen_peer_urls", ["http://localhost:2380"]),
    ("listen_client_urls", ["http://localhost:2379"]),
    ("max_snapshots", 5),
    ("max_wals", 5),
    ("quota_backend_bytes", 0),
    ("backend_batch_interval", 0.0),
    ("backend_batch_limit", 0),
    ("max_txn_ops", 128),
    ("max_request_bytes", 1572864),
    ("max_concurrent_streams", 2**32 - 1),
    ("grpc_keepalive_min_time", 5.0),
    ("grpc_keepalive_interval", 7200.0),
    ("grpc_keepalive_timeout", 20.0),
    ("initial_advertise_peer_urls", ["http://localhost:2380"]),
    ("initial_cluster", "default=http://localhost:2380"),
    ("initial_cluster_state", "new"),
    ("initial_cluster_token", "etcd-cluster"),
    ("advertise_client_urls", ["http://localhost:2379"]),
    ("discovery", ""),
    ("discovery_fallback", "proxy"),
    ("discovery_proxy", ""),
    ("discovery_srv", ""),
    ("discovery_srv_name", ""),
    ("strict_reconfig_check", True),
    ("pre_vote", False),
    ("auto_compaction_retention", "0"),
    ("auto_compaction_mode", "periodic"),
    ("enable_v2", False),
    ("cert_file", ""),
    ("key_file", ""),
    ("client_cert_auth", False),
    ("client_crl_file", ""),
    ("client_cert_allowed_hostname", ""),
    ("trusted_ca_file", ""),
    ("auto_tls", False),
    ("peer_cert_file", ""),
    ("peer_key_file", ""),
    ("peer_client_cert_auth", False),
    ("peer_trusted_ca_file", ""),
    ("peer_cert_allowed_cn", ""),
    ("peer_cert_allowed_hostname", ""),
    ("peer_auto_tls", False),
    ("peer_crl_file", ""),
    ("cipher_suites", []),
    ("cors", ["*"]),
    ("host_whitelist", ["*"]),
    ("auth_token", "simple"),
    ("bcrypt_cost", 10),
    ("auth_token_ttl", 300),
    ("enable_pprof", False),
    ("metrics", "basic"),
    ("listen_metrics_urls", []),
    ("logger", "capnslog"),
    ("log_outputs", ["default"]),
    ("log_level", "info"),
    ("proxy", "off"),
    ("proxy_failure_wait", 5000),
    ("proxy_refresh_interval", 30000),
    ("proxy_dial_timeout", 1000),
    ("proxy_write_timeout", 5000),
    ("proxy_read_timeout", 0),
    ("experimental_initial_corrupt_check", False),
    ("experimental_corrupt_check_time", 0.0),
    ("experimental_enable_v2v3", ""),
    ("experimental_backend_bbolt_freelist_type", "array"),
    ("experimental_enable_lease_checkpoint", False),
    ("experimental_enable_lease_checkpoint_persist", False),
    ("experimental_compaction_batch_limit", 1000),
    ("experimental_peer_skip_client_san_verification", False),
    ("experimental_watch_progress_notify_interval", 600.0),
    ("experimental_warning_apply_duration", 0.1),
    ("force_new_cluster", False),
    ("unsafe_no_fsync", False),
    ("enable_grpc_gateway", True),
    ("debug", False),
    ("log_package_levels", ""),
    ("version", False),
    ("config_file", ""),
]


def _plain(value: object) -> object:
    if isinstance(value, list):
        return [str(v) for v in value]
    return value


@pytest.mark.parametrize(("field_name", "expected"), DEFAULTS, ids=[d[0] for d in DEFAULTS])
def test_default(field_name: str, expected: object) -> None:
    assert _plain(getattr(Config(), field_name)) == expected


def test_the_table_covers_every_field_and_every_flag() -> None:
    names = [f.name for f in fields(Config)]
    assert sorted(names) == sorted(d[0] for d in DEFAULTS)
    assert sorted(names) == sorted(f.replace("-", "_") for f in all_flag_names())


def test_default_config_is_valid() -> None:
    Config().validate()


def test_derived_values_of_the_defaults() -> None:
    cfg = Config()
    assert cfg.effective_data_dir() == "default.etcd"
    assert cfg.election_ticks() == 10
    assert cfg.min_lease_ttl() == 2  # ceil(1.5 s)
    assert cfg.req_timeout() == 7.0
    cfg.name = "infra1"
    assert cfg.effective_data_dir() == "infra1.etcd"
    cfg.data_dir = "/var/lib/etcd"
    assert cfg.effective_data_dir() == "/var/lib/etcd"


def test_min_lease_ttl_rounds_up() -> None:
    cfg = Config(heartbeat_interval=100, election_timeout=1500)
    assert cfg.min_lease_ttl() == 3  # ceil(2.25)
    cfg = Config(heartbeat_interval=300, election_timeout=1000)
    assert cfg.election_ticks() == 3
    assert cfg.min_lease_ttl() == 2  # (3*3)//2 = 4 ticks x 300 ms = 1.2 s
    # etcd 3.4.23 with these flags: `etcdctl lease grant 1` -> "granted with TTL(5s)".
    cfg = Config(heartbeat_interval=700, election_timeout=3500)
    assert cfg.min_lease_ttl() == 5  # (3*5)//2 = 7 ticks x 700 ms = 4.9 s, not ceil(5.25) = 6


def test_member_and_cluster_id_of_the_default_member() -> None:
    # The IDs every fresh single-member etcd 3.4 reports (etcdctl member list / endpoint status).
    mid = member_id(parse_urls("http://localhost:2380"), "etcd-cluster")
    assert f"{mid:x}" == "8e9e05c52164694d"
    assert f"{cluster_id([mid]):x}" == "cdf818194e3a8c32"


def test_member_id_sorts_urls_and_uses_the_token() -> None:
    a = member_id(["http://b:2380", "http://a:2380"], "tok")
    assert a == member_id(["http://a:2380", "http://b:2380"], "tok")
    assert a != member_id(["http://a:2380", "http://b:2380"], "other")
    assert a != member_id(["http://a:2380", "http://b:2380"], "tok", now_unix=1)
    assert cluster_id([1, 2]) == cluster_id([2, 1])
