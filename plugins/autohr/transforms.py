"""The network input of AutoHR (search and training alike): resized face frames standardised per clip."""

from __future__ import annotations

import torch


def clip_input(frames: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 frames (B, T, H, W, 3) on the device -> float (B, 3, T, size, size), zero mean and unit
    variance per clip and colour channel (removes the skin tone and illumination level, keeps the
    frame-to-frame variation that carries the pulse)."""
    from rppgbench.training.neural_method import resize_frames

    x = resize_frames(frames, size)
    mean = x.mean(dim=(2, 3, 4), keepdim=True)
    std = x.std(dim=(2, 3, 4), keepdim=True)
    return (x - mean) / (std + 1e-6)
