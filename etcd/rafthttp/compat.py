"""Who may talk to whom: the headers a peer request carries and the checks on them (etcd's
``rafthttp/util.go`` and ``rafthttp/http.go`` ``checkClusterCompatibilityFromHeader``).

Pure functions over header mappings; the HTTP handlers and the client side both use them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from etcd.rafthttp.errors import (
    ErrClusterIDMismatch,
    ErrIncompatibleVersion,
    ErrMemberRemoved,
    ErrUnexpectedStatus,
    TransportError,
)
from etcd.version import SERVER_VERSION

# etcd 3.4 compat: version.MinClusterVersion, sent as X-Min-Cluster-Version.
MIN_CLUSTER_VERSION = "3.0.0"
# etcd 3.4 compat: rafthttp/util.go serverVersion/minClusterVersion: a peer that sends no header is 2.0.0.
_ABSENT_VERSION = "2.0.0"

CT_PROTOBUF = "application/protobuf"
CT_OCTET = "application/octet-stream"


def id_str(id_: int) -> str:
    """etcd's ``types.ID.String()``: lower-case hex without leading zeros."""
    return f"{id_:x}"


def parse_id(text: str) -> int | None:
    """etcd's ``types.IDFromString`` (hex, uint64); None when it is not one."""
    try:
        v = int(text, 16)
    except ValueError:
        return None
    return v if 0 <= v < 1 << 64 and text.strip() == text and not text.startswith(("+", "-")) else None


def request_headers(
    local_id: int, cluster_id: int, urls: Sequence[str], *, to: int | None = None
) -> dict[str, str]:
    """The headers of every peer request (``createPostRequest``; a stream dial adds ``X-Raft-To``)."""
    h = {
        "X-Server-From": id_str(local_id),
        "X-Server-Version": SERVER_VERSION,
        "X-Min-Cluster-Version": MIN_CLUSTER_VERSION,
        "X-Etcd-Cluster-ID": id_str(cluster_id),
    }
    if urls:
        h["X-PeerURLs"] = ",".join(urls)
    if to is not None:
        h["X-Raft-To"] = id_str(to)
    return h


def _major_minor(v: str) -> tuple[int, int] | None:
    parts = v.split("-", 1)[0].split("+", 1)[0].split(".")
    if len(parts) != 3:
        return None
    try:
        major, minor, _patch = (int(p) for p in parts)
    except ValueError:
        return None
    return major, minor


def check_version(server: str | None, min_cluster: str | None) -> str | None:
    """etcd's ``checkVersionCompatibility``: None if a peer of ``server`` version that needs at least
    ``min_cluster`` may talk to us, else the reason (for logs)."""
    remote = _major_minor(server or _ABSENT_VERSION)
    need = _major_minor(min_cluster or _ABSENT_VERSION)
    local = _major_minor(SERVER_VERSION)
    local_min = _major_minor(MIN_CLUSTER_VERSION)
    assert local is not None and local_min is not None
    if remote is None or need is None:
        return f"malformed version: server={server!r} min-cluster={min_cluster!r}"
    if remote < local_min:
        return f"remote version is too low: remote={server}, local={SERVER_VERSION}"
    if need > local:
        return f"local version is too low: remote={server}, local={SERVER_VERSION}"
    return None


def check_cluster_compatibility(headers: Mapping[str, str], cluster_id: int) -> TransportError | None:
    """The version check, then the cluster-ID check; the error's text is the 412 body."""
    if check_version(headers.get("X-Server-Version"), headers.get("X-Min-Cluster-Version")) is not None:
        return ErrIncompatibleVersion()
    if headers.get("X-Etcd-Cluster-ID") != id_str(cluster_id):
        return ErrClusterIDMismatch()
    return None


def peer_urls_header(headers: Mapping[str, str]) -> list[str]:
    raw = headers.get("X-PeerURLs", "")
    return [u for u in raw.split(",") if u]


def precondition_error(body: str) -> TransportError:
    """What a 412 body means (``checkPostResponse`` and the stream dialer)."""
    text = body.removesuffix("\n")
    if text == ErrIncompatibleVersion.text:
        return ErrIncompatibleVersion()
    if text == ErrClusterIDMismatch.text:
        return ErrClusterIDMismatch()
    return ErrUnexpectedStatus(f"unhandled error {text!r} when precondition failed")


def check_post_response(status: int, body: str, url: str) -> TransportError | None:
    """etcd's ``checkPostResponse`` for pipeline and snapshot posts: None on 204."""
    if status == 204:
        return None
    if status == 412:
        return precondition_error(body)
    if status == 403:
        return ErrMemberRemoved()
    return ErrUnexpectedStatus(f"unexpected http status {status} while posting to {url!r}")
