"""Per-video rPPG signals and window-level HRs of a run: what `rescore` needs instead of the method.

The formats of two files of each fold folder (their names and places belong to `rppgbench.store`):
- the signals file (compressed `.npz`): for every scored test video, the method's signal of each
  evaluated window with its frame timestamps, the frame rate, and the reference (kind, values, times);
  for a method that estimates HR itself, also its HR of each window (`v<i>_w<w>_hr`), and a window
  signal of length 0 when the method gives no signal;
- the window table (Parquet or CSV): one row per video and window: `video_id, fold, window,
  start_s, stop_s, hr_pred, hr_ref, snr_db, macc`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rppgbench.data import Reference
from rppgbench.errors import DataError

WINDOW_FORMATS = ("parquet", "csv")
WINDOW_COLUMNS = ["video_id", "fold", "window", "start_s", "stop_s", "hr_pred", "hr_ref", "snr_db", "macc"]


@dataclass
class VideoSignals:
    """One test video's stored signals: per window, the method's output and the frame timestamps."""

    video_id: str
    fps: float
    signals: list[np.ndarray]
    times: list[np.ndarray]
    reference: Reference | None
    hr: list[float] | None = None
    """The method's own HR of each window (a method that `estimates_hr`), else None."""


def write_signals(path: Path, videos: Sequence[VideoSignals]) -> None:
    """Write the videos' signals into one compressed `.npz` (atomically)."""
    from rppgbench.store import atomic_write_bytes

    arrays: dict[str, np.ndarray] = {}
    index = []
    for i, video in enumerate(videos):
        ref = video.reference
        index.append({"video_id": video.video_id, "fps": video.fps, "n_windows": len(video.signals),
                      "reference": ref.kind if ref is not None else None})  # fmt: skip
        for w, (signal, times) in enumerate(zip(video.signals, video.times, strict=True)):
            arrays[f"v{i}_w{w}_signal"] = np.asarray(signal, dtype=np.float64)
            arrays[f"v{i}_w{w}_times"] = np.asarray(times, dtype=np.float64)
            if video.hr is not None:
                arrays[f"v{i}_w{w}_hr"] = np.asarray(float(video.hr[w]), dtype=np.float64)
        if ref is not None:
            arrays[f"v{i}_ref_values"] = np.asarray(ref.values, dtype=np.float64)
            arrays[f"v{i}_ref_times"] = np.asarray(ref.times, dtype=np.float64)
    arrays["index"] = np.frombuffer(json.dumps(index).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def read_signals(path: Path) -> list[VideoSignals]:
    """Read a file written by `write_signals`; DataError names the file when it is missing or broken."""
    if not Path(path).is_file():
        raise DataError(f"{path}: no stored signals (a run from before signals were kept cannot be rescored)")
    try:
        with np.load(path) as data:
            index = json.loads(bytes(data["index"]).decode())
            videos = []
            for i, entry in enumerate(index):
                n = int(entry["n_windows"])
                reference = None
                if entry["reference"] is not None:
                    reference = Reference(entry["reference"], data[f"v{i}_ref_values"],
                                          data[f"v{i}_ref_times"])  # fmt: skip
                hr = [float(data[f"v{i}_w{w}_hr"]) for w in range(n)] if f"v{i}_w0_hr" in data else None
                videos.append(VideoSignals(
                    entry["video_id"], float(entry["fps"]),
                    [data[f"v{i}_w{w}_signal"] for w in range(n)], [data[f"v{i}_w{w}_times"] for w in range(n)],
                    reference, hr,
                ))  # fmt: skip
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{path}: cannot read stored signals ({exc})") from exc
    return videos


def write_windows(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write window rows as Parquet or CSV, by the file's suffix (atomically)."""
    import pandas as pd

    from rppgbench.store import atomic_write_bytes

    frame = pd.DataFrame(list(rows), columns=WINDOW_COLUMNS)
    frame["window"] = frame["window"].astype("int64")
    if path.suffix == ".csv":
        atomic_write_bytes(path, frame.to_csv(index=False, float_format="%.4f").encode())
        return
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    atomic_write_bytes(path, buffer.getvalue())


def read_windows(path: Path):  # noqa: ANN201 - a pandas DataFrame
    """Read a window table written by `write_windows` (Parquet or CSV)."""
    import pandas as pd

    path = Path(path)
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype={"video_id": str, "fold": str})
    return pd.read_parquet(path)


def window_rows(video_id: str, fold: str, estimate: Any) -> list[dict[str, Any]]:
    """The window-table rows of one video's `VideoEstimate`."""
    return [
        {"video_id": video_id, "fold": fold, "window": i, "start_s": span[0], "stop_s": span[1],
         "hr_pred": pred, "hr_ref": ref, "snr_db": snr, "macc": m}
        for i, (span, pred, ref, snr, m) in enumerate(zip(
            estimate.window_spans, estimate.window_hr_pred, estimate.window_hr_ref, estimate.window_snr_db,
            estimate.window_macc, strict=True,
        ))
    ]  # fmt: skip


def combine_windows(tables: Iterable[Path | None], out: Path) -> None:
    """Concatenate window tables (None: a fold without one) into `out` (format by its suffix)."""
    import pandas as pd

    frames = [read_windows(table) for table in tables if table is not None]
    rows = pd.concat(frames, ignore_index=True).to_dict("records") if frames else []
    write_windows(out, rows)
