"""Turns a method's signal on a test video into the video's predicted and reference HR.

The protocol cuts each test video into windows (e.g. three 10-s clips); each window's signal goes
through the shared HR estimator; the video's HR is the mean over its windows, for the prediction and
the reference alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rppgbench.data import Clip
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
    """Run `method` on each protocol window of `clip` and estimate predicted and reference HR."""
    if clip.reference is None:
        raise SignalError(f"{clip.record.id}: no reference signal to score against")
    fps = clip.fps
    preds, refs, snrs = [], [], []
    for start, stop in evaluation_windows(len(clip), fps, spec):
        window = clip.window(start, stop)
        signal = np.asarray(method.predict(window), dtype=np.float64)
        if signal.shape != (stop - start,):
            raise SignalError(
                f"method {method.name!r} returned shape {signal.shape} for a window of {stop - start} frames"
            )
        signal, rate = uniform_signal(signal, np.asarray(clip.timestamps[start:stop], dtype=np.float64))
        t0 = float(clip.timestamps[start])
        t1 = float(clip.timestamps[stop - 1]) + 1.0 / rate
        preds.append(estimate_hr(signal, rate, hr_config))
        refs.append(reference_hr(clip.reference, t0, t1, hr_config))
        snrs.append(snr_db(signal, rate, refs[-1], hr_config))
    return VideoEstimate(float(np.mean(preds)), float(np.mean(refs)), float(np.mean(snrs)), preds, refs)
