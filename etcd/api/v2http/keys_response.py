"""``render``: the HTTP answer etcd 3.4 writes for a ``/v2/keys`` event or error (``writeKeyEvent``,
``writeKeyError`` and ``v2error.Error.WriteTo`` in ``etcdserver/api/v2http``).

Keys in the store live under ``/1``; answers show them without it (etcd's ``trimEventPrefix``), and
the cause of a store error loses it too (``trimErrorPrefix``). Bodies end with the newline Go's JSON
encoder adds. A HEAD answer has the same status and headers; the HTTP layer drops its body.
"""

from __future__ import annotations

from typing import NamedTuple

from etcd.api import v2error
from etcd.api.v2http.keys_request import ALLOWED_METHODS, STORE_KEYS_PREFIX
from etcd.pkg import gojson
from etcd.v2store import event as actions
from etcd.v2store.event import Event
from etcd.v2store.node_extern import NodeExtern

_CONTENT_TYPE = "application/json"
# Writes whose nodes noValueOnSuccess leaves out; deletes and reads keep theirs.
_NO_VALUE_ACTIONS = frozenset({actions.Set, actions.CompareAndSwap, actions.Create, actions.Update})


class Rendered(NamedTuple):
    """An HTTP answer: status, headers in Go's spelling, and the body bytes."""

    status: int
    headers: dict[str, str]
    body: bytes


def render(
    result: Event | BaseException,
    *,
    raft_index: int,
    raft_term: int,
    cluster_id: int,
    etcd_index: int | None = None,
    no_value_on_success: bool = False,
) -> Rendered:
    """The answer to one request.

    ``result`` is the store's event, a ``v2error.Error``, or any other exception (written as etcd
    does: error 300 "Raft Internal Error" with the exception's text as cause, status 500).
    ``etcd_index`` overrides ``X-Etcd-Index``, which is otherwise the event's ``etcd_index`` or the
    error's ``index``. An event answers 201 when it made a node, 200 otherwise, with
    ``X-Etcd-Index``, ``X-Raft-Index`` and ``X-Raft-Term``; an error answers its own status with
    ``X-Etcd-Index`` only. Both carry ``X-Etcd-Cluster-Id`` (Go's canonical spelling; hex, as etcd's
    ``types.ID``) and
    ``Content-Type: application/json``. ``no_value_on_success`` empties a successful write's body
    to ``{"action":...}``.
    """
    headers = {"X-Etcd-Cluster-Id": format(cluster_id, "x")}
    if isinstance(result, Event):
        return _render_event(result, headers, raft_index, raft_term, etcd_index, no_value_on_success)
    err = result if isinstance(result, v2error.Error) else None
    if err is None:
        err = v2error.new_error(v2error.EcodeRaftInternal, str(result), 0)
    else:
        err = v2error.Error(err.error_code, _trim(err.cause), err.index)
    headers["X-Etcd-Index"] = str(err.index if etcd_index is None else etcd_index)
    headers["Content-Type"] = _CONTENT_TYPE
    return Rendered(err.status_code(), headers, (err.to_json() + "\n").encode())


def render_watch_start(start_index: int, *, raft_index: int, raft_term: int, cluster_id: int) -> Rendered:
    """The 200 and headers a watch answers with at once (etcd's ``handleKeyWatch``), before any event:
    ``X-Etcd-Index`` is the watcher's start index (``Watcher.start_index``). The body is empty; each
    event follows as ``render_watch_event``."""
    headers = {
        "X-Etcd-Cluster-Id": format(cluster_id, "x"),
        "Content-Type": _CONTENT_TYPE,
        "X-Etcd-Index": str(start_index),
        "X-Raft-Index": str(raft_index),
        "X-Raft-Term": str(raft_term),
    }
    return Rendered(200, headers, b"")


def render_method_not_allowed() -> Rendered:
    """etcd's ``allowMethod`` refusal: 405 with an ``Allow`` list and Go's plain-text ``http.Error``.

    It comes before the handler sets ``X-Etcd-Cluster-ID``, so that header is absent.
    """
    headers = {
        "Allow": ",".join(ALLOWED_METHODS),
        "Content-Type": "text/plain; charset=utf-8",
        "X-Content-Type-Options": "nosniff",
    }
    return Rendered(405, headers, b"Method Not Allowed\n")


def _render_event(
    ev: Event,
    headers: dict[str, str],
    raft_index: int,
    raft_term: int,
    etcd_index: int | None,
    no_value_on_success: bool,
) -> Rendered:
    headers["Content-Type"] = _CONTENT_TYPE
    headers["X-Etcd-Index"] = str(ev.etcd_index if etcd_index is None else etcd_index)
    headers["X-Raft-Index"] = str(raft_index)
    headers["X-Raft-Term"] = str(raft_term)
    status = 201 if ev.is_created() else 200
    if no_value_on_success and ev.action in _NO_VALUE_ACTIONS:
        return Rendered(status, headers, (gojson.dumps({"action": ev.action}) + "\n").encode())
    return Rendered(status, headers, _trimmed_json(ev))


def render_watch_event(ev: Event) -> bytes:
    """One event of a watch as written to its stream: keys without ``/1``, ending in a newline."""
    return _trimmed_json(ev)


def _trimmed_json(ev: Event) -> bytes:
    # The event may be one the store's history holds: change a copy. etcd 3.4 compat: Go's Event.Clone
    # drops Refresh, so no answer ever shows "refresh":true.
    ev = ev.clone()
    ev.refresh = False
    _trim_node(ev.node)
    if ev.prev_node is not None:
        _trim_node(ev.prev_node)
    return (ev.to_json() + "\n").encode()


def _trim(key: str) -> str:
    return key[len(STORE_KEYS_PREFIX) :] if key.startswith(STORE_KEYS_PREFIX) else key


def _trim_node(n: NodeExtern) -> None:
    n.key = _trim(n.key)
    for child in n.nodes or ():
        _trim_node(child)
