"""R-peak detection on synthetic ECG with known beat times."""

from __future__ import annotations

import numpy as np
import pytest

from rppgbench.errors import SignalError
from rppgbench.signal.ecg import detect_r_peaks, hr_from_ecg

FS = 250.0
# (amplitude mV, offset from R s, width s) of the P, Q, R, S and T waves
WAVES = (
    (0.15, -0.20, 0.025),
    (-0.12, -0.035, 0.010),
    (1.0, 0.0, 0.010),
    (-0.25, 0.035, 0.010),
    (0.35, 0.28, 0.05),
)


def synthetic_ecg(
    bpm: float, seconds: float = 30.0, fs: float = FS, noise: float = 0.03, seed: int = 0, hrv: float = 0.03
) -> tuple[np.ndarray, np.ndarray]:
    """(ECG, true R times in s): Gaussian P-QRS-T beats with RR variability, 0.2 Hz baseline wander,
    50 Hz mains and white noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * fs)) / fs
    rr = 60.0 / bpm * (1 + hrv * rng.standard_normal(int(seconds * bpm / 60) + 5))
    beats = 0.5 + np.concatenate(([0.0], np.cumsum(rr)))
    beats = beats[beats < seconds - 0.5]
    x = np.zeros_like(t)
    for amplitude, offset, width in WAVES:
        x += amplitude * np.exp(-0.5 * ((t[:, None] - beats - offset) / width) ** 2).sum(axis=1)
    x += 0.3 * np.sin(2 * np.pi * 0.2 * t) + 0.05 * np.sin(2 * np.pi * 50 * t)
    return x + noise * rng.standard_normal(t.size), beats


@pytest.mark.parametrize("bpm", [45.0, 72.0, 120.0, 170.0])
@pytest.mark.parametrize("inverted", [False, True])
def test_r_peaks_found_within_10_ms(bpm: float, inverted: bool) -> None:
    ecg, beats = synthetic_ecg(bpm, seed=int(bpm))
    peaks = detect_r_peaks(-ecg if inverted else ecg, FS)
    assert peaks.dtype == np.int64 and np.all(np.diff(peaks) > 0)
    assert peaks.size == beats.size  # no missed and no extra beat
    assert np.abs(peaks / FS - beats).max() <= 0.010
    true_hr = 60.0 / np.median(np.diff(beats))
    assert hr_from_ecg(-ecg if inverted else ecg, FS) == pytest.approx(true_hr, abs=1.0)


def test_noisy_ecg_with_t_waves_as_tall_as_r() -> None:
    ecg, beats = synthetic_ecg(80.0, noise=0.1, seed=5)
    t = np.arange(ecg.size) / FS
    ecg += 0.65 * np.exp(-0.5 * ((t[:, None] - beats - 0.28) / 0.05) ** 2).sum(axis=1)  # T of 1 mV
    peaks = detect_r_peaks(ecg, FS)
    assert peaks.size == beats.size and np.abs(peaks / FS - beats).max() <= 0.010


@pytest.mark.parametrize("seed", [5, 6])
def test_sharp_t_waves_are_rejected_by_their_slope(seed: int) -> None:
    # T waves sharp enough to pass the energy threshold; only the slope rule tells them from a QRS
    ecg, beats = synthetic_ecg(70.0, seed=seed)
    t = np.arange(ecg.size) / FS
    ecg += 0.85 * np.exp(-0.5 * ((t[:, None] - beats - 0.25) / 0.03) ** 2).sum(axis=1)
    peaks = detect_r_peaks(ecg, FS)
    assert peaks.size == beats.size and np.abs(peaks / FS - beats).max() <= 0.010


def test_missed_low_amplitude_beat_is_recovered_by_search_back() -> None:
    ecg, beats = synthetic_ecg(70.0, seed=2, hrv=0.0)
    t = np.arange(ecg.size) / FS
    # one beat with its QRS at 45 % amplitude (~20 % of the energy): below the first threshold,
    # above the search-back threshold
    qrs = sum(a * np.exp(-0.5 * ((t - beats[15] - o) / w) ** 2) for a, o, w in WAVES[1:4])
    ecg -= 0.55 * qrs
    peaks = detect_r_peaks(ecg, FS)
    assert peaks.size == beats.size and np.abs(peaks / FS - beats).max() <= 0.010


def test_hr_from_ecg_rejects_outlier_rr() -> None:
    ecg, beats = synthetic_ecg(60.0, seed=3, hrv=0.0)
    t = np.arange(ecg.size) / FS
    ecg += 1.5 * np.exp(-0.5 * ((t - beats[10] - 0.5) / 0.01) ** 2)  # an artefact spike mid-RR
    assert hr_from_ecg(ecg, FS) == pytest.approx(60.0, abs=0.5)


def test_unusable_ecg_is_refused() -> None:
    with pytest.raises(SignalError, match="needs >= 40 Hz"):
        detect_r_peaks(np.random.default_rng(0).standard_normal(300), 30.0)
    with pytest.raises(SignalError, match="too short"):
        detect_r_peaks(np.random.default_rng(0).standard_normal(100), FS)
    with pytest.raises(SignalError, match="constant"):
        hr_from_ecg(np.zeros(2500), FS)
    one_beat, beats = synthetic_ecg(30.0, seconds=2.4)
    assert beats.size == 1
    with pytest.raises(SignalError, match="found 1 R peak"):
        hr_from_ecg(one_beat, FS)


def test_flat_start_does_not_create_beats() -> None:
    ecg, beats = synthetic_ecg(75.0, seed=4)
    ecg[: int(4 * FS)] = 0.01 * np.random.default_rng(1).standard_normal(int(4 * FS))  # lead off for 4 s
    beats = beats[beats > 4.1]
    peaks = detect_r_peaks(ecg, FS)
    assert peaks.size == beats.size and np.abs(peaks / FS - beats).max() <= 0.010
