"""Input scalings of the frame-based networks (PhysNet, AutoHR and its search): one place, named choices.

- `clip`: zero mean and unit variance per clip and colour channel (removes skin tone and light level).
- `paper`: the PhysNet/AutoHR authors' fixed scaling of 8-bit pixels, (x - 127.5) / 128.
- `ratio`: each pixel divided by its own mean over the clip, minus 1 (the AC/DC normalisation of
  classical rPPG), then scaled by the clip's standard deviation: spatial structure is gone and the
  pulse, a fraction-of-a-percent colour change, becomes one of the largest variations of the input.
- `chroma`: `ratio` applied to each pixel's chromaticity (each channel divided by the pixel's mean
  over the three channels) instead of its raw colour. Changes of intensity alone (shading as the head
  turns, a dimmer or flickering lamp) scale all three channels alike and cancel; the pulse, which
  changes green more than red and blue, remains (the skin-reflection model behind POS and CHROM).
"""

from __future__ import annotations

import torch

from rppgbench.training_params import INPUT_SCALINGS

__all__ = ["INPUT_SCALINGS", "scale_input"]


def scale_input(x: torch.Tensor, scaling: str) -> torch.Tensor:
    """x: float (B, 3, T, H, W) in [0, 1] -> the network input under `scaling` (one of INPUT_SCALINGS)."""
    if scaling == "clip":
        mean = x.mean(dim=(2, 3, 4), keepdim=True)
        return (x - mean) / (x.std(dim=(2, 3, 4), keepdim=True) + 1e-6)
    if scaling == "paper":
        return (x * 255.0 - 127.5) / 128.0
    if scaling == "ratio":
        ac = x / (x.mean(dim=2, keepdim=True) + 1.0 / 255.0) - 1.0
        return ac / (ac.std(dim=(1, 2, 3, 4), keepdim=True) + 1e-6)
    if scaling == "chroma":  # chromaticity lies in [0, 3] even for dark, noisy pixels: no large epsilon
        chroma = x / (x.mean(dim=1, keepdim=True) + 1e-6)
        dc = chroma.mean(dim=2, keepdim=True)
        ac = (chroma - dc) / (dc + 1e-3)
        return ac / (ac.std(dim=(1, 2, 3, 4), keepdim=True) + 1e-6)
    raise ValueError(f"input scaling {scaling!r} is not one of {INPUT_SCALINGS}")
