"""Tests for mux.proxy_protocol: curl's captured v1 lines, v2 headers assembled by hand from the
specification (haproxy doc/proxy-protocol.txt), strict rejection, build -> parse round trips, and
Hypothesis properties (never raises, monotone, split-invariant)."""

from __future__ import annotations

import ipaddress
import os
import re
import struct
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mux.proxy_protocol import (
    V1_MAX_LENGTH,
    ProxyHeader,
    ProxyStatus,
    build_v1,
    build_v2,
    is_trusted,
    parse_proxy_header,
)
from tests.mux import feeding

DATA = Path(__file__).resolve().parent / "data"
LONG = os.environ.get("ETCDPY_LONG") == "1"
PROPERTY = settings(
    max_examples=2000 if LONG else 200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
MORE = (ProxyStatus.MORE, None)
NOT_PROXY = (ProxyStatus.NOT_PROXY, None)
Answer = tuple[ProxyStatus, ProxyHeader | None]

SIG = bytes.fromhex("0d0a0d0a000d0a515549540a")


def v2(ver_cmd: int, fam: int, block: bytes) -> bytes:
    return SIG + bytes([ver_cmd, fam]) + struct.pack(">H", len(block)) + block


def tlv(tlv_type: int, value: bytes) -> bytes:
    return bytes([tlv_type]) + struct.pack(">H", len(value)) + value


def first_decision(chunks: Sequence[bytes]) -> Answer:
    return feeding.first_decision(parse_proxy_header, ProxyStatus.MORE, chunks)


def decided_at(data: bytes) -> int | None:
    return feeding.decided_at(parse_proxy_header, ProxyStatus.MORE, data)


# --- captured v1 lines (curl --haproxy-protocol) ---------------------------------------------------

CAPTURED = sorted(p.stem for p in DATA.glob("proxy_v1_*.bin"))


@pytest.mark.parametrize("name", CAPTURED)
def test_curl_v1_sample(name: str) -> None:
    data = (DATA / f"{name}.bin").read_bytes()
    status, header = parse_proxy_header(data)
    assert status is ProxyStatus.COMPLETE and header is not None
    line_end = data.index(b"\r\n") + 2
    assert header.length == line_end
    assert data[line_end:].startswith(b"GET / HTTP/1.1\r\n")
    loopback = "127.0.0.1" if header.family == "TCP4" else "::1"
    assert name.endswith(header.family.lower())
    assert (header.version, header.command, header.tlvs) == (1, "PROXY", ())
    assert isinstance(header.source, tuple) and isinstance(header.destination, tuple)
    assert header.source[0] == header.destination[0] == loopback
    host_port = re.search(rb"\r\nHost: .*:(\d+)\r\n", data)
    assert host_port is not None and header.destination[1] == int(host_port.group(1))
    assert 0 < header.source[1] <= 65535
    # Our builder writes the same line curl did.
    assert build_v1(header.source, header.destination) == data[:line_end]


@pytest.mark.parametrize("name", CAPTURED)
def test_curl_v1_sample_byte_by_byte_and_every_split(name: str) -> None:
    data = (DATA / f"{name}.bin").read_bytes()
    whole = parse_proxy_header(data)
    length = data.index(b"\r\n") + 2
    assert decided_at(data) == length
    for i in range(1, len(data)):
        assert first_decision([data[:i], data[i:]]) == whole


# --- v1 ---------------------------------------------------------------------------------------------

V1_GOOD = {
    b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n": (
        "TCP4",
        ("192.168.0.1", 56324),
        ("192.168.0.11", 443),
    ),
    b"PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n": ("TCP4", ("255.255.255.255", 65535), ("0.0.0.0", 0)),
    b"PROXY TCP6 2001:DB8::1 0:0:0:0:0:0:0:1 1 2\r\n": ("TCP6", ("2001:db8::1", 1), ("::1", 2)),
    b"PROXY TCP6 ::ffff:10.0.0.1 fe80::1 80 8080\r\n": ("TCP6", ("::ffff:a00:1", 80), ("fe80::1", 8080)),
    b"PROXY UNKNOWN\r\n": ("UNKNOWN", None, None),
    b"PROXY UNKNOWN ffff:f::1 whatever 1 2\r\n": ("UNKNOWN", None, None),
}


@pytest.mark.parametrize("line", sorted(V1_GOOD))
def test_v1_valid_lines(line: bytes) -> None:
    family, source, destination = V1_GOOD[line]
    expected = ProxyHeader(1, "PROXY", family, source, destination, (), len(line))
    assert parse_proxy_header(line + b"\x16\x03\x01") == (ProxyStatus.COMPLETE, expected)
    assert decided_at(line + b"GET") == len(line)


def test_v1_longest_line_is_accepted_and_one_more_byte_is_not() -> None:
    longest = b"PROXY UNKNOWN " + b"f" * (V1_MAX_LENGTH - 16) + b"\r\n"
    assert len(longest) == V1_MAX_LENGTH
    assert parse_proxy_header(longest)[0] is ProxyStatus.COMPLETE
    too_long = b"PROXY UNKNOWN " + b"f" * (V1_MAX_LENGTH - 15) + b"\r\n"
    assert decided_at(too_long) == V1_MAX_LENGTH
    assert parse_proxy_header(too_long) == NOT_PROXY
    worst_tcp6 = b"PROXY TCP6 " + b"ffff:" * 7 + b"ffff " + b"ffff:" * 7 + b"ffff 65535 65535\r\n"
    assert len(worst_tcp6) == 104
    assert parse_proxy_header(worst_tcp6)[0] is ProxyStatus.COMPLETE


V1_BAD = [
    (b"GET / HTTP/1.1\r\n", 1),
    (b"\x16\x03\x01\x02\x00", 1),
    (b"PRI * HTTP/2.0\r\n", 3),
    (b"proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n", 1),
    (b"PROXY\tTCP4 1.2.3.4 1.2.3.4 1 2\r\n", 6),
    (b"PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n", 10),
    (b"PROXY TCP4 1.2.3.x 1.2.3.4 1 2\r\n", 18),
    (b"PROXY UNKNOWNX\r\n", 14),
    (b"PROXY UNKNOWN \x00\r\n", 15),
    (b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n", 31),
    (b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rx\n", 32),
    (b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2\r\r\n", 32),
    (b"PROXY TCP4 1.2.3.4 1.2.3.4 1  2\r\n", None),
    (b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n", None),
    (b"PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n", None),
    (b"PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n", None),
    (b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n", None),
    (b"PROXY TCP4 01.2.3.4 1.2.3.4 1 2\r\n", None),  # leading zero: octal confusion
    (b"PROXY TCP4 1.2.3.256 1.2.3.4 1 2\r\n", None),
    (b"PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n", None),
    (b"PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n", None),
    (b"PROXY TCP4 1.2.3.4 1.2.3.4 1 65536\r\n", None),
    (b"PROXY TCP4 1.2.3.4 1.2.3.4 1 -2\r\n", None),
    (b"PROXY TCP4 ::1 ::1 1 2\r\n", None),
    (b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", None),
    (b"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", None),
    (b"PROXY TCP6 ::1::2 ::1 1 2\r\n", None),
    (b"PROXY TCP6 ::1 ::1 1\r\n", None),
    (b"PROXY \r\n", None),
    (b"PROXY TCP4\r\n", None),
]


@pytest.mark.parametrize(("data", "at"), V1_BAD)
def test_v1_invalid_lines(data: bytes, at: int | None) -> None:
    assert parse_proxy_header(data) == NOT_PROXY
    assert parse_proxy_header(data + b"GET / HTTP/1.1\r\n") == NOT_PROXY
    decided = decided_at(data)
    assert decided is not None and decided <= len(data)
    if at is not None:
        assert decided == at


# --- v2 ---------------------------------------------------------------------------------------------

INET_BLOCK = bytes.fromhex("c0a80001 c0a8000b dc04 01bb")  # 192.168.0.1:56324 -> 192.168.0.11:443
INET6_BLOCK = bytes.fromhex("20010db8000000000000000000000001 00000000000000000000000000000001 1f90 0050")
UNIX_BLOCK = b"/run/src.sock".ljust(108, b"\x00") + b"\x00abstract".ljust(108, b"\x00")
SSL_TLV = tlv(0x20, b"\x01\x00\x00\x00\x00" + tlv(0x21, b"TLSv1.3") + tlv(0x22, b"client.example"))

V2_GOOD: dict[str, tuple[bytes, ProxyHeader]] = {
    "tcp4": (
        v2(0x21, 0x11, INET_BLOCK),
        ProxyHeader(2, "PROXY", "TCP4", ("192.168.0.1", 56324), ("192.168.0.11", 443), (), 28),
    ),
    "tcp6 with tlvs": (
        v2(0x21, 0x21, INET6_BLOCK + tlv(0x01, b"h2") + SSL_TLV + tlv(0x04, b"\x00" * 3) + tlv(0xE0, b"")),
        ProxyHeader(
            2,
            "PROXY",
            "TCP6",
            ("2001:db8::1", 8080),
            ("::1", 80),
            ((0x01, b"h2"), (0x20, SSL_TLV[3:]), (0x04, b"\x00" * 3), (0xE0, b"")),
            16 + 36 + 5 + len(SSL_TLV) + 6 + 3,
        ),
    ),
    "unix": (
        v2(0x21, 0x31, UNIX_BLOCK),
        ProxyHeader(2, "PROXY", "UNIX", "/run/src.sock", "\x00abstract", (), 16 + 216),
    ),
    "local": (v2(0x20, 0x00, b""), ProxyHeader(2, "LOCAL", "UNKNOWN", None, None, (), 16)),
    "local ignores its block": (
        v2(0x20, 0x77, b"anything"),
        ProxyHeader(2, "LOCAL", "UNKNOWN", None, None, (), 24),
    ),
    "unspec": (v2(0x21, 0x00, b"\x01\x02\x03"), ProxyHeader(2, "PROXY", "UNKNOWN", None, None, (), 19)),
    "udp4 falls back to unknown": (
        v2(0x21, 0x12, INET_BLOCK + tlv(0x05, b"id")),
        ProxyHeader(2, "PROXY", "UNKNOWN", None, None, ((0x05, b"id"),), 16 + 12 + 5),
    ),
    "udp6 falls back to unknown": (
        v2(0x21, 0x22, INET6_BLOCK),
        ProxyHeader(2, "PROXY", "UNKNOWN", None, None, (), 16 + 36),
    ),
}


@pytest.mark.parametrize("name", sorted(V2_GOOD))
def test_v2_valid_headers(name: str) -> None:
    data, expected = V2_GOOD[name]
    assert parse_proxy_header(data) == (ProxyStatus.COMPLETE, expected)
    stream = data + b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    assert parse_proxy_header(stream) == (ProxyStatus.COMPLETE, expected)
    assert parse_proxy_header(bytearray(stream)) == (ProxyStatus.COMPLETE, expected)
    assert parse_proxy_header(memoryview(stream)) == (ProxyStatus.COMPLETE, expected)
    assert decided_at(stream) == len(data)
    for i in range(1, len(stream)):
        assert first_decision([stream[:i], stream[i:]]) == (ProxyStatus.COMPLETE, expected)


V2_BAD = [
    (SIG[:5] + b"\x01" + SIG[6:] + b"\x21\x11\x00\x0c" + INET_BLOCK, 6),
    (v2(0x11, 0x11, INET_BLOCK), 13),  # version 1 in the binary format
    (v2(0x31, 0x11, INET_BLOCK), 13),
    (v2(0x22, 0x11, INET_BLOCK), 13),  # command 2
    (v2(0x21, 0x41, INET_BLOCK), 14),  # family 4
    (v2(0x21, 0x13, INET_BLOCK), 14),  # protocol 3
    (v2(0x21, 0x10, INET_BLOCK), 14),  # INET with UNSPEC protocol is not in the list
    (v2(0x21, 0x11, INET_BLOCK[:11]), 16),  # block shorter than the addresses
    (v2(0x21, 0x21, INET6_BLOCK[:35]), 16),
    (v2(0x21, 0x31, UNIX_BLOCK[:215]), 16),
    (v2(0x21, 0x11, INET_BLOCK + b"\x01\x00"), None),  # truncated TLV header
    (v2(0x21, 0x11, INET_BLOCK + b"\x01\x00\x03ab"), None),  # TLV value overruns
    (v2(0x21, 0x11, INET_BLOCK + tlv(1, b"h2") + b"\x04"), None),
]


@pytest.mark.parametrize(("data", "at"), V2_BAD)
def test_v2_invalid_headers(data: bytes, at: int | None) -> None:
    assert parse_proxy_header(data) == NOT_PROXY
    decided = decided_at(data + b"tail")
    assert decided is not None and decided <= len(data)
    if at is not None:
        assert decided == at


def test_v2_waits_for_the_whole_block() -> None:
    data = v2(0x21, 0x11, INET_BLOCK + tlv(0xE1, b"x" * 1000))
    assert parse_proxy_header(data[:-1]) == MORE
    assert parse_proxy_header(data)[0] is ProxyStatus.COMPLETE


# --- builders ---------------------------------------------------------------------------------------


def test_build_v1_exact_bytes() -> None:
    assert build_v1(("192.168.0.1", 56324), ("192.168.0.11", 443)) == (
        b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
    )
    assert build_v1(("2001:DB8:0::1", 1), ("::1", 2)) == b"PROXY TCP6 2001:db8::1 ::1 1 2\r\n"
    assert build_v1(None, None) == b"PROXY UNKNOWN\r\n"


def test_builders_drop_ipv6_scope_ids() -> None:
    assert build_v1(("fe80::1%eth0", 1), ("fe80::2%2", 2)) == b"PROXY TCP6 fe80::1 fe80::2 1 2\r\n"
    assert build_v2(("fe80::1%eth0", 1), ("::1", 2)) == build_v2(("fe80::1", 1), ("::1", 2))


def test_build_v2_exact_bytes() -> None:
    assert build_v2(("192.168.0.1", 56324), ("192.168.0.11", 443)) == V2_GOOD["tcp4"][0]
    assert build_v2(("2001:db8::1", 8080), ("::1", 80), [(0x01, b"h2")]) == v2(
        0x21, 0x21, INET6_BLOCK + tlv(0x01, b"h2")
    )
    assert build_v2("/run/src.sock", "\x00abstract") == V2_GOOD["unix"][0]
    assert build_v2(None, None) == V2_GOOD["local"][0]


@pytest.mark.parametrize(
    "call",
    [
        lambda: build_v1(("1.2.3.4", 1), ("::1", 2)),
        lambda: build_v1(("1.2.3.4", 65536), ("1.2.3.4", 2)),
        lambda: build_v1(("1.2.3.4", -1), ("1.2.3.4", 2)),
        lambda: build_v1(("1.2.3.4", True), ("1.2.3.4", 2)),
        lambda: build_v1(("1.2.3.x", 1), ("1.2.3.4", 2)),
        lambda: build_v1(("1.2.3.4", 1), None),
        lambda: build_v2(("1.2.3.4", 1), ("::1", 2)),
        lambda: build_v2(("1.2.3.4", 1), "/path"),
        lambda: build_v2("x" * 109, "/path"),
        lambda: build_v2("/a\x00b", "/path"),
        lambda: build_v2(None, ("1.2.3.4", 1)),
        lambda: build_v2(("1.2.3.4", 1), ("1.2.3.4", 2), [(256, b"")]),
        lambda: build_v2(("1.2.3.4", 1), ("1.2.3.4", 2), [(1, b"x" * 65536)]),
        lambda: build_v2(("1.2.3.4", 1), ("1.2.3.4", 2), [(1, b"x" * 40000), (2, b"x" * 40000)]),
    ],
)
def test_builders_refuse_invalid_input(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]


ports = st.integers(0, 65535)
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
tcp_pairs = st.one_of(
    st.tuples(st.tuples(ipv4, ports), st.tuples(ipv4, ports)),
    st.tuples(st.tuples(ipv6, ports), st.tuples(ipv6, ports)),
)
tlv_lists = st.lists(st.tuples(st.integers(0, 255), st.binary(max_size=300)), max_size=6)


@PROPERTY
@given(tcp_pairs, st.binary(max_size=50))
def test_v1_round_trip(pair: tuple[tuple[str, int], tuple[str, int]], tail: bytes) -> None:
    source, destination = pair
    line = build_v1(source, destination)
    assert len(line) <= V1_MAX_LENGTH
    status, header = parse_proxy_header(line + tail)
    assert status is ProxyStatus.COMPLETE and header is not None
    family = "TCP4" if "." in source[0] and ":" not in source[0] else "TCP6"
    assert header == ProxyHeader(1, "PROXY", family, source, destination, (), len(line))
    assert parse_proxy_header(line[:-1]) == MORE


@PROPERTY
@given(tcp_pairs, tlv_lists, st.binary(max_size=50))
def test_v2_round_trip(
    pair: tuple[tuple[str, int], tuple[str, int]], tlvs: list[tuple[int, bytes]], tail: bytes
) -> None:
    source, destination = pair
    data = build_v2(source, destination, tlvs)
    status, header = parse_proxy_header(data + tail)
    assert status is ProxyStatus.COMPLETE and header is not None
    assert ipaddress.ip_address(source[0]).version == (4 if header.family == "TCP4" else 6)
    assert header == ProxyHeader(2, "PROXY", header.family, source, destination, tuple(tlvs), len(data))
    assert parse_proxy_header(data[:-1]) == MORE


unix_paths = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=30
).filter(lambda p: len(p.encode()) <= 108)


@PROPERTY
@given(unix_paths, unix_paths, st.booleans(), tlv_lists)
def test_v2_unix_round_trip(
    source: str, destination: str, abstract: bool, tlvs: list[tuple[int, bytes]]
) -> None:
    if abstract:
        source = "\x00" + source[:-1] if len(source.encode()) >= 108 else "\x00" + source
    data = build_v2(source, destination, tlvs)
    status, header = parse_proxy_header(data)
    assert status is ProxyStatus.COMPLETE and header is not None
    assert header == ProxyHeader(2, "PROXY", "UNIX", source, destination, tuple(tlvs), len(data))


# --- never raises, monotone, split-invariant --------------------------------------------------------


@st.composite
def mutated_headers(draw: st.DrawFn) -> bytes:
    """A valid header (built, hand-assembled or captured) with a few bytes changed, then a payload."""
    kind = draw(st.sampled_from(["v1", "v2", "fixed"]))
    if kind == "v1":
        source, destination = draw(tcp_pairs)
        data = build_v1(source, destination)
    elif kind == "v2":
        source, destination = draw(tcp_pairs)
        data = build_v2(source, destination, draw(tlv_lists))
    else:
        data = draw(st.sampled_from([d for d, _ in V2_GOOD.values()] + sorted(V1_GOOD)))
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):
        pos = draw(st.integers(0, len(out) - 1))
        kind = draw(st.sampled_from(["set", "insert", "delete"]))
        if kind == "set":
            out[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            out[pos:pos] = draw(st.binary(min_size=1, max_size=3))
        else:
            del out[pos : pos + draw(st.integers(1, 3))]
    return bytes(out) + draw(st.binary(max_size=20))


@PROPERTY
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(data: bytes) -> None:
    for candidate in (data, b"PROXY " + data, SIG + data, SIG + b"\x21\x11" + data):
        status, header = parse_proxy_header(candidate)
        assert (header is not None) == (status is ProxyStatus.COMPLETE)
        if header is not None:
            assert header.length <= len(candidate)


@PROPERTY
@given(mutated_headers())
def test_mutations_never_raise_and_decisions_are_monotone(data: bytes) -> None:
    # Every prefix: MORE until some length, then one decision, the whole stream's, from there on.
    whole = parse_proxy_header(data)
    assert (whole[1] is not None) == (whole[0] is ProxyStatus.COMPLETE)
    at = decided_at(data)
    if at is None:
        assert whole == MORE
    else:
        assert parse_proxy_header(data[:at]) == whole
    if whole[1] is not None:
        assert at == whole[1].length


@PROPERTY
@given(mutated_headers(), st.lists(st.integers(1, 120), min_size=1, max_size=6))
def test_any_split_gives_the_same_answer(data: bytes, sizes: list[int]) -> None:
    chunks = []
    rest = data
    for size in sizes:
        chunks.append(rest[:size])
        rest = rest[size:]
    chunks.append(rest)
    assert first_decision(chunks) == parse_proxy_header(data)


# --- trust ------------------------------------------------------------------------------------------

NETWORKS = [
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("fd00::/8"),
    ipaddress.ip_network("127.0.0.1/32"),
]


@pytest.mark.parametrize(
    ("address", "trusted"),
    [
        ("10.1.2.3", True),
        ("127.0.0.1", True),
        ("127.0.0.2", False),
        ("192.168.0.1", False),
        ("fd12::1", True),
        ("fe80::1", False),
        ("::ffff:10.0.0.1", True),  # IPv4 peer on a dual-stack listener
        ("::ffff:192.168.0.1", False),
        ("fd00::1%eth0", True),
        ("", False),
        ("/run/etcd.sock", False),
        ("10.0.0.1 ", False),
    ],
)
def test_is_trusted(address: str, trusted: bool) -> None:
    assert is_trusted(address, NETWORKS) is trusted


def test_ipv4_peer_matches_ipv4_mapped_network() -> None:
    mapped = [ipaddress.ip_network("::ffff:10.0.0.0/104")]
    assert is_trusted("10.9.8.7", mapped)
    assert is_trusted("::ffff:10.9.8.7", mapped)
    assert not is_trusted("11.0.0.1", mapped)


def test_nothing_is_trusted_without_networks() -> None:
    assert not is_trusted("127.0.0.1", [])
