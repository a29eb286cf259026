"""The receiving side: aiohttp handlers for the peer port (etcd's ``rafthttp/http.go``).

``peer_routes(transport)`` returns the ``(pattern, handler)`` pairs for the peer port's Go-style mux
(``etcd.api.etcdhttp.peer.make_peer_app(server, extra=...)``): ``/raft`` and the ``/raft/`` subtree, both
to this package's own dispatch, as etcd's ``newPeerHandler`` mounts ``Transport.Handler()``:

- ``POST /raft``: one message (pipeline); 204, or 403 with etcd's JSON if the sender was removed;
- ``GET /raft/stream/message/<from>``: a stream we then send to ``<from>`` on; 410 if it was removed,
  404 if it is not a peer, 412 if ``X-Raft-To`` is not us; ``/raft/stream/msgapp/<from>`` (etcd's
  msgappv2) is accepted with the same checks and carries link heartbeats only;
- ``POST /raft/snapshot``: a ``MsgSnap`` then the backend data, saved before raft sees the message;
- ``GET /raft/probing``: the prober's health answer.

Every handler but probing first checks the sender's version and cluster ID (412 with the reason) and
answers with ``X-Etcd-Cluster-ID``. Errors are Go's ``http.Error`` text; other ``/raft/...`` paths are
Go's ``404 page not found``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from google.protobuf.message import DecodeError

from etcd.raft.raftpb import raft_pb2 as pb
from etcd.raft.raftpb.raft_pb2 import Message
from etcd.rafthttp import codec, compat, metrics
from etcd.rafthttp.errors import TransportError
from etcd.rafthttp.pipeline import RAFT_PATH
from etcd.rafthttp.probing import PROBING_PATH, health_body
from etcd.rafthttp.snapshot import SNAPSHOT_PATH, SnapshotFile
from etcd.rafthttp.stream import STREAM_MESSAGE_PATH, STREAM_MSGAPP_PATH, serve_msgapp_heartbeats
from etcd.rafthttp.transport import Transport
from etcd.version import SERVER_VERSION

logger = logging.getLogger("etcd.rafthttp")

# The peer mux's handler shape: the request and the routed (cleaned) path.
Handler = Callable[[web.Request, str], Awaitable[web.StreamResponse]]
_READ_CHUNK = 1 << 16
STREAM_PREFIX = "/raft/stream/"


def _http_error(text: str, status: int, headers: dict[str, str] | None = None) -> web.Response:
    """Go's ``http.Error``: the text and a newline, ``text/plain; charset=utf-8``, ``nosniff``."""
    resp = web.Response(
        status=status,
        body=(text + "\n").encode(),
        headers={"X-Content-Type-Options": "nosniff", **(headers or {})},
    )
    resp.content_type = "text/plain"
    resp.charset = "utf-8"
    return resp


def _method_not_allowed(allow: str) -> web.Response:
    return _http_error("Method Not Allowed", 405, {"Allow": allow})


def _removed_member() -> web.Response:
    # etcd 3.4 compat: etcdserver/server.go Process returns httptypes.HTTPError, written as JSON.
    body = json.dumps({"message": "cannot process message from removed member"}).encode()
    return web.Response(status=403, body=body, content_type="application/json")


def _remote_addr(request: web.Request) -> str:
    peername = request.transport.get_extra_info("peername") if request.transport is not None else None
    return f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else (request.remote or "")


def _precheck(tr: Transport, request: web.Request, headers: dict[str, str]) -> web.Response | None:
    err = compat.check_cluster_compatibility(request.headers, tr.cluster_id)
    if err is not None:
        logger.warning("rejected peer request from %s: %s", request.headers.get("X-Server-From", "?"), err)
        return _http_error(str(err), 412, headers)
    # etcd 3.4 compat: http.go addRemoteFromRequest: a sender we do not know yet can be answered.
    frm = compat.parse_id(request.headers.get("X-Server-From", ""))
    urls = compat.peer_urls_header(request.headers)
    if frm is not None and urls:
        tr.add_remote(frm, urls)
    return None


def peer_routes(tr: Transport) -> list[tuple[str, Handler]]:
    """The transport's (pattern, handler) pairs for the peer port's mux."""

    def cid_header() -> dict[str, str]:
        return {"X-Etcd-Cluster-ID": compat.id_str(tr.cluster_id)}

    async def pipeline(request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            return _method_not_allowed("POST")
        headers = cid_header()
        refused = _precheck(tr, request, headers)
        if refused is not None:
            return refused
        try:
            body = await request.content.read()
            m = Message.FromString(body)
        except (OSError, DecodeError) as e:
            # etcd 3.4 compat: http.go labels receive failures with the remote address.
            metrics.received_failures.labels(_remote_addr(request)).inc()
            text = (
                "error unmarshalling raft message"
                if isinstance(e, DecodeError)
                else "error reading raft message"
            )
            return _http_error(text, 400, headers)
        metrics.received_bytes.labels(compat.id_str(m.from_)).inc(len(body))
        if tr.is_id_removed(m.from_):
            return _removed_member()
        tr.deliver(m)
        return web.Response(status=204, headers=headers)

    async def stream(request: web.Request, path: str) -> web.StreamResponse:
        if request.method != "GET":
            return _method_not_allowed("GET")
        headers = {"X-Server-Version": SERVER_VERSION, **cid_header()}
        refused = _precheck(tr, request, headers)
        if refused is not None:
            return refused
        directory, _, from_text = path.rpartition("/")
        if directory not in (STREAM_MESSAGE_PATH, STREAM_MSGAPP_PATH):
            return _http_error("invalid path", 404, headers)
        frm = compat.parse_id(from_text)
        if frm is None:
            return _http_error("invalid from", 404, headers)
        if tr.is_id_removed(frm):
            return _http_error("removed member", 410, headers)
        peer = tr.peer(frm)
        if peer is None:
            return _http_error("error sender not found", 404, headers)
        if request.headers.get("X-Raft-To") != compat.id_str(tr.id):
            return _http_error("to field mismatch", 412, headers)
        resp = web.StreamResponse(status=200, headers=headers)
        await resp.prepare(request)
        if directory == STREAM_MSGAPP_PATH:
            await serve_msgapp_heartbeats(tr, peer, resp)
            return resp
        done = peer.writer.attach(resp)
        try:
            await done
        finally:
            peer.writer.detach(done, "the peer closed the stream")
        return resp

    async def snapshot(request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            return _method_not_allowed("POST")
        headers = cid_header()
        refused = _precheck(tr, request, headers)
        if refused is not None:
            return refused
        start = time.monotonic()
        try:
            head = await request.content.readexactly(codec.LEN_SIZE)
            # etcd 3.4 compat: snapshots may exceed 512 MiB, so the message itself is not size-limited.
            n = codec.parse_length(head, 1 << 63)
            m = Message.FromString(await request.content.readexactly(n))
        except (OSError, DecodeError, TransportError, ValueError) as e:
            metrics.received_failures.labels(_remote_addr(request)).inc()
            return _http_error(f"failed to decode raft message ({e})", 400, headers)
        frm = compat.id_str(m.from_)
        metrics.received_bytes.labels(frm).inc(n)
        if m.type != pb.MsgSnap:
            return _http_error("wrong raft message type", 400, headers)
        if tr.faults.drop_from and tr.faults.drops_from(m.from_):
            return _http_error("dropped by fault injection", 503, headers)  # tests: a partition
        if tr.is_id_removed(m.from_):
            return _removed_member()
        metrics.snapshot_receive_inflights.labels(frm).inc()
        try:
            return await _save_and_step(m, frm, request, headers, start)
        finally:
            metrics.snapshot_receive_inflights.labels(frm).dec()

    async def _save_and_step(
        m: Message, frm: str, request: web.Request, headers: dict[str, str], start: float
    ) -> web.Response:
        f = SnapshotFile(tr.snapshot_dir) if tr.snapshot_dir is not None else None
        try:
            try:
                while chunk := await request.content.read(_READ_CHUNK):
                    metrics.received_bytes.labels(frm).inc(len(chunk))
                    if f is not None:
                        await f.write(chunk)
                if f is not None:
                    await f.finish()
                    if tr.on_snapshot is not None:
                        await tr.on_snapshot(m, f.path)
            except Exception as e:
                metrics.snapshot_receive_failures.inc(frm)
                logger.warning("failed to save snapshot from %s: %s", frm, e)
                return _http_error(f"failed to save KV snapshot ({e})", 500, headers)
        finally:
            if f is not None:
                f.discard()
        logger.info("received and saved database snapshot from %s (index %d)", frm, m.snapshot.metadata.index)
        tr.deliver(m)
        metrics.snapshot_receive_success.inc(frm)
        metrics.snapshot_receive_seconds.labels(frm).observe(time.monotonic() - start)
        # etcd 3.4 compat: 204 only after raft has the message, so the sender can report it delivered.
        return web.Response(status=204, headers=headers)

    async def probing(request: web.Request) -> web.StreamResponse:
        resp = web.Response(body=health_body())
        resp.content_type = "text/plain"
        resp.charset = "utf-8"
        return resp

    exact = {RAFT_PATH: pipeline, SNAPSHOT_PATH: snapshot, PROBING_PATH: probing}

    async def raft_handler(request: web.Request, path: str) -> web.StreamResponse:
        handler = exact.get(path)
        if handler is not None:
            return await handler(request)
        if path.startswith(STREAM_PREFIX):
            return await stream(request, path)
        return _http_error("404 page not found", 404)

    return [(RAFT_PATH, raft_handler), (RAFT_PATH + "/", raft_handler)]
