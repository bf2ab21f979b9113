"""Parameters and steps shared by the classical methods: input checks, band-pass, polarity."""

from __future__ import annotations

import numpy as np

from rppgbench.errors import ConfigError, SignalError
from rppgbench.params import Param
from rppgbench.signal.validate import check_signal
from rppgbench.traces import orient_to_blood_volume

MIN_SECONDS = 2.0
DEFAULT_BAND = (40.0, 180.0)
FILTER_ORDER = 4

BAND = Param("band_bpm", DEFAULT_BAND, "pulse band in beats per minute, for band-pass filtering")


def window_param(default: float) -> Param:
    """The window-length parameter in seconds."""
    return Param("window_s", default, "sliding-window length in seconds")


def check_traces(rgb: object, fps: float, name: str, min_seconds: float = MIN_SECONDS) -> np.ndarray:
    """(T, 3) float64 traces checked for shape, finiteness, length and positive channel means."""
    arr = check_signal(
        rgb, fps, min_seconds=min_seconds, name=f"{name} RGB traces", channels=True, min_samples=8
    )
    if arr.shape[1] != 3:
        raise SignalError(f"{name} RGB traces: expected 3 colour channels, got shape {arr.shape}")
    if np.any(arr.mean(axis=0) <= 0):
        raise SignalError(
            f"{name} RGB traces: channel means {arr.mean(axis=0)} must be positive "
            "(traces are mean intensities)"
        )
    return arr


def check_band(band: tuple[float, float], name: str) -> tuple[float, float]:
    """The band as two increasing positive bpm values."""
    lo, hi = (float(v) for v in band)
    if not 0 < lo < hi:
        raise ConfigError(f"{name}: band_bpm must be two increasing positive values, got {band!r}")
    return lo, hi


def bandpass_channels(x: np.ndarray, fps: float, band: tuple[float, float]) -> np.ndarray:
    """Each column of (T, C) band-passed with the shared zero-phase Butterworth filter."""
    from rppgbench.signal.hr import bandpass  # scipy loads when a method runs, not at start-up

    return bandpass(x.T, fps, band, FILTER_ORDER).T


def finish(
    signal: np.ndarray, rgb: np.ndarray, fps: float, band: tuple[float, float], filtered: bool
) -> np.ndarray:
    """Band-pass (unless already done), orient to rise with blood volume, return float64 (T,)."""
    from rppgbench.signal.hr import bandpass

    out = signal if filtered else bandpass(signal, fps, band, FILTER_ORDER)
    return np.ascontiguousarray(orient_to_blood_volume(np.asarray(out, dtype=np.float64), rgb, fps, band))
