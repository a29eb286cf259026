"""A python etcd v3 client library (aetcd) on the real etcd 3.4 and on ours: the same answers.

The client runs in its own process (see ``clients/aetcd_session.py``); its JSON transcript from the real
etcd is the expected one for ours.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.interop.clients import aetcd_missing, run_aetcd
from tests.interop.compare import Oracle, transcript_diff
from tests.interop.member import kind_params, running_member

pytestmark = pytest.mark.skipif(aetcd_missing() is not None, reason=str(aetcd_missing()))


def record(kind: str, base: Path) -> str:
    with running_member(kind, base) as member:
        return run_aetcd("session", member.endpoint)


@pytest.mark.parametrize("kind", kind_params())
def test_aetcd_session(kind: str, oracle: Oracle, tmp_path: Path) -> None:
    want = oracle("aetcd-session", lambda base: record("real", base))
    if kind == "real":
        got = json.loads(want)
        assert got["get"] == {
            "key": "py/a",
            "value": "2",
            "create_revision": 2,
            "mod_revision": 3,
            "version": 2,
            "lease": 0,
        }
        assert got["txn_success"]["succeeded"] is True and got["txn_failure"]["succeeded"] is False
        assert [e["kind"] for e in got["watch"]] == ["PUT", "PUT", "DELETE"]
        assert got["lease_refresh_ttl"] == 60 and got["lease_after_revoke_ttl"] == -1
        assert got["errors"]["dup_txn"] == {
            "code": "INVALID_ARGUMENT",
            "details": "etcdserver: duplicate key given in txn request",
        }
        return
    got = record(kind, tmp_path)
    if got != want:
        pytest.fail(f"aetcd transcripts differ:\n{transcript_diff(want, got)}", pytrace=False)
