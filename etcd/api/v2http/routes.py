"""Where the v2 API sits on the client port's multiplexer (etcd 3.4's ``handleV2``).

Only with ``--enable-v2``; without it these paths fall through to the multiplexer's 404, as in
etcd 3.4. ``/v2/auth`` (v2 auth) is not served.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from etcd.api.etcdhttp.gohttp import GoMux
from etcd.api.v2http.keys_handler import make_keys_handler
from etcd.api.v2http.keys_request import KEYS_PREFIX
from etcd.api.v2http.members_handler import MEMBERS_PREFIX, make_machines_handler, make_members_handler
from etcd.api.v2http.stats_handler import make_stats_handlers

if TYPE_CHECKING:
    from etcd.server.etcdserver import EtcdServer

MACHINES_PATH = "/v2/machines"


def add_v2_routes(mux: GoMux, server: EtcdServer) -> None:
    """Registers ``/v2/keys``, ``/v2/members``, ``/v2/machines`` and ``/v2/stats/*`` on ``mux``."""
    keys = make_keys_handler(server)
    mux.handle(KEYS_PREFIX, keys)
    mux.handle(KEYS_PREFIX + "/", keys)
    for path, handler in make_stats_handlers(server).items():
        mux.handle(path, handler)
    members = make_members_handler(server)
    mux.handle(MEMBERS_PREFIX, members)
    mux.handle(MEMBERS_PREFIX + "/", members)
    mux.handle(MACHINES_PATH, make_machines_handler(server))
