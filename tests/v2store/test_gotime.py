"""RFC 3339 times as Go writes them, and etcd's rounding of remaining seconds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from etcd.v2store.gotime import (
    PERMANENT,
    ZERO_TIME_TEXT,
    format_rfc3339_nano,
    go_duration_seconds_ceil,
    parse_rfc3339,
)


def test_whole_seconds_have_no_fraction() -> None:
    assert format_rfc3339_nano(1_767_225_600 * 10**9) == "2026-01-01T00:00:00Z"


def test_fraction_drops_trailing_zeros() -> None:
    assert format_rfc3339_nano(1_767_225_600 * 10**9 + 120_000_000) == "2026-01-01T00:00:00.12Z"


def test_permanent_is_go_zero_time() -> None:
    assert format_rfc3339_nano(PERMANENT) == ZERO_TIME_TEXT
    assert parse_rfc3339(ZERO_TIME_TEXT) == PERMANENT


def test_parse_honours_offsets() -> None:
    assert parse_rfc3339("2026-01-01T01:00:00.5+01:00") == 1_767_225_600 * 10**9 + 500_000_000


@given(st.integers(min_value=946_684_800 * 10**9, max_value=4_102_444_800 * 10**9))
def test_format_then_parse_round_trips(ns: int) -> None:
    assert parse_rfc3339(format_rfc3339_nano(ns)) == ns


def test_ttl_rounds_up_positive_remainders() -> None:
    assert go_duration_seconds_ceil(10 * 10**9) == 10
    assert go_duration_seconds_ceil(9 * 10**9 + 1) == 10


def test_ttl_of_past_expiry_truncates_toward_zero() -> None:
    assert go_duration_seconds_ceil(-1_500_000_000) == -1
    assert go_duration_seconds_ceil(-500_000_000) == 0
