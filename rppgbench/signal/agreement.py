"""Waveform agreement between a method's rPPG signal and the reference PPG: MACC.

MACC (maximum amplitude of cross-correlation; Mironenko et al. 2020, also reported by rPPG-Toolbox):
both signals are band-passed to the HR band and standardised, and the largest absolute normalised
cross-correlation over lags of at most `max_lag_s` seconds is taken. 1 means the same pulse shape
up to a delay and sign; 0 means no linear relation.
"""

from __future__ import annotations

import math

import numpy as np

from rppgbench.signal.hr import DEFAULT_CONFIG, HRConfig, bandpass


def macc(
    signal: np.ndarray,
    reference: np.ndarray,
    fs: float,
    config: HRConfig = DEFAULT_CONFIG,
    max_lag_s: float = 1.0,
) -> float:
    """MACC of two equally sampled signals (same length); NaN when either is too short or flat."""
    x = np.asarray(signal, dtype=np.float64)
    y = np.asarray(reference, dtype=np.float64)
    n = min(len(x), len(y))
    if n < 8 or not (np.all(np.isfinite(x[:n])) and np.all(np.isfinite(y[:n]))):
        return math.nan
    x = bandpass(x[:n], fs, config.band_bpm, config.filter_order)
    y = bandpass(y[:n], fs, config.band_bpm, config.filter_order)
    if x.std() == 0 or y.std() == 0:
        return math.nan
    x = (x - x.mean()) / x.std()
    y = (y - y.mean()) / y.std()
    lag = min(n - 1, int(round(max_lag_s * fs)))
    full = np.correlate(x, y, mode="full") / n
    centre = n - 1
    return float(np.max(np.abs(full[centre - lag : centre + lag + 1])))
