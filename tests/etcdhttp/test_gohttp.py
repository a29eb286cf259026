"""Go's net/http pieces as pure functions: ServeMux's cleanPath, URL path escaping, GetHostname, and the
multiplexer's choice of handler. Expected values are what Go 1.19 (etcd 3.4.23's build) gives."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from etcd.api.etcdhttp.access import AccessController, cve_2018_5702_text, hostname
from etcd.api.etcdhttp.gohttp import clean_path, escape_path


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("", "/"),
        ("/", "/"),
        ("a", "/a"),
        ("/a/b", "/a/b"),
        ("/a/b/", "/a/b/"),
        ("//", "/"),
        ("//a", "/a"),
        ("///a//b", "/a/b"),
        ("/a/../b", "/b"),
        ("/a/./b/.", "/a/b"),
        ("/a/b/..", "/a"),
        ("/a/b/../", "/a/"),
        ("/..", "/"),
        ("/../a/", "/a/"),
        ("/v2/keys//a/../b", "/v2/keys/b"),
        ("/v2/keys/./", "/v2/keys/"),
        ("/a//", "/a/"),
        ("/...", "/..."),
    ],
)
def test_clean_path_as_go(raw: str, clean: str) -> None:
    assert clean_path(raw) == clean


@given(st.text(alphabet="/.ab", max_size=20))
def test_clean_path_is_idempotent_and_rooted(p: str) -> None:
    c = clean_path(p)
    assert c.startswith("/") and "//" not in c
    assert clean_path(c) == c
    assert "/./" not in c and "/../" not in c


@pytest.mark.parametrize(
    ("path", "escaped"),
    [
        ("/v2/keys/a b", "/v2/keys/a%20b"),
        ("/a?b#c", "/a%3Fb%23c"),
        ("/é", "/%C3%A9"),
        ("/$&+,:;=@~-_.", "/$&+,:;=@~-_."),
        ("/100%", "/100%25"),
    ],
)
def test_escape_path_as_go(path: str, escaped: str) -> None:
    assert escape_path(path) == escaped


@pytest.mark.parametrize(
    ("host", "name"),
    [
        ("example.com:2379", "example.com"),
        ("example.com", "example.com"),
        ("127.0.0.1:1", "127.0.0.1"),
        ("[::1]:2379", "::1"),
        ("[::1]", "[::1]"),
        ("localhost:::", "localhost:::"),
        ("", ""),
    ],
)
def test_hostname_as_etcds_get_hostname(host: str, name: str) -> None:
    assert hostname(host) == name


def test_cve_text_quotes_the_host_as_go() -> None:
    text = cve_2018_5702_text('a"b\x01')
    assert '  - e.g. etcd --host-whitelist "a\\"b\\x01"\n' in text
    assert text.startswith("\netcd received your request, but the Host header was unrecognized.\n")
    assert text.endswith('prevent "DNS Rebinding" attacks (CVE-2018-5702).\n')


async def _inner(*_: object) -> None:  # never called: the checks below are on the lists alone
    raise AssertionError


@pytest.mark.parametrize(
    ("cors", "origin", "allowed"),
    [
        ([], "http://x", True),
        (["*"], "http://x", True),
        (["http://a"], "http://a", True),
        (["http://a"], "http://b", False),
        (["http://a"], "", False),
    ],
)
def test_origin_allowed(cors: list[str], origin: str, allowed: bool) -> None:
    ac = AccessController(_inner, cors=cors, host_whitelist=[])  # type: ignore[arg-type]
    assert ac.origin_allowed(origin) is allowed


@pytest.mark.parametrize(
    ("hosts", "host", "allowed"),
    [([], "evil", True), (["*"], "evil", True), (["good"], "good", True), (["good"], "evil", False)],
)
def test_host_allowed(hosts: list[str], host: str, allowed: bool) -> None:
    ac = AccessController(_inner, cors=[], host_whitelist=hosts)  # type: ignore[arg-type]
    assert ac.host_allowed(host) is allowed
