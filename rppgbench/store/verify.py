"""Verify a run folder before its numbers are used: status, checksums, columns and row counts.

`compare`, `report`, `check` and `baseline` read runs through `verify_run`, so a run that was killed,
is still running, or whose files were cut or edited is refused (DamagedRunError, exit 2) instead of
being shown as if complete. The checksums are those `RunStore.checksums` recorded in run.json when
the run finished.
"""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rppgbench.errors import DamagedRunError
from rppgbench.integrity import pid_alive, sha256_file
from rppgbench.store.layout import METRICS_FILE, FoldStore, RunStore

if TYPE_CHECKING:
    import pandas as pd

REQUIRED_COLUMNS = ("video_id", "status", "hr_pred", "hr_ref")
FINISHED = ("complete", "incomplete")
log = logging.getLogger("rppgbench.run")


def effective_status(run: dict[str, Any]) -> str:
    """run.json's status, with a `running` run whose process is gone (kill -9, power loss) `interrupted`."""
    status = str(run.get("status"))
    pid, host = run.get("pid"), run.get("host")
    if status == "running" and isinstance(pid, int) and host == socket.gethostname() and not pid_alive(pid):
        return "interrupted"
    return status


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DamagedRunError(f"{path}: damaged run file: not valid JSON ({exc})") from exc
    except OSError as exc:
        raise DamagedRunError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def verify_run(folder: Path | RunStore) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check a run folder; returns (run.json, metrics.json). DamagedRunError names the file and the fault."""
    store = folder if isinstance(folder, RunStore) else RunStore(Path(folder))
    needed = (store.manifest_path, store.metrics_path, store.predictions_path)
    missing = [p.name for p in needed if not p.is_file()]
    run = _read_json(store.manifest_path) if store.manifest_path.is_file() else None
    if run is not None and not isinstance(run, dict):
        raise DamagedRunError(f"{store.manifest_path}: damaged run file: not a JSON object")
    status = effective_status(run) if run and "status" in run else None
    if status is not None and status not in FINISHED:
        how = {"running": "is still running (or was stopped without notice)",
               "interrupted": "was interrupted before it finished"}.get(status, f"has status {status!r}")  # fmt: skip
        raise DamagedRunError(f"{store.path}: the run {how}; run the same command again to finish it")
    if missing:
        raise DamagedRunError(f"{store.path}: not a finished run folder (missing {', '.join(missing)})")
    assert run is not None
    for name, digest in (run.get("checksums") or {}).items():
        path = store.path / name
        if path.is_file() and sha256_file(path) != digest:
            raise DamagedRunError(
                f"{path}: damaged run file: its sha256 does not match the one recorded in "
                f"{store.manifest_path.name} (cut short or edited after the run)"
            )
    metrics = _read_json(store.metrics_path)
    if not isinstance(metrics, dict):
        raise DamagedRunError(f"{store.metrics_path}: damaged run file: not a JSON object")
    return run, metrics


def fold_intact(fold: FoldStore) -> bool:
    """True when a fold's metrics.json parses and its predictions.csv has as many rows as it counts.

    A fold that fails this is redone on resume (a warning names the folder), never aggregated as it is.
    """
    import pandas as pd

    if not fold.finished():
        return False
    try:
        metrics = json.loads(fold.metrics_path.read_text())
        rows = len(pd.read_csv(fold.predictions_path, dtype=str, keep_default_na=False))
        ok = isinstance(metrics, dict) and rows == metrics.get("n_videos")
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        ok = False
    if not ok:
        log.warning("%s: fold files are damaged or incomplete; the fold is run again", fold.path)
    return ok


def verified_predictions(store: RunStore, metrics: dict[str, Any]) -> pd.DataFrame:
    """The run's predictions.csv, checked against metrics.json (DamagedRunError otherwise)."""
    import pandas as pd

    path = store.predictions_path
    try:
        predictions = store.read_predictions()
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, UnicodeDecodeError) as exc:
        raise DamagedRunError(f"{path}: damaged run file: cannot be read ({exc})") from exc
    verify_predictions(path, predictions, metrics)
    if predictions["video_id"].duplicated().any():
        dup = predictions.loc[predictions["video_id"].duplicated(), "video_id"].iloc[0]
        raise DamagedRunError(f"{path}: video {dup!r} appears more than once")
    return predictions


def verify_predictions(path: Path, predictions: pd.DataFrame, metrics: dict[str, Any]) -> None:
    """Rows and columns of predictions.csv agree with metrics.json (DamagedRunError otherwise)."""
    absent = [c for c in REQUIRED_COLUMNS if c not in predictions.columns]
    if absent:
        raise DamagedRunError(f"{path}: damaged run file: missing column(s) {', '.join(absent)}")
    expected = metrics.get("n_videos")
    if isinstance(expected, int) and expected != len(predictions):
        raise DamagedRunError(
            f"{path}: damaged run file: {len(predictions)} rows but {METRICS_FILE} counts {expected} videos"
        )
    status = predictions["status"]
    unknown = sorted(set(status) - {"ok", "failed"})
    if unknown:
        raise DamagedRunError(f"{path}: damaged run file: unknown status value(s) {unknown}")
    n_ok = int((status == "ok").sum())
    if isinstance(metrics.get("n_ok"), int) and metrics["n_ok"] != n_ok:
        raise DamagedRunError(
            f"{path}: damaged run file: {n_ok} ok rows but {METRICS_FILE} counts {metrics['n_ok']}"
        )
