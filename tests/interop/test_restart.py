"""Restart after SIGKILL keeps every acknowledged write (v3 keys, leases, compaction, v2 keys).

The member is killed right after its last acknowledged write, with no graceful shutdown; on restart on the
same data dir everything it acknowledged reads back the same.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.interop.member import Member, kind_params, running_member

WRITES = """
set -e
for i in $(seq 1 40); do etcdctl put k$i v$i >/dev/null; done
etcdctl del k7 >/dev/null
printf '\\nput t1 a\\nput t2 b\\n\\n\\n' | etcdctl txn -i >/dev/null
lease=$(etcdctl lease grant 1000 | cut -d' ' -f2)
etcdctl put --lease=$lease leased x >/dev/null
etcdctl compaction 20 >/dev/null
curl -sSf -X PUT $URL/v2/keys/dir/a -d value=1 >/dev/null
curl -sSf -X PUT $URL/v2/keys/dir/b -d value=2 >/dev/null
etcdctl put last acknowledged >/dev/null
"""

READ = """
etcdctl get "" --prefix -w json
etcdctl get k3 --rev=21 --print-value-only
etcdctl get k3 --rev=19 2>&1 | grep -o 'required revision has been compacted'
etcdctl lease list
curl -sS "$URL/v2/keys/dir?recursive=true&sorted=true"
"""


def _sh(member: Member, script: str) -> str:
    """stdout of ``script``; the raft term is masked, since a restarted member elects itself again."""
    env = dict(os.environ, ETCDCTL_API="3", ETCDCTL_ENDPOINTS=member.endpoint, URL=member.url)
    proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=40)
    assert proc.returncode == 0, proc.stderr
    return re.sub(r'"raft_term":[0-9]+', '"raft_term":<T>', proc.stdout)


@pytest.mark.parametrize("kind", kind_params())
def test_sigkill_keeps_acknowledged_writes(kind: str, tmp_path: Path) -> None:
    with running_member(kind, tmp_path) as member:
        _sh(member, WRITES)
        before = _sh(member, READ)
        assert '"key":"bGFzdA=="' in before and "found 1 leases" in before  # "last"
        member.restart()
        after = _sh(member, READ)
        assert after == before
