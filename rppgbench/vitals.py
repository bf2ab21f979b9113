"""HRV and respiration rate from a pulse signal (rPPG or contact PPG) and from reference beats.

The one place these vitals are computed, for method outputs and references alike:

- beats: systolic peaks of the signal after the shared HR preprocessing (`rppgbench.signal.hr`:
  detrend and band-pass; for camera signals with a pass band of `beat_band_hr` x the window's
  spectral HR, which keeps noise from moving the peaks; contact references keep the HR band),
  found by `systolic_peak_times` with a refractory distance of `refractory` x the window's HR period; inter-beat intervals (IBIs) outside the HR band or
  more than `ibi_tolerance` away from the window's median IBI are artefacts (a missed or an extra
  beat) and are left out, and so are the successive differences that touch them;
- time-domain HRV (Task Force of the ESC and NASPE, Circulation 93(5), 1996): SDNN (SD of the IBIs,
  ddof=1, ms), RMSSD (root mean square of successive IBI differences, ms), pNN50 (percent of
  successive differences above 50 ms);
- frequency-domain HRV (same source): the IBI series, evenly resampled (`resample_hz`, cubic
  spline) and linearly detrended, Welch spectrum; LF = power in 0.04-0.15 Hz, HF = 0.15-0.4 Hz (ms^2),
  and LF/HF. LF needs minutes of signal to be meaningful (its slowest period is 25 s);
- respiration rate from the three respiratory-induced variations of the pulse (Karlen, Raman,
  Ansermino and Dumont, IEEE TBME 60(7), 2013): intensity (RIIV, the peak values: baseline
  modulation), amplitude (RIAV, peak minus preceding trough) and frequency (RIFV, the IBIs). Each
  series is resampled evenly, detrended and Hann-windowed; their spectra, each normalised to unit
  peak inside the respiration band, are averaged (spectral fusion) and the peak (parabolic
  refinement) is the rate in breaths per minute.

A test video's windows are grouped into segments of adjacent windows (`segments`): beats are found
per window, and the HRV and respiration spectra span each segment, so two adjacent 10-s clips count
as 20 s of signal. References give beat times (true beats of a synthetic clip, ECG R peaks, or the
contact PPG's systolic peaks) and a breathing rate (known, or from a respiration waveform).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rppgbench.data import Reference
from rppgbench.errors import ConfigError, RppgbenchError, SignalError

VITALS = ("sdnn", "rmssd", "pnn50", "lf", "hf", "lf_hf", "resp_rate")
"""Every vital this module estimates, in display order (keys of `estimate_vitals`)."""
LF_BAND_HZ = (0.04, 0.15)
HF_BAND_HZ = (0.15, 0.40)


@dataclass(frozen=True)
class VitalsConfig:
    """Settings of the vitals estimates; a protocol's `[vitals]` table sets them (all optional).

    measures: vitals scored (and shown by `compare --metrics vitals`); resample_hz: rate of the evenly
    resampled IBI and respiratory series; resp_band_bpm: breathing rates searched (breaths/min);
    refractory: fraction of the spectral HR period within which a second peak is not a beat;
    ibi_tolerance: largest relative deviation of an IBI from the window's median IBI;
    beat_band_hr: the band-pass applied before beat detection, as multiples of the window's spectral
    HR (a band this narrow around the fundamental keeps noise from moving the peaks; it also smooths
    the fastest beat-to-beat changes a little).
    """

    measures: tuple[str, ...] = ("sdnn", "rmssd", "pnn50", "lf_hf", "resp_rate")
    resample_hz: float = 4.0
    resp_band_bpm: tuple[float, float] = (6.0, 30.0)
    refractory: float = 0.6
    ibi_tolerance: float = 0.3
    beat_band_hr: tuple[float, float] = (0.7, 1.3)

    def __post_init__(self) -> None:
        measures = (self.measures,) if isinstance(self.measures, str) else tuple(self.measures)
        unknown = [m for m in measures if m not in VITALS]
        if unknown or not measures:
            raise ConfigError(f"vitals.measures {list(measures)}: each must be one of {list(VITALS)}")
        object.__setattr__(self, "measures", measures)
        band = tuple(float(v) for v in self.resp_band_bpm)
        if len(band) != 2 or not 0 < band[0] < band[1]:
            raise ConfigError(f"vitals.resp_band_bpm must be [low, high] with 0 < low < high, got {band}")
        object.__setattr__(self, "resp_band_bpm", band)
        if not self.resample_hz >= 2 * HF_BAND_HZ[1]:
            raise ConfigError(f"vitals.resample_hz must be at least {2 * HF_BAND_HZ[1]:g}")
        beat = tuple(float(v) for v in self.beat_band_hr)
        if len(beat) != 2 or not 0 < beat[0] < 1 < beat[1]:
            raise ConfigError(f"vitals.beat_band_hr must be [low, high] with 0 < low < 1 < high, got {beat}")
        object.__setattr__(self, "beat_band_hr", beat)
        if not 0 < self.refractory < 1 or not 0 < self.ibi_tolerance < 1:
            raise ConfigError("vitals.refractory and vitals.ibi_tolerance must lie between 0 and 1")

    def to_dict(self) -> dict[str, Any]:
        """Plain TOML/JSON values (lists for tuples)."""
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> VitalsConfig:
        """From a protocol's `[vitals]` table (None or {}: the defaults); ConfigError for unknown keys."""
        data = dict(data or {})
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"[vitals] unknown key(s) {unknown}; valid: {sorted(cls.__dataclass_fields__)}")
        for key in ("measures", "resp_band_bpm", "beat_band_hr"):
            if isinstance(data.get(key), list):
                data[key] = tuple(data[key])
        return cls(**data)


@dataclass(frozen=True)
class VitalsReference:
    """What a dataset knows about a video's beats and breathing, beyond (or derived from) its waveform.

    beats: beat times (s, video clock; true beats, R peaks or contact-PPG peaks); detected: whether
    the beats were detected (artefact rules apply) rather than known; breaths_per_min: a known
    constant breathing rate; respiration: a respiration waveform (belt), whose spectral peak is the
    rate; source: where the beats come from ("truth", "ecg", "ppg").
    """

    beats: np.ndarray | None = None
    detected: bool = True
    breaths_per_min: float | None = None
    respiration: Reference | None = None
    source: str = ""


@dataclass
class WindowBeats:
    """Beats of one window: peak times, and per beat the peak value and the preceding trough value."""

    times: np.ndarray
    peak: np.ndarray
    trough: np.ndarray
    ibi_ok: np.ndarray  # (len(times) - 1,) whether each IBI passed the artefact rules


@dataclass
class Segment:
    """Adjacent windows of one video: their signals and frame timestamps, in time order."""

    signals: list[np.ndarray] = field(default_factory=list)
    times: list[np.ndarray] = field(default_factory=list)

    @property
    def span(self) -> tuple[float, float]:
        """(start, stop) seconds covered (stop: one frame after the last)."""
        last = self.times[-1]
        step = float(np.median(np.diff(last))) if last.size > 1 else 0.0
        return float(self.times[0][0]), float(last[-1]) + step


def segments(signals: Sequence[np.ndarray], times: Sequence[np.ndarray]) -> list[Segment]:
    """Windows grouped into segments: non-overlapping windows in time order, adjacent ones joined.

    A window that overlaps an earlier one (sliding-window protocols) is skipped; a window that starts
    within two frame intervals of the previous one's end continues its segment.
    """
    order = sorted(range(len(signals)), key=lambda i: float(np.asarray(times[i])[0]))
    out: list[Segment] = []
    end = -math.inf
    for i in order:
        stamps = np.asarray(times[i], dtype=np.float64)
        if stamps.size < 2:
            continue
        step = float(np.median(np.diff(stamps)))
        if stamps[0] < end - 0.5 * step:
            continue  # overlaps the previous window
        if out and stamps[0] <= end + 1.5 * step:
            out[-1].signals.append(np.asarray(signals[i], dtype=np.float64))
            out[-1].times.append(stamps)
        else:
            out.append(Segment([np.asarray(signals[i], dtype=np.float64)], [stamps]))
        end = float(stamps[-1]) + step
    return out


def _hr_config(hr_config: Any) -> Any:
    from rppgbench.signal.hr import HRConfig

    return hr_config if hr_config is not None else HRConfig()


def window_beats(
    signal: np.ndarray, times: np.ndarray, config: VitalsConfig, hr_config: Any = None, narrow: bool = True
) -> WindowBeats:
    """Systolic peaks of one window's pulse signal, with peak and trough values and the IBI artefact mask.

    `narrow`: band-pass to `beat_band_hr` x the spectral HR before finding peaks (camera signals);
    False: the HR band only (clean contact references, whose beat-to-beat changes it would smooth).
    """
    from rppgbench.evaluation import uniform_signal
    from rppgbench.signal.hr import HRConfig, estimate_hr, preprocess, systolic_peak_times

    hr = _hr_config(hr_config)
    stamps = np.asarray(times, dtype=np.float64)
    x, fs = uniform_signal(np.asarray(signal, dtype=np.float64), stamps)
    bpm = estimate_hr(x, fs, hr)
    low, high = config.beat_band_hr
    band = (low * bpm, min(high * bpm, 0.45 * fs * 60.0)) if narrow else hr.band_bpm
    beat_config = HRConfig(**{**hr.to_dict(), "band_bpm": band})
    filtered = preprocess(x, fs, beat_config)
    peaks = systolic_peak_times(filtered, fs, beat_config, min_interval_s=config.refractory * 60.0 / bpm)
    raw = x - np.polyval(np.polyfit(np.arange(x.size), x, 1), np.arange(x.size))
    index = np.clip(np.round(peaks * fs).astype(np.int64), 0, x.size - 1)
    half = max(1, int(round(0.1 * fs * 60.0 / bpm)))
    peak_value = np.array([raw[max(0, i - half) : i + half + 1].max() for i in index])
    trough = np.full(index.size, np.nan)
    for k in range(1, index.size):
        trough[k] = raw[index[k - 1] : index[k] + 1].min()
    return WindowBeats(stamps[0] + peaks, peak_value, trough, _ibi_ok(np.diff(peaks), hr.band_bpm, config))


def _ibi_ok(ibi: np.ndarray, band_bpm: Sequence[float], config: VitalsConfig) -> np.ndarray:
    """IBIs inside the HR band and within `ibi_tolerance` of their median."""
    if ibi.size == 0:
        return np.zeros(0, dtype=bool)
    inside = (ibi >= 60.0 / band_bpm[1]) & (ibi <= 60.0 / band_bpm[0])
    median = np.median(ibi[inside]) if inside.any() else np.median(ibi)
    return inside & (np.abs(ibi - median) <= config.ibi_tolerance * median)


def hrv_time_domain(ibi_runs: Sequence[np.ndarray]) -> dict[str, float]:
    """SDNN and RMSSD (ms) and pNN50 (%) of runs of consecutive valid IBIs (s).

    SDNN pools every IBI; successive differences are taken within runs only. NaN where too few.
    """
    runs = [np.asarray(r, dtype=np.float64) * 1000.0 for r in ibi_runs if len(r)]
    pooled = np.concatenate(runs) if runs else np.zeros(0)
    diffs = np.concatenate([np.diff(r) for r in runs]) if runs else np.zeros(0)
    return {
        "sdnn": float(np.std(pooled, ddof=1)) if pooled.size >= 3 else math.nan,
        "rmssd": float(np.sqrt(np.mean(diffs**2))) if diffs.size >= 2 else math.nan,
        "pnn50": float(100.0 * np.mean(np.abs(diffs) > 50.0)) if diffs.size >= 2 else math.nan,
    }


def _even(times: np.ndarray, values: np.ndarray, rate: float, cubic: bool) -> np.ndarray:
    """Values at beat times, evenly resampled over their span and linearly detrended."""
    grid = np.arange(times[0], times[-1], 1.0 / rate)
    if cubic and times.size >= 4:
        from scipy.interpolate import CubicSpline

        even = CubicSpline(times, values)(grid)
    else:
        even = np.interp(grid, times, values)
    if even.size < 2:
        return even
    return even - np.polyval(np.polyfit(np.arange(even.size), even, 1), np.arange(even.size))


def hrv_frequency_domain(
    ibi_series: Sequence[tuple[np.ndarray, np.ndarray]], rate: float = 4.0
) -> dict[str, float]:
    """LF and HF power (ms^2) and LF/HF from (beat times s, IBIs s) runs: even resampling, Welch.

    Each run's powers are weighted by its duration; NaN when no run spans 4 beats.
    """
    from scipy.signal import welch

    lf = hf = weight = 0.0
    for times, ibi in ibi_series:
        if len(times) < 4:
            continue
        even = _even(np.asarray(times), np.asarray(ibi) * 1000.0, rate, cubic=True)
        if even.size < 8:
            continue
        freqs, power = welch(even, fs=rate, window="hann", nperseg=min(even.size, int(256 * rate / 4)),
                             nfft=max(1024, even.size), detrend=False)  # fmt: skip
        df = freqs[1] - freqs[0]
        duration = even.size / rate
        lf += duration * float(power[(freqs >= LF_BAND_HZ[0]) & (freqs < LF_BAND_HZ[1])].sum() * df)
        hf += duration * float(power[(freqs >= HF_BAND_HZ[0]) & (freqs < HF_BAND_HZ[1])].sum() * df)
        weight += duration
    if weight == 0:
        return {"lf": math.nan, "hf": math.nan, "lf_hf": math.nan}
    lf, hf = lf / weight, hf / weight
    return {"lf": lf, "hf": hf, "lf_hf": lf / hf if hf > 0 else math.nan}


def _band_spectrum(
    even: np.ndarray, rate: float, band_bpm: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies in breaths/min, power) of a detrended even series inside the band (zero-padded Hann)."""
    nfft = max(4096, 1 << int(math.ceil(math.log2(max(even.size, 2)))))
    spectrum = np.abs(np.fft.rfft(even * np.hanning(even.size), nfft)) ** 2
    bpm = np.fft.rfftfreq(nfft, 1.0 / rate) * 60.0
    keep = (bpm >= band_bpm[0]) & (bpm <= band_bpm[1])
    return bpm[keep], spectrum[keep]


def _peak_rate(bpm: np.ndarray, power: np.ndarray) -> float:
    """The highest local maximum inside the band (a band edge is no peak: it is leakage from outside),
    refined by a parabola through its neighbours; the band's maximum when the spectrum has no peak."""
    if power.size == 0 or not np.any(power > 0):
        return math.nan
    interior = np.flatnonzero((power[1:-1] > power[:-2]) & (power[1:-1] >= power[2:])) + 1
    k = int(interior[np.argmax(power[interior])]) if interior.size else int(np.argmax(power))
    if 0 < k < power.size - 1:
        left, mid, right = power[k - 1], power[k], power[k + 1]
        denom = left - 2 * mid + right
        if denom < 0:
            return float(bpm[k] + 0.5 * (left - right) / denom * (bpm[1] - bpm[0]))
    return float(bpm[k])


def fused_respiration(series: Sequence[tuple[np.ndarray, np.ndarray, float]], config: VitalsConfig) -> float:
    """Breaths/min from respiratory-induced variation series (times s, values, weight): spectral fusion.

    Each series' in-band spectrum is normalised to unit peak; the weighted mean spectrum's peak is the rate.
    """
    total: np.ndarray | None = None
    grid = None
    for times, values, weight in series:
        times, values = np.asarray(times), np.asarray(values)
        good = np.isfinite(values)
        times, values = times[good], values[good]
        if times.size < 4 or times[-1] - times[0] < 60.0 / config.resp_band_bpm[1]:
            continue
        even = _even(times, values, config.resample_hz, cubic=False)
        if even.size < 8 or not np.any(even):
            continue
        bpm, power = _band_spectrum(even, config.resample_hz, config.resp_band_bpm)
        if grid is None:
            grid = np.linspace(config.resp_band_bpm[0], config.resp_band_bpm[1], 2401)
            total = np.zeros_like(grid)
        peak = power.max()
        if peak > 0:
            total += weight * np.interp(grid, bpm, power / peak)
    return _peak_rate(grid, total) if grid is not None else math.nan


def respiration_rate(reference: Reference, start: float, stop: float, config: VitalsConfig) -> float:
    """Breaths/min of a respiration waveform over [start, stop): its spectral peak in the band."""
    part = reference.between(start, stop)
    if part.times.size < 8:
        return math.nan
    rate = config.resample_hz
    even = _even(np.asarray(part.times), np.asarray(part.values, dtype=np.float64), rate, cubic=False)
    return _peak_rate(*_band_spectrum(even, rate, config.resp_band_bpm)) if even.size >= 8 else math.nan


def _runs(times: np.ndarray, ok: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Runs of consecutive valid IBIs: (times of the beats that end them, IBIs)."""
    ibi = np.diff(times)
    out, start = [], None
    for k in range(ibi.size + 1):
        good = k < ibi.size and bool(ok[k])
        if good and start is None:
            start = k
        if not good and start is not None:
            out.append((times[start + 1 : k + 1], ibi[start:k]))
            start = None
    return out


def _from_beats(
    beats: Sequence[WindowBeats], config: VitalsConfig
) -> tuple[dict[str, float], list[tuple[np.ndarray, np.ndarray, float]]]:
    """HRV runs of a segment's windows and their respiratory series (RIIV, RIAV, RIFV)."""
    runs: list[tuple[np.ndarray, np.ndarray]] = []
    riiv_t, riiv, riav, rifv_t, rifv = [], [], [], [], []
    for wb in beats:
        runs += _runs(wb.times, wb.ibi_ok)
        if wb.times.size < 2:
            continue
        scale = np.nanmedian(wb.peak[1:] - wb.trough[1:])
        scale = scale if np.isfinite(scale) and scale > 0 else 1.0
        riiv_t.append(wb.times)
        riiv.append(wb.peak / scale)
        riav.append((wb.peak - wb.trough) / scale)
    for t, ibi in runs:
        rifv_t.append(t)
        rifv.append(ibi)
    series = []
    for times, values in ((riiv_t, riiv), (riiv_t, riav), (rifv_t, rifv)):
        if times:
            series.append((np.concatenate(times), np.concatenate(values), 1.0))
    return _hrv(runs, config), series


def _hrv(runs: Sequence[tuple[np.ndarray, np.ndarray]], config: VitalsConfig) -> dict[str, float]:
    return hrv_time_domain([ibi for _, ibi in runs]) | hrv_frequency_domain(runs, config.resample_hz)


def _pooled(parts: Sequence[tuple[dict[str, float], float]]) -> dict[str, float]:
    """Duration-weighted mean of per-segment values, ignoring NaNs."""
    out = {}
    for key in {k for values, _ in parts for k in values}:
        pairs = [(v[key], w) for v, w in parts if math.isfinite(v.get(key, math.nan))]
        out[key] = sum(v * w for v, w in pairs) / sum(w for _, w in pairs) if pairs else math.nan
    return out


def estimate_vitals(
    signals: Sequence[np.ndarray], times: Sequence[np.ndarray], config: VitalsConfig | None = None,
    hr_config: Any = None,
) -> dict[str, float]:  # fmt: skip
    """Every vital in `VITALS` from one video's window signals (rPPG or any pulse waveform).

    NaN for a vital that the signal is too short or too poor to give.
    """
    config = config or VitalsConfig()
    parts = []
    for segment in segments(signals, times):
        beats = []
        for signal, stamps in zip(segment.signals, segment.times, strict=True):
            try:
                beats.append(window_beats(signal, stamps, config, hr_config))
            except (RppgbenchError, ValueError):
                continue
        if not beats:
            continue
        span = segment.span
        hrv, series = _from_beats(beats, config)
        parts.append((hrv | {"resp_rate": fused_respiration(series, config)}, span[1] - span[0]))
    values = _pooled(parts)
    return {key: values.get(key, math.nan) for key in VITALS}


def reference_vitals(
    reference: VitalsReference, spans: Sequence[tuple[float, float]], config: VitalsConfig | None = None
) -> dict[str, float]:
    """Every vital in `VITALS` of a reference over the given spans (a video's segments)."""
    config = config or VitalsConfig()
    parts = []
    for start, stop in spans:
        values: dict[str, float] = {}
        if reference.beats is not None:
            beats = np.asarray(reference.beats, dtype=np.float64)
            beats = beats[(beats >= start) & (beats < stop)]
            ibi = np.diff(beats)
            ok = _ibi_ok(ibi, (20.0, 250.0), config) if reference.detected else np.ones(ibi.size, bool)
            values |= _hrv(_runs(beats, ok), config)
        if reference.breaths_per_min is not None:
            values["resp_rate"] = float(reference.breaths_per_min)
        elif reference.respiration is not None:
            values["resp_rate"] = respiration_rate(reference.respiration, start, stop, config)
        parts.append((values, stop - start))
    pooled = _pooled(parts)
    return {key: pooled.get(key, math.nan) for key in VITALS}


def beats_from_reference(reference: Reference, hr_config: Any = None) -> VitalsReference:
    """Beat times of a waveform reference: R peaks of an ECG, systolic peaks of a contact PPG.

    An HR-series reference has no beats (an empty VitalsReference).
    """
    from rppgbench.evaluation import uniform_signal

    if reference.kind not in ("ppg", "ecg") or reference.times.size < 8:
        return VitalsReference(source=reference.kind)
    times = np.asarray(reference.times, dtype=np.float64)
    values = np.asarray(reference.values, dtype=np.float64)
    if reference.kind == "ecg":
        from rppgbench.signal.ecg import detect_r_peaks

        x, fs = uniform_signal(values, times)
        return VitalsReference(times[0] + detect_r_peaks(x, fs) / fs, source="ecg")
    beats = window_beats(values, times, VitalsConfig(), hr_config, narrow=False)
    return VitalsReference(beats.times, source="ppg")


def video_vitals(
    signals: Sequence[np.ndarray],
    times: Sequence[np.ndarray],
    reference: VitalsReference,
    config: VitalsConfig | None = None,
    hr_config: Any = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """(predicted, reference) vitals of one test video from its stored window signals."""
    config = config or VitalsConfig()
    spans = [segment.span for segment in segments(signals, times)]
    if not spans:
        raise SignalError("no window long enough for vitals")
    return estimate_vitals(signals, times, config, hr_config), reference_vitals(reference, spans, config)
