"""Go's time text, checked against values Go itself prints and parses."""

from __future__ import annotations

import pytest

from etcd.pkg.gotime import format_duration, format_rfc3339_nano, parse_duration_ns


@pytest.mark.parametrize(
    ("text", "ns"),
    [("0", 0), ("1h30m", 5400 * 10**9), ("1.5s", 1_500_000_000), ("300ms", 300_000_000), ("-2us", -2000)],
)
def test_parse_duration(text: str, ns: int) -> None:
    assert parse_duration_ns(text) == ns


@pytest.mark.parametrize("text", ["", "5", "1x", ".s", "1h 2m"])
def test_parse_duration_refuses_what_go_refuses(text: str) -> None:
    assert parse_duration_ns(text) is None


def test_rfc3339_nano_trims_the_fraction() -> None:
    assert format_rfc3339_nano(1_767_225_600 * 10**9 + 120_000_000) == "2026-01-01T00:00:00.12Z"
    assert format_rfc3339_nano(1_767_225_600 * 10**9) == "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(("seconds", "text"), [(1.5, "1.5s"), (62.0, "1m2s"), (3723.25, "1h2m3.25s")])
def test_format_duration_as_go(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
