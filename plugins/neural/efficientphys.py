"""EfficientPhys: one shifted convolutional branch with self-attention, on raw frames.

Liu X., Hill B., Jiang Z., Patel S., McDuff D. "EfficientPhys: Enabling Simple, Fast and Accurate
Camera-Based Vitals Measurement." WACV 2023. The convolutional variant, written from the paper;
trains and predicts through `rppgbench.training`.

EfficientPhys drops DeepPhys's hand-made inputs and its appearance branch:

- Normalisation module, inside the network: the difference of consecutive raw frames
  (x(t+1) - x(t), the last repeated so every frame has an output) followed by batch normalisation of
  the three colour channels, learned end to end (replacing the normalised difference and the
  per-clip standardisation of DeepPhys/TS-CAN preprocessing).
- One motion branch: DeepPhys's four 3x3 tanh convolutions with a temporal shift module before each
  (as in TS-CAN, segments of `frame_depth` frames), average pooling and dropout after each pair.
- Self-attention: the soft attention masks (DeepPhys's 1x1 conv + sigmoid, L1-normalised) are
  computed from the branch's own features instead of an appearance branch.
- Dense 128 -> 1 per frame: the pulse derivative; target, loss and output integration are DeepPhys's.

Reused from `deepphys.py`: the temporal shift, the convolution stack, the attention mask, the dense
geometry, the target and the integration. 467,337 parameters at 36 x 36 input.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rppgbench.training import resize_frames

from . import EFFICIENTPHYS
from .deepphys import AttentionMask, DeepPhys, TemporalShift, conv_branch, dense_side


class EfficientPhysNet(nn.Module):
    """EfficientPhys network: raw frames (B, 3, T, S, S) -> pulse derivative (B, T)."""

    def __init__(
        self,
        size: int = 36,
        filters: tuple[int, int] = (32, 64),
        hidden: int = 128,
        dropout: float = 0.25,
        frame_depth: int = 10,
    ):
        super().__init__()
        self.norm = nn.BatchNorm3d(3)
        self.convs = conv_branch(filters)
        self.mask1, self.mask2 = AttentionMask(filters[0]), AttentionMask(filters[1])
        self.shift = TemporalShift(frame_depth)
        self.pool = nn.AvgPool2d(2)
        self.drop_conv = nn.Dropout(dropout)
        self.drop_dense = nn.Dropout(2 * dropout)
        side = dense_side(size)
        self.dense = nn.Linear(filters[1] * side * side, hidden)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, T, S, S) frames -> (B, T)."""
        b, _, t, s, _ = x.shape
        diff = x[:, :, 1:] - x[:, :, :-1]
        diff = self.norm(torch.cat([diff, diff[:, :, -1:]], dim=2))
        m = diff.permute(0, 2, 1, 3, 4).reshape(b * t, 3, s, s)
        conv, shift = self.convs, self.shift
        m = torch.tanh(conv[1](shift(torch.tanh(conv[0](shift(m))))))
        m = self.drop_conv(self.pool(m * self.mask1(m)))
        m = torch.tanh(conv[3](shift(torch.tanh(conv[2](shift(m))))))
        m = self.drop_conv(self.pool(m * self.mask2(m)))
        m = self.drop_dense(torch.tanh(self.dense(m.flatten(1))))
        return self.out(m).reshape(b, t)


class EfficientPhys(DeepPhys, declaration=EFFICIENTPHYS):
    """EfficientPhys (Liu et al., WACV 2023): normalisation module, shifted convolutions, self-attention."""

    # name, description, trains and params: the EFFICIENTPHYS declaration in __init__.py

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.temporal_multiple = int(self.config["frame_depth"])  # windows are whole segments
        self.min_frames = max(2, self.temporal_multiple)

    def build_model(self) -> nn.Module:
        """The EfficientPhys network for `size` x `size` frames."""
        return EfficientPhysNet(
            size=int(self.config["size"]),
            dropout=float(self.config["dropout"]),
            frame_depth=int(self.config["frame_depth"]),
        )

    def input_transform(self, frames: torch.Tensor) -> torch.Tensor:
        """The resized frames in [0, 1]: normalising is the network's first module."""
        return resize_frames(frames, int(self.config["size"]))
