"""etcdctl (v3 and v2) and curl sessions: the real etcd 3.4's transcript is the expected one for ours.

On the real etcd each scenario's transcript must hold the values its scenario names (so the session still
shows what it is meant to); on ours the whole masked transcript must equal the real etcd's.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from tests.interop.compare import Oracle, assert_same_transcript
from tests.interop.member import kind_params, running_member
from tests.interop.scenarios import ALL
from tests.interop.session import run_session


def record(kind: str, name: str, base: Path) -> str:
    """The masked transcript of scenario ``name`` on a fresh member of ``kind`` under ``base``."""
    scenario = ALL[name]
    with running_member(kind, base / "member", extra=scenario.flags) as member:
        return run_session(member, base / "scratch", list(scenario.steps))


@pytest.mark.parametrize("kind", kind_params())
@pytest.mark.parametrize("name", list(ALL))
def test_session(kind: str, name: str, oracle: Oracle, tmp_path: Path) -> None:
    names = list(ALL)
    for later in names[names.index(name) :]:  # in test order: the real etcd runs ahead while ours is tested
        oracle.submit(f"session-{later}", partial(record, "real", later))
    want = oracle(f"session-{name}", partial(record, "real", name))
    if kind == "real":
        missing = [value for value in ALL[name].expect if value not in want]
        assert not missing, f"real etcd transcript lacks {missing}:\n{want}"
        return
    assert_same_transcript(name, want, record(kind, name, tmp_path))
