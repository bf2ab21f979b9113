"""The network input of AutoHR (search and training alike): resized face frames, scaled as configured."""

from __future__ import annotations

import torch


def clip_input(frames: torch.Tensor, size: int, scaling: str = "clip") -> torch.Tensor:
    """uint8 frames (B, T, H, W, 3) on the device -> float (B, 3, T, size, size), scaled by `scaling`
    (`rppgbench.training.inputs`; the default standardises each clip and colour channel)."""
    from rppgbench.training.inputs import scale_input
    from rppgbench.training.neural_method import resize_frames

    return scale_input(resize_frames(frames, size), scaling)
