"""Checks and readers shared by the benchmark dataset loaders.

Every check raises `DataError` with the offending file in the message, so a broken file becomes
that record's failure with a reason a person can act on. Records that cannot even be formed (a
subject folder with no video) are still listed, as "problem records" that fail when opened, so that
the problem shows up in the run's summary instead of being dropped silently.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rppgbench.data import Record, Reference, ReferenceKind
from rppgbench.errors import DataError
from rppgbench.video import FrameSource, ImageSequence, VideoFile

if TYPE_CHECKING:
    from rppgbench.dataset import DatasetLoader

log = logging.getLogger("rppgbench.datasets")

PROBLEM_KEY = "error"
"""`Record.meta` key holding why a listed record cannot be used (it fails when opened)."""

PLAUSIBLE_RATE_HZ: dict[str, tuple[float, float]] = {
    "ppg": (10.0, 2000.0),
    "ecg": (100.0, 10000.0),
    "hr": (0.2, 2000.0),
    "resp": (1.0, 2000.0),
}
"""Sampling rates outside these bounds mean the file or its time base is wrong."""

PLAUSIBLE_BPM = (20.0, 250.0)


def natural_key(text: str) -> list[object]:
    """Sort key that orders `p2` before `p10` and `subject9` before `subject10`."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def require_root(root: Path | None, dataset: str, expected: str) -> Path:
    """The dataset root as a folder, or a DataError saying what a root of this dataset looks like."""
    if root is None or not root.is_dir():
        raise DataError(f"{root}: {dataset} root folder does not exist (expected {expected})")
    return root


def problem_record(
    dataset: str, subject: str, session: str, location: Path, problem: str, **fields: str
) -> Record:
    """A listed record that fails with `problem` when opened (e.g. a subject folder without a video)."""
    log.warning("%s: %s", location, problem)
    return Record(dataset, subject, session, location, meta={PROBLEM_KEY: f"{location}: {problem}"}, **fields)


def raise_if_problem(record: Record) -> None:
    """Raise the problem recorded at listing time, if any."""
    problem = record.meta.get(PROBLEM_KEY)
    if problem:
        raise DataError(problem)


def require_file(path: Path | None, what: str, record: Record | None = None) -> Path:
    """`path` if it is a file, else a DataError naming it (and the record) as missing."""
    if path is None or not Path(path).is_file():
        owner = f" of {record.id}" if record is not None else ""
        raise DataError(f"{path}: {what}{owner} not found")
    return Path(path)


def read_text(path: Path, what: str) -> str:
    """The text of a reference file; missing, unreadable or empty files are a DataError naming it."""
    require_file(path, what)
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read {what} as text ({exc})") from exc
    if not text.strip():
        raise DataError(f"{path}: {what} is empty")
    return text


def parse_numbers(path: Path, lines: Iterable[str], what: str, first_line: int = 1) -> np.ndarray:
    """Parse one float per non-blank line; the first bad line is reported with its number."""
    values: list[float] = []
    for number, line in enumerate(lines, start=first_line):
        token = line.strip().rstrip(",")
        if not token:
            continue
        try:
            values.append(float(token))
        except ValueError:
            raise DataError(
                f"{path}: line {number} of {what} is not a number: {line.strip()[:40]!r}"
            ) from None
    return np.asarray(values, dtype=np.float64)


def read_csv_column(path: Path, header: str, what: str) -> np.ndarray:
    """A one-column CSV with a header line (VIPL-HR's `wave.csv`, `gt_HR.csv`) as a float array."""
    lines = read_text(path, what).splitlines()
    found = lines[0].strip().strip('"').strip("\ufeff")
    if found.lower() != header.lower():
        raise DataError(f"{path}: expected a header line {header!r}, found {lines[0].strip()[:40]!r}")
    return parse_numbers(path, lines[1:], what, first_line=2)


def parse_row_table(path: Path, text: str, n_columns: int, what: str) -> np.ndarray:
    """Comma or whitespace separated rows of `n_columns` numbers as an (N, n_columns) array."""
    rows: list[list[float]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = [c for c in re.split(r"[,\s;]+", line.strip()) if c]
        try:
            row = [float(c) for c in cells]
        except ValueError:
            if not rows and number == 1:  # a header line
                continue
            raise DataError(
                f"{path}: line {number} of {what} is not numeric: {line.strip()[:60]!r}"
            ) from None
        if len(row) < n_columns:
            raise DataError(f"{path}: line {number} of {what} has {len(row)} columns, expected {n_columns}")
        rows.append(row[:n_columns])
    if not rows:
        raise DataError(f"{path}: {what} has no data rows")
    return np.asarray(rows, dtype=np.float64)


def check_finite(path: Path, values: np.ndarray, what: str) -> None:
    """Reject empty signals and NaN/inf samples, saying how many and where the first one is."""
    if values.size == 0:
        raise DataError(f"{path}: {what} has no samples")
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.argmax(bad))
        raise DataError(f"{path}: {what} has {int(bad.sum())} NaN/inf samples (first at sample {first})")


def check_increasing(path: Path, times: np.ndarray, what: str) -> None:
    """Timestamps must strictly increase; report the first sample where they do not."""
    steps = np.diff(times)
    if (steps <= 0).any():
        first = int(np.argmax(steps <= 0)) + 1
        raise DataError(f"{path}: {what} timestamps do not increase at sample {first}")


def check_rate(
    path: Path,
    kind: ReferenceKind,
    measured: float,
    expected: float | None = None,
    option: str = "",
    tolerance: float = 0.2,
) -> None:
    """The reference's sampling rate must be plausible for its kind and, if given, near `expected`."""
    if expected and abs(measured - expected) > tolerance * expected:
        hint = f" (loader option {option})" if option else ""
        raise DataError(
            f"{path}: sampling rate {measured:.4g} Hz differs from the expected {expected:.4g} Hz{hint}"
        )
    lo, hi = PLAUSIBLE_RATE_HZ[kind]
    if not lo <= measured <= hi:
        raise DataError(f"{path}: implausible sampling rate {measured:.4g} Hz for a {kind} reference")


def check_bpm(path: Path, values: np.ndarray, what: str) -> None:
    """Heart-rate series must stay within physiological bounds."""
    lo, hi = PLAUSIBLE_BPM
    outside = (values < lo) | (values > hi)
    if outside.any():
        first = int(np.argmax(outside))
        raise DataError(
            f"{path}: {what} has {int(outside.sum())} values outside {lo:g}-{hi:g} bpm "
            f"(first: {values[first]:g} at sample {first})"
        )


def video_span(loader: DatasetLoader, record: Record) -> tuple[float, float] | None:
    """Seconds spanned by the frames the record uses, from headers only; None if the video is unusable."""
    try:
        frames = loader.open_frames(record)
        count = frames.frame_count()
        if not count or not frames.fps:
            return None
        times = loader.frame_timestamps(record, count, frames.fps)
    except DataError:
        return None  # the video's own error is reported when its frames are opened
    start, stop = record.frame_range
    stop = count if stop is None else min(stop, count)
    if start >= stop:
        return None
    return float(times[start]), float(times[stop - 1])


def check_covers(path: Path, reference: Reference, span: tuple[float, float] | None, what: str) -> None:
    """The reference must cover the frames in use, give or take max(1 s, 10 %) at either end."""
    if span is None:
        return
    start, stop = span
    slack = max(1.0, 0.1 * (stop - start))
    ref_start, ref_stop = float(reference.times[0]), float(reference.times[-1])
    if ref_stop < stop - slack or ref_start > start + slack:
        raise DataError(
            f"{path}: {what} covers {ref_start:.2f}-{ref_stop:.2f} s but the video runs "
            f"{start:.2f}-{stop:.2f} s (reference shorter than the video)"
        )


def validated_reference(
    path: Path,
    kind: ReferenceKind,
    values: np.ndarray,
    times: np.ndarray,
    *,
    loader: DatasetLoader,
    record: Record,
    what: str,
    expected_rate: float | None = None,
    rate_option: str = "",
) -> Reference:
    """Build a Reference after every shared check: finite, increasing, plausible rate, covers the video."""
    values = np.asarray(values, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64)
    if values.shape != times.shape:
        raise DataError(f"{path}: {what} has {values.size} values but {times.size} timestamps")
    check_finite(path, values, what)
    if values.size < 2:
        raise DataError(f"{path}: {what} has only {values.size} sample")
    check_finite(path, times, f"{what} timestamps")
    check_increasing(path, times, what)
    if kind == "hr":
        check_bpm(path, values, what)
    reference = Reference(kind, values.astype(np.float32), times)
    check_rate(path, kind, reference.rate, expected_rate, rate_option)
    check_covers(path, reference, video_span(loader, record), what)
    return reference


def check_fixed_rate_length(
    path: Path, n_samples: int, rate: float, span: tuple[float, float] | None, what: str, option: str
) -> None:
    """For references without timestamps: the sample count at the assumed rate must match the video.

    Far too many samples means the assumed rate is wrong; far too few means the reference is short
    (or the rate is wrong the other way), and the message says both.
    """
    if span is None:
        return
    video_seconds = span[1]
    if video_seconds <= 0:
        return
    implied = n_samples / video_seconds
    if implied > 1.5 * rate:
        raise DataError(
            f"{path}: {n_samples} samples imply a sampling rate of {implied:.4g} Hz over the "
            f"{video_seconds:.2f}-s video, not the assumed {rate:g} Hz (loader option {option})"
        )
    slack = max(1.0, 0.1 * video_seconds)
    if n_samples / rate < video_seconds - slack:
        raise DataError(
            f"{path}: {what} has {n_samples} samples = {n_samples / rate:.2f} s at {rate:g} Hz but the "
            f"video runs {video_seconds:.2f} s (reference shorter than the video, or option {option} "
            "is wrong)"
        )


def open_video(record: Record, fps: float | None = None, timestamps: np.ndarray | None = None) -> FrameSource:
    """The record's video file, checked to hold at least the frames its `frame_range` asks for."""
    raise_if_problem(record)
    video = VideoFile(record.location, fps=fps or record.fps, timestamps=timestamps)
    check_frame_range(record, video)
    return video


def check_frame_range(record: Record, frames: FrameSource) -> None:
    """A video shorter than the protocol's frame range is an error naming the file."""
    count = frames.frame_count()
    if count == 0:
        raise DataError(f"{record.location}: the video holds no frames (empty, truncated or corrupt)")
    start, stop = record.frame_range
    needed = stop if stop is not None else start + 1
    if count is not None and count < needed:
        raise DataError(
            f"{record.location}: the video has {count} frames; the frame range {start}..{stop} needs {needed}"
        )


def frame_range_option(value: tuple[int, ...] | list[int]) -> tuple[int, int | None]:
    """Convert a loader's `frame_range` option ([] or [start, stop]) into `Record.frame_range`."""
    if not value:
        return (0, None)
    items = [int(v) for v in value]
    if len(items) != 2 or items[0] < 0 or items[1] <= items[0]:
        from rppgbench.errors import ConfigError

        raise ConfigError(f"frame_range must be [start, stop] with 0 <= start < stop, got {list(value)}")
    return (items[0], items[1])


def fixed_rate_reference(
    loader: DatasetLoader,
    record: Record,
    path: Path,
    values: np.ndarray,
    what: str,
    rate: float,
    option: str = "ppg_rate",
) -> Reference:
    """A PPG stored without timestamps at `rate` Hz (0: one sample per video frame), checked against the video."""
    check_finite(path, values, what)
    rate = float(rate or record.fps or loader.options.get("fps") or 0.0)
    if rate <= 0:
        raise DataError(f"{path}: no sampling rate for {what} (set the loader option {option})")
    span = video_span(loader, record)
    check_fixed_rate_length(path, values.size, rate, span, what, option)
    return validated_reference(
        path, "ppg", values, np.arange(values.size) / rate, loader=loader, record=record, what=what
    )


def stretched_reference(
    loader: DatasetLoader, record: Record, path: Path, values: np.ndarray, what: str
) -> Reference:
    """A PPG without timestamps or a known rate, spread evenly over the video (it starts and ends with it)."""
    check_finite(path, values, what)
    frames = loader.open_frames(record)
    count = frames.frame_count() or 0
    seconds = count / frames.fps if count and frames.fps else 0.0
    if values.size < 2 or seconds <= 0:
        raise DataError(f"{path}: cannot spread {values.size} {what} samples over a {seconds:.2f}-s video")
    times = np.arange(values.size) * (seconds / values.size)
    return validated_reference(path, "ppg", values, times, loader=loader, record=record, what=what)


def image_folder_frames(folder: Path, pattern: str, fps: float) -> ImageSequence:
    """The frame images of `folder` matching `pattern`, in natural order (frame2 before frame10)."""
    paths = sorted(folder.glob(pattern), key=lambda p: natural_key(p.name))
    if not paths:
        raise DataError(f"{folder}: no frames matching {pattern!r}")
    return ImageSequence(paths, fps=fps)
