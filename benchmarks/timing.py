"""Helpers shared by the benchmark scripts (run as `python benchmarks/NAME.py`): timing, reports."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of `repeats` calls of `fn`, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def emit_report(lines: list[str], out: Path | None) -> None:
    """Print a report's lines and, with `out`, also write them there (the committed result file)."""
    report = "\n".join(lines) + "\n"
    print(report, end="")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report)
