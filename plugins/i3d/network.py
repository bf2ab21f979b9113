"""The I3D Inception-V1 trunk (Carreira & Zisserman, CVPR 2017) with a head that regresses rPPG per frame.

The trunk is the paper's inflated Inception-V1 (its Fig. 3): a 7x7x7 stem of stride 2, 1x1x1 and
3x3x3 convolutions, then the Inception modules Mixed_3b ... Mixed_5c with Inception-V1's channel
counts, between max-poolings whose first two do not pool time (1x3x3) and whose later two do
(3x3x3 and 2x2x2, stride 2). Every convolution is followed by batch norm and ReLU and has no bias.
Padding is symmetric ('same' for odd kernels) instead of TensorFlow's asymmetric SAME padding.

The trunk reduces time by 8 (stem, Mixed_4 pool, Mixed_5 pool) and space by 32. The classification
head (2x7x7 average pool, 1x1x1 logits over the Kinetics classes) is replaced by a regression head
that returns one value per input frame: the spatial mean of Mixed_5c's features (time kept), a 1x1
reduction to `head_width` channels, then three transposed temporal convolutions of kernel 4 and
stride 2 (each doubling the temporal length, as PhysNet's decoder does) and a 1x1 projection to one
channel. We keep the trunk's temporal strides (so the trunk is the published one and costs what it
costs) and restore the frame rate in the head, rather than removing the temporal strides, which
would multiply the trunk's cost by up to 8 and no longer be I3D.

`keep_time=True` is the other adaptation, the one of rPPG networks that keep the frame rate (PhysNet's
encoder keeps it for longer, rPPGNet throughout): the three temporal strides become 1 (same layers,
same parameters), the trunk returns all T frames and the head only reduces and projects. It costs more
(the later modules run on every frame) but a randomly initialised trunk learns far sooner with it at
small training budgets (see the `cpu` recipe).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rppgbench.errors import ConfigError

#: (name, (#1x1, #3x3 reduce, #3x3, #3x3 reduce (the "5x5" branch), #3x3, pool projection)):
#: Inception-V1's module widths, inflated to 3-D in I3D (its Fig. 3).
MIXED: tuple[tuple[str, tuple[int, int, int, int, int, int]], ...] = (
    ("Mixed_3b", (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", (384, 192, 384, 48, 128, 128)),
)
#: the trunk divides the number of frames by this (stem stride 2, then the two pools of stride 2)
TEMPORAL_STRIDE = 8
#: and the frame side by this
SPATIAL_STRIDE = 32


def scaled(channels: int, width: float) -> int:
    """A channel count times the width multiplier, at least 1."""
    return max(1, round(channels * width))


class Unit3d(nn.Sequential):
    """Conv3d (no bias, symmetric padding) + BatchNorm + ReLU: I3D's one convolution unit."""

    def __init__(
        self, c_in: int, c_out: int, kernel: Sequence[int] = (1, 1, 1), stride: Sequence[int] = (1, 1, 1)
    ) -> None:
        padding = tuple(k // 2 for k in kernel)
        super().__init__(
            nn.Conv3d(c_in, c_out, tuple(kernel), stride=tuple(stride), padding=padding, bias=False),
            nn.BatchNorm3d(c_out),
            nn.ReLU(inplace=True),
        )


class InceptionModule(nn.Module):
    """Four parallel branches concatenated on channels: 1x1; 1x1 -> 3x3x3; 1x1 -> 3x3x3; max-pool 3x3x3 -> 1x1."""

    def __init__(self, c_in: int, widths: Sequence[int]) -> None:
        super().__init__()
        b0, b1a, b1b, b2a, b2b, b3 = widths
        self.branch0 = Unit3d(c_in, b0)
        self.branch1 = nn.Sequential(Unit3d(c_in, b1a), Unit3d(b1a, b1b, (3, 3, 3)))
        self.branch2 = nn.Sequential(Unit3d(c_in, b2a), Unit3d(b2a, b2b, (3, 3, 3)))
        self.branch3 = nn.Sequential(nn.MaxPool3d(3, stride=1, padding=1), Unit3d(c_in, b3))
        self.out_channels = b0 + b1b + b2b + b3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], dim=1)


class InceptionI3d(nn.Module):
    """The I3D Inception-V1 trunk, stem to Mixed_5c: (B, 3, T, H, W) -> (B, 1024 x width, T/8, H/32, W/32).

    `keep_time=True` sets the three temporal strides to 1 (stem, Mixed_4 pool; the Mixed_5 pool
    becomes 1x2x2): the output keeps all T frames, the rPPG adaptation of 3-D trunks. Same parameters.
    """

    def __init__(self, width: float = 1.0, keep_time: bool = False) -> None:
        super().__init__()
        c64, c192 = scaled(64, width), scaled(192, width)
        st = 1 if keep_time else 2
        layers: dict[str, nn.Module] = {
            "Conv3d_1a_7x7": Unit3d(3, c64, (7, 7, 7), (st, 2, 2)),
            "MaxPool3d_2a_3x3": nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            "Conv3d_2b_1x1": Unit3d(c64, c64),
            "Conv3d_2c_3x3": Unit3d(c64, c192, (3, 3, 3)),
            "MaxPool3d_3a_3x3": nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        }
        channels = c192
        for name, widths in MIXED:
            if name == "Mixed_4b":
                layers["MaxPool3d_4a_3x3"] = nn.MaxPool3d(3, stride=(st, 2, 2), padding=1)
            if name == "Mixed_5b":  # ceil_mode as TF's SAME: odd sides round up
                layers["MaxPool3d_5a_2x2"] = nn.MaxPool3d((st, 2, 2), stride=(st, 2, 2), ceil_mode=True)
            module = InceptionModule(channels, [scaled(w, width) for w in widths])
            layers[name] = module
            channels = module.out_channels
        self.layers = nn.Sequential()
        for name, layer in layers.items():
            self.layers.add_module(name, layer)
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def _upsample(channels: int) -> nn.Sequential:
    """ConvTranspose1d kernel 4, stride 2 (doubles the length) + BatchNorm + ELU."""
    return nn.Sequential(
        nn.ConvTranspose1d(channels, channels, 4, stride=2, padding=1),
        nn.BatchNorm1d(channels),
        nn.ELU(inplace=True),
    )


class I3DRegressor(nn.Module):
    """I3D trunk + per-frame regression head: (B, 3, T, H, W) -> (B, T); T must be a multiple of 8."""

    def __init__(self, width: float = 1.0, head_width: int = 64, keep_time: bool = False) -> None:
        super().__init__()
        self.multiple = 1 if keep_time else TEMPORAL_STRIDE
        self.trunk = InceptionI3d(width, keep_time)
        self.reduce = nn.Sequential(
            nn.Conv1d(self.trunk.out_channels, head_width, 1, bias=False),
            nn.BatchNorm1d(head_width),
            nn.ELU(inplace=True),
        )
        self.upsample = nn.Sequential(*(_upsample(head_width) for _ in range(0 if keep_time else 3)))  # x8
        self.project = nn.Conv1d(head_width, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, T, H, W) -> rPPG signal (B, T)."""
        t = x.shape[2]
        if t % self.multiple:
            raise ConfigError(f"i3d needs a multiple of {self.multiple} frames, got {t}")
        features = self.trunk(x).mean(dim=(3, 4))  # spatial mean: (B, C, T/8)
        return self.project(self.upsample(self.reduce(features)))[:, 0, :t]
