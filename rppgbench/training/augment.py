"""Augmentation hooks: host-side per-sample transforms and device-side per-batch transforms.

Sample augmentations run inside loader workers on uint8 windows (they may read other frames of the
same clip through `sample.source`, e.g. to change the apparent heart rate); batch augmentations run
on the device after the transfer. Both receive a random generator derived from (seed, epoch, index)
so augmented training is reproducible and resumes exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import torch

if TYPE_CHECKING:
    from rppgbench.training.sampling import Batch, Sample


@runtime_checkable
class SampleAugmentation(Protocol):
    """A picklable callable on one window and its labels; must keep the window length T."""

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        """Return the augmented sample (update `target` and `hr` if the timing changes)."""
        ...


@runtime_checkable
class BatchAugmentation(Protocol):
    """A callable on a device batch (e.g. masking a spatio-temporal tube)."""

    def __call__(self, batch: Batch, generator: torch.Generator) -> Batch:
        """Return the augmented batch."""
        ...


def apply_sample_augmentations(
    sample: Sample, augmentations: Sequence[SampleAugmentation], rng: np.random.Generator
) -> Sample:
    """Apply sample augmentations in order and check that each one kept the window length."""
    length = len(sample.target)
    for augment in augmentations:
        sample = augment(sample, rng)
        if len(sample.frames) != length or len(sample.target) != length:
            raise ValueError(
                f"augmentation {type(augment).__name__} changed the window length from {length} to "
                f"{len(sample.frames)} frames / {len(sample.target)} targets"
            )
    return sample


def apply_batch_augmentations(
    batch: Batch, augmentations: Sequence[BatchAugmentation], generator: torch.Generator
) -> Batch:
    """Apply batch augmentations in order."""
    for augment in augmentations:
        batch = augment(batch, generator)
    return batch


def resample_window(
    frames: np.ndarray, target: np.ndarray, length: int, factor: float
) -> tuple[np.ndarray, np.ndarray]:
    """`length` frames (and reference values) taken every `factor` input frames by linear interpolation:
    factor > 1 plays the frames faster (the apparent HR rises by `factor`), factor < 1 slower.

    Needs floor((length - 1) * factor) + 2 input frames (one fewer when the last position is whole).
    """
    pos = np.arange(length) * float(factor)
    lo = np.floor(pos).astype(int)
    if lo[-1] >= len(frames):
        raise ValueError(f"resampling by {factor:g} needs {lo[-1] + 1} frames, got {len(frames)}")
    hi = np.minimum(lo + 1, len(frames) - 1)
    frac = (pos - lo).astype(np.float32)[:, None, None, None]
    f = frames.astype(np.float32)
    out = f[lo] * (1 - frac) + f[hi] * frac
    if frames.dtype == np.uint8:
        out = np.clip(np.rint(out), 0, 255)
    wave = np.interp(pos, np.arange(len(target)), target).astype(np.float32)
    return out.astype(frames.dtype, copy=False), wave


@dataclass(frozen=True)
class HeartRateScale:
    """Temporal resampling that moves windows' HRs toward the rare ends of the HR distribution
    (RhythmNet's augmentation, Niu et al., T-IP 2020): a window whose HR is below `low_bpm` is played
    `factor` times faster (HR x factor), one above `high_bpm` `factor` times slower (HR / factor),
    each with probability `prob`. The reference waveform is resampled with the frames, and the HR
    label scaled; windows without an HR label, or whose clip is too short, are left unchanged."""

    low_bpm: float = 70.0
    high_bpm: float = 100.0
    factor: float = 1.5
    prob: float = 0.5

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        hr, source = sample.hr, sample.source
        if source is None or not np.isfinite(hr) or not (hr < self.low_bpm or hr > self.high_bpm):
            return sample
        if rng.random() >= self.prob:
            return sample
        factor = self.factor if hr < self.low_bpm else 1.0 / self.factor
        length = len(sample.frames)
        need = int(np.floor((length - 1) * factor)) + 2
        if need > source.length:
            return sample
        start = max(0, min(sample.start, source.length - need))
        frames, target = source.read(start, start + need)
        frames, target = resample_window(frames, target, length, factor)
        return replace(sample, frames=frames, target=target, hr=hr * factor, start=start)
