"""`rppgbench predict VIDEO`: heart rate from any video file in one command (a thin layer over `predict`)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import click
from tabulate import tabulate

from rppgbench.errors import ConfigError
from rppgbench.params import Param, parse_assignments
from rppgbench.preprocess.config import PreprocessConfig
from rppgbench.store.layout import MODEL_IN_RUN

DEFAULTS = PreprocessConfig()


def _box(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        raise ConfigError(f"--box expects X,Y,W,H in pixels of the first frame, got {text!r}")
    return values  # type: ignore[return-value]


def _hr_settings(pairs: tuple[str, ...]) -> dict[str, Any]:
    """`--hr key=value` strings converted by the type of each HRConfig field's default."""
    from rppgbench.signal.hr import HRConfig

    declared = {f.name: Param(f.name, f.default) for f in fields(HRConfig)}
    given = parse_assignments(pairs)
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ConfigError(f"unknown --hr setting(s) {', '.join(unknown)}; valid: {', '.join(declared)}")
    return {name: declared[name].convert(value) for name, value in given.items()}


def _fmt(value: float | None, spec: str = ".1f") -> str:
    """A number for the terminal; "-" for missing values and no negative zero."""
    if value is None or not math.isfinite(value):
        return "-"
    digits = re.search(r"\.(\d+)", spec)
    if digits:
        value = round(value, int(digits.group(1))) + 0.0  # -0.0 + 0.0 is +0.0
    return format(value, spec)


def _window_rows(result: Any, max_rows: int) -> tuple[list[list[str]], int]:
    n = len(result.times)
    every = 1 if max_rows <= 0 or n <= max_rows else math.ceil(n / max_rows)
    rows = []
    for i in range(0, n, every):
        row = [_fmt(result.times[i]), _fmt(result.hr_series[i])]
        if result.reference_series is not None:
            ref = result.reference_series[i]
            row += [_fmt(ref), _fmt(result.hr_series[i] - ref, "+.1f")]
        rows.append(row)
    return rows, every


def print_result(result: Any, echo: Callable[[str], None] = click.echo, max_rows: int = 30) -> None:
    """The terminal report: video, face box, HR, reference and errors, then the window table."""
    x, y, w, h = result.face_box
    face = result.face
    width, height = face.get("frame_size", ["?", "?"])
    detection = face.get("detection")
    found = (
        f"face score {detection['score']:.2f}, " if detection and face.get("source") == "blazeface" else ""
    )
    echo(f"video:     {result.video} ({width}x{height}, {result.n_frames} frames, {result.fps:g} fps, "
         f"{result.duration_s:.1f} s)")  # fmt: skip
    echo(f"face:      {found}crop x={x} y={y} w={w} h={h} -> {face.get('crop_size')} px")
    params = ", ".join(f"{k}={v}" for k, v in result.method.get("params", {}).items())
    echo(f"method:    {result.method.get('name')} ({params})")
    if result.shipped_weights:
        echo(f"weights:   {result.shipped_weights['name']} (shipped with rppgbench, trained only on synthetic faces): "
             f"{result.weights}")  # fmt: skip
    elif result.weights is not None:
        echo(f"weights:   {result.weights}")
    line = f"HR:        {result.hr_bpm:.1f} bpm (whole clip, SNR {_fmt(result.snr_db)} dB)"
    echo(line)
    stats = result.window_stats()
    echo(f"windows:   {stats['n_windows']} x {result.window_s:g} s every {result.step_s:g} s: mean "
         f"{_fmt(stats['mean'])}, median {_fmt(stats['median'])}, SD {_fmt(stats['sd'])} bpm")  # fmt: skip
    if result.reference_hr is not None:
        info, errors = result.reference_info, result.errors
        source = info.get("file") or "given"
        echo(f"reference: {result.reference_hr:.1f} bpm ({info.get('kind')} column {info.get('column')!r} of "
             f"{source}, {_fmt(info.get('rate_hz'), '.4g')} Hz)")  # fmt: skip
        echo(
            f"error:     {_fmt(errors['error_bpm'], '+.1f')} bpm (|error| {errors['abs_error_bpm']:.1f} bpm)"
        )
        window = errors.get("window")
        if window:
            echo(f"windows:   MAE {_fmt(window['mae'], '.2f')} bpm, RMSE {_fmt(window['rmse'], '.2f')} bpm, "
                 f"r {_fmt(window['r'], '.2f')} over {window['n']} windows")  # fmt: skip
    for note in result.notes:
        echo(f"note:      {note}")
    rows, every = _window_rows(result, max_rows)
    headers = ["time (s)", "HR (bpm)"] + (
        ["ref (bpm)", "error"] if result.reference_series is not None else []
    )
    echo("")
    echo(tabulate(rows, headers=headers, stralign="right", disable_numparse=True))
    if every > 1:
        echo(f"(one window in {every} shown, of {len(result.times)}; --max-rows 0 shows all)")


@click.command("predict")
@click.argument("video", type=click.Path(path_type=Path))
@click.option(
    "--method",
    "-m",
    default=None,
    help="Method name (see `rppgbench list methods`); default: the method that --weights were trained with, else pos.",
)
@click.option(
    "--weights",
    type=click.Path(path_type=Path),
    help=f"Weights of a trained method ({MODEL_IN_RUN}); default: the method's shipped weights "
    "(`rppgbench list weights`).",
)
@click.option("--window", default=10.0, show_default=True, help="HR window length in seconds.")
@click.option("--step", default=1.0, show_default=True, help="Seconds between HR windows.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Write signal.csv, hr.csv, summary.json and figure.png here.",
)
@click.option(
    "--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Set a method parameter (repeatable)."
)
@click.option(
    "--hr",
    "hr_assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set an HR estimator setting, e.g. method=periodogram.",
)
@click.option("--size", type=int, help="Face crop side in pixels [default: 128, or the training run's].")
@click.option(
    "--enlarge",
    type=float,
    help="Face box enlargement about its centre [default: 1.6, or the training run's].",
)
@click.option(
    "--redetect-every",
    default=DEFAULTS.redetect_every,
    show_default=True,
    help="Re-detect the face every N frames (0: first frame only).",
)
@click.option(
    "--smoothing",
    default=DEFAULTS.smoothing,
    show_default=True,
    help="Weight of the previous box when re-detecting.",
)
@click.option(
    "--face",
    type=click.Choice(["blazeface", "full"]),
    default="blazeface",
    show_default=True,
    help="Face detection, or the whole frame.",
)
@click.option("--box", help="Face box X,Y,W,H in pixels of the first frame (replaces detection).")
@click.option(
    "--min-confidence",
    default=DEFAULTS.min_confidence,
    show_default=True,
    help="Minimum face detection score.",
)
@click.option("--fps", type=float, help="Frame rate to use instead of the one the video reports.")
@click.option(
    "--max-frames",
    default=DEFAULTS.max_frames,
    show_default=True,
    help="Analyse at most this many frames (0: all).",
)
@click.option(
    "--reference", type=click.Path(path_type=Path), help="Reference CSV: PPG/ECG waveform or HR values."
)
@click.option(
    "--reference-column", help="Column of the reference CSV to use (default: detected from its header)."
)
@click.option(
    "--reference-kind",
    type=click.Choice(["ppg", "ecg", "hr"]),
    help="What the reference column holds (default: from its name).",
)
@click.option(
    "--reference-rate",
    type=float,
    help="Reference sampling rate in Hz (default: time column, else one row per frame).",
)
@click.option(
    "--reference-time-column", help="Time column of the reference CSV (default: detected; ms when named so)."
)
@click.option("--max-rows", default=30, show_default=True, help="Window rows printed (0: all).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def predict_command(video, method, weights, window, step, out, assignments, hr_assignments, size, enlarge,
                    redetect_every, smoothing, face, box, min_confidence, fps, max_frames, reference,
                    reference_column, reference_kind, reference_rate, reference_time_column, max_rows,
                    quiet) -> None:  # fmt: skip
    """Measure heart rate from VIDEO (any file OpenCV decodes) and print the HR and a per-window series."""
    from rppgbench.predict.api import choose_method, predict
    from rppgbench.predict.reference import ReferenceSpec

    face_box = _box(box)
    if face_box is not None and face != "blazeface":
        raise ConfigError(f"a face box replaces detection; it cannot be combined with face={face!r}")
    chosen = choose_method(method, weights, parse_assignments(assignments))
    preprocess = chosen.preprocess(  # --size and --enlarge default to the training run's crop
        face="dataset" if face_box is not None else face, size=size, enlarge=enlarge,
        redetect_every=redetect_every, smoothing=smoothing, min_confidence=min_confidence, max_frames=max_frames,
    )  # fmt: skip
    spec = None
    if reference is not None:
        spec = ReferenceSpec(reference, column=reference_column, kind=reference_kind, rate=reference_rate,
                             time_column=reference_time_column)  # fmt: skip
    result = predict(
        video, chosen, window=window, step=step, reference=spec, hr=_hr_settings(hr_assignments),
        preprocess=preprocess, box=face_box, fps=fps, progress=not quiet,
    )  # fmt: skip
    print_result(result, max_rows=max_rows)
    if out is not None:
        paths = result.save(out)
        click.echo(f"\noutputs:   {', '.join(str(p) for p in paths.values())}")
