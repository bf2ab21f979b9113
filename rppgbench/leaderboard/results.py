"""Reads run directories of the result store into `RunResult` objects, and finds them on disk.

A run directory is read through `rppgbench.store` (layout: docs/architecture.md, "Result store"). An argument may name one run directory, a folder of runs (searched recursively), or a
leaderboard folder under `leaderboards/` by name.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rppgbench.errors import ConfigError, DataError
from rppgbench.protocol import FINGERPRINT_SECTIONS, fingerprint
from rppgbench.store import PREDICTION_COLUMNS, RunStore, find_runs
from rppgbench.store.verify import verified_predictions, verify_run

COMPARABLE_SECTIONS = FINGERPRINT_SECTIONS
"""Protocol sections that decide what is measured; runs differing here are not comparable."""


@dataclass
class RunResult:
    """One finished run: its method, protocol, per-video prediction rows and stored metrics."""

    path: Path
    method: str
    protocol: str
    params: dict[str, Any]
    protocol_definition: dict[str, Any]
    run: dict[str, Any]
    metrics: dict[str, Any]
    predictions: pd.DataFrame
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.label:
            self.label = self.method

    @property
    def ok(self) -> pd.DataFrame:
        """Prediction rows of the videos that were scored (status ok, finite HRs)."""
        rows = self.predictions
        good = (rows["status"] == "ok") & np.isfinite(rows["hr_pred"]) & np.isfinite(rows["hr_ref"])
        return rows[good]

    @property
    def n_videos(self) -> int:
        """Test videos of the run, failed ones included."""
        return int(self.metrics.get("n_videos", len(self.predictions)))

    @property
    def n_failed(self) -> int:
        """Test videos the run could not score."""
        if "n_failed" in self.metrics:
            return int(self.metrics["n_failed"])
        return int((self.predictions["status"] != "ok").sum())

    @property
    def overall(self) -> dict[str, float]:
        """Metrics over every scored video as the run stored them (None turned into NaN), with signal
        quality and the metrics plugins registered."""
        stored = self.metrics.get("overall")
        values = (
            compute_metrics(self.ok)
            if not stored
            else {k: (math.nan if v is None else v) for k, v in stored.items()}
        )
        return values | extra_metrics(self.ok)

    @property
    def provenance(self) -> dict[str, Any]:
        """The provenance block of the run's manifest (versions, git commit, host, command line)."""
        return self.run.get("provenance", {})

    @property
    def fingerprint(self) -> str:
        """Hash of the protocol sections that decide what is measured (dataset, split, test, reference, hr)."""
        return fingerprint(self.protocol_definition)


def compute_metrics(rows: pd.DataFrame) -> dict[str, float]:
    """hr_metrics over prediction rows (the shared implementation in rppgbench.metrics)."""
    from rppgbench.metrics import hr_metrics

    if len(rows) == 0:
        return {"n": 0}
    return hr_metrics(rows["hr_pred"].to_numpy(float), rows["hr_ref"].to_numpy(float))


SIGNAL_QUALITY_COLUMNS = {"snr": "snr_db", "macc": "macc"}
"""Per-video signal-quality columns of predictions.csv, averaged over scored videos into run metrics."""


def signal_quality(rows: pd.DataFrame) -> dict[str, float]:
    """Mean SNR (dB) and MACC over the scored videos, for the columns a run stored."""
    out = {}
    for metric, column in SIGNAL_QUALITY_COLUMNS.items():
        if column in rows.columns:
            values = pd.to_numeric(rows[column], errors="coerce").to_numpy(float)
            values = values[np.isfinite(values)]
            if values.size:
                out[metric] = float(values.mean())
    return out


def registered_values(rows: pd.DataFrame) -> dict[str, float]:
    """The metrics plugins registered (`register_metrics`), over scored prediction rows (NaN without any)."""
    from rppgbench.metrics import plugin_metrics, registered_metrics

    names = registered_metrics()
    if not names or len(rows) == 0:
        return dict.fromkeys(names, math.nan)
    return plugin_metrics(rows["hr_pred"].to_numpy(float), rows["hr_ref"].to_numpy(float))


def extra_metrics(rows: pd.DataFrame) -> dict[str, float]:
    """What a table shows beside hr_metrics: signal quality and the plugins' metrics."""
    return signal_quality(rows) | registered_values(rows)


def training_histories(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Per-epoch training history of each fold of a neural run (fold name -> epochs), if it has any."""
    found = {fold.name: fold.training_history() for fold in RunStore(Path(run_dir)).fold_stores()}
    return {fold: history for fold, history in found.items() if history}


def _name(run: dict[str, Any], key: str, path: Path) -> str:
    """Method or protocol name from run.json: a top-level string, or `config.<key>.name`."""
    value = run.get(key)
    if isinstance(value, dict):
        value = value.get("name")
    if not value:
        value = (run.get("config", {}).get(key) or {}).get("name")
    if not isinstance(value, str) or not value:
        raise DataError(f"{RunStore(path).manifest_path}: names no {key}")
    return value


def load_run(path: str | Path) -> RunResult:
    """Read one run directory after verifying it (`rppgbench.store.verify`); DamagedRunError names the fault."""
    store = RunStore(Path(path))
    folder = store.path
    run, metrics = verify_run(store)
    predictions = verified_predictions(store, metrics)
    for column in PREDICTION_COLUMNS:
        if column not in predictions.columns:
            predictions[column] = np.nan if column in ("hr_pred", "hr_ref", "abs_error") else ""
    config = run.get("config", {})
    method_block = config.get("method") or (run["method"] if isinstance(run.get("method"), dict) else {})
    protocol_block = config.get("protocol") or (
        run["protocol"] if isinstance(run.get("protocol"), dict) else {}
    )
    return RunResult(
        path=folder,
        method=_name(run, "method", folder),
        protocol=_name(run, "protocol", folder),
        params=dict(method_block.get("params") or {}),
        protocol_definition=dict(protocol_block),
        run=run,
        metrics=metrics,
        predictions=predictions,
    )


LEADERBOARD_PREFIX = "leaderboard:"
"""`leaderboard:NAME` names the packaged results `NAME` (e.g. `leaderboard:synth-5fold`)."""


def leaderboards_root() -> Path:
    """The installed `leaderboards/` package data (published rows, result folders, CI baselines)."""
    from importlib.resources import files

    return Path(str(files("rppgbench_leaderboards")))


def packaged_results(name: str) -> Path:
    """The packaged result folder `leaderboard:NAME` refers to."""
    return leaderboards_root() / "results" / name


def find_run_dirs(argument: str | Path) -> list[Path]:
    """Run directories named by `argument`: a run folder, a folder of runs, or `leaderboard:NAME`.

    A path that does not exist is an error: packaged results are only used when asked for by name.
    """
    text = str(argument)
    if text.startswith(LEADERBOARD_PREFIX):
        candidate = packaged_results(text.removeprefix(LEADERBOARD_PREFIX))
        if not candidate.is_dir():
            known = sorted(p.name for p in (leaderboards_root() / "results").iterdir() if p.is_dir())
            raise DataError(
                f"{argument}: no such packaged leaderboard (packaged: {', '.join(known) or 'none'})"
            )
    else:
        candidate = Path(argument)
    if not candidate.exists():
        hint = ""
        if packaged_results(candidate.name).is_dir():
            hint = f" (packaged results of that name: {LEADERBOARD_PREFIX}{candidate.name})"
        raise DataError(f"{argument}: no such run directory{hint}")
    manifest = RunStore(candidate).manifest_path.name
    if not candidate.is_dir():
        raise DataError(f"{argument}: not a run directory (no {manifest})")
    found = find_runs(candidate)
    if not found:
        raise DataError(f"{argument}: holds no run directory (no {manifest} below it)")
    return found


def load_runs(arguments: Iterable[str | Path]) -> list[RunResult]:
    """Load every run named by `arguments`, giving each a unique display label."""
    runs: list[RunResult] = []
    seen: set[Path] = set()
    for argument in arguments:
        for folder in find_run_dirs(argument):
            if folder.resolve() in seen:
                continue
            seen.add(folder.resolve())
            run = load_run(folder)
            run.extra["explicit"] = RunStore(Path(argument)).exists()
            runs.append(run)
    assign_labels(runs)
    return runs


def assign_labels(runs: Sequence[RunResult]) -> None:
    """Label each run by method name; same-method runs of one protocol also get their folder name."""
    counts: dict[tuple[str, str], int] = {}
    for run in runs:
        counts[(run.protocol, run.method)] = counts.get((run.protocol, run.method), 0) + 1
    for run in runs:
        clash = counts[(run.protocol, run.method)] > 1
        run.label = f"{run.method} ({run.path.name})" if clash and run.path.name != run.method else run.method
    labels: dict[tuple[str, str], int] = {}
    for run in runs:  # still equal (same folder names in different places): number them
        key = (run.protocol, run.label)
        labels[key] = labels.get(key, 0) + 1
        if labels[key] > 1:
            run.label = f"{run.label} #{labels[key]}"


def group_by_protocol(runs: Sequence[RunResult]) -> dict[str, list[RunResult]]:
    """Runs per protocol name (in first-seen order); ConfigError if one name hides two definitions."""
    groups: dict[str, list[RunResult]] = {}
    for run in runs:
        groups.setdefault(run.protocol, []).append(run)
    for name, members in groups.items():
        prints = {run.fingerprint for run in members}
        if len(prints) > 1:
            listing = "; ".join(f"{run.path} ({run.fingerprint})" for run in members)
            raise ConfigError(
                f"runs of protocol {name!r} were made with different protocol definitions "
                f"({'/'.join(COMPARABLE_SECTIONS)} differ), so they cannot share a table: {listing}"
            )
    return groups


def tidy(runs: Sequence[RunResult]) -> pd.DataFrame:
    """All runs' prediction rows in one long table with `method`, `label`, `protocol`, `run` columns."""
    frames = [
        run.predictions.assign(method=run.method, label=run.label, protocol=run.protocol, run=str(run.path))
        for run in runs
    ]
    if not frames:
        return pd.DataFrame(columns=[*PREDICTION_COLUMNS, "method", "label", "protocol", "run"])
    return pd.concat(frames, ignore_index=True)
