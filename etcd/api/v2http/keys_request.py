"""``parse``: an HTTP request on ``/v2/keys`` as an ``etcdserverpb.Request`` (etcd's ``parseKeyRequest``
in ``etcdserver/api/v2http/client.go``).

The key path moves under the store's user namespace ``/1`` (``path.Join("/1", rest)``). Parameters come
from the body form (POST, PUT and PATCH only, as Go's ``ParseForm``) followed by the URL query; when a
parameter repeats, its first value counts. Every check and its order is etcd's, so the first problem
found is the one reported, with etcd's code and cause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from etcd.api import v2error
from etcd.api.etcdserverpb.etcdserver_pb2 import Request
from etcd.pkg import gopath

KEYS_PREFIX = "/v2/keys"
# Where user keys live in the v2 store (etcd's StoreKeysPrefix); /0 holds membership.
STORE_KEYS_PREFIX = "/1"

ALLOWED_METHODS = ("HEAD", "GET", "PUT", "POST", "DELETE")

_NS_PER_SECOND = 1_000_000_000
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_UINT64_MAX = (1 << 64) - 1

# A form as parsed from the wire: each name with its values in order (a bare string is one value).
Values = Mapping[str, str | Sequence[str]]


class ParsedKeyRequest(NamedTuple):
    """The request to propose or serve, and whether a successful write answers without nodes."""

    request: Request
    no_value_on_success: bool


def parse(method: str, path: str, query: Values, form: Values, now_ns: int) -> ParsedKeyRequest:
    """Validates and converts one ``/v2/keys`` request.

    ``path`` is the URL path (``/v2/keys/foo``), already unescaped; ``query`` the URL query and
    ``form`` the urlencoded body; ``now_ns`` the wall time in ns since the epoch, from which a ``ttl``
    becomes the absolute ``Expiration``. An empty ``ttl`` is no ``ttl`` at all: ``Expiration`` 0, which
    the store reads as "no expiry" (so a ``set`` or ``update`` without one removes an existing TTL).

    Raises ``v2error.Error`` at index 0 for a malformed request: 210 for a path outside
    ``/v2/keys``, 203 for a bad ``prevIndex``/``waitIndex``, 209 for a bad boolean or ``wait`` on a
    write, 201 for an empty ``prevValue``, 202 for a bad ``ttl``, 211 for a value on refresh and 212
    for a refresh without ``ttl``. The method is not checked here (see ``ALLOWED_METHODS``).
    """
    values = _merge(method, query, form)
    if not path.startswith(KEYS_PREFIX):
        raise v2error.new_request_error(v2error.EcodeInvalidForm, "incorrect key prefix")
    key = gopath.clean(STORE_KEYS_PREFIX + "/" + path[len(KEYS_PREFIX) :])  # Go's path.Join

    prev_index = _uint64(values, "prevIndex", v2error.EcodeIndexNaN, 'invalid value for "prevIndex"')
    wait_index = _uint64(values, "waitIndex", v2error.EcodeIndexNaN, 'invalid value for "waitIndex"')
    recursive = _bool_field(values, "recursive")
    sort = _bool_field(values, "sorted")
    wait = _bool_field(values, "wait")
    is_dir = _bool_field(values, "dir")
    quorum = _bool_field(values, "quorum")
    stream = _bool_field(values, "stream")
    if wait and method != "GET":
        raise v2error.new_request_error(
            v2error.EcodeInvalidField, '"wait" can only be used with GET requests'
        )
    prev_value = _first(values, "prevValue")
    if "prevValue" in values and prev_value == "":
        raise v2error.new_request_error(v2error.EcodePrevValueRequired, '"prevValue" cannot be empty')
    no_value_on_success = _bool_field(values, "noValueOnSuccess")

    ttl: int | None = None
    if _first(values, "ttl"):
        ttl = _uint64(values, "ttl", v2error.EcodeTTLNaN, 'invalid value for "ttl"')

    prev_exist: bool | None = None
    if "prevExist" in values:
        prev_exist = _bool(values, "prevExist", "invalid value for prevExist")

    refresh: bool | None = None
    if "refresh" in values:
        refresh = _bool(values, "refresh", "invalid value for refresh")
        if refresh:
            if _first(values, "value"):
                raise v2error.new_request_error(
                    v2error.EcodeRefreshValue, "A value was provided on a refresh"
                )
            if ttl is None:
                raise v2error.new_request_error(v2error.EcodeRefreshTTLRequired, "No TTL value set")

    rr = Request(
        Method=method,
        Path=key,
        Val=_first(values, "value"),
        Dir=is_dir,
        PrevValue=prev_value,
        PrevIndex=prev_index,
        Wait=wait,
        Since=wait_index,
        Recursive=recursive,
        Sorted=sort,
        Quorum=quorum,
        Stream=stream,
    )
    if prev_exist is not None:
        rr.PrevExist = prev_exist
    if refresh is not None:
        rr.Refresh = refresh
    if ttl is not None:
        rr.Expiration = expiration(now_ns, ttl)
    return ParsedKeyRequest(rr, no_value_on_success)


def parse_query(raw: str) -> dict[str, list[str]]:
    """An urlencoded query or body as Go's ``url.ParseQuery`` reads it (``+`` is a space), for
    ``parse``'s ``query`` and ``form``.

    Raises ``v2error.Error`` 210 ("Invalid POST form") with Go's text as cause for the first bad
    piece: ``invalid semicolon separator in query`` or ``invalid URL escape "%zz"``. Go's ``ParseForm``
    reads the body (POST, PUT, PATCH with an urlencoded Content-Type) before the query, so a caller
    parses them in that order.
    """
    values: dict[str, list[str]] = {}
    first_error: str | None = None
    for piece in raw.split("&"):
        if not piece:
            continue
        if ";" in piece:
            first_error = first_error or "invalid semicolon separator in query"
            continue
        key, _, value = piece.partition("=")
        try:
            values.setdefault(_query_unescape(key), []).append(_query_unescape(value))
        except ValueError as e:
            first_error = first_error or str(e)
    if first_error is not None:
        raise v2error.new_request_error(v2error.EcodeInvalidForm, first_error)
    return values


def _query_unescape(s: str) -> str:
    # Go's url.QueryUnescape: %XX on bytes, "+" as a space. Go keeps invalid UTF-8 bytes and its JSON
    # encoder writes each as the escape \ufffd; we keep U+FFFD itself (the same JSON once decoded),
    # since a lone surrogate could not be saved by the store's encoder.
    raw = s.encode()
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == 0x25:  # "%"
            hexpart = raw[i + 1 : i + 3]
            if len(hexpart) < 2 or not all(chr(h) in "0123456789abcdefABCDEF" for h in hexpart):
                raise ValueError(f"invalid URL escape {_go_quote(raw[i : i + 3])}")
            out.append(int(hexpart, 16))
            i += 3
            continue
        out.append(0x20 if c == 0x2B else c)
        i += 1
    return out.decode(errors="replace")


def _go_quote(b: bytes) -> str:
    # strconv.Quote for the short escapes shown in errors: printable text kept, other bytes as \xNN.
    text = b.decode(errors="surrogateescape")
    parts = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            parts.append("\\" + ch)
        elif "\udc80" <= ch <= "\udcff":
            parts.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif ch.isprintable():
            parts.append(ch)
        else:
            parts.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x80 else f"\\u{ord(ch):04x}")
    parts.append('"')
    return "".join(parts)


def expiration(now_ns: int, ttl: int) -> int:
    """``now.Add(time.Duration(ttl) * time.Second).UnixNano()``, with Go's int64 wrap-around for the
    absurdly large TTLs a uint64 allows (etcd does no range check)."""
    return _int64(now_ns + _int64(_int64(ttl) * _NS_PER_SECOND))


def _merge(method: str, query: Values, form: Values) -> dict[str, list[str]]:
    # Go's Request.Form: body values first (bodies are read for POST, PUT, PATCH only), then the query's.
    merged: dict[str, list[str]] = {}
    sources = (form, query) if method in ("POST", "PUT", "PATCH") else (query,)
    for source in sources:
        for name in source:
            vals = _values_of(source, name)
            merged.setdefault(name, []).extend(vals)
    return merged


def _values_of(source: Values, name: str) -> list[str]:
    getall = getattr(source, "getall", None)
    if getall is not None:  # a multidict (aiohttp's query and post data)
        return [str(v) for v in getall(name)]
    v = source[name]
    return [v] if isinstance(v, str) else [str(x) for x in v]


def _first(values: dict[str, list[str]], name: str) -> str:
    # Go's FormValue: the first value, or "" when absent.
    vals = values.get(name)
    return vals[0] if vals else ""


def _uint64(values: dict[str, list[str]], name: str, code: int, cause: str) -> int:
    # strconv.ParseUint(s, 10, 64): ASCII digits only, no sign, no underscores, at most 2^64-1.
    if name not in values:
        return 0
    s = _first(values, name)
    if not s or not s.isascii() or not s.isdigit() or int(s) > _UINT64_MAX:
        raise v2error.new_request_error(code, cause)
    return int(s)


def _bool(values: dict[str, list[str]], name: str, cause: str) -> bool:
    s = _first(values, name)
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise v2error.new_request_error(v2error.EcodeInvalidField, cause)


def _bool_field(values: dict[str, list[str]], name: str) -> bool:
    if name not in values:
        return False
    return _bool(values, name, f'invalid value for "{name}"')


def _int64(x: int) -> int:
    x &= (1 << 64) - 1
    return x - (1 << 64) if x >= 1 << 63 else x
