"""The errors the auth store and its token providers raise, with etcd 3.4's exact texts (declared atop
etcd's ``auth/store.go``; the JWT key errors are those of ``github.com/golang-jwt/jwt`` v3, which etcd
returns unchanged).

Clients compare these strings; the API layer maps each class to its gRPC status (etcd's
``v3rpc/util.go`` ``toGRPCErrorMap``). ``ErrNoPasswordUser`` and the option and key errors are not in that
map: etcd answers the first as UNKNOWN with its text and only ever meets the others at start-up.
"""

from __future__ import annotations


class AuthError(Exception):
    """Base of the errors below; ``str(err)`` is etcd's message."""

    message = ""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(self.message if message is None else message)


class ErrRootUserNotExist(AuthError):
    message = "auth: root user does not exist"


class ErrRootRoleNotExist(AuthError):
    message = "auth: root user does not have root role"


class ErrUserAlreadyExist(AuthError):
    message = "auth: user already exists"


class ErrUserEmpty(AuthError):
    message = "auth: user name is empty"


class ErrUserNotFound(AuthError):
    message = "auth: user not found"


class ErrRoleAlreadyExist(AuthError):
    message = "auth: role already exists"


class ErrRoleNotFound(AuthError):
    message = "auth: role not found"


class ErrRoleEmpty(AuthError):
    message = "auth: role name is empty"


class ErrAuthFailed(AuthError):
    message = "auth: authentication failed, invalid user ID or password"


class ErrNoPasswordUser(AuthError):
    message = "auth: authentication failed, password was given for no password user"


class ErrPermissionDenied(AuthError):
    message = "auth: permission denied"


class ErrRoleNotGranted(AuthError):
    message = "auth: role is not granted to the user"


class ErrPermissionNotGranted(AuthError):
    message = "auth: permission is not granted to the role"


class ErrAuthNotEnabled(AuthError):
    message = "auth: authentication is not enabled"


class ErrAuthOldRevision(AuthError):
    message = "auth: revision in header is old"


class ErrInvalidAuthToken(AuthError):
    message = "auth: invalid auth token"


class ErrInvalidAuthOpts(AuthError):
    message = "auth: invalid auth options"


class ErrInvalidAuthMgmt(AuthError):
    message = "auth: invalid auth management"


class ErrInvalidAuthMethod(AuthError):
    message = "auth: invalid auth signature method"


class ErrMissingKey(AuthError):
    message = "auth: missing key data"


class ErrKeyMismatch(AuthError):
    message = "auth: public and private keys don't match"


class ErrVerifyOnly(AuthError):
    message = "auth: token signing attempted with verify-only key"


class JWTKeyError(AuthError):
    """A key file the JWT library cannot use. The texts are those the reference etcd 3.4.23 binary
    (Debian's, built with golang-jwt v4) prints at start-up; for a method without a key type, etcd's
    ``options.go`` ``unsupported signing method: <Go type>``."""

    KEY_MUST_BE_PEM_ENCODED = "invalid key: Key must be a PEM encoded PKCS1 or PKCS8 key"
    NOT_RSA_PRIVATE_KEY = "key is not a valid RSA private key"
    NOT_RSA_PUBLIC_KEY = "key is not a valid RSA public key"
    NOT_EC_PRIVATE_KEY = "key is not a valid ECDSA private key"
    NOT_EC_PUBLIC_KEY = "key is not a valid ECDSA public key"
    # Go's crypto/x509 when a PEM block holds the other family's private key format.
    USE_EC_PARSER = "x509: failed to parse private key (use ParseECPrivateKey instead for this key format)"
    USE_PKCS1_PARSER = (
        "x509: failed to parse private key (use ParsePKCS1PrivateKey instead for this key format)"
    )
    UNSUPPORTED_NONE = "unsupported signing method: *jwt.signingMethodNone"
