"""Go's time text: ``time.ParseDuration``, ``Duration.String`` and ``time.RFC3339Nano`` as Go writes a
``time.Time`` in JSON. etcd's flags, options and JSON use them, so ours must read and write them alike."""

from __future__ import annotations

import datetime
import re
from fractions import Fraction

NS_PER_SECOND = 1_000_000_000

_DURATION_TERM = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_NS = {
    "ns": 1,
    "us": 10**3,
    "µs": 10**3,
    "μs": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}


def parse_duration_ns(s: str) -> int | None:
    """Go's ``time.ParseDuration`` in whole nanoseconds ("1h30m", "1.5s", "300ms", "0"), or None where Go
    fails (its error text is ``time: invalid duration "<s>"``)."""
    text, sign = s, 1
    if text[:1] in ("+", "-"):
        sign, text = (-1 if text[0] == "-" else 1), text[1:]
    if text == "0":
        return 0
    if text == "":
        return None
    total, pos = Fraction(0), 0
    for m in _DURATION_TERM.finditer(text):
        if m.start() != pos or m.group(1) in ("", "."):
            return None
        total += Fraction(m.group(1)) * _UNIT_NS[m.group(2)]
        pos = m.end()
    return sign * int(total) if pos == len(text) else None


def format_rfc3339_nano(ns: int) -> str:
    """``ns`` (nanoseconds since the epoch) in UTC as Go's ``time.RFC3339Nano``: trailing zeros of the
    fraction dropped, no fraction at all when it is zero, ``Z`` for UTC."""
    seconds, frac = divmod(ns, NS_PER_SECOND)
    when = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=seconds)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    digits = f"{frac:09d}".rstrip("0")
    return f"{text}.{digits}Z" if digits else f"{text}Z"


def format_duration(seconds: float) -> str:
    """A non-negative duration as Go's ``Duration.String`` writes one of a second or more (``1h2m3.5s``)."""
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    out = ""
    if h >= 1:
        out += f"{int(h)}h"
    if h >= 1 or m >= 1:
        out += f"{int(m)}m"
    return out + f"{s:.9f}".rstrip("0").rstrip(".") + "s"
