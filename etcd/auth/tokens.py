"""Auth token providers, chosen by ``--auth-token`` (etcd's ``auth/simple_token.go``, ``auth/jwt.go``,
``auth/nop.go``, ``auth/options.go`` and ``NewTokenProvider`` in ``auth/store.go``).

- ``simple``: ``<16 random letters>.<raft index>``, held in memory by every member, since each applies
  the Authenticate entry that makes it. A token lives ``--auth-token-ttl`` seconds after its last use
  (etcd's keeper refreshes it on every use); disabling auth forgets them all.
  The index tells a member that has not yet applied that entry to wait for it (``required_index``).
- ``jwt,sign-method=...,pub-key=...,priv-key=...,ttl=...``: signed claims ``username``, ``revision``
  and ``exp`` (PyJWT's JWS layer over ``cryptography`` keys); nothing is kept in memory.
- an empty type: no provider; Authenticate fails and every token is invalid.

Blocking and thread-safe; time comes from an injected clock (seconds).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
    PublicKeyTypes,
)
from jwt import PyJWS
from jwt.algorithms import HMACAlgorithm, get_default_algorithms
from jwt.exceptions import PyJWTError

from etcd.auth.errors import (
    ErrAuthFailed,
    ErrInvalidAuthMethod,
    ErrInvalidAuthOpts,
    ErrInvalidAuthToken,
    ErrKeyMismatch,
    ErrMissingKey,
    ErrVerifyOnly,
    JWTKeyError,
)
from etcd.pkg.gotime import NS_PER_SECOND, parse_duration_ns

TOKEN_TYPE_SIMPLE = "simple"
TOKEN_TYPE_JWT = "jwt"

SIMPLE_TOKEN_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
SIMPLE_TOKEN_LENGTH = 16  # etcd's defaultSimpleTokenLength
SIMPLE_TOKEN_TTL_DEFAULT = 300.0  # seconds, etcd's simpleTokenTTLDefault (and --auth-token-ttl's default)
JWT_TTL_DEFAULT = 300.0  # seconds, etcd's DefaultTTL (5m) when the jwt options name no ttl

OPT_SIGN_METHOD = "sign-method"
OPT_PUBLIC_KEY = "pub-key"
OPT_PRIVATE_KEY = "priv-key"
OPT_TTL = "ttl"
KNOWN_JWT_OPTIONS = frozenset({OPT_SIGN_METHOD, OPT_PUBLIC_KEY, OPT_PRIVATE_KEY, OPT_TTL})

# The methods golang-jwt v3.2.1 (etcd 3.4's) registers, by family.
_RSA_METHODS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_METHODS = frozenset({"ES256", "ES384", "ES512"})
_HMAC_METHODS = frozenset({"HS256", "HS384", "HS512"})
JWT_SIGN_METHODS = _RSA_METHODS | _EC_METHODS | _HMAC_METHODS | {"none"}


@dataclass(frozen=True, slots=True)
class AuthInfo:
    """Who a request acts as, and the auth store revision its credentials were checked at (etcd's
    ``auth.AuthInfo``). A revision of 0 means "no credentials"."""

    username: str
    revision: int


class TokenProvider(Protocol):
    """What the auth store asks of a token provider (etcd's ``TokenProvider`` interface)."""

    def info(self, token: str, revision: int) -> AuthInfo:
        """The user ``token`` stands for. ``revision`` is the store's current one (simple tokens carry
        none). Raises ``ErrInvalidAuthToken``."""
        ...

    def assign(self, username: str, revision: int, *, index: int, prefix: str) -> str:
        """A new token for ``username``; ``index`` is the raft index of the Authenticate entry and
        ``prefix`` the random part chosen by the member that proposed it (``gen_token_prefix``)."""
        ...

    def required_index(self, token: str) -> int:
        """The raft index a member must have applied before ``info`` can know ``token`` (0: none)."""
        ...

    def enable(self) -> None: ...

    def disable(self) -> None: ...

    def invalidate_user(self, username: str) -> None: ...

    def gen_token_prefix(self) -> str: ...


# -- simple ----------------------------------------------------------------------------------------------


def simple_token_index(token: str) -> int | None:
    """The raft index a simple token ends with, None when it is not of the form ``<prefix>.<index>``."""
    parts = token.split(".")
    if len(parts) != 2 or not re.fullmatch(r"[+]?[0-9]+", parts[1]):
        return None
    return int(parts[1])


class SimpleTokenProvider:
    """Random tokens kept in memory, each expiring ``ttl`` seconds after it was last used.

    Expired tokens are dropped when next looked at and by ``sweep`` (which ``assign`` runs, so the table
    stays bounded without a timer thread; etcd's keeper sweeps every second).
    """

    def __init__(
        self, ttl: float = SIMPLE_TOKEN_TTL_DEFAULT, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl if ttl > 0 else SIMPLE_TOKEN_TTL_DEFAULT
        self._clock = clock
        self._lock = threading.Lock()
        self._enabled = False  # etcd: simpleTokenKeeper != nil
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (username, deadline)

    @property
    def ttl(self) -> float:
        return self._ttl

    def gen_token_prefix(self) -> str:
        return "".join(secrets.choice(SIMPLE_TOKEN_LETTERS) for _ in range(SIMPLE_TOKEN_LENGTH))

    def required_index(self, token: str) -> int:
        index = simple_token_index(token)
        if index is None:
            raise ErrInvalidAuthToken()
        return index

    def assign(self, username: str, revision: int, *, index: int, prefix: str) -> str:
        token = f"{prefix}.{index}"
        with self._lock:
            if not self._enabled:
                return token  # etcd 3.4 compat: a token made while disabled is returned but never valid
            if token in self._tokens:
                # etcd panics: two Authenticate entries at one index with one prefix cannot happen.
                raise RuntimeError(f"auth: simple token {token} is already used")
            self._sweep_locked(self._clock())
            self._tokens[token] = (username, self._clock() + self._ttl)
        return token

    def info(self, token: str, revision: int) -> AuthInfo:
        if simple_token_index(token) is None:
            raise ErrInvalidAuthToken()
        with self._lock:
            entry = self._tokens.get(token)
            if entry is None:
                raise ErrInvalidAuthToken()
            now = self._clock()
            username, deadline = entry
            if now > deadline:
                del self._tokens[token]
                raise ErrInvalidAuthToken()
            self._tokens[token] = (username, now + self._ttl)  # etcd's resetSimpleToken
        return AuthInfo(username, revision)

    def sweep(self) -> int:
        """Drops expired tokens; returns how many."""
        with self._lock:
            return self._sweep_locked(self._clock())

    def _sweep_locked(self, now: float) -> int:
        expired = [t for t, (_, deadline) in self._tokens.items() if now > deadline]
        for t in expired:
            del self._tokens[t]
        return len(expired)

    def enable(self) -> None:
        with self._lock:
            self._enabled = True

    def disable(self) -> None:
        with self._lock:
            self._enabled = False
            self._tokens.clear()  # invalidate all tokens

    def invalidate_user(self, username: str) -> None:
        with self._lock:
            for t in [t for t, (name, _) in self._tokens.items() if name == username]:
                del self._tokens[t]

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)


# -- nop -------------------------------------------------------------------------------------------------


class NopTokenProvider:
    """``--auth-token`` with an empty type: no token is valid, Authenticate fails (etcd's ``tokenNop``)."""

    def info(self, token: str, revision: int) -> AuthInfo:
        raise ErrInvalidAuthToken()

    def assign(self, username: str, revision: int, *, index: int, prefix: str) -> str:
        raise ErrAuthFailed()

    def required_index(self, token: str) -> int:
        return 0

    def enable(self) -> None:
        pass

    def disable(self) -> None:
        pass

    def invalidate_user(self, username: str) -> None:
        pass

    def gen_token_prefix(self) -> str:
        return ""


# -- jwt -------------------------------------------------------------------------------------------------


class _AnyHMACAlgorithm(HMACAlgorithm):
    """HMAC that takes any bytes as its secret, as golang-jwt does (PyJWT refuses PEM-looking secrets and
    warns of short ones; etcd's own tests sign with a key file's raw bytes)."""

    def prepare_key(self, key: str | bytes) -> bytes:
        return key.encode() if isinstance(key, str) else key

    def check_key_length(self, key: bytes) -> str | None:
        return None  # etcd takes a secret of any length; a warning on every token would only be noise


def _new_jws() -> PyJWS:
    jws = PyJWS(algorithms=[])
    algorithms = get_default_algorithms()
    for name in _RSA_METHODS | _EC_METHODS:
        jws.register_algorithm(name, algorithms[name])
    for name, digest in (
        ("HS256", HMACAlgorithm.SHA256),
        ("HS384", HMACAlgorithm.SHA384),
        ("HS512", HMACAlgorithm.SHA512),
    ):
        jws.register_algorithm(name, _AnyHMACAlgorithm(digest))
    return jws


JWTKey = rsa.RSAPrivateKey | rsa.RSAPublicKey | ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey | bytes


class JWTTokenProvider:
    """Signed tokens with the claims ``username``, ``revision`` and ``exp`` (``ttl`` seconds after signing).

    ``key`` is a private key (signs and verifies), a public key (verifies only: ``assign`` raises
    ``ErrVerifyOnly``) or, for HS*, the shared secret. ``clock`` is wall-clock seconds (``exp`` is Unix
    time, so members' clocks must agree, as with etcd).
    """

    def __init__(
        self, *, sign_method: str, key: JWTKey, ttl: float, clock: Callable[[], float] = time.time
    ) -> None:
        if sign_method not in _RSA_METHODS | _EC_METHODS | _HMAC_METHODS:
            raise ErrInvalidAuthMethod()
        self.sign_method = sign_method
        self.ttl = ttl
        self._key: Any = key
        self._clock = clock
        self.verify_only = isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
        if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            self._verify_key: Any = key.public_key()
        else:
            self._verify_key = key
        self._jws = _new_jws()

    def gen_token_prefix(self) -> str:
        return ""

    def required_index(self, token: str) -> int:
        return 0

    def enable(self) -> None:
        pass

    def disable(self) -> None:
        pass

    def invalidate_user(self, username: str) -> None:
        pass

    def assign(self, username: str, revision: int, *, index: int = 0, prefix: str = "") -> str:
        if self.verify_only:
            raise ErrVerifyOnly()
        claims = {"username": username, "revision": revision, "exp": int(self._clock() + self.ttl)}
        payload = json.dumps(claims, separators=(",", ":")).encode()
        return self._jws.encode(payload, self._key, algorithm=self.sign_method)

    def info(self, token: str, revision: int) -> AuthInfo:
        """The token's own ``username`` and ``revision`` (``revision`` given here is not used)."""
        try:
            payload = self._jws.decode(token, self._verify_key, algorithms=[self.sign_method])
            claims = json.loads(payload)
        except (PyJWTError, ValueError, TypeError) as err:
            raise ErrInvalidAuthToken() from err
        if not isinstance(claims, dict):
            raise ErrInvalidAuthToken()
        # golang-jwt v3 MapClaims.Valid: exp, iat and nbf are checked when present, with no leeway.
        now = self._clock()
        for name, expires in (("exp", True), ("iat", False), ("nbf", False)):
            value = claims.get(name)
            if value is None:
                continue
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ErrInvalidAuthToken()
            if (now > value) if expires else (now < value):
                raise ErrInvalidAuthToken()
        username, rev = claims.get("username"), claims.get("revision")
        if not isinstance(username, str) or not isinstance(rev, int | float) or isinstance(rev, bool):
            raise ErrInvalidAuthToken()  # etcd would panic on the type assertion
        return AuthInfo(username, int(rev))


# -- options ---------------------------------------------------------------------------------------------

def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string (``time.ParseDuration``: "5m", "1h30m", "1.5s", "300ms", "0").

    Raises:
        ValueError: not a Go duration.
    """
    ns = parse_duration_ns(text)
    if ns is None:
        raise ValueError(f'time: invalid duration "{text}"')
    return ns / NS_PER_SECOND


def decompose_opts(spec: str) -> tuple[str, dict[str, str]]:
    """``--auth-token``'s type and its ``name=value`` options (etcd's ``decomposeOpts``).

    Raises:
        ErrInvalidAuthOpts: an option is not ``name=value`` or is given twice.
    """
    parts = spec.split(",")
    opts: dict[str, str] = {}
    for part in parts[1:]:
        pair = part.split("=")
        if len(pair) != 2 or pair[0] in opts:
            raise ErrInvalidAuthOpts()
        opts[pair[0]] = pair[1]
    return parts[0], opts


def _pem_block(data: bytes) -> tuple[str, bytes]:
    """The type and text of the first PEM block of ``data``, or JWTKeyError as golang-jwt's ``pem.Decode``
    check."""
    m = re.search(rb"-----BEGIN ([^-\r\n]+)-----.*?-----END \1-----", data, re.S)
    if m is None:
        raise JWTKeyError(JWTKeyError.KEY_MUST_BE_PEM_ENCODED)
    return m.group(1).decode(errors="replace"), m.group(0)


def _load_private(data: bytes, family: str) -> PrivateKeyTypes:
    kind, block = _pem_block(data)
    # golang-jwt tries only its family's formats, so Go's x509 names the other family's parser.
    if family == "RSA" and kind == "EC PRIVATE KEY":
        raise JWTKeyError(JWTKeyError.USE_EC_PARSER)
    if family == "EC" and kind == "RSA PRIVATE KEY":
        raise JWTKeyError(JWTKeyError.USE_PKCS1_PARSER)
    try:
        return serialization.load_pem_private_key(block, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        raise JWTKeyError(f"x509: failed to parse private key: {err}") from err


def _load_public(data: bytes) -> PublicKeyTypes | CertificatePublicKeyTypes:
    _, block = _pem_block(data)
    try:
        return serialization.load_pem_public_key(block)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        pass
    try:  # golang-jwt falls back to a certificate's public key
        return x509.load_pem_x509_certificate(block).public_key()
    except ValueError as err:
        raise JWTKeyError(f"x509: failed to parse public key: {err}") from err


def _read_key_file(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as err:
        raise ErrInvalidAuthOpts() from err  # etcd: ParseWithDefaults failed


def jwt_key(sign_method: str, public_pem: bytes, private_pem: bytes) -> JWTKey:
    """The key ``sign_method`` signs and verifies with, from the key files' contents (etcd's
    ``jwtOptions.Key``): the private key if given (checked against the public one), else the public key
    (verify only); for HS*, the private file's bytes as the secret.

    Raises:
        ErrMissingKey, ErrKeyMismatch, JWTKeyError: as etcd refuses the options at start-up.
    """
    if sign_method in _HMAC_METHODS:
        if not private_pem:
            raise ErrMissingKey()
        return private_pem
    if sign_method in _RSA_METHODS:
        priv: rsa.RSAPrivateKey | None = None
        pub: rsa.RSAPublicKey | None = None
        if private_pem:
            k = _load_private(private_pem, "RSA")
            if not isinstance(k, rsa.RSAPrivateKey):
                raise JWTKeyError(JWTKeyError.NOT_RSA_PRIVATE_KEY)
            priv = k
        if public_pem:
            p = _load_public(public_pem)
            if not isinstance(p, rsa.RSAPublicKey):
                raise JWTKeyError(JWTKeyError.NOT_RSA_PUBLIC_KEY)
            pub = p
        if priv is None:
            if pub is None:
                raise ErrMissingKey()
            return pub
        if pub is not None:
            a, b = pub.public_numbers(), priv.public_key().public_numbers()
            # etcd 3.4 compat (auth/options.go rsaKey): a mismatch needs both E and N to differ.
            if a.e != b.e and a.n != b.n:
                raise ErrKeyMismatch()
        return priv
    if sign_method in _EC_METHODS:
        epriv: ec.EllipticCurvePrivateKey | None = None
        epub: ec.EllipticCurvePublicKey | None = None
        if private_pem:
            ek = _load_private(private_pem, "EC")
            if not isinstance(ek, ec.EllipticCurvePrivateKey):
                raise JWTKeyError(JWTKeyError.NOT_EC_PRIVATE_KEY)
            epriv = ek
        if public_pem:
            ep = _load_public(public_pem)
            if not isinstance(ep, ec.EllipticCurvePublicKey):
                raise JWTKeyError(JWTKeyError.NOT_EC_PUBLIC_KEY)
            epub = ep
        if epriv is None:
            if epub is None:
                raise ErrMissingKey()
            return epub
        if epub is not None:
            a2, b2 = epub.public_numbers(), epriv.public_key().public_numbers()
            # etcd 3.4 compat (auth/options.go ecKey): a mismatch needs curve, X and Y all to differ.
            if a2.curve.name != b2.curve.name and a2.x != b2.x and a2.y != b2.y:
                raise ErrKeyMismatch()
        return epriv
    raise JWTKeyError(JWTKeyError.UNSUPPORTED_NONE)


def new_jwt_provider(opts: dict[str, str], *, clock: Callable[[], float] = time.time) -> JWTTokenProvider:
    """A JWT provider from ``--auth-token jwt,...``'s options (etcd's ``newTokenProviderJWT``); unknown
    option names are ignored (etcd logs them).

    Raises:
        ErrInvalidAuthOpts: a bad ttl, an unreadable key file, or an unknown or missing sign-method.
        ErrMissingKey, ErrKeyMismatch, JWTKeyError: the keys do not fit the method.
    """
    ttl = JWT_TTL_DEFAULT
    if opts.get(OPT_TTL, ""):
        try:
            ttl = parse_go_duration(opts[OPT_TTL])
        except ValueError as err:
            raise ErrInvalidAuthOpts() from err
    public_pem = _read_key_file(opts[OPT_PUBLIC_KEY]) if opts.get(OPT_PUBLIC_KEY, "") else b""
    private_pem = _read_key_file(opts[OPT_PRIVATE_KEY]) if opts.get(OPT_PRIVATE_KEY, "") else b""
    method = opts.get(OPT_SIGN_METHOD, "")
    if method not in JWT_SIGN_METHODS:
        raise ErrInvalidAuthOpts()  # etcd: ErrInvalidAuthMethod, reported as invalid options
    key = jwt_key(method, public_pem, private_pem)
    return JWTTokenProvider(sign_method=method, key=key, ttl=ttl, clock=clock)


def new_token_provider(
    spec: str,
    ttl: float = SIMPLE_TOKEN_TTL_DEFAULT,
    *,
    clock: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
) -> TokenProvider:
    """The provider ``--auth-token spec`` names; ``ttl`` is ``--auth-token-ttl`` in seconds (simple tokens
    only; a JWT's lifetime is its own ``ttl`` option). ``clock`` times simple tokens, ``wall_clock``
    stamps JWTs.

    Raises:
        ErrInvalidAuthOpts: a malformed spec or an unknown type (and the JWT option errors above).
    """
    token_type, opts = decompose_opts(spec)
    if token_type == TOKEN_TYPE_SIMPLE:
        return SimpleTokenProvider(ttl, clock=clock)
    if token_type == TOKEN_TYPE_JWT:
        return new_jwt_provider(opts, clock=wall_clock)
    if token_type == "":
        return NopTokenProvider()
    raise ErrInvalidAuthOpts()
