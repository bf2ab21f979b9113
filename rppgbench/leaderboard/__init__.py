"""Leaderboards: compare runs in paper-style tables, paired statistics, figures, HTML reports, CI checks.

Reads run directories of the result store (docs/architecture.md, "Result store") and published
reference rows (`leaderboards/published/*.toml`). See docs/leaderboards.md.
"""

from rppgbench.leaderboard.published import PublishedRow, load_published
from rppgbench.leaderboard.results import (
    RunResult,
    find_run_dirs,
    group_by_protocol,
    load_run,
    load_runs,
    tidy,
)
from rppgbench.leaderboard.tables import ComparisonTable, build_breakdown, build_table, render

__all__ = [
    "ComparisonTable",
    "PublishedRow",
    "RunResult",
    "build_breakdown",
    "build_table",
    "find_run_dirs",
    "group_by_protocol",
    "load_published",
    "load_run",
    "load_runs",
    "render",
    "tidy",
]
