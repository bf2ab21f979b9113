"""Video accounting of a run: every video found is scored, failed, excluded or (with --fold) not run.

Stored in metrics.json as `accounting` and printed at the end of each run, so a video can never
disappear from the results without a line saying where it went.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from rppgbench.errors import RppgbenchError

if TYPE_CHECKING:
    from rppgbench.planning import RunPlan


def account(plan: RunPlan, rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Counts of found, scored, failed, excluded and not-run test videos; the sum must add up."""
    rows = list(rows)
    found = {r.id for fold in plan.folds for r in fold.test}
    found |= {r.id for r in plan.excluded} | {r.id for r in plan.not_selected}
    in_rows = {str(r["video_id"]) for r in rows}
    scored = sum(1 for r in rows if r["status"] == "ok")
    failed = len(rows) - scored
    excluded = sorted(r.id for r in plan.excluded)
    not_run = sorted(found - in_rows - set(excluded))
    result = {
        "found": len(found),
        "scored": scored,
        "failed": failed,
        "excluded": len(excluded),
        "not_run": len(not_run),
        "excluded_videos": excluded,
        "not_run_videos": not_run,
    }
    if result["found"] != scored + failed + len(excluded) + len(not_run):
        raise RppgbenchError(f"{plan.out}: video accounting does not add up: {describe(result)}")
    return result


def describe(accounting: Mapping[str, Any]) -> str:
    """`12 found = 10 scored + 1 failed + 1 excluded` (+ not run, when folds were left out or stopped)."""
    text = (
        f"{accounting['found']} found = {accounting['scored']} scored + {accounting['failed']} failed"
        f" + {accounting['excluded']} excluded"
    )
    if accounting.get("not_run"):
        text += f" + {accounting['not_run']} not run (fold not selected or not finished)"
    return text
