"""The real ``ETCDCTL_API=2 etcdctl`` against our client app and against etcd 3.4.23, command by command.

Both members advertise the client URL they are served on, so etcdctl's endpoint sync (``GET
/v2/members`` before each command) leads back to the same server. Each command's exit code, stdout
and stderr must be the same once URLs, member IDs and numbers (indexes, in-order keys) are put aside.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from etcd.api.etcdhttp.app import make_client_app
from etcd.embed.config import parse_url
from tests.etcdhttp.support import serving
from tests.real_etcd import Member, free_ports, requires_etcd, running_etcd
from tests.server.member import running_member

ETCDCTL = shutil.which("etcdctl") or "/usr/bin/etcdctl"
pytestmark = [
    requires_etcd,
    pytest.mark.skipif(shutil.which("etcdctl") is None, reason="etcdctl 3.4 is not installed"),
    pytest.mark.asyncio(loop_scope="module"),
]
T = 10.0


@dataclass(frozen=True)
class Side:
    client_url: str
    peer_url: str
    member_id: int | None = None

    def normalise(self, text: str) -> str:
        text = text.replace(self.client_url, "CLIENT").replace(self.peer_url, "PEER")
        text = re.sub(r"\b[0-9a-f]{16}\b", "ID", text)
        return re.sub(r"\d+", "N", text)


@dataclass(frozen=True)
class Run:
    rc: int
    out: str
    err: str


async def etcdctl(side: Side, *args: str) -> Run:
    env = {**os.environ, "ETCDCTL_API": "2"}
    proc = await asyncio.create_subprocess_exec(
        ETCDCTL,
        f"--endpoints={side.client_url}",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), T)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Run(proc.returncode, side.normalise(out.decode()), side.normalise(err.decode()))


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Member]:
    with running_etcd(tmp_path_factory.mktemp("real"), extra=("--enable-v2",)) as member:
        yield member


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sides(real: Member, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Side, Side]]:
    port = free_ports(1)[0]
    url = f"http://127.0.0.1:{port}"
    base: Path = tmp_path_factory.mktemp("ours")
    cfg = {"enable_v2": True, "heartbeat_interval": 20, "election_timeout": 200}
    member = running_member(base / "m", name="real", advertise_client_urls=[parse_url(url)], **cfg)
    async with member as srv, serving(make_client_app(srv, grpc_target="unix:/nonexistent"), port):
        yield Side(real.client_url, real.peer_url), Side(url, "http://localhost:2380")


SCRIPT: list[tuple[str, ...]] = [
    ("set", "/ctl/a", "1"),
    ("mk", "/ctl/a", "2"),
    ("get", "/ctl/a"),
    ("-o", "extended", "get", "/ctl/a"),
    ("-o", "json", "get", "/ctl/a"),
    ("update", "/ctl/a", "3"),
    ("update", "/ctl/none", "3"),
    ("set", "--swap-with-value", "nope", "/ctl/a", "4"),
    ("set", "--swap-with-value", "3", "/ctl/a", "4"),
    ("set", "--ttl", "100", "/ctl/ttl", "t"),
    ("mkdir", "/ctl/d"),
    ("setdir", "/ctl/d2"),
    ("updatedir", "/ctl/d2"),
    ("mk", "--in-order", "/ctl/q", "job1"),
    ("mk", "--in-order", "/ctl/q", "job2"),
    ("ls", "/ctl/d2"),  # unsorted listings of several children come in Go map order
    ("ls", "-r", "-p", "--sort", "/ctl"),
    ("get", "--quorum", "/ctl/a"),
    ("get", "/ctl/nope"),
    ("rm", "/ctl/d"),
    ("rmdir", "/ctl/d"),
    ("rm", "--with-value", "nope", "/ctl/a"),
    ("rm", "/ctl/a"),
    ("rm", "-r", "/ctl/q"),
    ("ls", "--sort", "/ctl"),
    ("member", "list"),
    ("cluster-health"),
]


@pytest.mark.parametrize("args", SCRIPT, ids=[" ".join(a) if isinstance(a, tuple) else a for a in SCRIPT])
async def test_command_matches_etcd(sides: tuple[Side, Side], args: tuple[str, ...] | str) -> None:
    argv = (args,) if isinstance(args, str) else args
    real_side, our_side = sides
    real = await etcdctl(real_side, *argv)
    ours = await etcdctl(our_side, *argv)
    assert ours == real


async def test_watch_gets_the_next_change(sides: tuple[Side, Side]) -> None:
    results = []
    for side in sides:
        watch = asyncio.create_task(etcdctl(side, "watch", "/ctl/w"))
        await asyncio.sleep(0.5)  # the watch request is under way (a missed event would hang: bounded by T)
        assert (await etcdctl(side, "set", "/ctl/w", "x")).rc == 0
        results.append(await watch)
    assert results[1] == results[0]
    assert results[0].out == "x\n"


async def test_watch_after_index_reads_history(sides: tuple[Side, Side]) -> None:
    results = []
    for side in sides:
        first = await etcdctl(side, "-o", "json", "set", "/ctl/h", "1")
        assert first.rc == 0
        await etcdctl(side, "set", "/ctl/h", "2")
        results.append(await etcdctl(side, "watch", "--after-index", "1", "/ctl/h"))
    assert results[1] == results[0]
