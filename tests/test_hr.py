"""Known-answer tests of the shared HR estimator on synthetic pulse signals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import butter, find_peaks, sosfreqz

from rppgbench.data import Reference
from rppgbench.errors import ConfigError, SignalError
from rppgbench.signal import hr
from rppgbench.signal.hr import HRConfig
from rppgbench.signal.validate import check_signal

FS = 30.0


def synthetic_ppg(
    bpm: float,
    seconds: float = 30.0,
    fs: float = FS,
    noise: float = 0.3,
    seed: int = 0,
    rsa_bpm: float = 1.0,
) -> np.ndarray:
    """Camera-like PPG: systolic + dicrotic wave per beat (harmonics), respiratory HR and amplitude
    modulation, large slow baseline wander and white noise. Mean HR is exactly `bpm`."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * fs))) / fs
    freq = bpm / 60.0 + rsa_bpm / 60.0 * np.sin(2 * np.pi * 0.25 * t)
    phase = (np.cumsum(freq) / fs + rng.uniform()) % 1.0
    wave = np.exp(-0.5 * ((phase - 0.25) / 0.11) ** 2) + 0.3 * np.exp(-0.5 * ((phase - 0.6) / 0.1) ** 2)
    wave *= 1.0 + 0.1 * np.sin(2 * np.pi * 0.25 * t)
    wander = 2.0 * np.sin(2 * np.pi * 0.05 * t + 1.0) + 0.5 * np.sin(2 * np.pi * 0.13 * t)
    return wave + wander + noise * rng.standard_normal(t.size)


def synthetic_ecg(bpm: float, seconds: float = 30.0, fs: float = 250.0, seed: int = 0) -> np.ndarray:
    """Gaussian P-QRS-T beats at exactly `bpm`, with baseline wander and noise."""
    t = np.arange(int(seconds * fs)) / fs
    beats = np.arange(0.5, seconds - 0.5, 60.0 / bpm)
    waves = (
        (0.15, -0.2, 0.025),
        (-0.12, -0.035, 0.01),
        (1.0, 0.0, 0.01),
        (-0.25, 0.035, 0.01),
        (0.35, 0.28, 0.05),
    )
    x = sum(a * np.exp(-0.5 * ((t[:, None] - beats - mu) / sd) ** 2).sum(axis=1) for a, mu, sd in waves)
    rng = np.random.default_rng(seed)
    return x + 0.3 * np.sin(2 * np.pi * 0.2 * t) + 0.03 * rng.standard_normal(t.size)


# ---------------------------------------------------------------- HR estimation


@pytest.mark.parametrize("method", ["welch", "periodogram"])
@pytest.mark.parametrize("bpm", [45.0, 60.0, 72.0, 90.0, 120.0, 150.0])
def test_spectral_methods_read_the_true_hr(method: str, bpm: float) -> None:
    for seed in range(2):
        x = synthetic_ppg(bpm, seconds=20.0, seed=seed)
        assert hr.estimate_hr(x, FS, HRConfig(method=method)) == pytest.approx(bpm, abs=1.0)


@pytest.mark.parametrize("bpm", [45.0, 60.0, 72.0, 90.0, 120.0, 150.0])
def test_peaks_method_reads_the_true_hr(bpm: float) -> None:
    # peak timing needs a cleaner signal than the spectrum: a dicrotic wave and noise are still present
    x = synthetic_ppg(bpm, seconds=30.0, noise=0.15, seed=1, rsa_bpm=0.5)
    assert hr.estimate_hr(x, FS, HRConfig(method="peaks")) == pytest.approx(bpm, abs=1.0)


def test_peaks_method_ignores_the_dicrotic_wave_at_low_hr() -> None:
    x = synthetic_ppg(45.0, seconds=30.0, noise=0.0)
    filtered = hr.preprocess(x, FS)
    all_maxima = find_peaks(filtered, distance=int(FS / 3))[0]
    assert all_maxima.size > 1.7 * 45 * 30 / 60  # the dicrotic wave makes a second maximum per beat
    assert hr.estimate_hr(x, FS, HRConfig(method="peaks")) == pytest.approx(45.0, abs=0.5)


def test_welch_and_periodogram_agree_and_welch_averages_long_signals() -> None:
    x = synthetic_ppg(84.0, seconds=60.0, noise=0.5)
    welch = hr.estimate_hr(x, FS, HRConfig(method="welch"))
    periodogram = hr.estimate_hr(x, FS, HRConfig(method="periodogram"))
    assert welch == pytest.approx(84.0, abs=1.0)
    assert periodogram == pytest.approx(welch, abs=1.0)
    nseg, starts = hr._segment_starts(x.size, FS, HRConfig(method="welch"))
    assert nseg == 300 and starts.tolist() == list(range(0, 1501, 150))  # 10 s, 50 % overlap


def test_estimate_hr_is_the_interpolated_peak_of_power_spectrum() -> None:
    x = synthetic_ppg(77.3, seconds=40.0)
    config = HRConfig(method="periodogram")
    freqs, power = hr.power_spectrum(hr.preprocess(x, FS, config), FS, config)
    band = (freqs * 60 >= 40) & (freqs * 60 <= 180)
    grid_peak = freqs[band][np.argmax(power[band])] * 60
    assert freqs[1] * 60 <= 0.1  # zero padding reaches the requested resolution
    assert hr.estimate_hr(x, FS, config) == pytest.approx(grid_peak, abs=0.1)


def test_spectral_estimate_is_finer_than_the_fft_grid() -> None:
    t = np.arange(int(10 * FS)) / FS
    for bpm in (61.23, 97.77):
        x = np.sin(2 * np.pi * bpm / 60 * t)
        assert hr.estimate_hr(x, FS, HRConfig(method="periodogram")) == pytest.approx(bpm, abs=0.05)


def test_search_is_restricted_to_the_band() -> None:
    t = np.arange(int(20 * FS)) / FS
    strong_slow = 3.0 * np.sin(2 * np.pi * 0.5 * t)  # 30 bpm: below the band, strongest component
    pulse = np.sin(2 * np.pi * 1.5 * t)  # 90 bpm
    assert hr.estimate_hr(strong_slow + pulse, FS) == pytest.approx(90.0, abs=0.5)
    narrow = HRConfig(band_bpm=(100.0, 180.0))
    assert 100.0 <= hr.estimate_hr(pulse, FS, narrow) <= 101.0  # out-of-band pulse: the lower edge wins


@pytest.mark.parametrize("bpm", [42.0, 175.0])
def test_hr_near_the_band_edges(bpm: float) -> None:
    x = synthetic_ppg(bpm, seconds=30.0, noise=0.1, rsa_bpm=0.0)
    assert hr.estimate_hr(x, FS) == pytest.approx(bpm, abs=1.0)


def test_other_sampling_rates_use_the_same_detrending_cut_off() -> None:
    x = synthetic_ppg(66.0, seconds=20.0, fs=256.0, noise=0.3)
    assert hr.estimate_hr(x, 256.0) == pytest.approx(66.0, abs=1.0)
    assert hr.effective_lambda(100.0, 60.0) == pytest.approx(400.0)


# ---------------------------------------------------------------- sliding windows


def test_hr_over_time_tracks_a_step_change() -> None:
    x = np.concatenate([synthetic_ppg(70.0, 30.0, seed=1), synthetic_ppg(110.0, 30.0, seed=2)])
    times, bpm = hr.hr_over_time(x, FS, window_s=10.0, step_s=1.0)
    assert times[0] == pytest.approx(5.0) and np.diff(times) == pytest.approx(np.ones(times.size - 1))
    assert times.size == 51
    before, after = bpm[times <= 25.0], bpm[times >= 35.0]
    assert np.all(np.abs(before - 70.0) < 2.0) and np.all(np.abs(after - 110.0) < 2.0)


@pytest.mark.parametrize("method", ["welch", "peaks"])
def test_hr_over_time_equals_estimate_hr_per_window(method: str) -> None:
    config = HRConfig(method=method)
    x = synthetic_ppg(80.0, seconds=24.0, noise=0.15)
    times, bpm = hr.hr_over_time(x, FS, window_s=8.0, step_s=2.5, config=config)
    starts = np.round(np.arange(times.size) * 2.5 * FS).astype(int)
    expected = [hr.estimate_hr(x[s : s + 240], FS, config) for s in starts]
    assert bpm == pytest.approx(expected, abs=1e-9)
    assert times == pytest.approx((starts + 120) / FS)


def test_hr_over_time_marks_a_flat_window_nan() -> None:
    x = synthetic_ppg(75.0, seconds=30.0)
    x[:300] = 0.0  # the sensor was blocked for the first 10 s
    _, bpm = hr.hr_over_time(x, FS, window_s=10.0, step_s=10.0)
    assert math.isnan(bpm[0]) and bpm[1:] == pytest.approx([75.0, 75.0], abs=1.0)


# ---------------------------------------------------------------- filters


def test_detrend_equals_the_dense_formula() -> None:
    rng = np.random.default_rng(3)
    for n, lam in ((3, 5.0), (4, 2.0), (50, 10.0), (200, 100.0)):
        x = np.cumsum(rng.standard_normal(n))
        d2 = np.diff(np.eye(n), n=2, axis=0)
        dense = x - np.linalg.solve(np.eye(n) + lam**2 * d2.T @ d2, x)
        assert hr.detrend(x, lam) == pytest.approx(dense, abs=1e-9)
    batch = rng.standard_normal((4, 100))
    assert hr.detrend(batch, 30.0) == pytest.approx(np.stack([hr.detrend(b, 30.0) for b in batch]))


def test_detrend_removes_a_slow_trend_and_keeps_the_pulse() -> None:
    t = np.arange(600) / FS
    pulse = np.sin(2 * np.pi * 1.2 * t)
    out = hr.detrend(pulse + 0.5 * t + 3.0, 100.0)
    assert np.abs(out[60:-60] - pulse[60:-60]).max() < 0.1
    with pytest.raises(ConfigError, match="positive"):
        hr.detrend(pulse, 0.0)


def test_bandpass_is_zero_phase_and_rejects_out_of_band() -> None:
    t = np.arange(int(20 * FS)) / FS
    pulse = np.sin(2 * np.pi * 1.2 * t)
    out = hr.bandpass(pulse + np.sin(2 * np.pi * 8.0 * t), FS, (40.0, 180.0), 4)
    middle = slice(150, -150)
    lag = np.argmax(np.correlate(out[middle], pulse[middle], mode="full")) - (out[middle].size - 1)
    assert lag == 0
    assert np.abs(out[middle] - pulse[middle]).max() < 0.05


def test_bandpass_above_nyquist_is_a_clear_error() -> None:
    with pytest.raises(SignalError, match="Nyquist"):
        hr.bandpass(np.random.default_rng(0).standard_normal(100), 5.0, (40.0, 180.0), 4)


# ---------------------------------------------------------------- SNR


def _preprocessing_gain(f_hz: float, config: HRConfig) -> float:
    """Amplitude gain of detrending (steady state) and forward-backward Butterworth at `f_hz`."""
    lam = config.detrend_lambda  # at 30 Hz, so no rate scaling
    detrend_gain = 1 - 1 / (1 + 16 * lam**2 * math.sin(math.pi * f_hz / FS) ** 4)
    sos = butter(
        config.filter_order, [b / 60 for b in config.band_bpm], btype="bandpass", fs=FS, output="sos"
    )
    _, response = sosfreqz(sos, worN=[f_hz], fs=FS)
    return detrend_gain * abs(response[0]) ** 2


def test_snr_matches_a_hand_computation() -> None:
    t = np.arange(int(60 * FS)) / FS
    pulse = np.sin(2 * np.pi * 1.2 * t) + 0.5 * np.sin(2 * np.pi * 2.4 * t)  # 72 bpm + first harmonic
    interference = 0.25 * np.sin(2 * np.pi * 1.75 * t)  # 105 bpm, outside both template windows
    x = pulse + interference
    # without preprocessing: signal power (1 + 0.5^2) / 2, noise 0.25^2 / 2 -> 10 log10(1.25 / 0.0625)
    no_gain = 10 * math.log10(1.25 / 0.0625)
    assert no_gain == pytest.approx(13.0103, abs=1e-4)
    for method in ("periodogram", "welch"):  # template +-6 bpm, and +-12 bpm for 10-s Welch segments
        config = HRConfig(method=method)
        g = {f: _preprocessing_gain(f, config) for f in (1.2, 2.4, 1.75)}
        expected = 10 * math.log10((g[1.2] ** 2 + 0.25 * g[2.4] ** 2) / (0.0625 * g[1.75] ** 2))
        assert abs(expected - no_gain) < 0.5
        assert hr.snr_db(x, FS, 72.0, config) == pytest.approx(expected, abs=0.05)
    # a 6 bpm template on 10-s Hann segments misses part of the main lobe: lower SNR
    assert hr.snr_db(x, FS, 72.0, half_width_bpm=6.0) < no_gain - 1.0


def test_snr_is_higher_for_a_clean_signal() -> None:
    clean = hr.snr_db(synthetic_ppg(72.0, noise=0.05), FS, 72.0)
    noisy = hr.snr_db(synthetic_ppg(72.0, noise=1.0), FS, 72.0)
    assert clean > noisy + 6.0
    assert hr.snr_db(synthetic_ppg(72.0, noise=0.05), FS, 110.0) < clean - 10.0  # wrong reference HR
    with pytest.raises(SignalError, match="reference HR"):
        hr.snr_db(synthetic_ppg(72.0), FS, float("nan"))


# ---------------------------------------------------------------- reference HR


def test_reference_hr_from_ppg_uses_the_same_estimator() -> None:
    fs_ref = 64.0
    values = synthetic_ppg(68.0, seconds=40.0, fs=fs_ref, noise=0.1)
    times = np.arange(values.size) / fs_ref
    reference = Reference("ppg", values, times)
    config = HRConfig()
    got = hr.reference_hr(reference, 10.0, 30.0, config)
    assert got == pytest.approx(68.0, abs=1.0)
    assert got == pytest.approx(hr.estimate_hr(values[640:1920], fs_ref, config), abs=1e-6)


def test_reference_hr_from_jittered_ppg_times() -> None:
    fs_ref = 60.0
    values = synthetic_ppg(95.0, seconds=30.0, fs=fs_ref, noise=0.1)
    jitter = np.random.default_rng(0).uniform(-0.003, 0.003, values.size)
    reference = Reference("ppg", values, np.arange(values.size) / fs_ref + jitter)
    assert hr.reference_hr(reference, 0.0, 30.0) == pytest.approx(95.0, abs=1.0)


def test_reference_hr_from_ecg_and_hr_series() -> None:
    ecg = synthetic_ecg(84.0, seconds=30.0)
    reference = Reference("ecg", ecg, np.arange(ecg.size) / 250.0)
    assert hr.reference_hr(reference, 5.0, 25.0) == pytest.approx(84.0, abs=1.0)
    series = Reference("hr", np.array([70.0, 72.0, np.nan, 74.0, 90.0]), np.array([0.0, 1.0, 2.0, 3.0, 10.0]))
    assert hr.reference_hr(series, 0.0, 5.0) == pytest.approx(72.0)
    with pytest.raises(SignalError, match="no finite"):
        hr.reference_hr(series, 1.5, 2.5)


def test_reference_hr_refuses_a_span_with_too_little_reference() -> None:
    values = synthetic_ppg(70.0, seconds=10.0, fs=60.0)
    reference = Reference("ppg", values, np.arange(values.size) / 60.0)
    with pytest.raises(SignalError, match="covers only"):
        hr.reference_hr(reference, 7.0, 20.0)
    with pytest.raises(SignalError, match="too few"):
        hr.reference_hr(reference, 20.0, 30.0)
    holed = Reference("ppg", np.delete(values, np.s_[200:300]), np.delete(reference.times, np.s_[200:300]))
    with pytest.raises(SignalError, match="gap"):
        hr.reference_hr(holed, 0.0, 10.0)


# ---------------------------------------------------------------- config and input checks


def test_config_round_trip_and_validation() -> None:
    config = HRConfig(method="peaks", band_bpm=(45, 150), filter_order=3)
    assert config.band_bpm == (45.0, 150.0)
    data = config.to_dict()
    assert data["band_bpm"] == [45.0, 150.0]
    assert HRConfig.from_dict(data) == config
    assert HRConfig.from_dict({"band_bpm": [40, 180]}) == HRConfig()
    with pytest.raises(ConfigError, match="valid: method, band_bpm"):
        HRConfig.from_dict({"metod": "welch"})
    for bad in (
        {"method": "fft"},
        {"band_bpm": [180, 40]},
        {"band_bpm": [40]},
        {"filter_order": 2.5},
        {"detrend_lambda": -1},
        {"welch_overlap": 1.0},
        {"resolution_bpm": 0},
    ):
        with pytest.raises(ConfigError):
            HRConfig.from_dict(bad)


def test_check_signal_reports_specific_problems() -> None:
    good = check_signal([1, 2, 3.5], 1.0)
    assert good.dtype == np.float64 and good.tolist() == [1.0, 2.0, 3.5]
    with pytest.raises(SignalError, match="NaN values at 1 of 3"):
        check_signal([1.0, np.nan, 2.0], 30.0)
    with pytest.raises(SignalError, match="infinite"):
        check_signal([1.0, np.inf, 2.0], 30.0)
    with pytest.raises(SignalError, match="constant"):
        check_signal(np.full(90, 3.0), 30.0)
    with pytest.raises(SignalError, match="1-D"):
        check_signal(np.ones((10, 3)), 30.0)
    with pytest.raises(SignalError, match=r"too short: 30 samples \(1.00 s at 30 Hz\); needs at least 45"):
        check_signal(np.arange(30.0), 30.0, min_seconds=1.5)
    with pytest.raises(SignalError, match="sampling rate"):
        check_signal(np.arange(30.0), 0.0)
    rgb = check_signal(np.random.default_rng(0).random((60, 3)), 30.0, channels=True)
    assert rgb.shape == (60, 3)
    with pytest.raises(SignalError, match="constant"):
        check_signal(np.ones((60, 3)), 30.0, channels=True)
    with pytest.raises(SignalError, match=r"\(time, channels\)"):
        check_signal(np.ones(60), 30.0, channels=True)


def test_estimate_hr_rejects_unusable_signals() -> None:
    with pytest.raises(SignalError, match="too short"):
        hr.estimate_hr(np.random.default_rng(0).standard_normal(30), FS)  # 1 s < 1.5 s (40 bpm)
    with pytest.raises(SignalError, match="constant"):
        hr.estimate_hr(np.zeros(300), FS)
    with pytest.raises(SignalError, match="systolic peaks"):
        hr.estimate_hr(np.r_[np.zeros(149), 1.0, np.zeros(150)], FS, HRConfig(method="peaks"))
