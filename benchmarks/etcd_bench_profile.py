"""Where our member spends its time under load: py-spy samples of its process, summed per function.

``record`` attaches ``py-spy record`` to a running PID for a fixed time and writes py-spy's raw format,
one collapsed stack per line (``outer;...;inner count``). It samples only the thread holding the GIL
(``--gil``), which is where a Python member's CPU goes (threads waiting in fdatasync or on a queue are not
counted), and does not pause the process to sample it (``--nonblocking``), so the load it serves is barely
slowed; ``--native`` would show the C frames but pauses the process and cuts its throughput tenfold.
``summarize`` turns the stacks into the functions with the most samples on top of the stack (self) and
anywhere in it (total), as fractions of all samples. Without native frames, a Python frame's self time
includes the C code it called: ``Runner.run`` (the uvloop run loop) holds uvloop's callbacks and grpcio's
Cython core.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


def py_spy() -> str | None:
    """The py-spy executable: next to this interpreter (the venv), else on PATH; None if missing."""
    beside = Path(sys.executable).with_name("py-spy")
    if beside.is_file():
        return str(beside)
    return shutil.which("py-spy")


def record(pid: int, seconds: float, out: Path, *, rate: int = 200) -> subprocess.Popen[bytes]:
    """Starts py-spy sampling ``pid`` for ``seconds``; wait on the returned process, then read ``out``."""
    exe = py_spy()
    if exe is None:
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    args = [
        exe, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))), "--rate", str(rate),
        "--format", "raw", "--gil", "--nonblocking", "--output", str(out),
    ]  # fmt: skip
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@dataclass(frozen=True)
class Cost:
    function: str  # "name (file)" with the line number dropped
    self_fraction: float
    total_fraction: float


_LINE = re.compile(r":\d+\)$")
_PREFIXES = (
    str(Path(__file__).resolve().parent.parent) + "/",
    "/usr/lib/python3/dist-packages/",
)


def _function(frame: str) -> str:
    name = _LINE.sub(")", frame.strip())
    for prefix in _PREFIXES:
        name = name.replace(prefix, "")
    return re.sub(r"\(/\S*/(site-packages|lib/python3\.\d+)/", "(", name)


def summarize(raw: str, top: int = 20) -> tuple[int, list[Cost], list[Cost]]:
    """(samples, top ``top`` by self time, top ``top`` by total time) from py-spy's raw output."""
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        samples += count
        self_counts[frames[-1]] += count
        for function in set(frames):
            total_counts[function] += count
    if not samples:
        return 0, [], []

    def costs(order: Counter[str]) -> list[Cost]:
        return [
            Cost(f, self_counts[f] / samples, total_counts[f] / samples) for f, _ in order.most_common(top)
        ]

    return samples, costs(self_counts), costs(total_counts)


def format_costs(samples: int, by_self: list[Cost], by_total: list[Cost]) -> str:
    lines = [
        f"py-spy: {samples} samples of our member's GIL-holding thread under the Put 16x64 load",
        "  (a frame's self time includes the C code it calls: Runner.run = uvloop's loop and grpcio's core)",
    ]
    for title, costs in (("by self time (on top of the stack)", by_self), ("by total time", by_total)):
        lines.append(f"  {title}:")
        lines.append(f"    {'self':>6s} {'total':>6s}  function")
        for c in costs:
            lines.append(f"    {c.self_fraction:6.1%} {c.total_fraction:6.1%}  {c.function}")
    return "\n".join(lines)
