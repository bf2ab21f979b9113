"""Turns a method's signal on a test video into the video's predicted and reference HR.

The protocol cuts each test video into windows (e.g. three 10-s clips); each window's signal goes
through the shared HR estimator; the video's HR is the mean over its windows, for the prediction and
the reference alike. `score_windows` does the scoring from signals alone, so a run's stored
signals can be rescored with other HR settings (`rppgbench rescore`) without running the method.

A method that `estimates_hr` gives each window's HR itself (`Method.predict_hr`); those HRs replace
the shared estimator's reading of the signal (`score_windows(..., window_hr=...)`), and its signal,
if it gives one, is still stored and scored for SNR and MACC.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rppgbench.data import Clip, Reference
from rppgbench.errors import SignalError
from rppgbench.method import Method
from rppgbench.protocol import WindowingSpec
from rppgbench.signal.hr import HRConfig, estimate_hr, reference_hr, snr_db


@dataclass(frozen=True)
class VideoEstimate:
    """HR of one test video: per-window values and their means."""

    hr_pred: float
    hr_ref: float
    snr_db: float
    window_hr_pred: list[float]
    window_hr_ref: list[float]
    macc: float = math.nan
    window_snr_db: list[float] = field(default_factory=list)
    window_macc: list[float] = field(default_factory=list)
    window_spans: list[tuple[float, float]] = field(default_factory=list)
    """(start, stop) seconds of each window on the video's clock."""
    method_hr: bool = False
    """True when `window_hr_pred` came from the method (`predict_hr`), not from the shared estimator."""
    signals: list[np.ndarray] = field(default_factory=list)
    """The method's signal of each window (kept so that the run can be rescored); empty (length 0)
    for a method that gives no signal."""
    times: list[np.ndarray] = field(default_factory=list)
    """Frame timestamps of each window's signal."""


def evaluation_windows(n_frames: int, fps: float, spec: WindowingSpec) -> list[tuple[int, int]]:
    """Frame ranges [start, stop) of the windows a protocol evaluates for a video of `n_frames`."""
    duration = n_frames / fps
    if duration < spec.min_seconds:
        raise SignalError(
            f"video is {duration:.1f} s long; the protocol needs at least {spec.min_seconds:g} s"
        )
    if spec.mode == "whole":
        return [(0, n_frames)]
    if spec.mode == "clips":
        length = int(round(spec.clip_seconds * fps))
        count = min(spec.n_clips, n_frames // length) if length else 0
        if count == 0:  # shorter than one clip but long enough: evaluate it whole
            return [(0, n_frames)]
        return [(i * length, (i + 1) * length) for i in range(count)]
    length = int(round(spec.window_seconds * fps))
    step = max(1, int(round(spec.step_seconds * fps)))
    if n_frames <= length:
        return [(0, n_frames)]
    return [(start, start + length) for start in range(0, n_frames - length + 1, step)]


def uniform_signal(
    signal: np.ndarray, times: np.ndarray, tolerance: float = 1e-3
) -> tuple[np.ndarray, float]:
    """The signal on a uniform time grid and its rate; resampled (linearly) only if the frames are not.

    Spectral HR estimation assumes equally spaced samples: a variable-frame-rate clip read at its mean
    rate would move the spectral peak, so its samples are first put on the grid they were taken near.
    """
    n = len(times)
    if n < 2 or times[-1] <= times[0]:
        raise SignalError("a window needs at least two frames with increasing timestamps")
    rate = (n - 1) / float(times[-1] - times[0])
    grid = times[0] + np.arange(n) / rate
    if np.max(np.abs(times - grid)) <= tolerance / rate:
        return signal, rate
    return np.interp(grid, times, signal), rate


def evaluate_video(method: Method, clip: Clip, spec: WindowingSpec, hr_config: HRConfig) -> VideoEstimate:
    """Run `method` on each protocol window of `clip` and estimate predicted and reference HR.

    For a method that `estimates_hr`, each window's predicted HR is its `predict_hr` of the window.
    """
    if clip.reference is None:
        raise SignalError(f"{clip.record.id}: no reference signal to score against")
    signals, times, window_hr = [], [], []
    for start, stop in evaluation_windows(len(clip), clip.fps, spec):
        window = clip.window(start, stop)
        if method.gives_signal:
            signal = np.asarray(method.predict(window), dtype=np.float64)
            if signal.shape != (stop - start,):
                raise SignalError(
                    f"method {method.name!r} returned shape {signal.shape} for a window of {stop - start} frames"
                )
        else:
            signal = np.zeros(0, dtype=np.float64)
        if method.estimates_hr:
            window_hr.append(method_hr(method, window))
        signals.append(signal)
        times.append(np.asarray(clip.timestamps[start:stop], dtype=np.float64))
    return score_windows(signals, times, clip.reference, hr_config,
                         window_hr=window_hr if method.estimates_hr else None)  # fmt: skip


def method_hr(method: Method, window: Clip) -> float:
    """The method's own HR (bpm) of one evaluation window; SignalError unless a finite number."""
    value = method.predict_hr(window)
    try:
        hr = float(value)
    except (TypeError, ValueError) as exc:
        raise SignalError(f"method {method.name!r} predict_hr returned {value!r}, not a number") from exc
    if not math.isfinite(hr):
        raise SignalError(
            f"method {method.name!r} predict_hr returned {hr} for a window of {len(window)} frames"
        )
    return hr


def score_windows(
    signals: Sequence[np.ndarray],
    times: Sequence[np.ndarray],
    reference: Reference,
    hr_config: HRConfig,
    window_hr: Sequence[float] | None = None,
) -> VideoEstimate:
    """Predicted and reference HR, SNR and MACC of each window's signal, and their means over windows.

    Each window is put on a uniform time grid first (`uniform_signal`), so variable frame rates are
    scored at the times the frames were taken. `window_hr` (a method that estimates HR itself) gives
    the predicted HR of each window instead of the shared estimator; a window without a signal
    (length 0) then has NaN SNR and MACC.
    """
    from rppgbench.signal.agreement import macc

    if window_hr is not None and len(window_hr) != len(times):
        raise SignalError(f"{len(window_hr)} method HRs for {len(times)} windows")
    preds, refs, snrs, maccs, spans = [], [], [], [], []
    for i, (signal, stamps) in enumerate(zip(signals, times, strict=True)):
        stamps = np.asarray(stamps, dtype=np.float64)
        if window_hr is not None and len(signal) == 0:  # an HR-only method: the window's span, no signal
            _, rate = uniform_signal(np.zeros(len(stamps)), stamps)
            t0, t1 = float(stamps[0]), float(stamps[-1]) + 1.0 / rate
            preds.append(float(window_hr[i]))
            refs.append(reference_hr(reference, t0, t1, hr_config))
            snrs.append(math.nan)
            maccs.append(math.nan)
            spans.append((t0, t1))
            continue
        uniform, rate = uniform_signal(np.asarray(signal, dtype=np.float64), stamps)
        t0, t1 = float(stamps[0]), float(stamps[-1]) + 1.0 / rate
        preds.append(estimate_hr(uniform, rate, hr_config) if window_hr is None else float(window_hr[i]))
        refs.append(reference_hr(reference, t0, t1, hr_config))
        snrs.append(snr_db(uniform, rate, refs[-1], hr_config))
        grid = t0 + np.arange(len(uniform)) / rate
        maccs.append(macc(uniform, reference.resampled_to(grid), rate, hr_config) if reference.kind == "ppg"
                     else math.nan)  # fmt: skip
        spans.append((t0, t1))
    with warnings.catch_warnings():  # all-NaN MACC (an ECG or HR reference) is NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        video_macc = float(np.nanmean(maccs)) if maccs else math.nan
    return VideoEstimate(
        float(np.mean(preds)), float(np.mean(refs)), float(np.mean(snrs)), preds, refs,
        macc=video_macc, window_snr_db=snrs, window_macc=maccs, window_spans=spans,
        method_hr=window_hr is not None, signals=[np.asarray(s, dtype=np.float64) for s in signals], times=list(times),
    )  # fmt: skip
