"""Atomic file writes and the JSON and predictions-CSV formats of the result store.

Every file is written to a temporary sibling and renamed into place, so an interrupted run never
leaves a half-written file that looks finished.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rppgbench.errors import StorageError
from rppgbench.integrity import temporary_prefix
from rppgbench.permissions import apply_umask

if TYPE_CHECKING:
    import pandas as pd

PREDICTION_COLUMNS = [
    "video_id", "dataset", "subject", "session", "scenario", "source", "fold", "status", "error",
    "hr_pred", "hr_ref", "abs_error", "snr_db", "macc", "n_windows",
]  # fmt: skip
TEXT_COLUMNS = ["video_id", "dataset", "subject", "session", "scenario", "source", "fold", "status", "error"]


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


def jsonable(value: Any) -> Any:
    """Numpy scalars/arrays and paths to plain JSON; NaN and infinity to null."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def normalised(value: Any) -> Any:
    """`value` as it reads back from JSON (tuples become lists, NaN None), for comparing with a stored one."""
    return json.loads(json.dumps(jsonable(value)))


def write_json(path: Path, data: Any) -> None:
    """Atomically write `data` as indented JSON."""
    atomic_write_bytes(path, (json.dumps(jsonable(data), indent=2, sort_keys=False) + "\n").encode())


def read_json(path: Path) -> Any:
    """Read a JSON file written by `write_json`."""
    return json.loads(Path(path).read_text())


def write_predictions(path: Path, rows: list[dict[str, Any]]) -> None:
    """Atomically write per-video prediction rows as CSV with the documented columns."""
    import pandas as pd

    frame = pd.DataFrame(rows, columns=PREDICTION_COLUMNS)
    atomic_write_bytes(path, frame.to_csv(index=False, float_format="%.4f").encode())


def read_predictions(path: Path) -> pd.DataFrame:
    """Read a predictions CSV (ids stay strings)."""
    import pandas as pd

    numeric = {c: ["", "nan", "NaN"] for c in PREDICTION_COLUMNS if c not in TEXT_COLUMNS}
    return pd.read_csv(path, dtype=dict.fromkeys(TEXT_COLUMNS, str), keep_default_na=False, na_values=numeric)
