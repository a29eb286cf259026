"""``http1(lenient=True)``: cmux's HTTP1() rule, byte by byte."""

from __future__ import annotations

import pytest

from mux.matchers import MATCH, MORE, NO, http1


def _verdicts(data: bytes) -> list[object]:
    probe = http1(lenient=True).probe()
    return [probe.feed(data[: i + 1]) for i in range(len(data))]


@pytest.mark.parametrize(
    "line",
    [b"GET / HTTP/1.1\r\n", b"\x01\x02 / HTTP/1.1\r\n", b"get  HTTP/1.0\n", b"BREW /pot HTTP/1.9\r\n"],
)
def test_any_method_and_target_with_an_http1_version_matches_at_the_newline(line: bytes) -> None:
    verdicts = _verdicts(line)
    assert verdicts[:-1] == [MORE] * (len(line) - 1)
    assert verdicts[-1] is MATCH


@pytest.mark.parametrize(
    "line",
    [b"PRI * HTTP/2.0\r\n", b"GET / HTTP/1.1 extra\r\n", b"GET /\r\n", b"a b c HTTP/1.1\r\n"],
)
def test_other_first_lines_say_no_at_the_newline(line: bytes) -> None:
    assert _verdicts(line)[-1] is NO


def test_a_line_without_newline_stops_waiting_at_4096_bytes() -> None:
    probe = http1(lenient=True).probe()
    assert probe.feed(b"x" * 4095) is MORE
    assert probe.feed(b"x" * 4096) is NO


def test_strict_is_still_the_default() -> None:
    assert http1().probe().feed(b"\x01\x02 / HTTP/1.1\r\n") is NO
