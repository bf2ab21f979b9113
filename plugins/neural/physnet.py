"""PhysNet: a 3-D CNN encoder-decoder mapping a face video clip to its rPPG signal.

Yu, Li, Zhao, "Remote Photoplethysmograph Signal Measurement from Facial Videos Using
Spatio-Temporal Networks", BMVC 2019 (the 3DCNN-ED variant), trained with the negative Pearson loss.
Written from the paper's description; trains and predicts through `rppgbench.training`.

Defaults follow the AutoHR setting (Yu et al., IEEE SPL 2020, Appendix B), where PhysNet is the
manual baseline: 3 x 160 x 112 x 112 clips, Adam lr 1e-4, weight decay 5e-5, batch 4, 15 epochs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
from torch import nn

from rppgbench.training import Batch, NegPearsonLoss, NeuralMethod, resize_frames
from rppgbench.training.inputs import scale_input

from . import PHYSNET

ConvBlock = Callable[[int, int, tuple[int, int, int]], nn.Module]
"""Builds one conv block from (in channels, out channels, kernel); swapped to study other convolutions."""


def conv_block(c_in: int, c_out: int, kernel: tuple[int, int, int]) -> nn.Sequential:
    """Conv3d ('same' padding) + BatchNorm + ReLU."""
    padding = tuple(k // 2 for k in kernel)
    return nn.Sequential(
        nn.Conv3d(c_in, c_out, kernel, padding=padding, bias=False),
        nn.BatchNorm3d(c_out),
        nn.ReLU(inplace=True),
    )


def _upsample_block(channels: int) -> nn.Sequential:
    """ConvTranspose3d [4,1,1] stride [2,1,1] (doubles T) + BatchNorm + ELU."""
    return nn.Sequential(
        nn.ConvTranspose3d(channels, channels, (4, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0)),
        nn.BatchNorm3d(channels),
        nn.ELU(inplace=True),
    )


class PhysNetED(nn.Module):
    """PhysNet 3DCNN-ED: (B, 3, T, H, W) -> (B, T); T must be a multiple of 4.

    Stem Conv[1,5,5] -> MaxPool[1,2,2] -> 2 blocks Conv[3,3,3] -> MaxPool[2,2,2] -> 2 blocks ->
    MaxPool[2,2,2] -> 2 blocks -> MaxPool[1,2,2] -> 2 blocks -> 2 x ConvTranspose[4,1,1] (restores T)
    -> spatial global average pool -> Conv 1x1x1 to one channel.
    """

    def __init__(self, width: int = 64, block: ConvBlock = conv_block) -> None:
        """`block` builds the 3x3x3 blocks (e.g. temporal difference convolutions); the stem stays plain."""
        super().__init__()
        quarter, half = max(1, width // 4), max(1, width // 2)
        self.encoder = nn.Sequential(
            conv_block(3, quarter, (1, 5, 5)),
            nn.MaxPool3d((1, 2, 2), stride=(1, 2, 2)),
            block(quarter, half, (3, 3, 3)),
            block(half, width, (3, 3, 3)),
            nn.MaxPool3d((2, 2, 2), stride=(2, 2, 2)),
            block(width, width, (3, 3, 3)),
            block(width, width, (3, 3, 3)),
            nn.MaxPool3d((2, 2, 2), stride=(2, 2, 2)),
            block(width, width, (3, 3, 3)),
            block(width, width, (3, 3, 3)),
            nn.MaxPool3d((1, 2, 2), stride=(1, 2, 2)),
            block(width, width, (3, 3, 3)),
            block(width, width, (3, 3, 3)),
        )
        self.decoder = nn.Sequential(_upsample_block(width), _upsample_block(width))
        self.head = nn.Conv3d(width, 1, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, T, H, W) -> rPPG signal (B, T)."""
        t = x.shape[2]
        x = self.decoder(self.encoder(x))
        x = x.mean(dim=(3, 4), keepdim=True)  # spatial global average pool -> (B, C, T, 1, 1)
        return self.head(x)[:, 0, :t, 0, 0]


class PhysNet(NeuralMethod, declaration=PHYSNET):
    """PhysNet 3DCNN-ED (Yu, Li & Zhao, BMVC 2019): end-to-end rPPG from face clips, negative Pearson loss."""

    # name, description, trains and params: the PHYSNET declaration in __init__.py
    temporal_multiple: ClassVar[int] = 4
    min_frames: ClassVar[int] = 8

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self.loss = NegPearsonLoss()

    def build_model(self) -> nn.Module:
        """The PhysNet 3DCNN-ED network."""
        return PhysNetED(width=int(self.config["width"]))

    def input_transform(self, frames: torch.Tensor) -> torch.Tensor:
        """Resize to `size` and scale as `input_scaling` says (`rppgbench.training.inputs`)."""
        return scale_input(resize_frames(frames, int(self.config["size"])), self.config["input_scaling"])

    def compute_loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Negative Pearson correlation between the output and the aligned reference waveform."""
        return self.loss(output, batch.target)
