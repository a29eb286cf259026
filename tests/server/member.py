"""An in-process single member on a temporary data dir, for tests of the server and the API layers above it.

    async with running_member(tmp_path, max_txn_ops=4) as srv:
        await srv.put(PutRequest(key=b"a", value=b"1"))

Keyword arguments set ``Config`` fields; the member is ready (its attributes published) on entry and
stopped on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from etcd.embed.config import DEFAULT_INITIAL_CLUSTER, Config
from etcd.server.etcdserver import EtcdServer


def member_config(data_dir: Path, **overrides: Any) -> Config:
    cfg = Config(name=overrides.pop("name", "m1"), data_dir=str(data_dir))
    for k, v in overrides.items():
        setattr(cfg, k, v)
    cfg.update_default_cluster_from_name(DEFAULT_INITIAL_CLUSTER)
    cfg.validate()
    return cfg


@contextlib.asynccontextmanager
async def running_member(data_dir: Path, **overrides: Any) -> AsyncIterator[EtcdServer]:
    srv = await EtcdServer.open(member_config(data_dir, **overrides))
    srv.start()
    try:
        await asyncio.wait_for(srv.ready.wait(), 10)
        yield srv
    finally:
        await srv.stop()
