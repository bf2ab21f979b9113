"""Chunked inference: a whole video's signal from a model that sees T frames at a time, in bounded memory.

Windows of `chunk` frames advance by `chunk - overlap`; the last window is aligned to the end of the
video so no frame is left out. Only the frames of the windows being run are read from the (lazy)
frame array, so memory is bounded by `batch_size * chunk` frames whatever the video length. Each
window's output is standardised (a Pearson-trained output has an arbitrary scale and offset per
window) and windows are blended by overlap-add with a triangular weight that is positive everywhere
inside a window, so every frame gets a value and seams are smooth.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from rppgbench.errors import SignalError


def window_starts(n_frames: int, chunk: int, overlap: int) -> list[int]:
    """Start indices of the windows covering [0, n_frames), the last one ending at n_frames."""
    if chunk < 1 or not 0 <= overlap < chunk:
        raise SignalError(
            f"inference needs chunk >= 1 and 0 <= overlap < chunk, got chunk={chunk} overlap={overlap}"
        )
    if n_frames <= chunk:
        return [0]
    hop = chunk - overlap
    starts = list(range(0, n_frames - chunk + 1, hop))
    if starts[-1] + chunk < n_frames:
        starts.append(n_frames - chunk)
    return starts


def _blend_weight(length: int) -> np.ndarray:
    """Triangular weight, strictly positive at every sample (so a frame covered once keeps its value)."""
    return (1.0 - np.abs(np.linspace(-1.0, 1.0, length + 2)[1:-1])).astype(np.float64)


def _standardise(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=-1, keepdims=True)
    return x / (x.std(axis=-1, keepdims=True) + 1e-8)


def predict_signal(
    run_chunk: Callable[[torch.Tensor], torch.Tensor],
    frames: Any,
    *,
    chunk: int,
    overlap: int = 0,
    batch_size: int = 4,
    min_frames: int = 1,
    multiple: int = 1,
    standardise: bool = True,
) -> np.ndarray:
    """One value per frame of `frames` ((N, H, W, 3) uint8, array or lazy array) from `run_chunk`.

    `run_chunk(uint8 tensor (B, L, H, W, 3)) -> (B, L)` runs the model (on any device); `multiple`
    is the temporal multiple the model needs (a short video is padded by repeating its last frame).
    """
    n = len(frames)
    if n < max(1, min_frames):
        raise SignalError(f"clip has {n} frames; this model needs at least {max(1, min_frames)}")
    if n <= chunk:
        length = int(math.ceil(n / multiple) * multiple)
        window = np.asarray(frames[0:n], dtype=np.uint8)
        if length > n:
            window = np.concatenate([window, np.repeat(window[-1:], length - n, axis=0)])
        out = run_chunk(torch.from_numpy(window[None])).detach().float().cpu().numpy()[0, :n]
        return (_standardise(out) if standardise else out).astype(np.float32)
    starts = window_starts(n, chunk, overlap)
    weight = _blend_weight(chunk)
    total = np.zeros(n, dtype=np.float64)
    norm = np.zeros(n, dtype=np.float64)
    for i in range(0, len(starts), max(1, batch_size)):
        group = starts[i : i + batch_size]
        windows = np.stack([np.asarray(frames[s : s + chunk], dtype=np.uint8) for s in group])
        out = run_chunk(torch.from_numpy(windows)).detach().float().cpu().numpy()
        if out.shape != (len(group), chunk):
            raise SignalError(f"model returned shape {out.shape} for {len(group)} windows of {chunk} frames")
        if standardise:
            out = _standardise(out)
        for s, values in zip(group, out, strict=True):
            total[s : s + chunk] += values * weight
            norm[s : s + chunk] += weight
    return (total / norm).astype(np.float32)
