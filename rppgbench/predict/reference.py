"""Read a user's reference CSV (contact PPG, ECG or HR values) as a `Reference` aligned to the video.

The value column is chosen by name when it is obvious (ppg/bvp/wave/pulse/pleth -> PPG; ecg -> ECG;
hr/bpm/heart_rate/pulse_rate -> HR), otherwise by `column`. Sample times come from, in order:
`rate` (Hz, first row at the first frame), a time column (named time/t/timestamp/seconds/...; in
milliseconds when its name says ms; taken relative to the first row), or one row per video frame.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rppgbench.data import Reference
from rppgbench.errors import ConfigError, DataError

REFERENCE_KINDS = ("ppg", "ecg", "hr")
_HR_NAMES = re.compile(r"(^|[^a-z])(hr|bpm|heart_?rate|heartrate|pulse_?rate|pulserate|rate)([^a-z]|$)")
_ECG_NAMES = re.compile(r"(ecg|ekg)")
_PPG_NAMES = re.compile(r"(ppg|bvp|wave|pulse|pleth|spo2_wave|signal)")
_TIME_NAMES = re.compile(
    r"^(t|time|times|timestamp|timestamps|time_?s|time_?sec|seconds|sec|secs|time_?ms|timestamp_?ms|ms"
    r"|time_?us|timestamp_?us|us)$"
)
# One row per frame is assumed only if the row count matches the frame count this closely.
ROWS_PER_FRAME_TOLERANCE = 0.01


def _normalise(name: str) -> str:
    return re.sub(r"[\s\-\.]+", "_", str(name).strip().lower())


def kind_from_name(name: str) -> str | None:
    """The reference kind a column header announces ("hr", "ecg", "ppg") or None if it says nothing."""
    key = _normalise(name)
    if _HR_NAMES.search(key):
        return "hr"
    if _ECG_NAMES.search(key):
        return "ecg"
    if _PPG_NAMES.search(key):
        return "ppg"
    return None


def _time_scale(name: str) -> float | None:
    """Seconds per unit of a time column named `name`, or None if the name is not a time column's."""
    key = _normalise(name)
    if not _TIME_NAMES.match(key):
        return None
    if key in {"ms", "time_ms", "timems", "timestamp_ms", "timestampms"}:
        return 1e-3
    if key in {"us", "time_us", "timeus", "timestamp_us", "timestampus"}:
        return 1e-6
    return 1.0


def _read_table(path: Path) -> pd.DataFrame:
    """The CSV as a table; a first row of numbers means the file has no header (columns named 1, 2, ...)."""
    try:
        text = path.read_text(errors="strict")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: reference file is not a text CSV ({exc.reason})") from exc
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise DataError(f"{path}: reference file is empty")
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters=",;\t ")
        sep = dialect.delimiter
    except csv.Error:
        sep = ","
    first = [f.strip() for f in re.split(r"\s+" if sep == " " else re.escape(sep), lines[0].strip())]
    headerless = all(_is_number(f) for f in first if f)
    try:
        table = pd.read_csv(
            path,
            sep=r"\s+" if sep in (" ", "\t") else sep,
            header=None if headerless else 0,
            engine="python",
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"{path}: cannot parse the reference CSV: {exc}") from exc
    if headerless:
        table.columns = [str(i + 1) for i in range(table.shape[1])]
    table.columns = [str(c).strip() for c in table.columns]
    return table


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _numeric(table: pd.DataFrame, name: str, path: Path) -> np.ndarray:
    values = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) & table[name].notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{path}: column {name!r} row {row + 1} holds {table[name].iloc[row]!r}, which is not a number"
        )
    return values


@dataclass(frozen=True)
class ReferenceSpec:
    """A reference CSV and how to read it: `column`, `kind`, `rate` (Hz) and `time_column` are those
    of `read_reference_csv` (None: detected from the header, else one row per frame)."""

    path: Path | str
    column: str | None = None
    kind: str | None = None
    rate: float | None = None
    time_column: str | None = None

    def read(self, *, fps: float, n_frames: int) -> tuple[Reference, dict[str, Any]]:
        """The reference on the video's time axis and how it was read (see `read_reference_csv`)."""
        return read_reference_csv(
            self.path,
            fps=fps,
            n_frames=n_frames,
            column=self.column,
            kind=self.kind,
            rate=self.rate,
            time_column=self.time_column,
        )


def read_reference_csv(
    path: Path | str,
    *,
    fps: float,
    n_frames: int,
    column: str | None = None,
    kind: str | None = None,
    rate: float | None = None,
    time_column: str | None = None,
) -> tuple[Reference, dict[str, Any]]:
    """The reference in `path` on the video's time axis (seconds from the first frame), and how it was read.

    The info dict records file, column, kind, time source, rate and dropped (empty) rows. Raises
    DataError for unreadable files and ConfigError for choices that cannot be made unambiguously.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: reference file not found")
    if kind is not None and kind not in REFERENCE_KINDS:
        raise ConfigError(f"reference kind {kind!r} is not one of {list(REFERENCE_KINDS)}")
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise ConfigError(f"reference rate must be a positive number of Hz, got {rate!r}")
    table = _read_table(path)
    columns = list(table.columns)
    time_name, scale = _choose_time_column(table, time_column, path)
    value_name = _choose_value_column(columns, column, time_name, path)
    kind = kind or kind_from_name(value_name)
    if kind is None:
        raise ConfigError(
            f"{path}: cannot tell whether column {value_name!r} holds a PPG waveform, an ECG or HR values; "
            "pass --reference-kind ppg|ecg|hr"
        )
    values = _numeric(table, value_name, path)
    info: dict[str, Any] = {"file": str(path), "column": value_name, "kind": kind, "rows": int(len(values))}
    if rate is not None:
        times = np.arange(len(values), dtype=np.float64) / rate
        info.update(time_source="rate", rate_hz=float(rate))
    elif time_name is not None:
        raw = _numeric(table, time_name, path) * scale
        finite = np.isfinite(raw)
        if not finite.any():
            raise DataError(f"{path}: time column {time_name!r} holds no numbers")
        times = raw - raw[finite][0]
        info.update(time_source=f"column {time_name!r}", time_unit_s=scale)
    else:
        tolerance = max(2, int(ROWS_PER_FRAME_TOLERANCE * n_frames))
        if abs(len(values) - n_frames) > tolerance:
            raise DataError(
                f"{path}: the reference has {len(values)} rows but the video has {n_frames} frames, so it is "
                "not one row per frame; give its sampling rate with --reference-rate HZ or a time column"
            )
        times = np.arange(len(values), dtype=np.float64) / fps
        info.update(time_source="one row per frame", rate_hz=float(fps))
    keep = np.isfinite(values) & np.isfinite(times)
    info["dropped_rows"] = int((~keep).sum())
    values, times = values[keep], times[keep]
    if values.size < 2:
        raise DataError(f"{path}: column {value_name!r} has {values.size} usable values; too few to use")
    if np.any(np.diff(times) <= 0):
        at = int(np.flatnonzero(np.diff(times) <= 0)[0]) + 1
        raise DataError(f"{path}: reference times are not strictly increasing (at row {at + 1})")
    if kind == "hr":
        median = float(np.median(values))
        if not 20.0 <= median <= 300.0:
            raise DataError(
                f"{path}: column {value_name!r} has median {median:g}, not a heart rate in bpm; "
                "if it is a waveform pass --reference-kind ppg"
            )
    if "rate_hz" not in info:
        info["rate_hz"] = float((len(times) - 1) / (times[-1] - times[0]))
    info["span_s"] = [float(times[0]), float(times[-1])]
    return Reference(kind, values, times), info  # type: ignore[arg-type]


def _choose_time_column(table: pd.DataFrame, name: str | None, path: Path) -> tuple[str | None, float]:
    if name is not None:
        if name not in table.columns:
            raise ConfigError(f"{path}: no column {name!r}; columns: {', '.join(table.columns)}")
        return name, _time_scale(name) or 1.0
    found = [c for c in table.columns if _time_scale(c) is not None]
    if len(found) > 1:
        raise ConfigError(
            f"{path}: several time columns ({', '.join(found)}); choose one with --reference-time-column"
        )
    return (found[0], _time_scale(found[0]) or 1.0) if found else (None, 1.0)


def _choose_value_column(columns: list[str], name: str | None, time_name: str | None, path: Path) -> str:
    if name is not None:
        if name not in columns:
            raise ConfigError(f"{path}: no column {name!r}; columns: {', '.join(columns)}")
        return name
    candidates = [c for c in columns if c != time_name]
    if not candidates:
        raise DataError(f"{path}: the reference CSV has no value column besides time {time_name!r}")
    if len(candidates) == 1:
        return candidates[0]
    named = [c for c in candidates if kind_from_name(c) is not None]
    if len(named) == 1:
        return named[0]
    listed = ", ".join(named or candidates)
    raise ConfigError(
        f"{path}: cannot choose the reference column among {listed}; name it with --reference-column"
    )
