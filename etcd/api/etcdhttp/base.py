"""The rest of etcd's ``HandleBasic`` (``etcdhttp/base.go``): ``/debug/vars`` and ``/config/local/log``.

``GET /debug/vars`` is Go's expvar page: one ``"name": json`` line per variable, sorted by name. We
publish what a Python process has of etcd's: ``cmdline`` (the process arguments) and ``raft.status``
(raft's ``Status`` JSON, as etcd's ``raft.status`` expvar); Go's ``memstats`` has no counterpart.

``PUT /config/local/log {"Level":"DEBUG"}`` sets the level of the ``etcd`` loggers, taking capnslog's
level names (``CRITICAL``, ``ERROR``, ``WARNING``, ``NOTICE``, ``INFO``, ``DEBUG``, ``TRACE``, their
initials, or ``0``-``5``) in any case; 204, or 400 ``Invalid json body`` / ``Invalid log level <x>``.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from etcd.api.etcdhttp.gohttp import Handler, method_not_allowed
from etcd.pkg import gojson

if TYPE_CHECKING:
    from etcd.server.etcdserver import EtcdServer

log = logging.getLogger(__name__)

# capnslog.ParseLevel's names, mapped to Python logging levels (NOTICE sits between INFO and WARNING).
CAPNSLOG_LEVELS: Final = {
    **dict.fromkeys(("CRITICAL", "C"), logging.CRITICAL),
    **dict.fromkeys(("ERROR", "0", "E"), logging.ERROR),
    **dict.fromkeys(("WARNING", "1", "W"), logging.WARNING),
    **dict.fromkeys(("NOTICE", "2", "N"), logging.INFO + 5),
    **dict.fromkeys(("INFO", "3", "I"), logging.INFO),
    **dict.fromkeys(("DEBUG", "4", "D"), logging.DEBUG),
    **dict.fromkeys(("TRACE", "5", "T"), logging.DEBUG - 5),
}
ETCD_LOGGER: Final = "etcd"


def raft_status_json(server: EtcdServer) -> str:
    """raft's ``Status.MarshalJSON``: IDs in hex, progress (leader only) by member."""
    st = server.node.raw_node.status()
    hs = st.hard_state
    progress = ",".join(
        f'"{member:x}":{{"match":{pr.match},"next":{pr.next},"state":"{pr.state}"}}'
        for member, pr in st.progress.items()
    )
    return (
        f'{{"id":"{st.id:x}","term":{hs.term},"vote":"{hs.vote:x}","commit":{hs.commit},'
        f'"lead":"{st.lead:x}","raftState":"{st.raft_state}","applied":{st.applied},'
        f'"progress":{{{progress}}},"leadtransferee":"{st.lead_transferee:x}"}}'
    )


def make_vars_handler(server: EtcdServer) -> Handler:
    """``/debug/vars``."""

    async def handle_vars(request: web.Request, _path: str) -> web.StreamResponse:
        if request.method != "GET":
            return method_not_allowed("GET")
        variables = {"cmdline": gojson.dumps(sys.argv), "raft.status": raft_status_json(server)}
        lines = ",\n".join(f"{json.dumps(k)}: {v}" for k, v in sorted(variables.items()))
        body = "{\n" + lines + "\n}\n"
        return web.Response(body=body.encode(), headers={"Content-Type": "application/json; charset=utf-8"})

    return handle_vars


def _bad_request(message: str) -> web.Response:
    # httptypes.HTTPError: {"message": ...} with the status.
    return web.Response(
        status=400,
        body=gojson.dumps({"message": message}).encode(),
        headers={"Content-Type": "application/json"},
    )


async def handle_log_level(request: web.Request, _path: str) -> web.StreamResponse:
    """``/config/local/log``."""
    if request.method != "PUT":
        return method_not_allowed("PUT")
    try:
        body: Any = json.loads(await request.read())
    except ValueError:
        return _bad_request("Invalid json body")
    level_text = ""
    if isinstance(body, dict):
        # Go's decoder matches the field name case-insensitively; the last match wins.
        for key, value in body.items():
            if key.lower() == "level":
                if not isinstance(value, str) and value is not None:
                    return _bad_request("Invalid json body")
                level_text = value or ""
    elif body is not None:
        return _bad_request("Invalid json body")
    level = CAPNSLOG_LEVELS.get(level_text.upper())
    if level is None:
        return _bad_request("Invalid log level " + level_text)
    logging.getLogger(ETCD_LOGGER).setLevel(level)
    log.info("globalLogLevel set to %r", level_text.upper())
    return web.Response(status=204)
