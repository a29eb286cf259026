"""One client port serving etcdctl, curl (v3 gateway and v2) and a python gRPC client at the same time.

Each client writes its own keys while the others run; an etcdctl watch started before them all must see
every v3 write, and afterwards every key reads back with its value.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from tests.interop.clients import AETCD_SESSION, aetcd_missing
from tests.interop.member import Member, kind_params, running_member

N = 25  # writes per client
DEADLINE = 50.0  # seconds for all clients together

pytestmark = pytest.mark.skipif(aetcd_missing() is not None, reason=str(aetcd_missing()))


def _env(member: Member) -> dict[str, str]:
    return dict(os.environ, ETCDCTL_API="3", ETCDCTL_ENDPOINTS=member.endpoint, URL=member.url, N=str(N))


async def _sh(member: Member, script: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        script,
        env=_env(member),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), DEADLINE)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


ETCDCTL_WRITES = "for i in $(seq 1 $N); do etcdctl put ctl/$i v$i >/dev/null || exit 1; done"
CURL_WRITES = (
    "for i in $(seq 1 $N); do "
    'k=$(printf "gw/%s" $i | base64); v=$(printf "v%s" $i | base64); '
    'curl -sSf -X POST $URL/v3/kv/put -d "{\\"key\\":\\"$k\\",\\"value\\":\\"$v\\"}" >/dev/null || exit 1; '
    "curl -sSf -X PUT $URL/v2/keys/v2/$i -d value=v$i >/dev/null || exit 1; "
    "curl -sSf $URL/health >/dev/null || exit 1; done"
)


async def _count_watched_puts(member: Member, want: int) -> int:
    """Run ``etcdctl watch --prefix "" --rev=2`` until it has printed ``want`` PUT events (or DEADLINE)."""
    proc = await asyncio.create_subprocess_exec(
        "etcdctl",
        "watch",
        "--prefix",
        "",
        "--rev=2",
        env=_env(member),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    seen = 0
    try:
        async with asyncio.timeout(DEADLINE):
            while seen < want:
                line = await proc.stdout.readline()
                if not line:
                    break
                seen += line == b"PUT\n"
    except TimeoutError:
        pass
    finally:
        proc.kill()
        await proc.wait()
    return seen


@pytest.mark.parametrize("kind", kind_params())
async def test_etcdctl_curl_and_python_client_at_once(kind: str, tmp_path: Path) -> None:
    with running_member(kind, tmp_path) as member:
        python_client = asyncio.create_subprocess_exec(
            sys.executable,
            str(AETCD_SESSION),
            "load",
            member.endpoint,
            "py/",
            str(N),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        # Every v3 write gets one of the revisions 2..3N+1 of a fresh member: the watch from 2 sees them all.
        watch = asyncio.create_task(_count_watched_puts(member, 3 * N))
        py_proc = await python_client
        results = await asyncio.gather(
            _sh(member, ETCDCTL_WRITES),
            _sh(member, CURL_WRITES),
            asyncio.wait_for(py_proc.communicate(), DEADLINE),
        )
        (ctl_rc, _, ctl_err), (curl_rc, _, curl_err), (py_out, py_err) = results
        assert ctl_rc == 0, ctl_err
        assert curl_rc == 0, curl_err
        assert py_proc.returncode == 0, py_err.decode()[-2000:]
        assert json.loads(py_out) == {"matched": N}

        assert await watch == 3 * N

        rc, out, err = await _sh(member, 'etcdctl get "" --prefix -w json')
        assert rc == 0, err
        got = json.loads(out)
        assert got["header"]["revision"] == 3 * N + 1
        assert got["count"] == 3 * N
        rc, out, err = await _sh(member, 'curl -sSf "$URL/v2/keys/v2?recursive=true"')
        assert rc == 0, err
        nodes = json.loads(out)["node"]["nodes"]
        assert sorted((n["key"], n["value"]) for n in nodes) == sorted(
            (f"/v2/{i}", f"v{i}") for i in range(1, N + 1)
        )
