"""AutoHR's spatio-temporal data augmentation (Sec. II-D): DA1 tube cut-out and DA2 heart-rate resampling.

DA1 (`TubeCutout`, a device-side batch augmentation) erases a spatio-temporal tube, mimicking an
occluded region of interest: within a random time span of at most 20% of the clip, a random rectangle
of at most 20% of the frame area is set to zero.

DA2 (`HeartRateResample`, a host-side sample augmentation) fills the thin ends of the HR distribution:
a window whose HR is above 90 bpm is replaced by half as many frames interpolated to twice their
length (the apparent HR halves, label / 2); a window below 70 bpm by twice as many frames taking every
second one (the apparent HR doubles, label x 2). It applies with probability `prob` per eligible
window and epoch, so over training the original and the resampled windows both appear: the paper's
"extra training samples" in expectation, without changing the epoch length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from rppgbench.errors import ConfigError
from rppgbench.training.sampling import Batch, Sample


def tube_masks(
    batch: int,
    frames: int,
    height: int,
    width: int,
    generator: torch.Generator,
    max_time_frac: float = 0.2,
    max_area_frac: float = 0.2,
    prob: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-sample masks (batch, frames), (batch, height), (batch, width) of the erased tube (CPU, bool).

    Time span: 1..floor(max_time_frac * frames) frames (at least 1); region: area fraction uniform in
    (0, max_area_frac] with aspect ratio log-uniform in [1/2, 2], sides clipped to the frame so the area
    never exceeds max_area_frac. A sample is left untouched with probability 1 - prob.
    """
    if not (0 < max_time_frac <= 1 and 0 < max_area_frac <= 1 and 0 <= prob <= 1):
        raise ConfigError("DA1: max_time_frac and max_area_frac must be in (0, 1], prob in [0, 1]")
    u = torch.rand(batch, 7, generator=generator, device=generator.device, dtype=torch.float64).cpu()
    max_span = max(1, math.floor(max_time_frac * frames))
    span = 1 + torch.floor(u[:, 0] * max_span).clamp(max=max_span - 1).long()
    t0 = torch.floor(u[:, 1] * (frames - span + 1)).long()
    area = u[:, 2].clamp(min=1e-3) * max_area_frac * height * width
    aspect = torch.exp((u[:, 3] * 2 - 1) * math.log(2.0))
    h = torch.sqrt(area * aspect).floor().clamp(1, height).long()
    w = (area / h).floor().clamp(1, width).long()  # h * w <= area: the region never exceeds the bound
    y0 = torch.floor(u[:, 4] * (height - h + 1)).long()
    x0 = torch.floor(u[:, 5] * (width - w + 1)).long()
    keep = u[:, 6] < prob

    def ranges(start: torch.Tensor, length: torch.Tensor, size: int) -> torch.Tensor:
        axis = torch.arange(size)[None, :]
        return (axis >= start[:, None]) & (axis < (start + length)[:, None]) & keep[:, None]

    return ranges(t0, span, frames), ranges(y0, h, height), ranges(x0, w, width)


@dataclass(frozen=True)
class TubeCutout:
    """DA1: erase a random spatio-temporal tube of each clip of a (B, T, H, W, 3) uint8 batch."""

    max_time_frac: float = 0.2
    max_area_frac: float = 0.2
    prob: float = 0.5
    fill: int = 0

    def __call__(self, batch: Batch, generator: torch.Generator) -> Batch:
        b, t, h, w = batch.frames.shape[:4]
        mt, mh, mw = tube_masks(b, t, h, w, generator, self.max_time_frac, self.max_area_frac, self.prob)
        device = batch.frames.device
        mask = (
            mt.to(device)[:, :, None, None]
            & mh.to(device)[:, None, :, None]
            & mw.to(device)[:, None, None, :]
        )
        frames = batch.frames.masked_fill(mask[..., None], self.fill)
        return replace(batch, frames=frames)


def stretch_frames(frames: np.ndarray, target: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Temporal 2x interpolation: output k is frame k/2 (linear blend of neighbours), for k < length.

    Needs floor((length - 1) / 2) + 1 input frames (one more when length is even).
    """
    pos = np.arange(length) / 2.0
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, len(frames) - 1)
    if lo[-1] >= len(frames):
        raise ValueError(f"stretch needs {lo[-1] + 1} frames, got {len(frames)}")
    frac = (pos - lo).astype(np.float32)
    f = frames.astype(np.float32)
    out = f[lo] * (1 - frac)[:, None, None, None] + f[hi] * frac[:, None, None, None]
    wave = np.interp(pos, np.arange(len(target)), target).astype(np.float32)
    if frames.dtype == np.uint8:
        out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out.astype(frames.dtype, copy=False), wave


@dataclass(frozen=True)
class HeartRateResample:
    """DA2: HR > `high_bpm` -> 2x temporal interpolation (label / 2); HR < `low_bpm` -> every second frame
    (label x 2). Windows without an HR label, and low-HR windows of clips shorter than 2T - 1 frames,
    are left unchanged."""

    high_bpm: float = 90.0
    low_bpm: float = 70.0
    prob: float = 0.5

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        hr, source = sample.hr, sample.source
        if source is None or not math.isfinite(hr) or not (hr > self.high_bpm or hr < self.low_bpm):
            return sample
        if rng.random() >= self.prob:
            return sample
        length = len(sample.frames)
        if hr > self.high_bpm:
            need = (length - 1) // 2 + 2
            start = max(0, min(sample.start, source.length - need))
            frames, target = source.read(start, start + need)
            frames, target = stretch_frames(frames, target, length)
            return replace(sample, frames=frames, target=target, hr=hr / 2.0, start=start)
        span = 2 * length - 1
        if source.length < span:
            return sample
        start = max(0, min(sample.start, source.length - span))
        frames, target = source.read(start, start + span)
        new_hr = source.hr(start, start + span) * 2.0
        return replace(sample, frames=frames[::2].copy(), target=target[::2].copy(), hr=new_hr, start=start)
