"""The layout of a run folder: every file name, and each file written and read back through its path.

No other module spells a run-folder file name; they ask a `RunStore` (the run folder) or a `FoldStore`
(one fold's folder) for paths, or let them write and read. The layout is documented in
docs/architecture.md, "Result store".
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rppgbench.store.files import (
    atomic_write_bytes,
    read_json,
    read_predictions,
    write_json,
    write_predictions,
)

if TYPE_CHECKING:
    import pandas as pd

    from rppgbench.signals import VideoSignals

RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
PREDICTIONS_FILE = "predictions.csv"
FAILED_FILE = "failed.json"
MODEL_FILE = "model.pt"
SIGNALS_FILE = "signals.npz"
TRAINING_FILE = "training.json"
"""Per-epoch training history; a training method writes it into its work folder, the fold keeps a copy."""
WINDOWS_STEM = "windows"
FOLDS_DIR = "folds"
WORK_DIR = "work"
CHECKED_FILES = (METRICS_FILE, PREDICTIONS_FILE)
"""Run-level files whose sha256 run.json records once the run finished."""
MODEL_IN_RUN = f"<run>/{FOLDS_DIR}/<fold>/{MODEL_FILE}"
"""Where a run keeps a fold's trained weights, as written in messages and help texts."""


def _file(name: str, doc: str) -> property:
    """A read-only property: the path of file `name` in the folder."""
    return property(lambda self: self.path / name, doc=doc)


@dataclass(frozen=True)
class _Results:
    """What a run folder and a fold folder share: metrics.json, predictions.csv and the window table."""

    path: Path

    metrics_path = _file(
        METRICS_FILE,
        "metrics.json: metrics of the ok videos and counts (its presence marks a finished fold).",
    )

    predictions_path = _file(PREDICTIONS_FILE, "predictions.csv: one row per test video.")

    def windows_path(self, fmt: str = "parquet") -> Path:
        """The window table in format `fmt` (parquet or csv)."""
        return self.path / f"{WINDOWS_STEM}.{fmt}"

    def find_windows(self) -> Path | None:
        """The window table, whichever format it was written in."""
        from rppgbench.signals import WINDOW_FORMATS

        return next((p for fmt in WINDOW_FORMATS if (p := self.windows_path(fmt)).is_file()), None)

    def read_metrics(self) -> dict[str, Any]:
        """metrics.json as written."""
        return read_json(self.metrics_path)

    def read_predictions(self) -> pd.DataFrame:
        """predictions.csv (ids stay strings)."""
        return read_predictions(self.predictions_path)

    def write_predictions(self, rows: list[dict[str, Any]]) -> None:
        """Write predictions.csv atomically."""
        write_predictions(self.predictions_path, rows)

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        """Write metrics.json atomically."""
        write_json(self.metrics_path, metrics)

    def write_windows(self, rows: Iterable[dict[str, Any]], fmt: str = "parquet") -> None:
        """Write the window table atomically in format `fmt`."""
        from rppgbench.signals import write_windows

        write_windows(self.windows_path(fmt), rows)


@dataclass(frozen=True)
class FoldStore(_Results):
    """One fold's folder, `<run>/folds/<fold>`."""

    @property
    def name(self) -> str:
        """The fold's name ("1".."k" or "all")."""
        return self.path.name

    model_path = _file(MODEL_FILE, "model.pt: the learned weights of a trained method.")
    signals_path = _file(
        SIGNALS_FILE, "signals.npz: every scored video's signal per window (what `rescore` reads)."
    )

    failed_path = _file(FAILED_FILE, "failed.json: the error of a fold job that failed after its retries.")
    training_path = _file(TRAINING_FILE, "training.json: the per-epoch history of the fold's training.")

    work_dir = _file(WORK_DIR, "Scratch folder of a training method (checkpoints, its own files).")

    def finished(self) -> bool:
        """True once metrics.json, written last, exists (see `verify.fold_intact` for its content)."""
        return self.metrics_path.is_file()

    def write_results(
        self,
        rows: list[dict[str, Any]],
        summary: dict[str, Any],
        signals: Sequence[VideoSignals],
        windows: Iterable[dict[str, Any]],
        window_format: str = "parquet",
    ) -> None:
        """Write signals, window table, predictions and, last (it marks the fold finished), metrics."""
        from rppgbench.signals import write_signals

        write_signals(self.signals_path, signals)
        self.write_windows(windows, window_format)
        self.write_predictions(rows)
        self.write_metrics(summary)

    def read_signals(self) -> list[VideoSignals]:
        """The stored signals (DataError names the file when missing or broken)."""
        from rppgbench.signals import read_signals

        return read_signals(self.signals_path)

    def copy_signals_to(self, other: FoldStore) -> None:
        """Copy signals.npz into another fold folder (a rescored run keeps the signals it scored)."""
        other.path.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.signals_path, other.signals_path)

    def record_failure(self, error: str | None, attempts: int) -> None:
        """Write failed.json: the fold job failed after `attempts` attempts."""
        write_json(self.failed_path, {"error": error, "attempts": attempts})

    def clear_failure(self) -> None:
        """Remove failed.json of an earlier attempt."""
        self.failed_path.unlink(missing_ok=True)

    def failure(self) -> str | None:
        """The error in failed.json; None without one (a damaged file gives a sentence saying so)."""
        if not self.failed_path.is_file():
            return None
        try:
            return str(read_json(self.failed_path)["error"])
        except (ValueError, KeyError, TypeError, OSError):
            return f"{self.failed_path}: the fold failed (its error file is damaged)"

    def keep_training_history(self) -> None:
        """Copy the history a training method wrote into its work folder next to the fold's results."""
        source = self.work_dir / TRAINING_FILE
        if source.is_file():
            atomic_write_bytes(self.training_path, source.read_bytes())

    def training_history(self) -> list[dict[str, Any]]:
        """Per-epoch history of the fold's training (empty when the method did not train or wrote none)."""
        for candidate in (self.training_path, self.work_dir / TRAINING_FILE):
            if candidate.is_file():
                try:
                    return list(read_json(candidate).get("history", []))
                except (ValueError, AttributeError):
                    continue
        return []


@dataclass(frozen=True)
class RunStore(_Results):
    """A run folder: run.json, the run-level results and `folds/<fold>/` (see `FoldStore`)."""

    manifest_path = _file(
        RUN_FILE, "run.json: status, configuration, provenance and, once finished, checksums."
    )

    def exists(self) -> bool:
        """True when the folder holds a run (its run.json)."""
        return self.manifest_path.is_file()

    def fold(self, name: str) -> FoldStore:
        """The folder of fold `name`."""
        return FoldStore(self.path / FOLDS_DIR / name)

    def fold_stores(self) -> list[FoldStore]:
        """Every fold folder present, by name."""
        folder = self.path / FOLDS_DIR
        return [FoldStore(p) for p in sorted(folder.iterdir()) if p.is_dir()] if folder.is_dir() else []

    def read_manifest(self) -> Any:
        """run.json as written (ValueError when it is not JSON)."""
        return read_json(self.manifest_path)

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write run.json atomically."""
        write_json(self.manifest_path, manifest)

    def checksums(self) -> dict[str, str]:
        """sha256 of the run-level files that exist (recorded in run.json when the run finishes)."""
        from rppgbench.integrity import sha256_file

        return {name: sha256_file(self.path / name) for name in CHECKED_FILES if (self.path / name).is_file()}

    def remove(self) -> None:
        """Delete the whole run folder (`--overwrite`)."""
        shutil.rmtree(self.path)

    def clean_temporaries(self) -> None:
        """Remove temporary files that a killed writer left anywhere in the run folder."""
        from rppgbench.integrity import clean_stale_temporaries

        clean_stale_temporaries(self.path, recursive=True)


def find_runs(root: Path) -> list[Path]:
    """Run folders at or below `root` (outermost only: a run's own folders are not runs of their own)."""
    root = Path(root)
    if RunStore(root).exists():
        return [root]
    found = sorted(p.parent for p in root.rglob(RUN_FILE) if not p.parent.name.startswith("."))
    return [p for p in found if not any(q != p and q in p.parents for q in found)]


def find_models(folder: Path) -> list[Path]:
    """The weights files in a fold folder (its own) or a run folder (every fold's), sorted."""
    folder = Path(folder)
    return sorted(folder.glob(MODEL_FILE)) or sorted(folder.glob(f"{FOLDS_DIR}/*/{MODEL_FILE}"))


def run_of_model(weights: Path) -> RunStore | None:
    """The run that saved `weights` when they sit in a fold folder (`<run>/folds/<fold>/`), else None."""
    weights = Path(weights)
    if weights.parent.parent.name != FOLDS_DIR:
        return None
    return RunStore(weights.parents[2])
