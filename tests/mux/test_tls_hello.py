"""Tests for mux.tls_hello: real captured ClientHellos split every way, OpenSSL as the oracle,
hand-built malformed hellos, and Hypothesis properties (never raises, monotone, split-invariant).

Samples come from tests/mux/data/capture_hellos.py (Python ssl, grpcio, curl).
"""

from __future__ import annotations

import datetime
import itertools
import os
import ssl
import struct
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mux.tls_hello import (
    MAX_ALPN_PROTOCOLS,
    MAX_EXTENSIONS,
    MAX_RECORDS,
    ClientHello,
    HelloStatus,
    is_grease,
    parse_client_hello,
)
from tests.mux import feeding

DATA = Path(__file__).resolve().parent / "data"
SAMPLE_NAMES = ("python_ssl", "grpcio", "curl_ip", "curl_sni")
SAMPLES = {name: (DATA / f"{name}.bin").read_bytes() for name in SAMPLE_NAMES}
EXPECTED = {
    "python_ssl": ("etcd.example.com", ("h2", "http/1.1")),
    "grpcio": ("etcd.example.com", ("h2",)),
    "curl_ip": (None, ("h2", "http/1.1")),
    "curl_sni": ("etcd.example.com", ("h2", "http/1.1")),
}
LONG = os.environ.get("ETCDPY_LONG") == "1"
PROPERTY = settings(
    max_examples=2000 if LONG else 150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

MORE = (HelloStatus.MORE, None)
NOT_TLS = (HelloStatus.NOT_TLS, None)


# --- an independent encoder and record framing, written from the RFCs for the tests ---------------


def u8(n: int) -> bytes:
    return struct.pack(">B", n)


def u16(n: int) -> bytes:
    return struct.pack(">H", n)


def u24(n: int) -> bytes:
    return n.to_bytes(3, "big")


def ext(ext_type: int, body: bytes) -> bytes:
    return u16(ext_type) + u16(len(body)) + body


def sni_ext(*names: bytes, name_type: int = 0) -> bytes:
    entries = b"".join(u8(name_type) + u16(len(n)) + n for n in names)
    return ext(0, u16(len(entries)) + entries)


def alpn_ext(*names: bytes) -> bytes:
    entries = b"".join(u8(len(n)) + n for n in names)
    return ext(16, u16(len(entries)) + entries)


def versions_ext(*versions: int) -> bytes:
    items = b"".join(u16(v) for v in versions)
    return ext(43, u8(len(items)) + items)


def hello_body(
    *,
    version: int = 0x0303,
    session_id: bytes = b"",
    suites: Sequence[int] = (0x1301, 0x1302),
    methods: bytes = b"\x00",
    extensions: Sequence[bytes] | None = (),
) -> bytes:
    body = u16(version) + bytes(range(32)) + u8(len(session_id)) + session_id
    body += u16(2 * len(suites)) + b"".join(u16(s) for s in suites) + u8(len(methods)) + methods
    if extensions is not None:
        block = b"".join(extensions)
        body += u16(len(block)) + block
    return body


def handshake(body: bytes, msg_type: int = 1) -> bytes:
    return u8(msg_type) + u24(len(body)) + body


def records(message: bytes, cuts: Sequence[int] = (), version: int = 0x0301) -> bytes:
    """Frame ``message`` as handshake records, cut at the offsets ``cuts``."""
    bounds = [0, *sorted(cuts), len(message)]
    return b"".join(b"\x16" + u16(version) + u16(b - a) + message[a:b] for a, b in itertools.pairwise(bounds))


def unframe(stream: bytes) -> tuple[bytes, int]:
    """The handshake bytes of a single-record sample and its record version."""
    content_type, version, length = struct.unpack_from(">BHH", stream)
    assert content_type == 22 and len(stream) == 5 + length
    return stream[5:], version


def first_decision(chunks: Sequence[bytes]) -> tuple[HelloStatus, ClientHello | None]:
    return feeding.first_decision(parse_client_hello, HelloStatus.MORE, chunks)


def decided_at(data: bytes) -> int | None:
    return feeding.decided_at(parse_client_hello, HelloStatus.MORE, data)


# --- OpenSSL as the oracle: a server-side SSLObject fed the same bytes ------------------------------


@pytest.fixture(scope="module")
def server_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "etcd.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "cert.pem", d / "key.pem")
    # Server preference http/1.1 over h2: what the mux's TLS termination will configure (notes §6.6).
    ctx.set_alpn_protocols(["http/1.1", "h2"])
    return ctx


def openssl_view(ctx: ssl.SSLContext, stream: bytes) -> tuple[bool, str | None, str | None]:
    """(accepted, SNI seen by the sni_callback, ALPN selected) for OpenSSL fed ``stream``."""
    seen: list[str | None] = []
    ctx.sni_callback = lambda _obj, name, _ctx: seen.append(name)  # type: ignore[assignment,misc,unused-ignore]
    try:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(incoming, outgoing, server_side=True)
        incoming.write(stream)
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass  # waiting for the client's second flight: the hello was accepted
        except ssl.SSLError:
            return False, None, None
        return bool(outgoing.pending), (seen[0] if seen else None), obj.selected_alpn_protocol()
    finally:
        ctx.sni_callback = None


# --- captured samples ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_fields(name: str) -> None:
    data = SAMPLES[name]
    status, hello = parse_client_hello(data)
    assert status is HelloStatus.COMPLETE and hello is not None
    server_name, alpn = EXPECTED[name]
    assert hello.server_name == server_name
    assert hello.alpn_protocols == alpn
    assert hello.length == len(data)
    assert hello.record_version == 0x0301
    assert hello.legacy_version == 0x0303
    assert 0x0304 in hello.supported_versions and 0x0303 in hello.supported_versions
    assert 0x1301 in hello.cipher_suites  # TLS_AES_128_GCM_SHA256, mandatory in TLS 1.3
    assert (0 in hello.extensions) == (server_name is not None)
    assert {16, 43, 51} <= set(hello.extensions)  # ALPN, supported_versions, key_share
    assert len(set(hello.extensions)) == len(hello.extensions)


def test_grpcio_hello_is_post_quantum_and_larger_than_one_segment() -> None:
    data = SAMPLES["grpcio"]
    # X25519MLKEM768 key share: group 0x11ec, 1184 + 32 = 1216 (0x04c0) bytes (notes §6.8).
    assert b"\x11\xec\x04\xc0" in data
    assert len(data) > 1460  # above the Ethernet MSS: two TCP segments on a real network
    assert parse_client_hello(data)[1] == parse_client_hello(data[:1460] + data[1460:])[1]
    assert parse_client_hello(data[:1460]) == MORE


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_agrees_with_openssl(name: str, server_context: ssl.SSLContext) -> None:
    data = SAMPLES[name]
    hello = parse_client_hello(data)[1]
    assert hello is not None
    accepted, sni, alpn = openssl_view(server_context, data)
    assert accepted
    assert sni == hello.server_name
    # The ALPN preference trick: curl and Python offer both and get http/1.1, grpcio offers h2 only.
    assert alpn == ("h2" if hello.alpn_protocols == ("h2",) else "http/1.1")


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_byte_by_byte(name: str) -> None:
    data = SAMPLES[name]
    whole = parse_client_hello(data)
    for i in range(len(data)):
        assert parse_client_hello(data[:i]) == MORE, i
    assert first_decision([data[i : i + 1] for i in range(len(data))]) == whole


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_sample_split_at_every_offset(name: str) -> None:
    data = SAMPLES[name]
    whole = parse_client_hello(data)
    tail = b"\x17\x03\x03\x00\x05hello"  # early data after the hello must not matter
    for i in range(1, len(data) + len(tail)):
        stream = data + tail
        assert first_decision([stream[:i], stream[i:]]) == whole, i


TAILS = [b"x", b"GET / HTTP/1.1\r\n\r\n", bytes(range(256)) * 4, b"\x16\x03\x01\x00"]


@pytest.mark.parametrize("name", SAMPLE_NAMES)
@pytest.mark.parametrize("tail", TAILS)
def test_sample_with_trailing_bytes(name: str, tail: bytes) -> None:
    data = SAMPLES[name]
    assert parse_client_hello(data + tail) == parse_client_hello(data)
    assert parse_client_hello(bytearray(data + tail)) == parse_client_hello(data)


@pytest.mark.parametrize("name", SAMPLE_NAMES)
@pytest.mark.parametrize("cuts", [(1,), (3,), (4,), (40,), (200,), (2, 300), (4, 100), (250, 500)])
def test_sample_fragmented_over_records(
    name: str, cuts: tuple[int, ...], server_context: ssl.SSLContext
) -> None:
    message, version = unframe(SAMPLES[name])
    stream = records(message, cuts, version)
    status, hello = parse_client_hello(stream)
    _, whole = parse_client_hello(SAMPLES[name])
    assert status is HelloStatus.COMPLETE and hello is not None and whole is not None
    assert hello.length == len(stream) == len(SAMPLES[name]) + 5 * len(cuts)
    for field in ("record_version", "legacy_version", "supported_versions", "server_name", "alpn_protocols"):
        assert getattr(hello, field) == getattr(whole, field)
    assert (hello.cipher_suites, hello.extensions) == (whole.cipher_suites, whole.extensions)
    # A fragmented hello is legal TLS: OpenSSL takes it too and sees the same name.
    accepted, sni, _ = openssl_view(server_context, stream)
    assert accepted and sni == hello.server_name
    assert decided_at(stream + b"trailing") == len(stream)


def test_bytearray_buffer_can_grow_after_parsing() -> None:
    data = SAMPLES["curl_sni"]
    buf = bytearray(data[:100])
    assert parse_client_hello(buf) == MORE
    buf += data[100:]  # no memoryview export may outlive the call
    assert parse_client_hello(buf) == parse_client_hello(data)
    assert parse_client_hello(memoryview(data)) == parse_client_hello(data)


# --- hand-built hellos ------------------------------------------------------------------------------


def test_minimal_hello_without_extensions() -> None:
    stream = records(handshake(hello_body(extensions=None, suites=(0x002F,))))
    status, hello = parse_client_hello(stream)
    assert status is HelloStatus.COMPLETE and hello is not None
    assert hello == ClientHello(0x0301, 0x0303, (), None, (), (0x002F,), (), len(stream))
    assert decided_at(stream) == len(stream)


def test_built_hello_fields() -> None:
    exts = [
        versions_ext(0x0A0A, 0x0304),
        sni_ext(b"ETCD.Example.COM"),
        alpn_ext(b"h2", b"\xfa\xfa"),
        ext(0xAAAA, b""),
    ]
    stream = records(handshake(hello_body(extensions=exts, session_id=b"s" * 32)), version=0x0303)
    status, hello = parse_client_hello(stream)
    assert status is HelloStatus.COMPLETE and hello is not None
    assert hello.record_version == 0x0303
    assert hello.supported_versions == (0x0A0A, 0x0304)
    assert hello.server_name == "etcd.example.com"
    assert hello.alpn_protocols == ("h2", "\xfa\xfa")  # GREASE ALPN value, latin-1
    assert hello.extensions == (43, 0, 16, 0xAAAA)


def test_sni_skips_unknown_name_types() -> None:
    names = u8(0) + u16(4) + b"a.io" + u8(7) + u16(2) + b"xx"
    stream = records(handshake(hello_body(extensions=[ext(0, u16(len(names)) + names)])))
    assert parse_client_hello(stream)[1] is not None
    assert parse_client_hello(stream)[1].server_name == "a.io"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("data", "at"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", 1),
        (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 1),
        (b"\x80\x2e\x01\x00\x02\x00\x15", 1),  # SSLv2-compatible hello
        (b"\x16\x02\x00\x00\x30", 2),
        (b"\x16\x03\x01\x00\x00", 5),  # empty record
        (b"\x16\x03\x01\x40\x01" + b"\x01" * 20, 5),  # 16385 > 2^14
        (records(handshake(hello_body(), msg_type=2)), 6),  # ServerHello
        (b"\x16\x03\x01\x00\x2d\x01\x00\x00\x28" + bytes(40), 9),  # 40-byte body < minimum
        (b"\x16\x03\x01\x00\x30\x01\x01\x00\x00", 9),  # 64 KiB body > max_size
        (records(handshake(hello_body()))[:-1] + b"\x00", None),  # shortened extension block
    ],
)
def test_not_tls_as_soon_as_proven(data: bytes, at: int | None) -> None:
    if at is None:
        assert parse_client_hello(data) != MORE
        return
    assert decided_at(data) == at
    assert parse_client_hello(data) == NOT_TLS


def body_with(**kwargs: object) -> bytes:
    return records(handshake(hello_body(**kwargs)))  # type: ignore[arg-type]


MALFORMED = {
    "legacy version 2.3": body_with(version=0x0203),
    "session id 33 bytes": body_with(session_id=b"s" * 33),
    "odd cipher suites length": body_with(suites=(0x1301,))[:45] + b"\x03" + body_with(suites=(0x1301,))[46:],
    "no cipher suites": body_with(suites=()),
    "no compression methods": body_with(methods=b""),
    "no null compression": body_with(methods=b"\x01"),
    "duplicate extension": body_with(extensions=[ext(23, b""), ext(23, b"")]),
    "extension overruns block": records(handshake(hello_body(extensions=None) + u16(4) + u16(5) + u16(1))),
    "block shorter than message": records(handshake(hello_body(extensions=[ext(5, b"")]) + b"\x00")),
    "one stray byte after methods": records(handshake(hello_body(extensions=None) + b"\x00")),
    "empty sni extension": body_with(extensions=[ext(0, b"")]),
    "empty sni list": body_with(extensions=[ext(0, u16(0))]),
    "sni list length wrong": body_with(extensions=[ext(0, u16(9) + u8(0) + u16(4) + b"a.io")]),
    "sni name empty": body_with(extensions=[sni_ext(b"")]),
    "sni name with space": body_with(extensions=[sni_ext(b"a b")]),
    "sni name not ascii": body_with(extensions=[sni_ext("é.io".encode())]),
    "sni two host names": body_with(extensions=[sni_ext(b"a.io", b"b.io")]),
    "sni entry truncated": body_with(extensions=[ext(0, u16(2) + u8(0) + u8(0))]),
    "alpn empty list": body_with(extensions=[ext(16, u16(0))]),
    "alpn empty name": body_with(extensions=[alpn_ext(b"h2", b"")]),
    "alpn name overruns": body_with(extensions=[ext(16, u16(3) + u8(5) + b"h2")]),
    "alpn extension too short": body_with(extensions=[ext(16, b"\x00")]),
    "versions odd length": body_with(extensions=[ext(43, u8(3) + b"\x03\x04\x03")]),
    "versions empty": body_with(extensions=[ext(43, u8(0))]),
    "versions length wrong": body_with(extensions=[ext(43, u8(4) + b"\x03\x04")]),
    "record carries bytes past the hello": (lambda m: b"\x16\x03\x01" + u16(len(m) + 1) + m + b"\x16")(
        handshake(hello_body())
    ),
    "application data between fragments": (lambda s: s[:15] + b"\x17" + s[16:])(
        records(handshake(hello_body()), [10])
    ),
    "second record overruns the hello": (
        lambda m: records(m[:10]) + b"\x16\x03\x01" + u16(len(m)) + m[10:] + b"x"
    )(handshake(hello_body())),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_hello_is_not_tls(name: str) -> None:
    data = MALFORMED[name]
    assert parse_client_hello(data) == NOT_TLS
    at = decided_at(data + b"\x00" * 8)
    assert at is not None and at <= len(data)


def test_decides_on_the_first_bad_body_byte_before_the_hello_is_whole() -> None:
    stream = SAMPLES["grpcio"]
    bad = bytearray(stream)
    bad[5 + 4 + 2 + 32] = 33  # session id length 33 at offset 43
    assert decided_at(bytes(bad)) == 44


def test_max_size() -> None:
    data = SAMPLES["grpcio"]
    assert parse_client_hello(data, max_size=len(data))[0] is HelloStatus.COMPLETE
    assert parse_client_hello(data, max_size=len(data) - 1) == NOT_TLS
    assert parse_client_hello(data[:9], max_size=len(data) - 1) == NOT_TLS  # known from the lengths
    message, version = unframe(data)
    stream = records(message, [700, 1400], version)
    assert parse_client_hello(stream, max_size=len(stream))[0] is HelloStatus.COMPLETE
    assert parse_client_hello(stream, max_size=len(stream) - 1) == NOT_TLS
    # Two records so far and bytes still missing: at least one more header, so 5 + 4 + len + 10 bytes.
    assert parse_client_hello(stream[:710], max_size=len(stream) - 1) == NOT_TLS
    assert parse_client_hello(stream[:710], max_size=len(stream)) == MORE


def test_record_count_is_capped() -> None:
    message, version = unframe(SAMPLES["python_ssl"])
    most = records(message, range(10, 10 * MAX_RECORDS, 10), version)
    assert parse_client_hello(most)[0] is HelloStatus.COMPLETE
    too_many = records(message, range(10, 10 * (MAX_RECORDS + 1), 10), version)
    assert decided_at(too_many) == 15 * MAX_RECORDS + 5  # at the header of record MAX_RECORDS + 1
    assert parse_client_hello(too_many) == NOT_TLS


def test_extension_and_alpn_counts_are_capped() -> None:
    def with_exts(count: int) -> bytes:
        return records(handshake(hello_body(extensions=[ext(100 + i, b"") for i in range(count)])))

    assert parse_client_hello(with_exts(MAX_EXTENSIONS))[0] is HelloStatus.COMPLETE
    assert parse_client_hello(with_exts(MAX_EXTENSIONS + 1)) == NOT_TLS

    def with_alpn(count: int) -> bytes:
        return records(handshake(hello_body(extensions=[alpn_ext(*[b"p%d" % i for i in range(count)])])))

    hello = parse_client_hello(with_alpn(MAX_ALPN_PROTOCOLS))[1]
    assert hello is not None and len(hello.alpn_protocols) == MAX_ALPN_PROTOCOLS
    assert parse_client_hello(with_alpn(MAX_ALPN_PROTOCOLS + 1)) == NOT_TLS


def test_extensions_are_judged_once_the_hello_is_whole() -> None:
    data = MALFORMED["duplicate extension"]
    assert decided_at(data) == len(data)
    stream = records(handshake(hello_body(extensions=[sni_ext(b"a b"), ext(23, b"x" * 500)])))
    assert decided_at(stream) == len(stream)


def test_is_grease() -> None:
    assert all(is_grease(v) for v in (0x0A0A, 0x1A1A, 0xFAFA))
    assert not any(is_grease(v) for v in (0x0A1A, 0x1301, 0x0304, 0x0A0B, 0))


# --- properties -------------------------------------------------------------------------------------

host_names = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}\.){0,3}[a-z]{1,10}", fullmatch=True)
alpn_names = st.lists(st.binary(min_size=1, max_size=20), min_size=1, max_size=5)
versions = st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=8)
suites = st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=40)
other_exts = st.lists(
    st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=60)), max_size=8, unique_by=lambda t: t[0]
)


@PROPERTY
@given(
    host=st.none() | host_names,
    alpn=st.none() | alpn_names,
    vers=st.none() | versions,
    cipher_suites=suites,
    others=other_exts,
    session_id=st.binary(max_size=32),
    data=st.data(),
)
def test_round_trip_built_hellos(
    host: str | None,
    alpn: list[bytes] | None,
    vers: list[int] | None,
    cipher_suites: list[int],
    others: list[tuple[int, bytes]],
    session_id: bytes,
    data: st.DataObject,
) -> None:
    exts = [ext(t, body) for t, body in others if t not in (0, 16, 43)]
    if host is not None:
        exts.append(sni_ext(host.encode()))
    if alpn is not None:
        exts.append(alpn_ext(*alpn))
    if vers is not None:
        exts.append(versions_ext(*vers))
    exts = data.draw(st.permutations(exts))
    message = handshake(hello_body(extensions=exts, suites=cipher_suites, session_id=session_id))
    cuts = data.draw(st.lists(st.integers(1, len(message) - 1), max_size=3, unique=True))
    stream = records(message, cuts)
    status, hello = parse_client_hello(stream + b"\x17\x03\x03")
    assert status is HelloStatus.COMPLETE and hello is not None
    assert hello.server_name == host
    assert hello.alpn_protocols == tuple(a.decode("latin-1") for a in alpn or ())
    assert hello.supported_versions == tuple(vers or ())
    assert hello.cipher_suites == tuple(cipher_suites)
    assert hello.extensions == tuple(struct.unpack_from(">H", e)[0] for e in exts)
    assert hello.length == len(stream)
    assert parse_client_hello(stream[: data.draw(st.integers(0, len(stream) - 1))]) == MORE


@PROPERTY
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes) -> None:
    status, hello = parse_client_hello(data)
    assert (hello is not None) == (status is HelloStatus.COMPLETE)
    for prefix in (b"\x16", b"\x16\x03\x01", b"\x16\x03\x01\x01\x00\x01\x00\x00\xfc\x03\x03"):
        status, hello = parse_client_hello(prefix + data)
        assert (hello is not None) == (status is HelloStatus.COMPLETE)


@st.composite
def mutated_samples(draw: st.DrawFn) -> bytes:
    """A captured hello, maybe fragmented, with a few bytes changed, inserted or dropped."""
    data = SAMPLES[draw(st.sampled_from(SAMPLE_NAMES))]
    if draw(st.booleans()):
        message, version = unframe(data)
        cuts = draw(st.lists(st.integers(1, len(message) - 1), max_size=3, unique=True))
        data = records(message, cuts, version)
    out = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        pos = draw(st.integers(0, len(out) - 1))
        kind = draw(st.sampled_from(["set", "insert", "delete"]))
        if kind == "set":
            out[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            out[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        else:
            del out[pos : pos + draw(st.integers(1, 4))]
    return bytes(out) + draw(st.binary(max_size=16))


@PROPERTY
@given(mutated_samples())
def test_mutations_never_raise_and_decisions_are_monotone(data: bytes) -> None:
    # Every prefix: MORE until some length, then one decision, the whole stream's, from there on.
    whole = parse_client_hello(data)
    assert (whole[1] is not None) == (whole[0] is HelloStatus.COMPLETE)
    at = decided_at(data)
    if at is None:
        assert whole == MORE
    else:
        assert parse_client_hello(data[:at]) == whole
    if whole[1] is not None:
        assert at == whole[1].length


@PROPERTY
@given(mutated_samples(), st.lists(st.integers(1, 1600), min_size=1, max_size=8))
def test_any_split_gives_the_same_answer(data: bytes, sizes: list[int]) -> None:
    chunks = []
    rest = data
    for size in sizes:
        chunks.append(rest[:size])
        rest = rest[size:]
    chunks.append(rest)
    whole = parse_client_hello(data)
    decision = first_decision(chunks)
    assert decision == whole
