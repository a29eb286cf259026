"""Runs the benchmarks: ``python -m benchmarks [--list] [NAME ...] [-- ARGS for each module]``.

A benchmark is a module ``benchmarks/<name>_bench.py`` with a top-level ``def main(argv)``. With no
NAME every one found runs, in name order; ``mux`` and ``mux_bench`` both name ``mux_bench.py``. Each
runs in a child process of its own (so one module's event loop policy, threads or crash cannot touch
the next) as ``main(ARGS)``; a module that fails is reported and the others still run. The exit status
is 0 only if every module selected returned 0.

Modules are found by reading their source, not importing it, so a module with a broken import is still
listed and fails in its own process.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import time
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SUFFIX = "_bench"
# A generous bound per module: every module bounds its own loops; this only stops a wedged one.
DEFAULT_TIMEOUT = 3600.0


def has_main(path: Path) -> bool:
    """True if the module at ``path`` defines a top-level ``main`` taking at least one argument."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "main":
            args = node.args
            return bool(args.posonlyargs or args.args or args.vararg)
    return False


def discover(directory: Path = PACKAGE_DIR) -> dict[str, str]:
    """Short name -> module name, e.g. ``{"mux": "mux_bench"}``, for every benchmark module with a main."""
    found: dict[str, str] = {}
    for path in sorted(directory.glob(f"*{SUFFIX}.py")):
        module = path.stem
        if has_main(path):
            found[module[: -len(SUFFIX)]] = module
    return found


def resolve(names: list[str], available: dict[str, str]) -> list[str]:
    """The module names for ``names`` (short or full); raises ``KeyError`` naming the first unknown one."""
    modules = []
    full = set(available.values())
    for name in names:
        if name in available:
            modules.append(available[name])
        elif name in full:
            modules.append(name)
        else:
            raise KeyError(name)
    return modules


def run_module(module: str, args: list[str], timeout: float) -> int:
    """Runs ``benchmarks.<module>.main(args)`` in a child process; returns its exit status."""
    code = (
        "import sys, importlib\n"
        f"m = importlib.import_module('benchmarks.{module}')\n"
        "rc = m.main(sys.argv[1:])\n"
        "sys.exit(rc if isinstance(rc, int) else 0)\n"
    )
    try:
        done = subprocess.run([sys.executable, "-c", code, *args], cwd=PACKAGE_DIR.parent, timeout=timeout)
    except subprocess.TimeoutExpired:
        # subprocess.run has already killed the child it started.
        print(f"benchmarks: {module} took longer than {timeout:.0f}s and was stopped", file=sys.stderr)
        return 124
    return done.returncode


def main(argv: list[str]) -> int:
    own, sep, passed = _split_at_double_dash(argv)
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run every benchmark module (benchmarks/*_bench.py with a main(argv)), or those named.",
        epilog="Arguments after -- are passed to each module's main(argv).",
    )
    parser.add_argument("names", nargs="*", help="benchmarks to run, e.g. mux (default: all)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks found and exit")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds after which one module is stopped"
    )
    args = parser.parse_args(own)
    available = discover()
    if args.list:
        for short, module in available.items():
            print(f"{short:12s} benchmarks/{module}.py")
        return 0
    if not available:
        print("benchmarks: no benchmark modules found", file=sys.stderr)
        return 1
    try:
        modules = resolve(args.names, available) if args.names else list(available.values())
    except KeyError as e:
        print(f"benchmarks: unknown benchmark {e.args[0]!r}; found: {', '.join(available)}", file=sys.stderr)
        return 2
    started = time.monotonic()
    statuses: dict[str, int] = {}
    for module in modules:
        print(f"\n=== {module} ({time.monotonic() - started:.1f}s) ===", flush=True)
        statuses[module] = run_module(module, passed if sep else [], args.timeout)
    print(f"\n=== done in {time.monotonic() - started:.1f}s ===")
    for module, status in statuses.items():
        print(f"  {module:16s} {'ok' if status == 0 else f'FAILED (exit status {status})'}")
    return 0 if all(s == 0 for s in statuses.values()) else 1


def _split_at_double_dash(argv: list[str]) -> tuple[list[str], bool, list[str]]:
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], True, argv[i + 1 :]
    return argv, False, []


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
