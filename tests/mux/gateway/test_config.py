"""The gateway's config reader: a good file becomes routers; every mistake names its key."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mux.__main__ import main
from mux.gateway import build
from mux.gateway.config import (
    CloseConfig,
    ConfigError,
    Http1RequiredConfig,
    ProxyConfig,
    TLSConfig,
    load,
    parse,
)

if TYPE_CHECKING:
    from tests.mux.conftest import DevCerts


def good(dev_certs: DevCerts) -> dict[str, Any]:
    return {
        "listen": ["127.0.0.1:8443", "unix:/tmp/gw.sock"],
        "admin": "127.0.0.1:9100",
        "match_timeout": 2,
        "max_connections": 100,
        "proxy_protocol_from": ["10.0.0.0/8", "127.0.0.1"],
        "routes": [
            {"name": "grpc", "match": "grpc", "proxy": "unix:/run/g.sock", "max_connections": 10},
            {"name": "rest", "match": ["http1", {"prefix": "PRI"}], "proxy": {"address": "127.0.0.1:80"}},
            {"name": "h2c", "match": "h2c", "http1_required": True},
            {
                "name": "site",
                "match": {"tls": {"server_names": ["*.example.com"], "alpn": ["h2", "http/1.1"]}},
                "tls": {
                    "cert": str(dev_certs.server_cert),
                    "key": str(dev_certs.server_key),
                    "routes": [{"name": "site-http", "match": "http1", "proxy": "127.0.0.1:8080"}],
                },
            },
            {"name": "ssh", "match": {"prefix": "SSH-"}, "close": True},
            {
                "name": "ws",
                "match": {"http1_header": {"name": "Upgrade", "value": "websocket"}},
                "close": True,
            },
        ],
        "fallback": {"name": "echo", "proxy": {"address": "127.0.0.1:7", "proxy_protocol": 2}},
    }


def test_a_good_config_reads_into_routes_and_builds(dev_certs: DevCerts) -> None:
    config = parse(good(dev_certs))
    assert config.listen == ("127.0.0.1:8443", "unix:/tmp/gw.sock")
    assert config.match_timeout == 2.0
    assert [r.name for r in config.routes] == ["grpc", "rest", "h2c", "site", "ssh", "ws"]
    assert config.routes[0].target == ProxyConfig("unix:/run/g.sock")
    assert config.routes[0].max_connections == 10
    assert [m.kind for m in config.routes[1].matchers] == ["http1", "prefix"]
    assert config.routes[1].matchers[1].prefixes == (b"PRI",)
    assert isinstance(config.routes[2].target, Http1RequiredConfig)
    site = config.routes[3]
    assert isinstance(site.target, TLSConfig)
    assert site.matchers[0].server_names == ("*.example.com",)
    assert site.target.routes[0].name == "site-http"
    assert isinstance(config.routes[4].target, CloseConfig)
    assert config.fallback is not None and config.fallback.target == ProxyConfig("127.0.0.1:7", 2)
    router = build.build(config)
    names = [r.name for r in build.all_routes(router)]
    assert names == ["grpc", "rest", "h2c", "site", "ssh", "ws", "echo", "site-http"]


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        (lambda c: c.pop("routes"), "routes", "required key is missing"),
        (lambda c: c.update(listne="x"), "listne", "unknown key"),
        (lambda c: c.update(listen="127.0.0.1"), "listen", "expected host:port"),
        (lambda c: c.update(match_timeout=-1), "match_timeout", "greater than 0"),
        (lambda c: c.update(max_connections="many"), "max_connections", "expected an integer"),
        (lambda c: c.update(proxy_protocol_from=["10.0.0.300/8"]), "proxy_protocol_from[0]", "10.0.0.300"),
        (lambda c: c["routes"][0].update(match="grcp"), "routes[0].match", "unknown matcher 'grcp'"),
        (lambda c: c["routes"][0].update(proxy="nowhere"), "routes[0].proxy", "expected unix:/path"),
        (
            lambda c: c["routes"][1]["proxy"].update(address="h:70000"),
            "routes[1].proxy.address",
            "out of range",
        ),
        (lambda c: c["routes"][0].update(close=True), "routes[0]", "exactly one target"),
        (lambda c: c["routes"][0].pop("proxy"), "routes[0]", "exactly one target"),
        (lambda c: c["routes"][2].update(name="grpc"), "routes[2].name", "used twice"),
        (lambda c: c["routes"][3]["tls"].update(cert="/no/such.pem"), "routes[3].tls.cert", "cannot read"),
        (
            lambda c: c["routes"][3]["match"]["tls"].update(versions=["1.4"]),
            "routes[3].match.tls.versions[0]",
            "unknown TLS version",
        ),
        (
            lambda c: c["routes"][3]["tls"]["routes"][0].update(proxi="x"),
            "routes[3].tls.routes[0].proxi",
            "unknown key",
        ),
        (lambda c: c["routes"][4].update(close="yes"), "routes[4].close", "close: true"),
        (
            lambda c: c["routes"][5]["match"]["http1_header"].pop("value"),
            "routes[5].match.http1_header.value",
            "required",
        ),
        (
            lambda c: c["fallback"]["proxy"].update(proxy_protocol=3),
            "fallback.proxy.proxy_protocol",
            "1 or 2",
        ),
        (lambda c: c["fallback"].update(match="any"), "fallback.match", "unknown key"),
    ],
)
def test_each_mistake_names_its_key(dev_certs: DevCerts, change: Any, key: str, message: str) -> None:
    config = good(dev_certs)
    change(config)
    with pytest.raises(ConfigError) as caught:
        parse(config)
    assert caught.value.key == key
    assert message in caught.value.message
    assert str(caught.value).startswith(f"{key}: ")


def test_a_certificate_that_does_not_load_is_found_at_build_time(dev_certs: DevCerts, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    config = good(dev_certs)
    config["routes"][3]["tls"]["cert"] = str(bogus)
    parsed = parse(config)  # the file exists and is readable
    with pytest.raises(ConfigError) as caught:
        build.build(parsed)
    assert caught.value.key == "routes[3].tls"


def test_yaml_errors_and_relative_paths(dev_certs: DevCerts, tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("routes: [\n  - name: x\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load(broken)
    # certificate paths are relative to the config file's directory
    (tmp_path / "site.pem").write_bytes(dev_certs.server_cert.read_bytes())
    (tmp_path / "site.key").write_bytes(dev_certs.server_key.read_bytes())
    ok = tmp_path / "ok.yaml"
    ok.write_text(
        "routes:\n  - name: site\n    match: tls\n    tls:\n      cert: site.pem\n      key: site.key\n"
        "      routes: [{name: in, match: any, close: true}]\n"
    )
    config = load(ok)
    target = config.routes[0].target
    assert isinstance(target, TLSConfig) and target.cert == str(tmp_path / "site.pem")


def test_check_flag_exit_status_and_message(
    dev_certs: DevCerts, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ok = tmp_path / "ok.yaml"
    ok.write_text("routes:\n  - {name: rest, match: http1, proxy: '127.0.0.1:8080'}\n")
    assert main(["--config", str(ok), "--check"]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("routes:\n  - {name: rest, match: http1, proxy: '127.0.0.1:8080', max_connections: 0}\n")
    assert main(["--config", str(bad), "--check"]) == 2
    err = capsys.readouterr().err
    assert "routes[0].max_connections: must be at least 1, got 0" in err
    # flags for the simple case go through the same checks
    assert main(["--grpc", "unix:/run/g.sock", "--http", "127.0.0.1:8080", "--check"]) == 0
    assert main(["--http", "127.0.0.1:8080", "--tls-cert", "/none", "--tls-key", "/none", "--check"]) == 2
    assert "routes[2].tls.cert: cannot read file '/none'" in capsys.readouterr().err
