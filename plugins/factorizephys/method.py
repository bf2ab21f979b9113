"""The `factorizephys` method: the FactorizePhys network trained with the negative Pearson loss.

Training, checkpoints, model selection and inference are the shared harness's (`NeuralMethod`); this
class supplies the network, the input transform (resized raw frames: the diff-normalisation is the
network's first operation) and the loss. The authors train with Adam (no weight decay), a one-cycle
schedule to 1e-3, batch 4, 10 epochs of 160-frame windows at 72 x 72 and keep the last epoch.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from rppgbench.training import Batch, NeuralMethod, resize_frames
from rppgbench.training.losses import NegPearsonLoss

from . import FACTORIZEPHYS
from .network import FactorizePhysNet


class FactorizePhys(NeuralMethod, declaration=FACTORIZEPHYS):
    """FactorizePhys (Joshi et al., NeurIPS 2024): 3-D CNN + FSAM, negative Pearson loss."""

    # name, description, trains, params and constraints: the FACTORIZEPHYS declaration in __init__.py
    min_frames: ClassVar[int] = 2

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._loss = NegPearsonLoss()

    def build_model(self) -> nn.Module:
        """The FactorizePhys network for this configuration."""
        c = self.config
        return FactorizePhysNet(
            dropout=float(c["dropout"]),
            fsam=bool(c["fsam"]),
            residual=bool(c["residual"]),
            rank=int(c["rank"]),
            nmf_steps=int(c["nmf_steps"]),
            fsam_layout=str(c["fsam_layout"]),
            padding=str(c["padding"]),
        )

    def input_transform(self, frames: torch.Tensor) -> torch.Tensor:
        """Frames resized to `size`, in [0, 1] (the network differences and normalises them itself)."""
        return resize_frames(frames, int(self.config["size"]))

    def compute_loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Negative Pearson correlation with the reference waveform."""
        return self._loss(output, batch.target)
