"""What comparing ours with the real etcd shares: the oracle's type and a readable diff of two transcripts."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

# oracle(key, produce): produce(tmp_dir) run against the real etcd once per test run, cached by key.
Oracle = Callable[[str, Callable[[Path], str]], str]


def transcript_diff(want: str, got: str) -> str:
    """A unified diff, the real etcd's transcript first."""
    lines = difflib.unified_diff(
        want.splitlines(keepends=True), got.splitlines(keepends=True), "real etcd 3.4", "ours", n=2
    )
    return "".join(lines)
