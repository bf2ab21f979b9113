"""The one heart-rate estimator: every method, the runner, `predict` and training use these functions.

Pipeline for a pulse signal: smoothness-priors detrending -> zero-phase Butterworth band-pass ->
spectral peak inside the HR band (Welch or zero-padded periodogram, Hann window, log-parabolic peak
interpolation) or systolic peak detection. `hr_over_time` applies exactly the same estimator to every
sliding window at once, so a window's value equals `estimate_hr` on that window.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import fft as sfft
from scipy.linalg import solveh_banded
from scipy.signal import butter, find_peaks, sosfiltfilt
from scipy.signal.windows import hann

from rppgbench.data import Reference
from rppgbench.errors import ConfigError, SignalError
from rppgbench.signal.ecg import hr_from_ecg
from rppgbench.signal.validate import check_rate, check_signal

HR_METHODS = ("welch", "periodogram", "peaks")
LAMBDA_REFERENCE_FS = 30.0
"""`HRConfig.detrend_lambda` is the smoothness parameter at this rate (Hz); see `effective_lambda`."""
MAX_REFERENCE_GAP_S = 1.0
"""A PPG/ECG reference with a hole longer than this inside the evaluated span is refused."""
_MAX_BATCH_ELEMENTS = 4_000_000  # bounds the memory of batched FFTs (complex values per chunk)


@dataclass(frozen=True)
class HRConfig:
    """Settings of the shared HR estimator; protocols set them in their `[hr]` table.

    method: "welch" (averaged Hann periodograms of `welch_seconds` segments overlapping by
        `welch_overlap`, i.e. 50 % by default; a window no longer than one segment is one periodogram),
        "periodogram" (one Hann periodogram of the whole window) or "peaks" (systolic peak detection,
        HR = 60 / median inter-beat interval).
    band_bpm: HR search band in beats per minute (also the band-pass pass band).
    detrend_lambda: smoothness-priors lambda at 30 Hz (scaled by (fs/30)^2 at other rates so the
        trend cut-off, about 0.48 Hz = 29 bpm for 100, does not depend on the rate); 0 disables it.
    filter_order: Butterworth order of the band-pass (applied forwards and backwards: zero phase).
    resolution_bpm: the spectrum is zero-padded so its frequency grid is at least this fine.
    peak_prominence: "peaks" method: a systolic peak's prominence must reach this fraction of the
        typical beat's (90th percentile of the candidate maxima's prominences).
    """

    method: str = "welch"
    band_bpm: tuple[float, float] = (40.0, 180.0)
    detrend_lambda: float = 100.0
    filter_order: int = 4
    resolution_bpm: float = 0.1
    welch_seconds: float = 10.0
    welch_overlap: float = 0.5
    peak_prominence: float = 0.5

    def __post_init__(self) -> None:
        if self.method not in HR_METHODS:
            raise ConfigError(f"hr.method {self.method!r} is not one of {list(HR_METHODS)}")
        band = self.band_bpm
        if isinstance(band, str) or not hasattr(band, "__len__") or len(band) != 2:
            raise ConfigError(f"hr.band_bpm must be two numbers [low, high] in bpm, got {band!r}")
        low, high = (_number("band_bpm", v) for v in band)
        if not 0 < low < high:
            raise ConfigError(f"hr.band_bpm must satisfy 0 < low < high, got [{low:g}, {high:g}]")
        object.__setattr__(self, "band_bpm", (low, high))
        for name, low_ok in (("detrend_lambda", 0.0), ("welch_overlap", 0.0), ("peak_prominence", 0.0)):
            value = _number(name, getattr(self, name))
            if value < low_ok:
                raise ConfigError(f"hr.{name} must be >= {low_ok:g}, got {value:g}")
            object.__setattr__(self, name, value)
        for name in ("resolution_bpm", "welch_seconds"):
            value = _number(name, getattr(self, name))
            if value <= 0:
                raise ConfigError(f"hr.{name} must be > 0, got {value:g}")
            object.__setattr__(self, name, value)
        if self.welch_overlap >= 1:
            raise ConfigError(f"hr.welch_overlap must be in [0, 1), got {self.welch_overlap:g}")
        order = self.filter_order
        if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not 1 <= order <= 10:
            raise ConfigError(f"hr.filter_order must be an integer from 1 to 10, got {order!r}")
        object.__setattr__(self, "filter_order", int(order))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/TOML-ready values (band as a list); `from_dict(to_dict())` gives an equal config."""
        data = asdict(self)
        data["band_bpm"] = list(self.band_bpm)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> HRConfig:
        """Build from a protocol's `[hr]` table; unknown names raise ConfigError listing the valid ones."""
        data = dict(data or {})
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(valid))
        if unknown:
            from rppgbench.protocol_schema import did_you_mean

            hint = did_you_mean(unknown[0], valid)
            raise ConfigError(
                f"unknown key(s) {', '.join(map(repr, unknown))}{hint}; valid: {', '.join(valid)}"
            )
        if isinstance(data.get("band_bpm"), list):
            data["band_bpm"] = tuple(data["band_bpm"])
        return cls(**data)


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"hr.{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"hr.{name} must be finite, got {value!r}")
    return value


DEFAULT_CONFIG = HRConfig()


# ---------------------------------------------------------------- preprocessing


def effective_lambda(lam: float, fs: float) -> float:
    """`lam` (given at 30 Hz) scaled to rate `fs` so the detrending cut-off frequency stays the same.

    The trend filter's response is 1 / (1 + 16 lam^2 sin^4(pi f / fs)); keeping f fixed needs lam ~ fs^2.
    """
    return float(lam) * (float(fs) / LAMBDA_REFERENCE_FS) ** 2


def detrend(x: np.ndarray, lam: float) -> np.ndarray:
    """Smoothness-priors detrending (Tarvainen, Ranta-aho & Karjalainen, IEEE TBME 49(2), 2002).

    Returns x - (I + lam^2 D2'D2)^-1 x along the last axis, with D2 the second-difference matrix. The
    pentadiagonal system is solved by banded Cholesky (linear in length; a (B, n) batch shares one
    factorisation). `lam` is in samples, as in the paper; it must be > 0.
    """
    lam = float(lam)
    if not math.isfinite(lam) or lam <= 0:
        raise ConfigError(
            f"detrend lambda must be a positive number, got {lam!r} (set 0 in HRConfig to skip)"
        )
    arr = np.asarray(x, dtype=np.float64)
    n = arr.shape[-1]
    if n < 3:
        raise SignalError(f"detrending needs at least 3 samples, got {n}")
    rhs = arr.reshape(-1, n).T  # (n, batch)
    trend = solveh_banded(_smoothness_bands(n, lam), rhs, check_finite=False, lower=False)
    return arr - trend.T.reshape(arr.shape)


def _smoothness_bands(n: int, lam: float) -> np.ndarray:
    """Upper banded storage of I + lam^2 D2'D2 (diagonals [1,5,6..6,5,1], [-2,-4..-4,-2], [1..1])."""
    lam2 = lam * lam
    bands = np.zeros((3, n))
    diag = np.full(n, 6.0)
    diag[[0, -1]] = 1.0
    diag[[1, -2]] = 5.0
    if n == 3:  # one difference row only: D2'D2 = [1, -2, 1]' [1, -2, 1]
        diag[:] = (1.0, 4.0, 1.0)
    off1 = np.full(n - 1, -4.0)
    off1[[0, -1]] = -2.0
    bands[2] = 1.0 + lam2 * diag
    bands[1, 1:] = lam2 * off1
    bands[0, 2:] = lam2
    return bands


@lru_cache(maxsize=64)
def _bandpass_sos(order: int, low_hz: float, high_hz: float, fs: float) -> np.ndarray:
    return butter(order, [low_hz, high_hz], btype="bandpass", fs=fs, output="sos")


def bandpass(x: np.ndarray, fs: float, band_bpm: tuple[float, float], order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth band-pass (SOS, forward-backward) along the last axis; band in bpm.

    The ends are padded by odd reflection over one period of the band's lower edge, which keeps the
    filter's start-up transient out of short windows.
    """
    rate = check_rate(fs)
    low, high = float(band_bpm[0]) / 60.0, float(band_bpm[1]) / 60.0
    if not 0 < low < high:
        raise ConfigError(f"band {list(band_bpm)} bpm must satisfy 0 < low < high")
    if high >= rate / 2:
        raise SignalError(
            f"band upper edge {band_bpm[1]:g} bpm ({high:.3g} Hz) is at or above the Nyquist frequency "
            f"({rate / 2:.3g} Hz) of a {rate:g} Hz signal; lower the band or use a higher sampling rate"
        )
    arr = np.asarray(x, dtype=np.float64)
    n = arr.shape[-1]
    if n < 2:
        raise SignalError(f"band-pass filtering needs at least 2 samples, got {n}")
    padlen = min(n - 1, int(round(rate / low)))
    return sosfiltfilt(_bandpass_sos(int(order), low, high, rate), arr, axis=-1, padlen=padlen)


def preprocess(x: np.ndarray, fs: float, config: HRConfig = DEFAULT_CONFIG) -> np.ndarray:
    """Detrend (unless `detrend_lambda` is 0) and band-pass along the last axis, as `estimate_hr` does."""
    arr = np.asarray(x, dtype=np.float64)
    if config.detrend_lambda > 0:
        arr = detrend(arr, effective_lambda(config.detrend_lambda, fs))
    return bandpass(arr, fs, config.band_bpm, config.filter_order)


def min_seconds(config: HRConfig = DEFAULT_CONFIG) -> float:
    """Shortest signal the estimator accepts: one period of the band's lower edge."""
    return 60.0 / config.band_bpm[0]


# ---------------------------------------------------------------- spectra


def _segment_starts(n: int, fs: float, config: HRConfig) -> tuple[int, np.ndarray]:
    """Segment length and starts for the spectral estimate of an n-sample window."""
    if config.method == "periodogram":
        return n, np.zeros(1, dtype=np.int64)
    nseg = min(n, max(8, int(round(config.welch_seconds * fs))))
    step = max(1, int(round(nseg * (1.0 - config.welch_overlap))))
    return nseg, np.arange(0, n - nseg + 1, step, dtype=np.int64)


def _spectral_config(config: HRConfig) -> HRConfig:
    """The config whose spectrum `power_spectrum` computes: "peaks" configs use the Welch settings."""
    return config if config.method != "peaks" else HRConfig(**{**config.to_dict(), "method": "welch"})


def _fine_nfft(nseg: int, fs: float, resolution_bpm: float) -> int:
    """FFT length giving a grid spacing of at most `resolution_bpm` (and at least the segment)."""
    return sfft.next_fast_len(max(nseg, math.ceil(fs * 60.0 / resolution_bpm)), real=True)


def _tapered_segments(windows: np.ndarray, nseg: int, starts: np.ndarray) -> np.ndarray:
    """(B, S, nseg) mean-removed, Hann-tapered segments of (B, n) windows."""
    segs = windows[:, starts[:, None] + np.arange(nseg)]
    segs = segs - segs.mean(axis=-1, keepdims=True)
    return segs * hann(nseg, sym=False)


def power_spectrum(
    x: np.ndarray, fs: float, config: HRConfig = DEFAULT_CONFIG
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided power spectral density of `x` as given (no filtering): (freqs_hz, power).

    Welch (segments as in `HRConfig`) or a single periodogram, Hann window, each segment's mean removed,
    zero-padded to the `resolution_bpm` grid. Scaled like scipy's 'density' (units^2 / Hz). For "peaks"
    configs the Welch settings are used. Shared by `estimate_hr`, `snr_db` and plots.
    """
    arr = check_signal(x, fs, min_samples=8)
    rate = float(fs)
    nseg, starts = _segment_starts(arr.size, rate, _spectral_config(config))
    nfft = _fine_nfft(nseg, rate, config.resolution_bpm)
    window = hann(nseg, sym=False)
    total = np.zeros(nfft // 2 + 1)
    chunk = max(1, _MAX_BATCH_ELEMENTS // nfft)
    for first in range(0, starts.size, chunk):
        segs = _tapered_segments(arr[None], nseg, starts[first : first + chunk])[0]
        total += (np.abs(sfft.rfft(segs, n=nfft, axis=-1)) ** 2).sum(axis=0)
    power = total / (starts.size * rate * np.sum(window**2))
    power[1 : (nfft + 1) // 2] *= 2.0  # one-sided: double all but DC (and Nyquist for even nfft)
    return sfft.rfftfreq(nfft, 1.0 / rate), power


def _spectral_peak_bpm(windows: np.ndarray, fs: float, config: HRConfig) -> np.ndarray:
    """Frequency (bpm) of the in-band spectral maximum of each row of preprocessed (B, n) windows.

    The spectrum is the one `power_spectrum` computes, evaluated on a grid of `resolution_bpm` spacing,
    with log-parabolic interpolation at its maximum. It is computed cheaply: a 4x-oversampled FFT
    locates the peak, then the fine grid within +-1 coarse bin of it is evaluated by a demodulated DFT
    (one matrix product for all windows) instead of zero-padding every window to the fine grid.
    """
    n = windows.shape[-1]
    nseg, starts = _segment_starts(n, fs, config)
    low, high = config.band_bpm[0] / 60.0, config.band_bpm[1] / 60.0
    nfft = sfft.next_fast_len(4 * nseg, real=True)
    coarse_freqs = sfft.rfftfreq(nfft, 1.0 / fs)
    in_band = (coarse_freqs >= low) & (coarse_freqs <= high)
    if not in_band.any():  # band narrower than a coarse bin: use the bins nearest its centre
        in_band = np.abs(coarse_freqs - (low + high) / 2) <= (coarse_freqs[1] - coarse_freqs[0])
    step = config.resolution_bpm / 60.0
    half = int(math.ceil((coarse_freqs[1] - coarse_freqs[0]) / step))
    offsets = np.arange(-half, half + 1) * step
    t = np.arange(nseg) / fs
    shift_basis = np.exp(-2j * np.pi * offsets[:, None] * t[None, :]).T  # (nseg, K)
    # demodulation by a coarse-grid frequency k fs / nfft is exp(-2 pi i k n / nfft): a table lookup
    unit_circle = np.exp(-2j * np.pi * np.arange(nfft) / nfft)
    sample = np.arange(nseg)

    out = np.empty(windows.shape[0])
    per_window = starts.size * max(nfft, nseg)
    chunk = max(1, _MAX_BATCH_ELEMENTS // per_window)
    for first in range(0, windows.shape[0], chunk):
        segs = _tapered_segments(windows[first : first + chunk], nseg, starts)  # (b, S, nseg)
        spectrum = sfft.rfft(segs, n=nfft, axis=-1)
        coarse = (spectrum.real**2 + spectrum.imag**2).mean(axis=1)  # (b, F)
        coarse[:, ~in_band] = -1.0
        bins = np.argmax(coarse, axis=1)  # (b,)
        centre = coarse_freqs[bins]
        demod = segs * unit_circle[(bins[:, None] * sample[None, :]) % nfft][:, None, :]
        fine_spectrum = (demod.reshape(-1, nseg) @ shift_basis).reshape(segs.shape[0], starts.size, -1)
        fine = (fine_spectrum.real**2 + fine_spectrum.imag**2).mean(axis=1)  # (b, K)
        fine_freqs = centre[:, None] + offsets[None, :]
        fine_in_band = (fine_freqs >= low - 1e-12) & (fine_freqs <= high + 1e-12)
        fine = np.where(fine_in_band, fine, -1.0)
        out[first : first + chunk] = _interpolate_peak(fine, fine_freqs, fine_in_band, step)
    return out * 60.0


def _interpolate_peak(power: np.ndarray, freqs: np.ndarray, usable: np.ndarray, step: float) -> np.ndarray:
    """Log-parabolic (Gaussian) interpolation around each row's maximum; edges and zeros stay on-grid."""
    rows = np.arange(power.shape[0])
    j = np.argmax(power, axis=1)
    peak = freqs[rows, j]
    jl, jr = np.clip(j - 1, 0, power.shape[1] - 1), np.clip(j + 1, 0, power.shape[1] - 1)
    ok = (j > 0) & (j < power.shape[1] - 1) & usable[rows, jl] & usable[rows, jr]
    ok &= (power[rows, jl] > 0) & (power[rows, j] > 0) & (power[rows, jr] > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a, b, c = (np.log(np.where(ok, power[rows, k], 1.0)) for k in (jl, j, jr))
        denom = a - 2 * b + c
        shift = np.where(ok & (denom < 0), 0.5 * (a - c) / np.where(denom < 0, denom, -1.0), 0.0)
    valid = power[rows, j] > 0
    return np.where(valid, peak + np.clip(shift, -0.5, 0.5) * step, np.nan)


# ---------------------------------------------------------------- systolic peaks


def _peaks_bpm(filtered: np.ndarray, fs: float, config: HRConfig) -> float:
    """HR from systolic peaks of a preprocessed 1-D signal; nan when fewer than two peaks are found."""
    times = systolic_peak_times(filtered, fs, config)
    return 60.0 / float(np.median(np.diff(times))) if times.size >= 2 else math.nan


def systolic_peak_times(
    filtered: np.ndarray, fs: float, config: HRConfig = DEFAULT_CONFIG, min_interval_s: float | None = None
) -> np.ndarray:
    """Times (s from the first sample) of the systolic peaks of a preprocessed 1-D pulse signal.

    Candidates are local maxima at least `min_interval_s` apart (default 60 / band upper edge); a
    candidate is a systolic peak when its prominence reaches `peak_prominence` x the 90th percentile
    of all candidates' prominences (the typical beat), which rejects dicrotic waves and noise bumps
    whatever the signal's scale. Peak times are refined by parabolic interpolation; the first and
    last samples are never peaks. Used by the "peaks" HR method and by HRV (`rppgbench.vitals`).
    """
    interval = 60.0 / config.band_bpm[1] if min_interval_s is None else min_interval_s
    distance = max(1, int(math.floor(fs * interval)))
    candidates, props = find_peaks(filtered, distance=distance, prominence=0.0)
    if candidates.size < 2:
        return np.zeros(0)
    prominence = props["prominences"]
    peaks = candidates[prominence >= config.peak_prominence * np.percentile(prominence, 90)]
    peaks = peaks[(peaks > 0) & (peaks < filtered.size - 1)]
    if peaks.size < 2:
        return np.zeros(0)
    left, mid, right = filtered[peaks - 1], filtered[peaks], filtered[peaks + 1]
    denom = left - 2 * mid + right
    offset = np.where(denom < 0, 0.5 * (left - right) / np.where(denom < 0, denom, -1.0), 0.0)
    return (peaks + np.clip(offset, -0.5, 0.5)) / fs


# ---------------------------------------------------------------- public estimators


def estimate_hr(x: np.ndarray, fs: float, config: HRConfig = DEFAULT_CONFIG, name: str = "signal") -> float:
    """Heart rate (bpm) of a pulse signal sampled at `fs` Hz: detrend -> band-pass -> spectral peak.

    With `config.method == "peaks"`: systolic peaks (scipy find_peaks with a refractory distance of
    60 / band upper edge seconds and a prominence rule), HR = 60 / median inter-beat interval, peak
    times refined by parabolic interpolation. Raises SignalError for unusable input.
    """
    arr = check_signal(x, fs, min_seconds=min_seconds(config), name=name, min_samples=8)
    filtered = preprocess(arr, fs, config)
    if config.method == "peaks":
        bpm = _peaks_bpm(filtered, float(fs), config)
        if math.isnan(bpm):
            raise SignalError(f"{name}: fewer than two systolic peaks found in {arr.size / fs:.1f} s")
        return bpm
    return float(_spectral_peak_bpm(filtered[None, :], float(fs), config)[0])


def hr_over_time(
    x: np.ndarray,
    fs: float,
    window_s: float = 10.0,
    step_s: float = 1.0,
    config: HRConfig = DEFAULT_CONFIG,
) -> tuple[np.ndarray, np.ndarray]:
    """HR (bpm) in sliding windows: (window centre times in s, bpm), all windows processed as one batch.

    Window k covers samples [round(k step_s fs), + round(window_s fs)); each value equals `estimate_hr`
    on that window. A window with no usable pulse (constant, or fewer than two peaks) gives nan.
    """
    rate = check_rate(fs)
    if not (window_s > 0 and step_s > 0):
        raise ConfigError(f"window_s and step_s must be > 0, got {window_s!r} and {step_s!r}")
    arr = check_signal(x, rate, min_seconds=max(window_s, min_seconds(config)), min_samples=8)
    length = int(round(window_s * rate))
    count = int(math.floor((arr.size - length) / (step_s * rate) + 1e-9)) + 1
    starts = np.round(np.arange(count) * step_s * rate).astype(np.int64)
    starts = starts[starts + length <= arr.size]
    windows = arr[starts[:, None] + np.arange(length)]
    flat = np.ptp(windows, axis=1) == 0
    filtered = preprocess(windows, rate, config)
    if config.method == "peaks":
        bpm = np.array([_peaks_bpm(row, rate, config) for row in filtered])
    else:
        bpm = _spectral_peak_bpm(filtered, rate, config)
    bpm[flat] = np.nan
    return (starts + length / 2.0) / rate, bpm


def snr_db(
    x: np.ndarray,
    fs: float,
    hr_bpm: float,
    config: HRConfig = DEFAULT_CONFIG,
    half_width_bpm: float | None = None,
) -> float:
    """Pulse SNR in dB after de Haan & Jeanne (IEEE TBME 60(10):2878-2886, 2013, "Robust pulse rate
    from chrominance-based rPPG").

    SNR = 10 log10( sum_f (U(f) S(f))^2 / sum_f ((1 - U(f)) S(f))^2 ) with S the amplitude spectrum and
    U a binary template that is 1 within +-`half_width_bpm` of the reference HR and of its first
    harmonic (2 x HR); sums run over `config.band_bpm` (the paper used 30-240 bpm). The spectrum is
    `power_spectrum` of the signal after the same preprocessing as `estimate_hr`. By default the
    half-width is 6 bpm (0.1 Hz), widened to the Hann window's main-lobe half-width (2 frequency bins of
    the analysis segment: 12 bpm for 10-s segments) when that is wider, so that a pure tone's energy
    falls inside the template whatever the window length.
    """
    if not (isinstance(hr_bpm, (int, float, np.number)) and math.isfinite(hr_bpm) and hr_bpm > 0):
        raise SignalError(f"reference HR for the SNR must be a positive number of bpm, got {hr_bpm!r}")
    arr = check_signal(x, fs, min_seconds=min_seconds(config), min_samples=8)
    if half_width_bpm is None:
        nseg, _ = _segment_starts(arr.size, float(fs), _spectral_config(config))
        half_width_bpm = max(6.0, 2.0 * 60.0 * float(fs) / nseg)
    freqs, power = power_spectrum(preprocess(arr, fs, config), fs, config)
    bpm = freqs * 60.0
    band = (bpm >= config.band_bpm[0]) & (bpm <= config.band_bpm[1])
    template = (np.abs(bpm - hr_bpm) <= half_width_bpm) | (np.abs(bpm - 2 * hr_bpm) <= half_width_bpm)
    signal_power = float(power[band & template].sum())
    noise_power = float(power[band & ~template].sum())
    with np.errstate(divide="ignore"):
        return float(10.0 * np.log10(signal_power / noise_power)) if noise_power > 0 else math.inf


def reference_hr(reference: Reference, start: float, stop: float, config: HRConfig = DEFAULT_CONFIG) -> float:
    """Reference HR (bpm) over [start, stop) seconds, by the kind of reference.

    "ppg": `estimate_hr` at the reference's own rate (the estimator used for predictions); "ecg":
    `ecg.hr_from_ecg` (R peaks); "hr": mean of the finite HR values in the span. Waveforms are put on a
    uniform grid at their median sample interval first; SignalError if the span holds too little.
    """
    if not stop > start:
        raise SignalError(f"reference span [{start:g}, {stop:g}) s is empty")
    part = reference.between(start, stop)
    span = f"[{start:.2f}, {stop:.2f}) s"
    if reference.kind == "hr":
        values = np.asarray(part.values, dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size == 0:
            raise SignalError(f"reference HR has no finite values in {span}")
        return float(values.mean())
    if reference.kind not in ("ppg", "ecg"):
        raise SignalError(f"unknown reference kind {reference.kind!r}; expected ppg, ecg or hr")
    times = np.asarray(part.times, dtype=np.float64)
    if times.size < 8:
        raise SignalError(f"reference {reference.kind} has {times.size} samples in {span}; too few to use")
    gaps = np.diff(times)
    if np.any(gaps <= 0):
        raise SignalError(f"reference {reference.kind} times are not strictly increasing in {span}")
    interval = float(np.median(gaps))
    covered = times[-1] - times[0] + interval
    if covered < 0.5 * (stop - start):
        raise SignalError(
            f"reference {reference.kind} covers only {covered:.2f} s of the {stop - start:.2f} s span {span}"
        )
    if gaps.max() > MAX_REFERENCE_GAP_S:
        at = times[np.argmax(gaps)]
        raise SignalError(f"reference {reference.kind} has a {gaps.max():.2f} s gap at {at:.2f} s in {span}")
    rate = 1.0 / interval
    grid = times[0] + np.arange(int(math.floor((times[-1] - times[0]) * rate + 1e-6)) + 1) / rate
    values = np.interp(grid, times, np.asarray(part.values, dtype=np.float64))
    if reference.kind == "ecg":
        return hr_from_ecg(values, rate)
    return estimate_hr(values, rate, config, name=f"reference PPG in {span}")
