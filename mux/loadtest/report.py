"""The load test's report: a text table, a JSON document, and a PNG plot (with matplotlib, if installed).

Per kind: concurrency, requests, answered by the expected backend (ok), throughput (ok per second),
latency percentiles of those, errors (by message), misroutes, h2c downgrades, and who answered.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mux.loadtest.run import KindStats, LoadResult


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (sorted here), ``q`` in 0..100; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(stats: KindStats, duration: float) -> dict[str, Any]:
    lat = sorted(stats.latencies)
    ms = {f"p{q:g}_ms": round(percentile(lat, q) * 1000, 3) if lat else None for q in (50, 90, 99)}
    return {
        "kind": stats.kind,
        "concurrency": stats.concurrency,
        "expected_backend": stats.expected,
        "requests": stats.requests,
        "ok": stats.ok,
        "throughput_per_s": round(stats.ok / duration, 1) if duration > 0 else 0.0,
        **ms,
        "max_ms": round(lat[-1] * 1000, 3) if lat else None,
        "errors": sum(stats.errors.values()),
        "error_kinds": dict(stats.errors.most_common(5)),
        "misroutes": stats.misroutes,
        "downgraded": stats.downgraded,
        "backends": dict(stats.backends),
    }


def to_json(result: LoadResult) -> dict[str, Any]:
    return {
        "target": result.target,
        "duration_s": round(result.duration, 3),
        "errors": result.errors,
        "misroutes": result.misroutes,
        "kinds": [summary(s, result.duration) for s in result.kinds.values()],
    }


def _ms(value: object) -> str:
    return "-" if value is None else f"{value:.2f}"


def text(result: LoadResult) -> str:
    head = (
        f"{'kind':<15}{'conc':>5}{'requests':>10}{'ok':>9}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}{'errors':>8}{'misroute':>9}  backends"
    )
    lines = [f"load test of {result.target} for {result.duration:.1f} s", head, "-" * len(head)]
    for s in result.kinds.values():
        d = summary(s, result.duration)
        answered = ", ".join(f"{name}:{n}" for name, n in sorted(s.backends.items())) or "-"
        if s.expected:
            answered += f" (expected {s.expected})"
        if s.downgraded:
            answered += f"; {s.downgraded} over HTTP/1.1 after h2c refusal"
        lines.append(
            f"{s.kind:<15}{s.concurrency:>5}{d['requests']:>10}{s.ok:>9}{d['throughput_per_s']:>9.1f}"
            f"{_ms(d['p50_ms']):>9}{_ms(d['p90_ms']):>9}{_ms(d['p99_ms']):>9}{_ms(d['max_ms']):>9}"
            f"{d['errors']:>8}{s.misroutes:>9}  {answered}"
        )
        for message, n in s.errors.most_common(3):
            lines.append(f"{'':<15}error x{n}: {message}")
    verdict = "MISROUTES FOUND" if result.misroutes else "no misroutes"
    lines.append(f"total: {result.errors} errors, {result.misroutes} misroutes: {verdict}")
    return "\n".join(lines)


def plot(result: LoadResult, path: str | Path) -> str | None:
    """Writes a PNG (throughput, latency percentiles, errors and misroutes per kind); None, or why not."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib, or the dev extras): no plot"
    rows = [summary(s, result.duration) for s in result.kinds.values()]
    names = [r["kind"] for r in rows]
    x = list(range(len(rows)))
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.8))
    ax1.bar(x, [r["throughput_per_s"] for r in rows], color="#4c72b0")
    ax1.set_title("throughput (answers from the expected backend / s)")
    width = 0.27
    for i, (q, color) in enumerate((("p50_ms", "#55a868"), ("p90_ms", "#dd8452"), ("p99_ms", "#c44e52"))):
        values = [r[q] if r[q] is not None else 0.0 for r in rows]
        ax2.bar([v + (i - 1) * width for v in x], values, width, label=q.replace("_ms", ""), color=color)
    ax2.set_title("latency (ms)")
    ax2.legend()
    ax3.bar([v - 0.2 for v in x], [r["errors"] for r in rows], 0.4, label="errors", color="#8172b3")
    ax3.bar([v + 0.2 for v in x], [r["misroutes"] for r in rows], 0.4, label="misroutes", color="#c44e52")
    ax3.set_ylim(bottom=0, top=max(1, *(max(r["errors"], r["misroutes"]) * 1.1 for r in rows)))
    ax3.set_title("errors and misroutes (count)")
    ax3.legend()
    for ax in (ax1, ax2, ax3):
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=30, ha="right")
    fig.suptitle(
        f"{result.target}, {result.duration:.1f} s: {result.errors} errors, {result.misroutes} misroutes"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return None
