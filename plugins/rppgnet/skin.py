"""The skin-mask target of rPPGNet's segmentation branch, computed from the frames themselves.

The paper trains the branch on binary skin masks from a separate skin detector (Bob's, threshold
0.3). Our datasets have no skin labels and no such detector is shipped, so the target is a colour
rule: a pixel is skin when its chroma lies in the YCbCr box 77 <= Cb <= 127, 133 <= Cr <= 173
(Chai & Ngan, "Face segmentation using skin-color map in videophone applications", IEEE TCSVT 1999),
evaluated on the frames resized to the skin map's side.
"""

from __future__ import annotations

import torch

from rppgbench.training import resize_frames

CB_RANGE = (77.0, 127.0)
CR_RANGE = (133.0, 173.0)


def skin_mask(frames: torch.Tensor, side: int) -> torch.Tensor:
    """Frames (B, T, H, W, 3), uint8 or float on the 0-255 scale -> binary skin mask (B, T, side, side)."""
    x = resize_frames(frames, side) * 255.0  # (B, 3, T, side, side)
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    cb = 128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b
    inside = (cb >= CB_RANGE[0]) & (cb <= CB_RANGE[1]) & (cr >= CR_RANGE[0]) & (cr <= CR_RANGE[1])
    return inside.float()
