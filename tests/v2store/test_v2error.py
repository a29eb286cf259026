"""v2 error codes, messages and HTTP statuses, pinned to etcd 3.4's ``v2error/error.go``."""

from __future__ import annotations

import pytest

from etcd.api import v2error

# (code, message, HTTP status) as etcd 3.4.23 answers them.
ETCD_34 = [
    (100, "Key not found", 404),
    (101, "Compare failed", 412),
    (102, "Not a file", 403),
    (103, "Reached the max number of peers in the cluster", 400),
    (104, "Not a directory", 400),
    (105, "Key already exists", 412),
    (106, "The prefix of given key is a keyword in etcd", 400),
    (107, "Root is read only", 400),
    (108, "Directory not empty", 403),
    (109, "Peer address has existed", 400),
    (110, "The request requires user authentication", 401),
    (200, "Value is Required in POST form", 400),
    (201, "PrevValue is Required in POST form", 400),
    (202, "The given TTL in POST form is not a number", 400),
    (203, "The given index in POST form is not a number", 400),
    (204, "Value or TTL is required in POST form", 400),
    (205, "The given timeout in POST form is not a number", 400),
    (206, "Name is required in POST form", 400),
    (207, "Index or value is required", 400),
    (208, "Index and value cannot both be specified", 400),
    (209, "Invalid field", 400),
    (210, "Invalid POST form", 400),
    (211, "Value provided on refresh", 400),
    (212, "A TTL must be provided on refresh", 400),
    (300, "Raft Internal Error", 500),
    (301, "During Leader Election", 500),
    (400, "watcher is cleared due to etcd recovery", 400),
    (401, "The event in requested index is outdated and cleared", 400),
]


@pytest.mark.parametrize(("code", "message", "status"), ETCD_34)
def test_code_has_etcd_message_and_status(code: int, message: str, status: int) -> None:
    err = v2error.Error(code, "cause", 7)
    assert (err.message, err.status_code()) == (message, status)


def test_json_body_matches_etcd() -> None:
    err = v2error.new_error(
        v2error.EcodeEventIndexCleared, "the requested history has been cleared [37/2]", 1036
    )
    assert err.to_json() == (
        '{"errorCode":401,"message":"The event in requested index is outdated and cleared",'
        '"cause":"the requested history has been cleared [37/2]","index":1036}'
    )


def test_empty_cause_is_left_out_of_json() -> None:
    assert v2error.new_request_error(v2error.EcodeInvalidField, "").to_json() == (
        '{"errorCode":209,"message":"Invalid field","index":0}'
    )


def test_str_is_message_and_cause() -> None:
    assert str(v2error.Error(100, "/1/foo", 3)) == "Key not found (/1/foo)"


def test_json_escapes_html_like_go() -> None:
    assert '"cause":"\\u003ca\\u0026b\\u003e"' in v2error.Error(100, "<a&b>", 1).to_json()
