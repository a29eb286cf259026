"""The v2 API's errors: code, message, cause, index and HTTP status (etcd's ``etcdserver/api/v2error``).

Clients compare these texts, so every message is etcd 3.4's verbatim. The v2 store raises ``Error``;
the v2 HTTP layer writes it with ``Error.status_code()`` and ``Error.to_json()`` (plus the
``X-Etcd-Index`` header carrying ``Error.index``).

Identifiers keep etcd's spelling (``EcodeKeyNotFound``) so one grep finds both sides.
"""

from __future__ import annotations

from etcd.pkg import gojson

# Command related errors.
EcodeKeyNotFound = 100
EcodeTestFailed = 101
EcodeNotFile = 102
EcodeNoMorePeer = 103
EcodeNotDir = 104
EcodeNodeExist = 105
EcodeKeyIsPreserved = 106
EcodeRootROnly = 107
EcodeDirNotEmpty = 108
EcodeExistingPeerAddr = 109
EcodeUnauthorized = 110

# Post form related errors.
EcodeValueRequired = 200
EcodePrevValueRequired = 201
EcodeTTLNaN = 202
EcodeIndexNaN = 203
EcodeValueOrTTLRequired = 204
EcodeTimeoutNaN = 205
EcodeNameRequired = 206
EcodeIndexOrValueRequired = 207
EcodeIndexValueMutex = 208
EcodeInvalidField = 209
EcodeInvalidForm = 210
EcodeRefreshValue = 211
EcodeRefreshTTLRequired = 212

# Raft related errors.
EcodeRaftInternal = 300
EcodeLeaderElect = 301

# etcd related errors.
EcodeWatcherCleared = 400
EcodeEventIndexCleared = 401
EcodeStandbyInternal = 402
EcodeInvalidActiveSize = 403
EcodeInvalidRemoveDelay = 404

# Client related errors.
EcodeClientInternal = 500

MESSAGES: dict[int, str] = {
    EcodeKeyNotFound: "Key not found",
    EcodeTestFailed: "Compare failed",
    EcodeNotFile: "Not a file",
    EcodeNoMorePeer: "Reached the max number of peers in the cluster",
    EcodeNotDir: "Not a directory",
    EcodeNodeExist: "Key already exists",
    EcodeKeyIsPreserved: "The prefix of given key is a keyword in etcd",
    EcodeRootROnly: "Root is read only",
    EcodeDirNotEmpty: "Directory not empty",
    EcodeExistingPeerAddr: "Peer address has existed",
    EcodeUnauthorized: "The request requires user authentication",
    EcodeValueRequired: "Value is Required in POST form",
    EcodePrevValueRequired: "PrevValue is Required in POST form",
    EcodeTTLNaN: "The given TTL in POST form is not a number",
    EcodeIndexNaN: "The given index in POST form is not a number",
    EcodeValueOrTTLRequired: "Value or TTL is required in POST form",
    EcodeTimeoutNaN: "The given timeout in POST form is not a number",
    EcodeNameRequired: "Name is required in POST form",
    EcodeIndexOrValueRequired: "Index or value is required",
    EcodeIndexValueMutex: "Index and value cannot both be specified",
    EcodeInvalidField: "Invalid field",
    EcodeInvalidForm: "Invalid POST form",
    EcodeRefreshValue: "Value provided on refresh",
    EcodeRefreshTTLRequired: "A TTL must be provided on refresh",
    EcodeRaftInternal: "Raft Internal Error",
    EcodeLeaderElect: "During Leader Election",
    EcodeWatcherCleared: "watcher is cleared due to etcd recovery",
    EcodeEventIndexCleared: "The event in requested index is outdated and cleared",
    EcodeStandbyInternal: "Standby Internal Error",
    EcodeInvalidActiveSize: "Invalid active size",
    EcodeInvalidRemoveDelay: "Standby remove delay",
    EcodeClientInternal: "Client Internal Error",
}

# Codes not listed answer 400 Bad Request.
STATUS: dict[int, int] = {
    EcodeKeyNotFound: 404,
    EcodeNotFile: 403,
    EcodeDirNotEmpty: 403,
    EcodeUnauthorized: 401,
    EcodeTestFailed: 412,
    EcodeNodeExist: 412,
    EcodeRaftInternal: 500,
    EcodeLeaderElect: 500,
}


class Error(Exception):
    """A v2 API error: etcd's ``v2error.Error``.

    ``index`` is the store index when the error happened (0 for request errors found before the
    store was consulted); ``cause`` is free text, usually the key involved.
    """

    def __init__(self, error_code: int, cause: str = "", index: int = 0) -> None:
        self.error_code = error_code
        self.message = MESSAGES.get(error_code, "")
        self.cause = cause
        self.index = index
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.message} ({self.cause})"

    def __repr__(self) -> str:
        return f"Error({self.error_code}, {self.cause!r}, {self.index})"

    def status_code(self) -> int:
        """The HTTP status this error is answered with."""
        return STATUS.get(self.error_code, 400)

    def to_dict(self) -> dict[str, object]:
        """The JSON object, in etcd's field order; ``cause`` is left out when empty."""
        d: dict[str, object] = {"errorCode": self.error_code, "message": self.message}
        if self.cause:
            d["cause"] = self.cause
        d["index"] = self.index
        return d

    def to_json(self) -> str:
        """The body etcd writes, without its trailing newline (the HTTP layer adds ``\\n``)."""
        return gojson.dumps(self.to_dict())


def new_error(error_code: int, cause: str, index: int) -> Error:
    """etcd's ``NewError``."""
    return Error(error_code, cause, index)


def new_request_error(error_code: int, cause: str) -> Error:
    """etcd's ``NewRequestError``: an error found in the request itself, at index 0."""
    return Error(error_code, cause, 0)
