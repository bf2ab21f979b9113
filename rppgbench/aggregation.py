"""Aggregation: the folds' files combined into the run's predictions, metrics and window table.

`summarise` is the one place a list of prediction rows becomes metrics plus counts and failures;
a fold, a run and a rescored run all use it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from rppgbench.metrics import hr_metrics
from rppgbench.store import FoldStore, RunStore

if TYPE_CHECKING:
    from rppgbench.planning import RunPlan


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Metrics over the ok rows plus counts and the list of failures with their reasons."""
    ok = [r for r in rows if r["status"] == "ok"]
    metrics = (
        hr_metrics(np.array([r["hr_pred"] for r in ok]), np.array([r["hr_ref"] for r in ok]))
        if ok
        else {"n": 0}
    )
    failures = [{"video_id": r["video_id"], "error": r["error"]} for r in rows if r["status"] != "ok"]
    return {"metrics": metrics, "n_videos": len(rows), "n_ok": len(ok), "n_failed": len(failures),
            "failures": failures}  # fmt: skip


def aggregate(plan: RunPlan) -> dict[str, Any]:
    """Combine the finished folds of a plan into the run's files; a failed fold's videos count as failed."""
    from rppgbench.accounting import account
    from rppgbench.execution import failed_row

    failed_rows = []
    for fold in plan.folds:  # the test videos of a fold that failed as a whole are failed videos
        store = plan.fold_store(fold)
        error = store.failure()
        if error is not None and not plan.fold_done(fold):
            reason = f"fold {fold.name} failed: {error.strip().splitlines()[-1]}"
            failed_rows += [failed_row(record, fold.name, reason) for record in fold.test]
    return aggregate_folds(
        plan.store,
        [plan.fold_store(f) for f in plan.folds],
        plan.protocol.hr_config().to_dict(),
        plan.options.window_format,
        failed_rows=failed_rows,
        accounting=lambda rows: account(plan, rows),
    )


def aggregate_folds(
    run: RunStore,
    folds: Sequence[FoldStore],
    hr_estimator: dict[str, Any],
    window_format: str,
    *,
    failed_rows: Sequence[dict[str, Any]] = (),
    accounting: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Combine fold folders (finished ones: with metrics) into the run's predictions, metrics and windows.

    `failed_rows` (videos of folds that failed as a whole) join the predictions; `accounting` maps the
    rows to the found = scored + failed + excluded record stored in the run's metrics.
    """
    from rppgbench.signals import combine_windows

    done = [fold for fold in folds if fold.finished()]
    failed_folds = {
        fold.name: error for fold in folds if fold not in done and (error := fold.failure()) is not None
    }
    rows = [row for fold in done for row in fold.read_predictions().to_dict("records")]
    rows += list(failed_rows)
    run.write_predictions(rows)
    per_fold = {fold.name: fold.read_metrics()["metrics"] for fold in done}
    summary = summarise(rows)
    result = {"overall": summary.pop("metrics"), "folds": per_fold, **summary, "failed_folds": failed_folds,
              "hr_estimator": hr_estimator}  # fmt: skip
    if accounting is not None:
        result["accounting"] = accounting(rows)
    run.write_metrics(result)
    combine_windows([fold.find_windows() for fold in done], run.windows_path(window_format))
    return result
