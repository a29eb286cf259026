"""``keys_request.parse`` against etcd 3.4's ``parseKeyRequest``: fields, precedence and every error."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etcd.api import v2error
from etcd.api.v2http.keys_request import expiration, parse, parse_query

NOW = 1_767_225_600 * 1_000_000_000 + 123_456_789
S = 1_000_000_000


def _err(method: str, path: str, query: dict[str, str | list[str]], form: dict[str, str] | None = None):
    with pytest.raises(v2error.Error) as info:
        parse(method, path, query, form or {}, NOW)
    return info.value


ERRORS = [
    # (method, path, query, code, cause)
    ("GET", "/v2/key/foo", {}, 210, "incorrect key prefix"),
    ("GET", "/v2/keys/foo", {"prevIndex": "x"}, 203, 'invalid value for "prevIndex"'),
    ("GET", "/v2/keys/foo", {"prevIndex": "-1"}, 203, 'invalid value for "prevIndex"'),
    ("GET", "/v2/keys/foo", {"prevIndex": ""}, 203, 'invalid value for "prevIndex"'),
    ("GET", "/v2/keys/foo", {"prevIndex": "+1"}, 203, 'invalid value for "prevIndex"'),
    ("GET", "/v2/keys/foo", {"prevIndex": "18446744073709551616"}, 203, 'invalid value for "prevIndex"'),
    ("GET", "/v2/keys/foo", {"waitIndex": "1_0"}, 203, 'invalid value for "waitIndex"'),
    ("GET", "/v2/keys/foo", {"recursive": "yes"}, 209, 'invalid value for "recursive"'),
    ("GET", "/v2/keys/foo", {"sorted": ""}, 209, 'invalid value for "sorted"'),
    ("GET", "/v2/keys/foo", {"wait": "tRue"}, 209, 'invalid value for "wait"'),
    ("PUT", "/v2/keys/foo", {"dir": "2"}, 209, 'invalid value for "dir"'),
    ("GET", "/v2/keys/foo", {"quorum": "no"}, 209, 'invalid value for "quorum"'),
    ("GET", "/v2/keys/foo", {"stream": "y"}, 209, 'invalid value for "stream"'),
    ("PUT", "/v2/keys/foo", {"wait": "true"}, 209, '"wait" can only be used with GET requests'),
    ("HEAD", "/v2/keys/foo", {"wait": "1"}, 209, '"wait" can only be used with GET requests'),
    ("PUT", "/v2/keys/foo", {"prevValue": ""}, 201, '"prevValue" cannot be empty'),
    ("PUT", "/v2/keys/foo", {"noValueOnSuccess": "x"}, 209, 'invalid value for "noValueOnSuccess"'),
    ("PUT", "/v2/keys/foo", {"ttl": "abc"}, 202, 'invalid value for "ttl"'),
    ("PUT", "/v2/keys/foo", {"ttl": "-5"}, 202, 'invalid value for "ttl"'),
    ("PUT", "/v2/keys/foo", {"ttl": "1.5"}, 202, 'invalid value for "ttl"'),
    ("PUT", "/v2/keys/foo", {"prevExist": "maybe"}, 209, "invalid value for prevExist"),
    ("PUT", "/v2/keys/foo", {"prevExist": ""}, 209, "invalid value for prevExist"),
    ("PUT", "/v2/keys/foo", {"refresh": "x"}, 209, "invalid value for refresh"),
    (
        "PUT",
        "/v2/keys/foo",
        {"refresh": "true", "ttl": "5", "value": "v"},
        211,
        "A value was provided on a refresh",
    ),
    ("PUT", "/v2/keys/foo", {"refresh": "true"}, 212, "No TTL value set"),
    ("PUT", "/v2/keys/foo", {"refresh": "true", "ttl": ""}, 212, "No TTL value set"),
    # Order: the first failing check wins.
    ("PUT", "/v2/keys/foo", {"prevIndex": "x", "recursive": "x"}, 203, 'invalid value for "prevIndex"'),
    ("PUT", "/v2/keys/foo", {"stream": "x", "prevValue": ""}, 209, 'invalid value for "stream"'),
    ("PUT", "/v2/keys/foo", {"prevValue": "", "ttl": "x"}, 201, '"prevValue" cannot be empty'),
    ("PUT", "/v2/keys/foo", {"ttl": "x", "prevExist": "x"}, 202, 'invalid value for "ttl"'),
]


@pytest.mark.parametrize(("method", "path", "query", "code", "cause"), ERRORS)
def test_errors(method: str, path: str, query: dict[str, str], code: int, cause: str) -> None:
    e = _err(method, path, query)
    assert (e.error_code, e.cause, e.index) == (code, cause, 0)
    assert e.message == v2error.MESSAGES[code]


def test_plain_get() -> None:
    r, nvos = parse("GET", "/v2/keys/foo/bar", {}, {}, NOW)
    assert (r.Method, r.Path, r.Val, r.Expiration) == ("GET", "/1/foo/bar", "", 0)
    assert not r.HasField("PrevExist") and not r.HasField("Refresh")
    assert not (r.Dir or r.Wait or r.Recursive or r.Sorted or r.Quorum or r.Stream or nvos)


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/v2/keys", "/1"),
        ("/v2/keys/", "/1"),
        ("/v2/keys/a//b/./c/", "/1/a/b/c"),
        ("/v2/keys/../../x", "/x"),
        ("/v2/keysfoo", "/1/foo"),
    ],
)
def test_path_join(path: str, key: str) -> None:
    assert parse("GET", path, {}, {}, NOW).request.Path == key


def test_all_fields() -> None:
    q = {
        "value": "v",
        "dir": "t",
        "prevValue": "old",
        "prevIndex": "7",
        "prevExist": "false",
        "recursive": "1",
        "sorted": "True",
        "wait": "TRUE",
        "waitIndex": "18446744073709551615",
        "quorum": "T",
        "stream": "true",
        "noValueOnSuccess": "true",
        "ttl": "30",
        "refresh": "0",
    }
    r, nvos = parse("GET", "/v2/keys/k", q, {}, NOW)
    assert (r.Val, r.Dir, r.PrevValue, r.PrevIndex) == ("v", True, "old", 7)
    assert r.HasField("PrevExist") and r.PrevExist is False
    assert r.HasField("Refresh") and r.Refresh is False
    assert (r.Recursive, r.Sorted, r.Wait, r.Since, r.Quorum, r.Stream) == (
        True,
        True,
        True,
        2**64 - 1,
        True,
        True,
    )
    assert nvos is True
    assert r.Expiration == NOW + 30 * S


def test_ttl_empty_is_no_expiration_and_zero_is_now() -> None:
    assert parse("PUT", "/v2/keys/k", {"ttl": ""}, {}, NOW).request.Expiration == 0
    assert parse("PUT", "/v2/keys/k", {"ttl": "0"}, {}, NOW).request.Expiration == NOW


def test_refresh_with_ttl_and_empty_value() -> None:
    r = parse("PUT", "/v2/keys/k", {"refresh": "true", "ttl": "5", "value": ""}, {}, NOW).request
    assert r.Refresh is True and r.Expiration == NOW + 5 * S and r.Val == ""


def test_body_form_before_query_for_writes_only() -> None:
    r = parse("PUT", "/v2/keys/k", {"value": "q", "ttl": "9"}, {"value": "body"}, NOW).request
    assert (r.Val, r.Expiration) == ("body", NOW + 9 * S)
    r = parse("POST", "/v2/keys/k", {}, {"prevExist": "true"}, NOW).request
    assert r.PrevExist is True
    # Go reads no body form for DELETE or GET.
    r = parse("DELETE", "/v2/keys/k", {"prevValue": "q"}, {"prevValue": "body"}, NOW).request
    assert r.PrevValue == "q"
    assert parse("GET", "/v2/keys/k", {}, {"recursive": "x"}, NOW).request.Recursive is False


def test_first_value_counts() -> None:
    r = parse("PUT", "/v2/keys/k", {"value": ["a", "b"], "prevIndex": ["3", "x"]}, {}, NOW).request
    assert (r.Val, r.PrevIndex) == ("a", 3)
    e = _err("PUT", "/v2/keys/k", {"prevIndex": ["x", "3"]})
    assert e.error_code == 203


def test_multidict_input() -> None:
    from multidict import MultiDict

    q = MultiDict([("value", "a"), ("value", "b"), ("dir", "false")])
    r = parse("PUT", "/v2/keys/k", q, MultiDict(), NOW).request
    assert (r.Val, r.Dir) == ("a", False)


def test_expiration_wraps_like_go_int64() -> None:
    assert expiration(NOW, 5) == NOW + 5 * S
    huge = 2**63  # uint64 -> Duration wraps negative, times 1e9 wraps again
    expected = (NOW + (((-(2**63)) * S) % 2**64)) % 2**64
    expected = expected - 2**64 if expected >= 2**63 else expected
    assert expiration(NOW, huge) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", {}),
        ("a=1&a=2&b", {"a": ["1", "2"], "b": [""]}),
        ("&&=x&k=", {"": ["x"], "k": [""]}),
        ("v=a+b%20c%2B%3d", {"v": ["a b c+="]}),
        ("v=%C3%A9", {"v": ["\u00e9"]}),
        ("v=%e9", {"v": ["\ufffd"]}),
        ("a=b=c", {"a": ["b=c"]}),
    ],
)
def test_parse_query(raw: str, expected: dict[str, list[str]]) -> None:
    assert parse_query(raw) == expected


@pytest.mark.parametrize(
    ("raw", "cause"),
    [
        ("v=%zz", 'invalid URL escape "%zz"'),
        ("v=%4", 'invalid URL escape "%4"'),
        ("v=%", 'invalid URL escape "%"'),
        ("a=1;b=2", "invalid semicolon separator in query"),
        ("a=%zz&b=%yy", 'invalid URL escape "%zz"'),
        ("a;=1&b=%zz", "invalid semicolon separator in query"),
        ("%g1=x", 'invalid URL escape "%g1"'),
    ],
)
def test_parse_query_errors(raw: str, cause: str) -> None:
    with pytest.raises(v2error.Error) as info:
        parse_query(raw)
    assert (info.value.error_code, info.value.message, info.value.cause) == (210, "Invalid POST form", cause)


_FIELDS = ["value", "ttl", "prevValue", "prevIndex", "prevExist", "dir", "recursive", "sorted", "wait",
           "waitIndex", "quorum", "stream", "refresh", "noValueOnSuccess"]  # fmt: skip


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD"]),
    query=st.dictionaries(st.sampled_from(_FIELDS), st.text(max_size=6), max_size=6),
    raw=st.text(max_size=20),
)
def test_parse_fails_only_with_v2_request_errors(method: str, query: dict[str, str], raw: str) -> None:
    for source in (query, {"value": raw}):
        try:
            r, _ = parse(method, "/v2/keys/k", source, source, NOW)
        except v2error.Error as e:
            assert e.index == 0 and e.error_code in (201, 202, 203, 209, 211, 212)
            continue
        assert r.Path == "/1/k" and r.Method == method
        assert r.Expiration == 0 or (r.Expiration - NOW) % S == 0
    try:
        parse_query(raw)
    except v2error.Error as e:
        assert e.error_code == 210 and e.cause
