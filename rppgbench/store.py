"""The result store: atomic writes of a run directory's files, and reading them back for resume.

Every file is written to a temporary sibling and renamed into place, so an interrupted run never
leaves a half-written file that looks finished. Layout: docs/architecture.md, "Result store".
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rppgbench.errors import StorageError
from rppgbench.integrity import temporary_prefix
from rppgbench.permissions import apply_umask

PREDICTION_COLUMNS = [
    "video_id", "dataset", "subject", "session", "scenario", "source", "fold", "status", "error",
    "hr_pred", "hr_ref", "abs_error", "snr_db", "macc", "n_windows",
]  # fmt: skip


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same folder and an atomic rename.

    An OS error (no permission, read-only or full disk) becomes a StorageError naming the path.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=temporary_prefix(path), suffix=".tmp")
    except OSError as exc:
        raise StorageError.from_os(path.parent, exc, "cannot write results here") from exc
    try:
        apply_umask(handle)  # mkstemp creates 0600; results get the user's umask like any new file
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            Path(temporary).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise StorageError.from_os(path, exc, "cannot write") from exc
        raise


def _jsonable(value: Any) -> Any:
    """Numpy scalars/arrays and paths to plain JSON; NaN and infinity to null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path, data: Any) -> None:
    """Atomically write `data` as indented JSON."""
    atomic_write_bytes(path, (json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n").encode())


def read_json(path: Path) -> Any:
    """Read a JSON file written by `write_json`."""
    return json.loads(Path(path).read_text())


def write_predictions(path: Path, rows: list[dict[str, Any]]) -> None:
    """Atomically write per-video prediction rows as CSV with the documented columns."""
    frame = pd.DataFrame(rows, columns=PREDICTION_COLUMNS)
    atomic_write_bytes(path, frame.to_csv(index=False, float_format="%.4f").encode())


def read_predictions(path: Path) -> pd.DataFrame:
    """Read a predictions CSV (ids stay strings)."""
    text_columns = [
        "video_id",
        "dataset",
        "subject",
        "session",
        "scenario",
        "source",
        "fold",
        "status",
        "error",
    ]
    frame = pd.read_csv(path, dtype={c: str for c in text_columns}, keep_default_na=False, na_values={
        c: ["", "nan", "NaN"] for c in PREDICTION_COLUMNS if c not in text_columns
    })  # fmt: skip
    return frame
