"""SynRhythm's synthetic rhythm signals, rendered as tiny face-grid clips whose STMaps are the signals.

SynRhythm (Niu et al., ICPR 2018) pre-trains its HR regressor on spatial-temporal maps made from
synthetic rhythm signals before fine-tuning on real faces. Each synthetic clip here has one heart
rate (drawn uniformly from a range, with a slow wander of a few bpm), a pulse waveform (fundamental
plus a weaker second harmonic with random phase), and per ROI of the method's grid: a random pulse
gain (some ROIs carry almost none, like hair or background), a skin tone, a colour weighting with
green strongest (blood absorption), slow illumination drift and sensor noise. The clip's frames are
the ROI grid painted as blocks (with the grid's margin as background), so the method's own STMap
builder (`rppgbench.training.stmap`) turns them into the synthetic STMaps, and its reference is the
clean waveform, so the shared estimator gives the label exactly as for real clips.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rppgbench.data import Clip, Record, Reference

CHANNEL_WEIGHTS = (0.35, 1.0, 0.25)  # R, G, B pulse strength relative to green


def rhythm_waveform(n: int, fps: float, hr_bpm: float, rng: np.random.Generator) -> np.ndarray:
    """A pulse-like waveform of n samples at about hr_bpm: fundamental + second harmonic, slow HR wander."""
    t = np.arange(n) / fps
    wander = rng.uniform(0.0, 3.0) * np.sin(
        2 * np.pi * rng.uniform(0.02, 0.1) * t + rng.uniform(0, 2 * np.pi)
    )
    phase = 2 * np.pi * np.cumsum((hr_bpm + wander) / 60.0) / fps + rng.uniform(0, 2 * np.pi)
    wave = np.sin(phase) + rng.uniform(0.1, 0.5) * np.sin(2 * phase + rng.uniform(0, 2 * np.pi))
    return (wave / np.std(wave)).astype(np.float64)


def synthetic_rhythm_clip(
    index: int,
    *,
    frames: int,
    fps: float,
    rows: int,
    cols: int,
    margin: float,
    hr_range: tuple[float, float],
    amplitude: float,
    noise: float,
    seed: int,
    size: int = 0,
) -> Clip:
    """Synthetic clip `index` (deterministic in seed and index): (frames, size, size, 3) uint8 frames."""
    rng = np.random.default_rng([seed, index])
    size = size or 10 * max(rows, cols)
    hr = float(rng.uniform(*hr_range))
    wave = rhythm_waveform(frames, fps, hr, rng)
    t = np.arange(frames) / fps
    n_roi = rows * cols
    gain = rng.uniform(0.0, 1.0, n_roi) ** 0.5 * (rng.random(n_roi) > 0.15)  # some ROIs without pulse
    tone = np.array([170.0, 120.0, 100.0]) + rng.normal(0, 15, (n_roi, 3))
    drift = sum(
        rng.uniform(0, 4.0) * np.sin(2 * np.pi * rng.uniform(0.02, 0.3) * t + rng.uniform(0, 2 * np.pi))
        for _ in range(2)
    )  # shared illumination drift (T,)
    weights = np.asarray(CHANNEL_WEIGHTS) * rng.uniform(0.8, 1.2, 3)
    values = (
        tone[None, :, :]
        + amplitude * gain[None, :, None] * weights[None, None, :] * wave[:, None, None]
        + drift[:, None, None] * rng.uniform(0.6, 1.0, (1, n_roi, 1))
        + rng.normal(0, noise, (frames, n_roi, 3))
    )  # (T, R, 3)
    pad = int(round(margin * size))
    inner = size - 2 * pad
    ys = np.linspace(0, inner, rows + 1).round().astype(int)
    xs = np.linspace(0, inner, cols + 1).round().astype(int)
    out = np.empty((frames, size, size, 3), dtype=np.float32)
    out[:] = values.mean(axis=1)[:, None, None, :]  # the margin: an average background
    for r in range(rows):
        for c in range(cols):
            block = values[:, r * cols + c, :][:, None, None, :]
            out[:, pad + ys[r] : pad + ys[r + 1], pad + xs[c] : pad + xs[c + 1]] = block
    pixels = np.clip(np.rint(out + rng.normal(0, 0.5, out.shape)), 0, 255).astype(np.uint8)  # dithered
    record = Record(dataset="synrhythm", subject=f"synthetic-{index:05d}", session="0",
                    location=Path("synthetic"), fps=fps)  # fmt: skip
    return Clip(record, pixels, t, Reference("ppg", wave, t))


def synthetic_rhythm_clips(count: int, **options: object) -> list[Clip]:
    """`count` synthetic clips (see `synthetic_rhythm_clip` for the options)."""
    return [synthetic_rhythm_clip(i, **options) for i in range(count)]  # type: ignore[arg-type]
