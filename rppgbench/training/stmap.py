"""Spatial-temporal maps (STMaps): the per-ROI colour traces of a face clip, laid out as an image.

RhythmNet (Niu et al., T-IP 2020) and SynRhythm (Niu et al., ICPR 2018) regress HR from an STMap: for
each frame, the mean colour of each region of interest (ROI) of the face is taken; the map has one
row per ROI and one column per frame, with one channel per colour component (RGB and/or YUV); each
row of each channel is min-max normalised over the window so that the pulse's tiny colour changes
fill the range.

ROIs: the papers place them with facial landmarks (an aligned face region split into a 5 x 5 grid).
No landmark model ships with rppgbench, so this builder uses a documented fallback: a `rows x cols`
grid over the face crop with `margin` (a fraction of the side) left out on every side, which on the
cached face crops (`preprocess`) covers forehead, cheeks, nose and mouth much as the landmark grid
does, without following the face's pose inside the crop.

Every function works on batched torch tensors on any device (the methods build maps on the device
inside their input transform); `stmap_of_clip` is a convenience for a whole numpy clip.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

COLOR_SPACES = ("rgb", "yuv")

# BT.601 RGB -> YUV (analogue form, U and V centred on 0 for inputs in [0, 1]): Y = 0.299 R + 0.587 G
# + 0.114 B, U = 0.492 (B - Y), V = 0.877 (R - Y).
_YUV = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.14713, -0.28886, 0.436], [0.615, -0.51499, -0.10001]], dtype=torch.float32
)


def rgb_to_yuv(x: torch.Tensor) -> torch.Tensor:
    """RGB -> YUV (BT.601) along the last axis (size 3)."""
    return x @ _YUV.to(device=x.device, dtype=x.dtype).T


def roi_means(frames: torch.Tensor, rows: int = 5, cols: int = 5, margin: float = 0.1) -> torch.Tensor:
    """(B, T, H, W, 3) frames (any scale) -> (B, T, rows * cols, 3) mean colour of each grid ROI.

    The grid covers the frame less `margin` x side on each side; ROIs are listed row by row.
    """
    if rows < 1 or cols < 1 or not 0.0 <= margin < 0.5:
        raise ValueError(f"need rows, cols >= 1 and margin in [0, 0.5), got {rows}, {cols}, {margin}")
    b, t, h, w, c = frames.shape
    top, left = int(round(margin * h)), int(round(margin * w))
    x = frames[:, :, top : h - top or None, left : w - left or None].float()
    x = x.permute(0, 1, 4, 2, 3).reshape(b * t, c, x.shape[2], x.shape[3])
    x = F.adaptive_avg_pool2d(x, (rows, cols))  # exact block means when the sides divide
    return x.reshape(b, t, c, rows * cols).permute(0, 1, 3, 2)


def minmax_normalise(stmap: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Scale each row of each channel of a (..., C, R, T) map to [0, 1] over time (the last axis)."""
    low = stmap.amin(dim=-1, keepdim=True)
    high = stmap.amax(dim=-1, keepdim=True)
    return (stmap - low) / (high - low).clamp_min(eps)


def spatial_temporal_map(
    frames: torch.Tensor,
    rows: int = 5,
    cols: int = 5,
    margin: float = 0.1,
    colors: Sequence[str] = ("rgb", "yuv"),
    normalise: bool = True,
) -> torch.Tensor:
    """(B, T, H, W, 3) frames -> (B, C, rows * cols, T) STMap, C = 3 per colour space in `colors`.

    Values are scaled to [0, 1] first (frames on the 0-255 scale); with `normalise`, each row of each
    channel is min-max normalised over the T frames (do it per window: `sliding_windows` then
    `minmax_normalise`, when one map is cut into several windows).
    """
    unknown = [c for c in colors if c not in COLOR_SPACES]
    if unknown or not colors:
        raise ValueError(f"colors must be a non-empty selection of {COLOR_SPACES}, got {list(colors)}")
    means = roi_means(frames, rows, cols, margin) / 255.0  # (B, T, R, 3)
    parts = [means if space == "rgb" else rgb_to_yuv(means) for space in colors]
    stmap = torch.cat(parts, dim=-1).permute(0, 3, 2, 1).contiguous()  # (B, C, R, T)
    return minmax_normalise(stmap) if normalise else stmap


def window_starts(length: int, window: int, step: int) -> list[int]:
    """Starts of `window`-frame windows every `step` frames over `length` frames, the last one ending at
    the end (one window of the whole length when it is shorter than `window`)."""
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, max(1, step)))
    if starts[-1] != length - window:
        starts.append(length - window)
    return starts


def sliding_windows(stmap: torch.Tensor, window: int, step: int) -> torch.Tensor:
    """(B, C, R, T) map -> (B, S, C, R, min(window, T)) windows at `window_starts`, each min-max
    normalised on its own."""
    length = stmap.shape[-1]
    width = min(window, length)
    parts = [stmap[..., s : s + width] for s in window_starts(length, window, step)]
    return minmax_normalise(torch.stack(parts, dim=1))


def stmap_of_clip(frames: np.ndarray, **options: object) -> np.ndarray:
    """A whole clip's (T, H, W, 3) frames -> its (C, R, T) STMap as float32 numpy (see
    `spatial_temporal_map` for the options)."""
    x = torch.from_numpy(np.ascontiguousarray(np.asarray(frames)))[None]
    return spatial_temporal_map(x, **options)[0].numpy().astype(np.float32)  # type: ignore[arg-type]
