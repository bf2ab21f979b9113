"""The `i3d` method: the I3D Inception-V1 trunk regressing the rPPG signal, negative Pearson loss.

Training, checkpoints, model selection and inference are the shared harness's (`NeuralMethod`); this
class supplies the network, the input transform and the loss. The trunk is randomly initialised: the
ImageNet-inflated or Kinetics-trained weights of the I3D paper cannot be fetched here.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from rppgbench.training import Batch, NegPearsonLoss, NeuralMethod, resize_frames
from rppgbench.training.inputs import scale_input

from . import I3D as DECLARATION
from .network import TEMPORAL_STRIDE, I3DRegressor


class I3D(NeuralMethod, declaration=DECLARATION):
    """I3D (Carreira & Zisserman, CVPR 2017) trunk with a per-frame regression head (see `network.py`)."""

    # name, description, trains and params: the I3D declaration in __init__.py
    temporal_multiple: ClassVar[int] = TEMPORAL_STRIDE
    min_frames: ClassVar[int] = TEMPORAL_STRIDE

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        self.loss = NegPearsonLoss()

    def build_model(self) -> nn.Module:
        """The I3D trunk and regression head for this configuration."""
        return I3DRegressor(
            float(self.config["width"]), int(self.config["head_width"]), bool(self.config["keep_time"])
        )

    def input_transform(self, frames: torch.Tensor) -> torch.Tensor:
        """Resize to `size` and scale as `input_scaling` says (`rppgbench.training.inputs`)."""
        return scale_input(resize_frames(frames, int(self.config["size"])), self.config["input_scaling"])

    def compute_loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Negative Pearson correlation between the output and the aligned reference waveform."""
        return self.loss(output, batch.target)
