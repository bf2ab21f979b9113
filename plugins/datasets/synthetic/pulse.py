"""Beat-by-beat blood-volume pulse: systolic peak, dicrotic notch, HRV, slow HR drift and respiration.

A beat train is built from inter-beat intervals (instantaneous HR with slow drift, respiratory sinus
arrhythmia and beat-to-beat jitter). Each beat's shape is the sum of a systolic and a reflected
(diastolic) Gaussian wave whose timing scales with sqrt(RR), as the systolic ejection period does
(Bazett-like scaling); the trough between them is the dicrotic notch. The continuous waveform can be
sampled at any times, so the video frames and the 60 Hz reference are samples of the same signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Two-Gaussian beat model at RR = 1 s (times in seconds after the foot of the beat).
SYSTOLIC_PEAK_S = 0.20
SYSTOLIC_WIDTH_S = 0.06
DIASTOLIC_PEAK_S = 0.45
DIASTOLIC_WIDTH_S = 0.10
DIASTOLIC_RATIO = 0.55


@dataclass(frozen=True)
class PulseParams:
    """Physiology of one recording: mean HR, its variability and respiration."""

    hr_bpm: float = 75.0
    drift_bpm: float = 3.0  # peak amplitude of the slow HR drift (periods of 20-60 s)
    rsa_bpm: float = 2.0  # respiratory sinus arrhythmia amplitude
    hrv_ms: float = 25.0  # beat-to-beat jitter of the inter-beat interval (SD, ms)
    resp_hz: float = 0.25  # breathing rate
    resp_amplitude: float = 0.15  # respiratory modulation of pulse amplitude (fraction)
    resp_baseline: float = 0.10  # respiratory baseline wander (fraction of a beat's amplitude)
    amplitude_jitter: float = 0.05  # beat-to-beat amplitude variation (SD, fraction)

    @classmethod
    def fixed(cls, hr_bpm: float) -> PulseParams:
        """A perfectly regular pulse at `hr_bpm`, no breathing: for known-answer tests."""
        return cls(hr_bpm, 0.0, 0.0, 0.0, 0.25, 0.0, 0.0, 0.0)


class PulseTrain:
    """A continuous blood-volume pulse p(t) over [t_start, t_stop], normalised to ~unit peak-to-peak."""

    def __init__(self, params: PulseParams, t_start: float, t_stop: float, rng: np.random.Generator):
        self.params = params
        resp_phase = rng.uniform(0, 2 * np.pi)
        drift_periods = rng.uniform(20.0, 60.0, size=2)
        drift_phases = rng.uniform(0, 2 * np.pi, size=2)

        def instant_hr(t: float) -> float:
            drift = sum(
                np.sin(2 * np.pi * t / p + ph) for p, ph in zip(drift_periods, drift_phases, strict=True)
            )
            rsa = np.sin(2 * np.pi * params.resp_hz * t + resp_phase)
            return params.hr_bpm + params.drift_bpm * drift / 2 + params.rsa_bpm * rsa

        onsets = [t_start - rng.uniform(0.2, 1.0) * 60.0 / params.hr_bpm]
        while onsets[-1] <= t_stop + 1.0:  # one loop step per heartbeat, not per sample
            rr = 60.0 / np.clip(instant_hr(onsets[-1]), 35.0, 200.0)
            rr += rng.normal(0.0, params.hrv_ms / 1000.0) if params.hrv_ms > 0 else 0.0
            onsets.append(onsets[-1] + max(rr, 0.25))
        self.onsets = np.asarray(onsets)
        n_beats = len(self.onsets) - 1
        self.beat_amplitude = 1.0 + params.amplitude_jitter * rng.standard_normal(n_beats)
        self._resp_phase = resp_phase

    @property
    def mean_hr_bpm(self) -> float:
        """Mean HR over the beats: 60 / mean inter-beat interval."""
        return float(60.0 / np.mean(np.diff(self.onsets)))

    def mean_hr_between(self, start: float, stop: float) -> float:
        """Mean HR of the beats that start in [start, stop)."""
        keep = (self.onsets[:-1] >= start) & (self.onsets[:-1] < stop)
        rr = np.diff(self.onsets)[keep]
        return float(60.0 / rr.mean()) if rr.size else self.mean_hr_bpm

    def beats_between(self, start: float, stop: float) -> np.ndarray:
        """True beat times (the beats' feet, s) in [start, stop]: their differences are the true IBIs."""
        return self.onsets[(self.onsets >= start) & (self.onsets <= stop)].copy()

    @property
    def breaths_per_min(self) -> float:
        """The true breathing rate (breaths per minute)."""
        return float(60.0 * self.params.resp_hz)

    def __call__(self, times: np.ndarray) -> np.ndarray:
        """p(t) at the given times (vectorised; times must lie within the train)."""
        times = np.asarray(times, dtype=np.float64)
        beat = np.clip(np.searchsorted(self.onsets, times, side="right") - 1, 0, len(self.onsets) - 2)
        rr = self.onsets[beat + 1] - self.onsets[beat]
        since = times - self.onsets[beat]
        wave = beat_shape(since, rr) * self.beat_amplitude[beat]
        p = self.params
        resp = np.sin(2 * np.pi * p.resp_hz * times + self._resp_phase)
        return (wave * (1.0 + p.resp_amplitude * resp) + p.resp_baseline * resp).astype(np.float64)


def beat_shape(since: np.ndarray, rr: np.ndarray) -> np.ndarray:
    """One beat sampled at `since` seconds after its foot, for inter-beat interval `rr` (s).

    Continuous from beat to beat (the feet are joined), peak-to-peak about 1, mean about zero.
    """
    scale = np.sqrt(rr)

    def shape(t: np.ndarray) -> np.ndarray:
        systolic = np.exp(-0.5 * ((t - SYSTOLIC_PEAK_S * scale) / (SYSTOLIC_WIDTH_S * scale)) ** 2)
        diastolic = np.exp(-0.5 * ((t - DIASTOLIC_PEAK_S * scale) / (DIASTOLIC_WIDTH_S * scale)) ** 2)
        return systolic + DIASTOLIC_RATIO * diastolic

    start, end = shape(np.zeros_like(rr)), shape(rr)
    value = shape(since) - (start + (end - start) * since / rr)  # remove the step between consecutive feet
    area = np.sqrt(2 * np.pi) * (SYSTOLIC_WIDTH_S + DIASTOLIC_RATIO * DIASTOLIC_WIDTH_S) * scale
    return value - area / rr  # centre each beat on zero
