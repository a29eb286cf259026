"""What comparing ours with the real etcd shares: the oracle's type, a diff, the verdict on transcripts."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.interop.known import known_reason
from tests.interop.member import skip_reason

ORACLE_TIMEOUT = 300.0  # seconds to wait for one queued run of the real etcd (each takes a few)


class Oracle:
    """The real etcd 3.4's results, each produced once per test run and cached by key.

    ``produce(tmp_dir)`` starts the real etcd itself and returns what the test compares. Runs happen one at a
    time in a background thread, so a test can ``submit`` the runs later tests need and the real etcd works
    while ours is being tested (the machine has two cores; keeps the suite's wall time down).
    """

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="oracle")
        self._runs: dict[str, Future[str]] = {}

    def submit(self, key: str, produce: Callable[[Path], str]) -> None:
        """Start ``produce`` for ``key`` in the background unless it was started before."""
        reason = skip_reason("real")
        if reason is None and key not in self._runs:
            self._runs[key] = self._pool.submit(lambda: produce(self._tmp.mktemp(f"oracle-{key}")))

    def __call__(self, key: str, produce: Callable[[Path], str]) -> str:
        """The result for ``key``, waiting for its run; skips the test when the real etcd is missing."""
        reason = skip_reason("real")
        if reason:
            pytest.skip(f"no oracle: {reason}")
        self.submit(key, produce)
        return self._runs[key].result(timeout=ORACLE_TIMEOUT)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def transcript_diff(want: str, got: str) -> str:
    """A unified diff, the real etcd's transcript first."""
    lines = difflib.unified_diff(
        want.splitlines(keepends=True), got.splitlines(keepends=True), "real etcd 3.4", "ours", n=2
    )
    return "".join(lines)


def split_steps(transcript: str) -> list[str]:
    """A session transcript cut into its steps (each starts with a "$ " command line)."""
    return [chunk for chunk in re.split(r"(?m)^(?=\$ )", transcript) if chunk]


def assert_same_transcript(test: str, want: str, got: str) -> None:
    """Fail on any difference between the real etcd's transcript and ours, unless every differing step is a
    known difference (tests/interop/known.py): then xfail naming them."""
    if got == want:
        return
    want_steps, got_steps = split_steps(want), split_steps(got)
    reasons: set[str] = set()
    unknown = len(want_steps) != len(got_steps)
    for w, g in zip(want_steps, got_steps, strict=False):
        if w != g:
            reason = known_reason(test, w.split("\n", 1)[0])
            if reason is None:
                unknown = True
            else:
                reasons.add(reason)
    if unknown:
        pytest.fail(f"transcripts differ:\n{transcript_diff(want, got)}", pytrace=False)
    pytest.xfail("known differences: " + " | ".join(sorted(reasons)))
