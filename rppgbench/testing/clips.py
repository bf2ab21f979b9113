"""Tiny in-memory pulse clips: known-answer data for unit tests and smoke checks of neural methods.

Each subject gets a textured face patch whose skin region is colour-modulated by a pulse waveform at
a subject-specific heart rate (strongest in green, as in real skin), plus a slow illumination drift
and sensor noise. The reference is the same pulse waveform (kind "ppg"), so a model that learns to
read the skin colour recovers the heart rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rppgbench.data import Clip, Record, Reference


def pulse_waveform(times: np.ndarray, hr_bpm: float, phase: float = 0.0) -> np.ndarray:
    """A PPG-like waveform: fundamental plus a weaker second harmonic, unit-ish amplitude."""
    w = 2 * np.pi * hr_bpm / 60.0
    return np.sin(w * times + phase) + 0.35 * np.sin(2 * (w * times + phase) + 0.8)


def make_pulse_clip(
    subject: str,
    hr_bpm: float,
    *,
    frames: int = 128,
    size: int = 32,
    fps: float = 30.0,
    amplitude: float = 3.0,
    noise: float = 1.5,
    seed: int = 0,
    session: str = "s1",
) -> Clip:
    """One in-memory clip of `frames` frames of `size` x `size` pixels with a known heart rate."""
    rng = np.random.default_rng(seed)
    times = np.arange(frames) / fps
    pulse = pulse_waveform(times, hr_bpm, rng.uniform(0, 2 * np.pi))
    yy, xx = np.mgrid[0:size, 0:size] / size
    skin = (((yy - 0.5) / 0.42) ** 2 + ((xx - 0.5) / 0.32) ** 2) < 1.0
    texture = (
        rng.normal(0.0, 12.0, (size, size, 1)) + np.array([150.0, 110.0, 90.0]) + rng.uniform(-20, 20, 3)
    )
    background = np.array([60.0, 70.0, 80.0]) + rng.normal(0.0, 8.0, (size, size, 3))
    base = np.where(skin[..., None], texture, background)
    drift = 4.0 * np.sin(2 * np.pi * times / (times[-1] + 1.0) + rng.uniform(0, np.pi))
    colour = np.array([0.4, 1.0, 0.25]) * amplitude
    video = (
        base[None]
        + drift[:, None, None, None]
        + skin[None, ..., None] * pulse[:, None, None, None] * colour
        + rng.normal(0.0, noise, (frames, size, size, 3))
    )
    record = Record(
        dataset="toy", subject=subject, session=session, location=Path(f"toy/{subject}/{session}"), fps=fps
    )
    reference = Reference("ppg", pulse.astype(np.float32), times.astype(np.float64))
    return Clip(record, np.clip(video, 0, 255).astype(np.uint8), times, reference)


def make_pulse_clips(
    hrs_bpm: Sequence[float],
    *,
    frames: int = 128,
    size: int = 32,
    fps: float = 30.0,
    seed: int = 0,
    **kwargs: float,
) -> list[Clip]:
    """One clip per heart rate, subject ids `p00`, `p01`, ... (one subject each)."""
    return [
        make_pulse_clip(f"p{i:02d}", hr, frames=frames, size=size, fps=fps, seed=seed * 1000 + i, **kwargs)
        for i, hr in enumerate(hrs_bpm)
    ]
