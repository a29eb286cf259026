"""Token providers: simple tokens (form, TTL refreshed on use, expiry, invalidation) and JWTs (real keys made
with ``cryptography``: RS256, PS256, ES256, HS256; verify-only keys; forged, foreign and expired tokens),
and ``--auth-token`` parsing with etcd 3.4.23's errors (the texts its binary prints at start-up)."""

from __future__ import annotations

import base64
import datetime
import json
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from etcd.auth import errors
from etcd.auth.tokens import (
    AuthInfo,
    JWTTokenProvider,
    NopTokenProvider,
    SimpleTokenProvider,
    new_token_provider,
    parse_go_duration,
    simple_token_index,
)
from tests.auth.members import ManualClock

# -- simple ----------------------------------------------------------------------------------------------


def enabled_simple(clock: ManualClock, ttl: float = 300.0) -> SimpleTokenProvider:
    p = SimpleTokenProvider(ttl, clock=clock)
    p.enable()
    return p


def test_simple_prefix_is_sixteen_letters_and_random() -> None:
    p = SimpleTokenProvider()
    prefixes = {p.gen_token_prefix() for _ in range(20)}
    assert len(prefixes) == 20
    assert all(len(x) == 16 and x.isascii() and x.isalpha() for x in prefixes)


def test_simple_token_is_prefix_dot_index(clock: ManualClock) -> None:
    p = enabled_simple(clock)
    token = p.assign("alice", 7, index=123, prefix="abcdefghijklmnop")
    assert token == "abcdefghijklmnop.123"
    assert p.required_index(token) == 123
    # A simple token carries no revision: info answers with the store's current one.
    assert p.info(token, 9) == AuthInfo("alice", 9)


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "abc.x1", "abc.", "abc.-1", "abc.1.2"])
def test_malformed_simple_token_is_invalid(clock: ManualClock, token: str) -> None:
    p = enabled_simple(clock)
    assert simple_token_index(token) is None
    with pytest.raises(errors.ErrInvalidAuthToken, match=r"^auth: invalid auth token$"):
        p.info(token, 1)
    with pytest.raises(errors.ErrInvalidAuthToken):
        p.required_index(token)


def test_unknown_simple_token_is_invalid(clock: ManualClock) -> None:
    with pytest.raises(errors.ErrInvalidAuthToken):
        enabled_simple(clock).info("abcdefghijklmnop.5", 1)


def test_simple_token_expires_after_ttl_without_use(clock: ManualClock) -> None:
    p = enabled_simple(clock, ttl=10)
    token = p.assign("u", 1, index=1, prefix="x" * 16)
    clock.advance(10)
    p.info(token, 1)  # at the deadline: still valid (etcd expires strictly after)
    clock.advance(10.001)
    with pytest.raises(errors.ErrInvalidAuthToken):
        p.info(token, 1)
    assert len(p) == 0


def test_simple_token_ttl_is_refreshed_on_use(clock: ManualClock) -> None:
    p = enabled_simple(clock, ttl=10)
    token = p.assign("u", 1, index=1, prefix="x" * 16)
    for _ in range(5):
        clock.advance(8)
        assert p.info(token, 1).username == "u"
    clock.advance(11)
    with pytest.raises(errors.ErrInvalidAuthToken):
        p.info(token, 1)


def test_sweep_drops_expired_tokens(clock: ManualClock) -> None:
    p = enabled_simple(clock, ttl=10)
    p.assign("u", 1, index=1, prefix="a" * 16)
    clock.advance(5)
    p.assign("v", 1, index=2, prefix="b" * 16)
    clock.advance(6)
    assert p.sweep() == 1
    assert len(p) == 1
    # assign sweeps too, so the table stays bounded without a timer.
    clock.advance(20)
    p.assign("w", 1, index=3, prefix="c" * 16)
    assert len(p) == 1


def test_simple_token_expires_on_the_real_clock() -> None:
    p = SimpleTokenProvider(0.2)
    p.enable()
    token = p.assign("u", 1, index=1, prefix="r" * 16)
    assert p.info(token, 1).username == "u"
    time.sleep(0.35)  # unused for longer than its 0.2 s TTL
    with pytest.raises(errors.ErrInvalidAuthToken):
        p.info(token, 1)


def test_nonpositive_ttl_means_etcds_default(clock: ManualClock) -> None:
    assert SimpleTokenProvider(0, clock=clock).ttl == 300
    assert SimpleTokenProvider(-1, clock=clock).ttl == 300


def test_disable_forgets_tokens_and_tokens_made_while_disabled_are_never_valid(clock: ManualClock) -> None:
    p = enabled_simple(clock)
    token = p.assign("u", 1, index=1, prefix="a" * 16)
    p.disable()
    with pytest.raises(errors.ErrInvalidAuthToken):
        p.info(token, 1)
    late = p.assign("u", 1, index=2, prefix="b" * 16)
    assert late == "b" * 16 + ".2"
    p.enable()
    with pytest.raises(errors.ErrInvalidAuthToken):
        p.info(late, 1)


def test_invalidate_user_drops_only_that_users_tokens(clock: ManualClock) -> None:
    p = enabled_simple(clock)
    a1 = p.assign("a", 1, index=1, prefix="a" * 16)
    a2 = p.assign("a", 1, index=2, prefix="b" * 16)
    b1 = p.assign("b", 1, index=3, prefix="c" * 16)
    p.invalidate_user("a")
    for t in (a1, a2):
        with pytest.raises(errors.ErrInvalidAuthToken):
            p.info(t, 1)
    assert p.info(b1, 1).username == "b"


def test_same_simple_token_twice_is_a_bug(clock: ManualClock) -> None:
    p = enabled_simple(clock)
    p.assign("a", 1, index=1, prefix="a" * 16)
    with pytest.raises(RuntimeError):
        p.assign("b", 1, index=1, prefix="a" * 16)


def test_nop_provider() -> None:
    p = NopTokenProvider()
    with pytest.raises(errors.ErrAuthFailed):
        p.assign("u", 1, index=1, prefix="")
    with pytest.raises(errors.ErrInvalidAuthToken):
        p.info("anything.1", 1)
    assert p.gen_token_prefix() == ""


# -- jwt -------------------------------------------------------------------------------------------------


class Keys:
    """Key files in one directory, made once per module (RSA key generation takes a while)."""

    def __init__(self, d: Path) -> None:
        self.dir = d
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ec_key = ec.generate_private_key(ec.SECP256R1())
        ec384 = ec.generate_private_key(ec.SECP384R1())
        self.rsa_priv = self._priv("rsa.key", rsa_key, serialization.PrivateFormat.TraditionalOpenSSL)
        self.rsa_priv_pkcs8 = self._priv("rsa8.key", rsa_key, serialization.PrivateFormat.PKCS8)
        self.rsa_pub = self._pub("rsa.pub", rsa_key)
        self.other_rsa_priv = self._priv("other.key", other_rsa, serialization.PrivateFormat.PKCS8)
        self.other_rsa_pub = self._pub("other.pub", other_rsa)
        self.ec_priv = self._priv("ec.key", ec_key, serialization.PrivateFormat.TraditionalOpenSSL)
        self.ec_priv_pkcs8 = self._priv("ec8.key", ec_key, serialization.PrivateFormat.PKCS8)
        self.ec_pub = self._pub("ec.pub", ec_key)
        self.ec384_pub = self._pub("ec384.pub", ec384)
        self.rsa_cert = self._cert("rsa.crt", rsa_key)
        self.not_pem = self._write("notpem", b"this is not a key\n")

    def _write(self, name: str, data: bytes) -> str:
        path = self.dir / name
        path.write_bytes(data)
        return str(path)

    def _priv(
        self, name: str, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, fmt: serialization.PrivateFormat
    ) -> str:
        pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
        return self._write(name, pem)

    def _pub(self, name: str, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return self._write(name, pem)

    def _cert(self, name: str, key: rsa.RSAPrivateKey) -> str:
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "etcd")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(1)
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256())
        )
        return self._write(name, cert.public_bytes(serialization.Encoding.PEM))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("jwtkeys"))


def jwt_provider(spec: str, clock: ManualClock | None = None) -> JWTTokenProvider:
    p = new_token_provider(spec, wall_clock=clock or time.time)
    assert isinstance(p, JWTTokenProvider)
    return p


def claims_of(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


@pytest.mark.parametrize(
    ("method", "opts"),
    [
        ("RS256", "pub-key={k.rsa_pub},priv-key={k.rsa_priv}"),
        ("RS512", "priv-key={k.rsa_priv_pkcs8}"),
        ("PS256", "pub-key={k.rsa_cert},priv-key={k.rsa_priv}"),
        ("ES256", "pub-key={k.ec_pub},priv-key={k.ec_priv}"),
        ("ES256", "priv-key={k.ec_priv_pkcs8}"),
        ("HS256", "priv-key={k.ec_priv}"),  # any file's raw bytes are the secret, as in etcd's jwt_test.go
    ],
)
def test_jwt_round_trip(keys: Keys, method: str, opts: str) -> None:
    clock = ManualClock(1_700_000_000)
    p = jwt_provider(f"jwt,sign-method={method},{opts.format(k=keys)},ttl=5m", clock)
    token = p.assign("alice", 42)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": method, "typ": "JWT"}
    assert claims_of(token) == {"username": "alice", "revision": 42, "exp": 1_700_000_300}
    # The token carries its own revision; the store's (given here) is not used.
    assert p.info(token, 7) == AuthInfo("alice", 42)
    assert p.required_index(token) == 0
    assert p.gen_token_prefix() == ""


def test_jwt_ttl_defaults_to_five_minutes(keys: Keys) -> None:
    p = jwt_provider(f"jwt,sign-method=RS256,priv-key={keys.rsa_priv}")
    assert p.ttl == 300


def test_jwt_expires(keys: Keys) -> None:
    clock = ManualClock(1_700_000_000)
    p = jwt_provider(f"jwt,sign-method=ES256,priv-key={keys.ec_priv},ttl=10s", clock)
    token = p.assign("u", 3)
    clock.advance(10)
    assert p.info(token, 0).username == "u"  # now == exp is still valid (golang-jwt: now <= exp)
    clock.advance(1)
    with pytest.raises(errors.ErrInvalidAuthToken):
        p.info(token, 0)


def test_jwt_expires_on_the_real_clock(keys: Keys) -> None:
    p = jwt_provider(f"jwt,sign-method=HS256,priv-key={keys.ec_priv},ttl=1ms")
    token = p.assign("u", 3)  # exp is whole seconds: valid until the second after signing ends
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            p.info(token, 0)
        except errors.ErrInvalidAuthToken:
            return
        time.sleep(0.1)
    pytest.fail("JWT with a 1 ms ttl still valid after 5 s")


def test_verify_only_key_checks_but_cannot_sign(keys: Keys) -> None:
    signer = jwt_provider(f"jwt,sign-method=RS256,priv-key={keys.rsa_priv}")
    verifier = jwt_provider(f"jwt,sign-method=RS256,pub-key={keys.rsa_pub}")
    assert verifier.verify_only and not signer.verify_only
    assert verifier.info(signer.assign("bob", 5), 0) == AuthInfo("bob", 5)
    with pytest.raises(errors.ErrVerifyOnly, match=r"^auth: token signing attempted with verify-only key$"):
        verifier.assign("bob", 5)


def test_jwt_from_another_key_or_method_is_invalid(keys: Keys) -> None:
    p = jwt_provider(f"jwt,sign-method=RS256,priv-key={keys.rsa_priv}")
    foreign = jwt_provider(f"jwt,sign-method=RS256,priv-key={keys.other_rsa_priv}").assign("root", 9)
    hmac = jwt_provider(f"jwt,sign-method=HS256,priv-key={keys.rsa_pub}").assign("root", 9)
    ps = jwt_provider(f"jwt,sign-method=PS256,priv-key={keys.rsa_priv}").assign("root", 9)
    for token in (foreign, hmac, ps, "", "a.b.c", "not a token"):
        with pytest.raises(errors.ErrInvalidAuthToken, match=r"^auth: invalid auth token$"):
            p.info(token, 0)


def test_tampered_jwt_is_invalid(keys: Keys) -> None:
    p = jwt_provider(f"jwt,sign-method=ES256,priv-key={keys.ec_priv}")
    header, _, sig = p.assign("alice", 1).split(".")
    forged = (
        base64.urlsafe_b64encode(b'{"username":"root","revision":1,"exp":9999999999}').rstrip(b"=").decode()
    )
    with pytest.raises(errors.ErrInvalidAuthToken):
        p.info(f"{header}.{forged}.{sig}", 0)


def test_jwt_without_username_is_invalid(keys: Keys) -> None:
    p = jwt_provider(f"jwt,sign-method=HS256,priv-key={keys.not_pem}")
    token = p._jws.encode(b'{"revision":1}', Path(keys.not_pem).read_bytes(), algorithm="HS256")
    with pytest.raises(errors.ErrInvalidAuthToken):
        p.info(token, 0)


# -- --auth-token parsing --------------------------------------------------------------------------------


def test_simple_and_empty_specs() -> None:
    p = new_token_provider("simple", 42)
    assert isinstance(p, SimpleTokenProvider) and p.ttl == 42
    assert isinstance(new_token_provider("simple,unused=1"), SimpleTokenProvider)
    assert isinstance(new_token_provider(""), NopTokenProvider)


# Each with the error the etcd 3.4.23 binary exits with (`etcd --auth-token <spec>`: "C | etcdmain: <text>").
BAD_SPECS = [
    ("foo", "auth: invalid auth options"),
    ("jwt", "auth: invalid auth options"),
    ("simple,a", "auth: invalid auth options"),
    ("simple,a=b=c", "auth: invalid auth options"),
    ("jwt,ttl=1m,ttl=2m,sign-method=HS256", "auth: invalid auth options"),
    ("jwt,sign-method=XX256,priv-key={k.rsa_priv}", "auth: invalid auth options"),
    ("jwt,sign-method=HS256,priv-key={k.rsa_priv},ttl=xx", "auth: invalid auth options"),
    ("jwt,sign-method=HS256,priv-key={k.rsa_priv},ttl=5", "auth: invalid auth options"),
    ("jwt,sign-method=RS256,priv-key=/nonexistent/key", "auth: invalid auth options"),
    ("jwt,sign-method=RS256", "auth: missing key data"),
    ("jwt,sign-method=HS256", "auth: missing key data"),
    ("jwt,sign-method=none", "unsupported signing method: *jwt.signingMethodNone"),
    (
        "jwt,sign-method=RS256,priv-key={k.not_pem}",
        "invalid key: Key must be a PEM encoded PKCS1 or PKCS8 key",
    ),
    ("jwt,sign-method=RS256,priv-key={k.ec_priv_pkcs8}", "key is not a valid RSA private key"),
    ("jwt,sign-method=RS256,pub-key={k.ec_pub}", "key is not a valid RSA public key"),
    ("jwt,sign-method=ES256,pub-key={k.rsa_pub}", "key is not a valid ECDSA public key"),
    ("jwt,sign-method=ES256,priv-key={k.rsa_priv_pkcs8}", "key is not a valid ECDSA private key"),
    (
        "jwt,sign-method=RS256,priv-key={k.ec_priv}",
        "x509: failed to parse private key (use ParseECPrivateKey instead for this key format)",
    ),
    (
        "jwt,sign-method=ES256,pub-key={k.ec384_pub},priv-key={k.ec_priv}",
        "auth: public and private keys don't match",
    ),
]


@pytest.mark.parametrize(("spec", "text"), BAD_SPECS)
def test_bad_auth_token_spec_is_refused_as_etcd_does(keys: Keys, spec: str, text: str) -> None:
    with pytest.raises(errors.AuthError) as exc:
        new_token_provider(spec.format(k=keys))
    assert str(exc.value) == text


def test_rsa_keys_of_another_pair_pass_as_in_etcd(keys: Keys) -> None:
    # etcd 3.4 compat: options.go calls a mismatch only when both E and N differ; with E = 65537 never.
    p = jwt_provider(f"jwt,sign-method=RS256,pub-key={keys.other_rsa_pub},priv-key={keys.rsa_priv}")
    assert p.info(p.assign("u", 1), 0).username == "u"  # verified with the private key's public half


def test_unknown_jwt_options_are_ignored(keys: Keys) -> None:
    p = jwt_provider(f"jwt,sign-method=HS256,priv-key={keys.not_pem},foo=bar")
    assert p.sign_method == "HS256"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5m", 300),
        ("1h30m", 5400),
        ("1.5s", 1.5),
        ("300ms", 0.3),
        ("0", 0),
        ("2h", 7200),
        ("-1s", -1),
        ("10us", 1e-5),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "m", "1x", "1.s.", "s5", "1m 2s"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_go_duration(text)
