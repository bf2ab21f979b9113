"""R-peak detection and heart rate from an ECG reference, after Pan & Tompkins (IEEE TBME 32(3), 1985).

Stages: 5-15 Hz band-pass, five-point derivative, squaring, 150 ms moving-window integration, then
adaptive signal/noise thresholds on the integrated waveform with a 200 ms refractory period, T-wave
discrimination by slope and search-back for missed beats. All filters are zero-phase, so no delay
correction is needed. Departures from the paper: thresholds are initialised from the median over all
2-s blocks rather than the first 2 s, and the T-wave slope is measured on a 0.5-40 Hz derivative.
Detections are moved to the R-wave extremum of the raw ECG, whose polarity is found from the data so
inverted leads work too.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, find_peaks, sosfiltfilt

from rppgbench.errors import SignalError
from rppgbench.signal.validate import check_signal

QRS_BAND_HZ = (5.0, 15.0)
INTEGRATION_S = 0.150
REFRACTORY_S = 0.200
T_WAVE_WINDOW_S = 0.360
REFINE_HALF_WIDTH_S = 0.080
MIN_RATE_HZ = 40.0
RR_LIMITS_S = (0.25, 2.5)  # 24-240 bpm: anything outside is not a plausible RR interval


def _five_point_derivative(x: np.ndarray, fs: float) -> np.ndarray:
    """Pan-Tompkins derivative (fs/8)(-x[n-2] - 2x[n-1] + 2x[n+1] + x[n+2]), centred (no delay)."""
    return np.convolve(x, np.array([1.0, 2.0, 0.0, -2.0, -1.0]) * (fs / 8.0), mode="same")


def _qrs_energy(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(wide-band derivative, QRS-band derivative, moving-window integral of its square), zero-phase.

    The wide-band (0.5-40 Hz) derivative serves the T-wave slope test: the 5-15 Hz band flattens the
    R wave's slope more than a T wave's, which would blur the distinction.
    """
    banded = sosfiltfilt(butter(3, QRS_BAND_HZ, btype="bandpass", fs=fs, output="sos"), x)
    derivative = _five_point_derivative(banded, fs)
    width = max(1, int(round(INTEGRATION_S * fs)))
    integrated = np.convolve(derivative**2, np.ones(width) / width, mode="same")
    wide_band = (0.5, min(40.0, 0.45 * fs))
    wide = sosfiltfilt(butter(2, wide_band, btype="bandpass", fs=fs, output="sos"), x)
    return _five_point_derivative(wide, fs), derivative, integrated


def _max_slope(derivative: np.ndarray, centre: int, half: int) -> float:
    return float(np.abs(derivative[max(0, centre - half) : centre + half + 1]).max())


def _threshold_beats(integrated: np.ndarray, slope: np.ndarray, fs: float) -> list[int]:
    """Pan-Tompkins decision rules on the integrated waveform; returns QRS locations (samples).

    `slope` is the derivative whose maximum separates a QRS from a T wave (less than half the previous
    QRS's maximum slope within 360 ms of it: a T wave).
    """
    refractory = max(1, int(round(REFRACTORY_S * fs)))
    candidates, _ = find_peaks(integrated, distance=refractory)
    if candidates.size == 0:
        return []
    # learning phase: Pan & Tompkins learn from the first 2 s; the median over all 2-s blocks is used
    # instead so that a flat or artefact-laden start does not set the thresholds
    block = max(1, int(2 * fs))
    blocks = integrated[: integrated.size // block * block].reshape(-1, block)
    if blocks.size == 0:
        blocks = integrated[None, :]
    spki = 0.25 * float(np.median(blocks.max(axis=1)))
    npki = 0.5 * float(np.median(blocks.mean(axis=1)))
    slope_half = max(1, int(round(0.075 * fs)))
    beats: list[int] = []
    slopes: list[float] = []
    rr: list[int] = []
    since_last: list[int] = []  # rejected candidates after the last beat, for search-back

    def accept(index: int, weight: float) -> None:
        nonlocal spki
        spki = weight * float(integrated[index]) + (1 - weight) * spki
        if beats:
            rr.append(index - beats[-1])
            del rr[:-8]
        beats.append(index)
        slopes.append(_max_slope(slope, index, slope_half))

    for index in candidates:
        index = int(index)
        threshold1 = npki + 0.25 * (spki - npki)
        if rr and beats and index - beats[-1] > 1.66 * np.mean(rr):  # missed beat: search back
            threshold2 = 0.5 * threshold1
            pool = [c for c in since_last if c - beats[-1] >= refractory and integrated[c] > threshold2]
            if pool:
                accept(max(pool, key=lambda c: integrated[c]), 0.25)
                since_last = [c for c in since_last if c > beats[-1]]
                threshold1 = npki + 0.25 * (spki - npki)
        value = float(integrated[index])
        if value > threshold1:
            near_last = bool(beats) and index - beats[-1] < T_WAVE_WINDOW_S * fs
            if near_last and _max_slope(slope, index, slope_half) < 0.5 * slopes[-1]:  # a T wave
                npki = 0.125 * value + 0.875 * npki
                since_last.append(index)
                continue
            accept(index, 0.125)
            since_last = []
        else:
            npki = 0.125 * value + 0.875 * npki
            since_last.append(index)
    return beats


def detect_r_peaks(ecg: np.ndarray, fs: float) -> np.ndarray:
    """Sample indices (int64, increasing) of the R peaks of an ECG sampled at `fs` Hz (>= 40 Hz).

    Pan-Tompkins QRS detection, then each detection moves to the largest deflection of the raw ECG
    (sign-corrected for the lead's polarity) within 80 ms. SignalError for unusable input.
    """
    x = check_signal(ecg, fs, min_seconds=2.0, name="ECG")
    rate = float(fs)
    if rate < MIN_RATE_HZ:
        raise SignalError(
            f"ECG sampled at {rate:g} Hz; QRS detection (5-15 Hz band) needs >= {MIN_RATE_HZ:g} Hz"
        )
    wide_derivative, _, integrated = _qrs_energy(x, rate)
    beats = np.asarray(_threshold_beats(integrated, wide_derivative, rate), dtype=np.int64)
    if beats.size == 0:
        return beats
    half = max(1, int(round(REFINE_HALF_WIDTH_S * rate)))
    offsets = np.arange(-half, half + 1)
    index = np.clip(beats[:, None] + offsets, 0, x.size - 1)
    segments = x[index]
    centred = segments - np.median(segments, axis=1, keepdims=True)
    polarity = 1.0 if np.median(centred.max(axis=1)) >= np.median(-centred.min(axis=1)) else -1.0
    refined = index[np.arange(beats.size), np.argmax(polarity * segments, axis=1)]
    refractory = int(round(REFRACTORY_S * rate))
    kept: list[int] = []
    for peak in np.unique(refined):  # two detections refined onto (nearly) the same R wave: keep one
        if kept and peak - kept[-1] < refractory:
            if polarity * x[peak] > polarity * x[kept[-1]]:
                kept[-1] = int(peak)
            continue
        kept.append(int(peak))
    return np.asarray(kept, dtype=np.int64)


def hr_from_ecg(ecg: np.ndarray, fs: float) -> float:
    """Heart rate (bpm) = 60 / median RR interval of the detected R peaks.

    RR intervals outside 0.25-2.5 s, or more than 30 % away from the median RR, are rejected first
    (missed or extra beats).
    """
    peaks = detect_r_peaks(ecg, fs)
    if peaks.size < 2:
        raise SignalError(f"ECG: found {peaks.size} R peak(s) in {np.size(ecg) / fs:.1f} s; need at least 2")
    rr = np.diff(peaks) / float(fs)
    rr = rr[(rr >= RR_LIMITS_S[0]) & (rr <= RR_LIMITS_S[1])]
    if rr.size == 0:
        raise SignalError("ECG: no RR interval between 0.25 and 2.5 s; the R peaks are implausible")
    rr = rr[np.abs(rr - np.median(rr)) <= 0.3 * np.median(rr)]  # keeps at least the median itself
    return 60.0 / float(np.median(rr))
