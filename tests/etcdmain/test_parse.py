"""etcdmain.config.parse: Go flag syntax, value types, ETCD_* variables and --config-file (etcd 3.4.23)."""

from __future__ import annotations

import io
import pathlib

import pytest

from etcd.embed.config import ConfigError, UnsetAdvertiseClientURLsError
from etcd.etcdmain.config import (
    FlagError,
    HelpRequested,
    load,
    parse,
    parse_duration,
    parse_go_int,
    parse_go_uint,
)


def urls(values: object) -> list[str]:
    assert isinstance(values, list)
    return [str(u) for u in values]


def test_no_arguments_give_the_defaults() -> None:
    cfg = parse([], {})
    assert cfg.name == "default"
    assert cfg.initial_cluster == "default=http://localhost:2380"


@pytest.mark.parametrize(
    "argv",
    [
        ["--name", "n1"],
        ["--name=n1"],
        ["-name", "n1"],
        ["-name=n1"],
        ["--name", "x", "--name", "n1"],  # the last one wins
    ],
)
def test_value_flag_forms(argv: list[str]) -> None:
    assert parse(argv, {}).name == "n1"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--enable-v2"], True),
        (["--enable-v2=true"], True),
        (["--enable-v2=t"], True),
        (["--enable-v2=1"], True),
        (["--enable-v2=TRUE"], True),
        (["--enable-v2=false"], False),
        (["--enable-v2=F"], False),
        (["--strict-reconfig-check=0"], False),
    ],
)
def test_booleans(argv: list[str], expected: bool) -> None:
    cfg = parse(argv, {})
    assert (cfg.enable_v2 if "enable" in argv[0] else cfg.strict_reconfig_check) is expected


def test_a_bool_flag_does_not_take_the_next_argument() -> None:
    with pytest.raises(ConfigError) as e:
        parse(["--enable-v2", "false"], {})
    assert str(e.value) == "'false' is not a valid flag"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--foo"], "flag provided but not defined: -foo"),
        (["--heartbeat-interval", "abc"], 'invalid value "abc" for flag -heartbeat-interval: parse error'),
        (["--heartbeat-interval=-1"], 'invalid value "-1" for flag -heartbeat-interval: parse error'),
        (
            ["--initial-cluster-state", "foo"],
            'invalid value "foo" for flag -initial-cluster-state: invalid value',
        ),
        (["--proxy", "foo"], 'invalid value "foo" for flag -proxy: invalid value'),
        (["--discovery-fallback", "x"], 'invalid value "x" for flag -discovery-fallback: invalid value'),
        (["--enable-v2=foo"], 'invalid boolean value "foo" for -enable-v2: parse error'),
        (["--max-request-bytes", "1.5"], 'invalid value "1.5" for flag -max-request-bytes: parse error'),
        (
            ["--grpc-keepalive-min-time", "5"],
            'invalid value "5" for flag -grpc-keepalive-min-time: parse error',
        ),
        (
            ["--max-concurrent-streams", "4294967296"],
            'invalid value "4294967296" for flag -max-concurrent-streams: '
            'strconv.ParseUint: parsing "4294967296": value out of range',
        ),
        (
            ["--listen-peer-urls", "ftp://x:1"],
            'invalid value "ftp://x:1" for flag -listen-peer-urls: '
            "URL scheme must be http, https, unix, or unixs: ftp://x:1",
        ),
        (["--name"], "flag needs an argument: -name"),
        (["---name=x"], "bad flag syntax: ---name=x"),
        (["-=x"], "bad flag syntax: -=x"),
    ],
)
def test_flag_errors(argv: list[str], message: str) -> None:
    with pytest.raises(FlagError) as e:
        parse(argv, {})
    assert str(e.value) == message


@pytest.mark.parametrize("argv", [["-h"], ["--help"], ["-help"], ["--name", "x", "--help"]])
def test_help(argv: list[str]) -> None:
    with pytest.raises(HelpRequested):
        parse(argv, {})


def test_arguments_after_the_flags_are_refused() -> None:
    with pytest.raises(ConfigError) as e:
        parse(["--name", "x", "extra"], {})
    assert str(e.value) == "'extra' is not a valid flag"
    with pytest.raises(ConfigError, match="'--name' is not a valid flag"):
        parse(["--", "--name"], {})


def test_version_skips_validation() -> None:
    cfg = parse(["--version", "--heartbeat-interval", "0"], {})
    assert cfg.version is True


def test_value_types() -> None:
    cfg = parse(
        [
            "--snapshot-count",
            "0x10",
            "--quota-backend-bytes",
            "-1",
            "--grpc-keepalive-interval",
            "1h30m",
            "--experimental-warning-apply-duration",
            "250ms",
            "--cipher-suites",
            "b,a,b",
            "--cors",
            "http://b:80,http://a:8080,http://b:80",
            "--log-outputs",
            "stdout",
            "--listen-metrics-urls",
            "http://127.0.0.1:2381",
        ],
        {},
    )
    assert cfg.snapshot_count == 16
    assert cfg.quota_backend_bytes == -1
    assert cfg.grpc_keepalive_interval == 5400.0
    assert cfg.experimental_warning_apply_duration == pytest.approx(0.25)
    assert cfg.cipher_suites == ["b", "a", "b"]
    assert cfg.cors == ["http://a:8080", "http://b:80"]
    assert cfg.log_outputs == ["stdout"]
    assert urls(cfg.listen_metrics_urls) == ["http://127.0.0.1:2381"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0.0),
        ("5s", 5.0),
        ("1.5h", 5400.0),
        ("100ms", 0.1),
        ("1m30s", 90.0),
        ("-2s", -2.0),
        ("3us", 3e-6),
    ],
)
def test_durations(text: str, value: float) -> None:
    assert parse_duration(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "5", "s", "1x", "1s2", ".s", "1 s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("10", 10),
        ("0x1f", 31),
        ("017", 15),
        ("0o17", 15),
        ("0b101", 5),
        ("0", 0),
        ("0x_1f", 31),
    ],
)
def test_go_ints(text: str, value: int) -> None:
    assert parse_go_uint(text) == value
    assert parse_go_int("-" + text) == -value


@pytest.mark.parametrize("text", ["", "1_000", "+1", "-1", "1.0", " 1", "08", "0x"])
def test_bad_go_uints(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_uint(text)


def test_listen_client_urls_without_advertise() -> None:
    with pytest.raises(UnsetAdvertiseClientURLsError):
        parse(["--listen-client-urls", "http://127.0.0.1:2379"], {})
    cfg = parse(
        ["--listen-client-urls", "http://127.0.0.1:2379", "--advertise-client-urls", "http://h:2379"], {}
    )
    assert urls(cfg.advertise_client_urls) == ["http://h:2379"]
    # A proxy needs no advertise URL (etcdmain's mayBeProxy).
    cfg = parse(["--listen-client-urls", "http://127.0.0.1:2379", "--proxy", "on"], {})
    assert cfg.proxy == "on"
    assert urls(cfg.advertise_client_urls) == ["http://localhost:2379"]


def test_discovery_clears_the_default_initial_cluster() -> None:
    assert parse(["--discovery-srv", "example.com"], {}).initial_cluster == ""
    assert parse(["--discovery", "http://d/t"], {}).initial_cluster == ""
    with pytest.raises(ConfigError, match="multiple discovery or bootstrap flags"):
        parse(["--discovery", "http://d/t", "--initial-cluster", "default=http://localhost:2380"], {})


# ----- ETCD_* environment -----


def test_env_sets_flags() -> None:
    cfg = parse(
        [],
        {
            "ETCD_NAME": "envname",
            "ETCD_ENABLE_V2": "true",
            "ETCD_HEARTBEAT_INTERVAL": "50",
            "ETCD_ELECTION_TIMEOUT": "500",
            "ETCD_INITIAL_CLUSTER_STATE": "existing",
        },
    )
    assert (cfg.name, cfg.enable_v2, cfg.heartbeat_interval, cfg.election_timeout) == (
        "envname",
        True,
        50,
        500,
    )
    assert cfg.initial_cluster_state == "existing"


def test_empty_env_values_are_ignored() -> None:
    assert parse([], {"ETCD_NAME": ""}).name == "default"


def test_env_listen_client_urls_counts_as_set() -> None:
    with pytest.raises(UnsetAdvertiseClientURLsError):
        parse([], {"ETCD_LISTEN_CLIENT_URLS": "http://127.0.0.1:2379"})


def test_unknown_env_only_warns() -> None:
    seen: list[str] = []
    cfg = parse([], {"ETCD_FOO": "1", "OTHER": "x"}, warn=seen.append)
    assert cfg.name == "default"
    assert seen == ["unrecognized environment variable ETCD_FOO=1"]


def test_a_flag_shadowing_an_env_var_is_refused_as_etcd_does() -> None:
    # etcd 3.4.23 logs this at CRITICAL and exits 1 (pkg/flags verifyEnv), not a mere warning.
    with pytest.raises(ConfigError) as e:
        parse(["--name", "flag"], {"ETCD_NAME": "env"})
    assert str(e.value) == (
        'conflicting environment variable "ETCD_NAME" is shadowed by corresponding command-line flag '
        "(either unset environment variable or disable flag)"
    )


def test_bad_env_value() -> None:
    with pytest.raises(ConfigError) as e:
        parse([], {"ETCD_HEARTBEAT_INTERVAL": "abc"})
    assert str(e.value) == 'invalid value "abc" for ETCD_HEARTBEAT_INTERVAL: parse error'


def test_env_version_is_not_a_flag() -> None:
    seen: list[str] = []
    cfg = parse([], {"ETCD_VERSION": "1"}, warn=seen.append)
    assert cfg.version is False
    assert seen == ["cannot set special environment variable ETCD_VERSION=1"]


# ----- --config-file -----


def write(tmp_path: pathlib.Path, text: str) -> str:
    p = tmp_path / "etcd.conf.yml"
    p.write_text(text)
    return str(p)


def test_config_file_overrides_flags_and_env(tmp_path: pathlib.Path) -> None:
    path = write(
        tmp_path,
        """
name: fromfile
data-dir: /var/lib/x
heartbeat-interval: 200
election-timeout: 2000
listen-client-urls: http://127.0.0.1:2379,http://10.0.0.1:2379
advertise-client-urls: http://10.0.0.1:2379
initial-cluster-state: existing
enable-v2: true
log-outputs: [stdout]
cors: http://b:80,http://a:8080
grpc-keepalive-interval: 60000000000
proxy: readonly
client-transport-security:
  cert-file: /c.pem
  client-cert-auth: true
peer-transport-security:
  key-file: /pk.pem
  auto-tls: true
  allowed-cn: peer1
""",
    )
    cfg = parse(
        ["--config-file", path, "--name", "fromflag", "--heartbeat-interval", "0"],
        {"ETCD_ENABLE_V2": "false", "ETCD_SNAPSHOT_COUNT": "7"},
    )
    assert cfg.name == "fromfile"
    assert (cfg.heartbeat_interval, cfg.election_timeout, cfg.snapshot_count) == (200, 2000, 100000)
    assert cfg.data_dir == "/var/lib/x"
    assert urls(cfg.listen_client_urls) == ["http://10.0.0.1:2379", "http://127.0.0.1:2379"]
    assert cfg.initial_cluster_state == "existing"
    assert cfg.enable_v2 is True
    assert cfg.log_outputs == ["stdout"]
    assert cfg.cors == ["http://a:8080", "http://b:80"]
    assert cfg.grpc_keepalive_interval == 60.0
    assert cfg.proxy == "readonly"
    assert (cfg.cert_file, cfg.client_cert_auth) == ("/c.pem", True)
    assert (cfg.peer_key_file, cfg.peer_auto_tls, cfg.peer_cert_allowed_cn) == ("/pk.pem", True, "peer1")
    assert cfg.config_file == path


def test_config_file_from_env(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "name: viaenv\n")
    assert parse([], {"ETCD_CONFIG_FILE": path, "ETCD_NAME": "ignored"}).name == "viaenv"


def test_config_file_ignores_unknown_keys_and_top_level_tls(tmp_path: pathlib.Path) -> None:
    cfg = parse(["--config-file", write(tmp_path, "nosuch: 1\ncert-file: /x.pem\n")], {})
    assert cfg.cert_file == ""


def test_config_file_is_validated(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "heartbeat-interval: 10\nelection-timeout: 20\n")
    with pytest.raises(ConfigError) as e:
        parse(["--config-file", path], {})
    assert (
        str(e.value) == "--election-timeout[20ms] should be at least as 5 times as --heartbeat-interval[10ms]"
    )


def test_config_file_keeps_the_default_advertise_url(tmp_path: pathlib.Path) -> None:
    # Unlike flags, a file with only listen-client-urls passes (etcd 3.4.23 starts with it).
    cfg = parse(["--config-file", write(tmp_path, "listen-client-urls: http://127.0.0.1:23791\n")], {})
    assert urls(cfg.advertise_client_urls) == ["http://localhost:2379"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "heartbeat-interval: abc\n",
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct "
            "field configYAML.heartbeat-interval of type uint",
        ),
        (
            "listen-peer-urls: ftp://127.0.0.1:23791\n",
            "unexpected error setting up listen-peer-urls: URL scheme must be http, https, unix, or unixs: "
            "ftp://127.0.0.1:23791",
        ),
        (
            "discovery: http://d/t\ninitial-cluster: a=http://1.2.3.4:1\n",
            'multiple discovery or bootstrap flags are set. Choose one of "initial-cluster", "discovery" or '
            '"discovery-srv"',
        ),
    ],
)
def test_config_file_errors(tmp_path: pathlib.Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(["--config-file", write(tmp_path, text)], {})
    assert str(e.value) == message


def test_missing_config_file(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "nonexist.yml")
    with pytest.raises(ConfigError) as e:
        parse(["--config-file", path], {})
    assert str(e.value) == f"open {path}: no such file or directory"


def test_discovery_in_a_file_clears_the_default_initial_cluster(tmp_path: pathlib.Path) -> None:
    assert parse(["--config-file", write(tmp_path, "discovery: http://d/t\n")], {}).initial_cluster == ""


# ----- load(): what the CLI prints and its exit code -----


def run_load(argv: list[str], environ: dict[str, str] | None = None) -> tuple[object, str, str]:
    out, err = io.StringIO(), io.StringIO()
    result = load(argv, environ or {}, out, err)
    return result, out.getvalue(), err.getvalue()


def test_load_exit_codes() -> None:
    result, _, err = run_load(["--foo"])
    assert result == 2
    assert err.startswith("flag provided but not defined: -foo\nUsage:")
    result, out, _ = run_load(["--help"])
    assert result == 0
    assert "--listen-client-urls 'http://localhost:2379'" in out
    result, out, _ = run_load(["--version"])
    assert result == 0
    assert out.startswith("etcd Version: 3.4.23\n")
    result, _, err = run_load(["--heartbeat-interval", "0"])
    assert result == 1
    assert err == "error verifying flags, --heartbeat-interval must be >0 (set to 0ms). See 'etcd --help'.\n"
    result, _, err = run_load(["--listen-client-urls", "http://127.0.0.1:1"])
    assert result == 1
    assert "When listening on specific address(es)" in err
    result, _, _ = run_load(["--name", "ok"])
    assert not isinstance(result, int)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # Texts from etcd 3.4.23 (see test_against_etcd.py for the live comparison).
        ("proxy: foo\n", "unexpected error setting up proxyFlag: invalid value"),
        ("discovery-fallback: foo\n", "unexpected error setting up discovery-fallback flag: invalid value"),
        ("proxy: foo\nheartbeat-interval: 0\n", "--heartbeat-interval must be >0 (set to 0ms)"),
        (
            "snapshot-count: -1\n",
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number -1 into Go struct "
            "field configYAML.snapshot-count of type uint64",
        ),
        (
            "grpc-keepalive-interval: 2h\n",
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct "
            "field configYAML.grpc-keepalive-interval of type time.Duration",
        ),
        (
            "proxy-failure-wait: abc\n",
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal string into Go struct "
            "field configProxy.proxy-failure-wait of type uint",
        ),
        (
            "client-transport-security:\n  cert-file: 1\n",
            "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal number into Go struct "
            "field securityConfig.client-transport-security.cert-file of type string",
        ),
    ],
)
def test_config_file_checks_in_etcds_order(tmp_path: pathlib.Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse(["--config-file", write(tmp_path, text)], {})
    assert str(e.value) == message


def test_config_file_keys_match_case_insensitively(tmp_path: pathlib.Path) -> None:
    cfg = parse(["--config-file", write(tmp_path, "Name: n1\nPROXY: readonly\nproxy-dial-timeout: 7\n")], {})
    assert (cfg.name, cfg.proxy, cfg.proxy_dial_timeout) == ("n1", "readonly", 7)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        # etcd 3.4.23 reads --cors as URLs (host:port required) with "*" as the only exception.
        (
            ["--cors", "foo"],
            'invalid value "foo" for flag -cors: URL scheme must be http, https, unix, or unixs: foo',
        ),
        (
            ["--cors", "http://a.com"],
            'invalid value "http://a.com" for flag -cors: URL address does not have the form "host:port": '
            "http://a.com",
        ),
        (["--cors="], 'invalid value "" for flag -cors: URL scheme must be http, https, unix, or unixs: '),
        (
            ["--listen-peer-urls=http://127.0.0.1:1,"],
            'invalid value "http://127.0.0.1:1," for flag -listen-peer-urls: '
            "URL scheme must be http, https, unix, or unixs: ",
        ),
    ],
)
def test_list_flag_errors(argv: list[str], message: str) -> None:
    with pytest.raises(FlagError) as e:
        parse(argv, {})
    assert str(e.value) == message


def test_empty_list_values() -> None:
    assert parse(["--listen-metrics-urls="], {}).listen_metrics_urls == []
    assert parse(["--cors", "*"], {}).cors == ["*"]
    assert parse(["--host-whitelist="], {}).host_whitelist == [""]
    with pytest.raises(ConfigError) as e:
        parse(["--log-outputs="], {})
    assert str(e.value) == 'unknown log-output "" (only supports "default", "stderr", "stdout")'
