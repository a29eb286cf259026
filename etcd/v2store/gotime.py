"""Instants as Go's ``time.Time`` writes them in JSON (RFC 3339 with nanoseconds), held as integers.

The v2 store keeps every instant as integer nanoseconds since the Unix epoch, the unit of etcd's v2
request field ``Expiration`` (``time.Now().Add(ttl).UnixNano()``), so no precision is lost between
the request, the store and the JSON it prints. ``PERMANENT`` (0) stands for Go's zero ``time.Time``:
no expiry.
"""

from __future__ import annotations

import calendar
import re

from etcd.pkg.gotime import NS_PER_SECOND as NS_PER_SECOND
from etcd.pkg.gotime import format_rfc3339_nano as rfc3339_nano

PERMANENT = 0

# What Go writes for its zero time.Time; the v2 store's saved JSON uses it for permanent nodes.
ZERO_TIME_TEXT = "0001-01-01T00:00:00Z"

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)


def format_rfc3339_nano(ns: int) -> str:
    """``ns`` (nanoseconds since the epoch) in UTC as Go's ``time.RFC3339Nano``; ``PERMANENT`` gives Go's
    zero time."""
    if ns == PERMANENT:
        return ZERO_TIME_TEXT
    return rfc3339_nano(ns)


def parse_rfc3339(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time with any offset and up to nine fraction digits.

    Go's zero time parses to ``PERMANENT``. Raises ``ValueError`` on anything else.
    """
    m = _RFC3339.match(text)
    if m is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if (year, month, day, hour, minute, second) == (1, 1, 1, 0, 0, 0) and not m.group(7) and m.group(8):
        return PERMANENT
    frac = int((m.group(7) or "").ljust(9, "0"))
    offset = 0
    if m.group(9):
        offset = (int(m.group(10)) * 60 + int(m.group(11))) * 60
        if m.group(9) == "-":
            offset = -offset
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset
    return seconds * NS_PER_SECOND + frac


def go_duration_seconds_ceil(ns: int) -> int:
    """Whole seconds in ``ns`` rounded up for positive remainders, as etcd computes a node's ``ttl``.

    Go's integer division truncates toward zero and ``%`` keeps the dividend's sign, so a negative
    duration rounds toward zero too: -1.5 s gives -1.
    """
    q = abs(ns) // NS_PER_SECOND
    r = abs(ns) % NS_PER_SECOND
    if ns < 0:
        return -q
    return q + 1 if r > 0 else q
