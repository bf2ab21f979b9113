"""The AutoHR network skeleton (stem, four blocks of two cells, max-pools, head) and the derived network.

The paper fixes the skeleton's blocks and pools (Fig. 3a): max-pools after blocks 1-3 with strides
1x2x2, 2x2x2, 2x2x2. Stem and head are not described; they are reconstructed after PhysNet (the
paper's manual baseline): stem = Conv[1,5,5] + BN + ReLU + MaxPool[1,2,2]; head = two ConvTranspose3d
[4,1,1] / stride [2,1,1] + BN + ELU (undoing the two temporal pools), average over space to (T, 1, 1) and
a 1x1x1 conv to one channel, the rPPG signal of length T. Block widths are `channels * width_mult[i]`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rppgbench.errors import ConfigError

from . import DEFAULT_WIDTH_MULT
from . import TEMPORAL_MULTIPLE as TEMPORAL_MULTIPLE  # declared in __init__ (no torch); re-exported
from .cells import DerivedCell
from .genotype import Genotype

POOL_AFTER_BLOCK: tuple[tuple[int, int, int] | None, ...] = ((1, 2, 2), (2, 2, 2), (2, 2, 2), None)


class Stem(nn.Sequential):
    """Conv[1,5,5] + BN + ReLU + MaxPool[1,2,2] (reconstructed after PhysNet)."""

    def __init__(self, channels: int, affine: bool = True) -> None:
        super().__init__(
            nn.Conv3d(3, channels, (1, 5, 5), padding=(0, 2, 2), bias=False),
            nn.BatchNorm3d(channels, affine=affine),
            nn.ReLU(),
            nn.MaxPool3d((1, 2, 2), stride=(1, 2, 2)),
        )


class Head(nn.Module):
    """Two temporal up-convolutions (x4 in time), spatial average, 1x1x1 conv: (N, C, T/4, h, w) -> (N, T)."""

    def __init__(self, channels: int, affine: bool = True) -> None:
        super().__init__()

        def up() -> nn.Sequential:
            return nn.Sequential(
                nn.ConvTranspose3d(channels, channels, (4, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0)),
                nn.BatchNorm3d(channels, affine=affine),
                nn.ELU(),
            )

        self.up = nn.Sequential(up(), up())
        self.project = nn.Conv3d(channels, 1, 1)

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        x = self.up(x)
        x = nn.functional.adaptive_avg_pool3d(x, (frames, 1, 1))
        return self.project(x).flatten(1)


def block_widths(channels: int, width_mult: Sequence[int]) -> list[int]:
    """Output width of each of the four blocks."""
    if len(width_mult) != len(POOL_AFTER_BLOCK):
        raise ConfigError(
            f"width_mult needs {len(POOL_AFTER_BLOCK)} values (one per block), got {list(width_mult)}"
        )
    return [channels * int(m) for m in width_mult]


def make_pool(block: int) -> nn.Module:
    """The max-pool that follows block `block` (identity after the last)."""
    stride = POOL_AFTER_BLOCK[block]
    return nn.Identity() if stride is None else nn.MaxPool3d(stride, stride=stride)


class AutoHRNet(nn.Module):
    """The derived AutoHR network: the skeleton with each block's two cells built from a genotype.

    Input (N, 3, T, H, W) float; output (N, T) rPPG signal. `channels` is the stem width (16 after the
    search's 8 doubled, as in the paper).
    """

    def __init__(
        self,
        genotype: Genotype,
        channels: int = 16,
        width_mult: Sequence[int] = DEFAULT_WIDTH_MULT,
        cells_per_block: int = 2,
    ) -> None:
        super().__init__()
        self.genotype = genotype
        self.stem = Stem(channels)
        widths = block_widths(channels, width_mult)
        blocks, c_prev = [], channels
        for b, width in enumerate(widths):
            cell = genotype.cell_for_block(b)
            cells = [DerivedCell(c_prev if k == 0 else width, width, cell) for k in range(cells_per_block)]
            blocks.append(nn.Sequential(*cells, make_pool(b)))
            c_prev = width
        self.blocks = nn.Sequential(*blocks)
        self.head = Head(c_prev)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = x.shape[2]
        return self.head(self.blocks(self.stem(x)), frames)


def physnet_tdc(theta: float = 0.0, width: int = 64) -> nn.Module:
    """The paper's manual baseline for its loss and theta ablations: PhysNet (Yu et al., BMVC 2019) with
    every 3x3x3 convolution a TDC of the given theta (theta = 0 is PhysNet itself)."""
    from rppgbench_plugins.neural.physnet import PhysNetED

    from .tdc import TemporalDifferenceConv3d

    def tdc_block(c_in: int, c_out: int, kernel: tuple[int, int, int]) -> nn.Module:
        return nn.Sequential(
            TemporalDifferenceConv3d(c_in, c_out, kernel, theta=theta), nn.BatchNorm3d(c_out), nn.ReLU()
        )

    return PhysNetED(width, block=tdc_block)
