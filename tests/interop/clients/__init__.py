"""Client programs the interop tests run as separate processes."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

AETCD_SESSION = Path(__file__).with_name("aetcd_session.py")


def aetcd_missing() -> str | None:
    """Why the aetcd client cannot run here, or None (it is looked up, not imported: see aetcd_session)."""
    if importlib.util.find_spec("aetcd") is None:
        return "the python etcd v3 client aetcd is not installed (pip install -e '.[dev]')"
    return None


def run_aetcd(*args: str, timeout: float = 40.0) -> str:
    """Run ``aetcd_session.py`` with ``args``; its stdout (a JSON document). Raises if it fails."""
    proc = subprocess.run(
        [sys.executable, str(AETCD_SESSION), *args], capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise AssertionError(f"aetcd_session.py {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout
