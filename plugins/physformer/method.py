"""The `physformer` method: the PhysFormer network trained with its curriculum-weighted losses.

Training, checkpoints, model selection and inference are the shared harness's (`NeuralMethod`); this
class supplies the network, the input transform, the loss and an epoch hook that tells the loss the
curriculum's epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from rppgbench_plugins.autohr.augment import HeartRateResample
from torch import nn

from rppgbench.training import Batch, NeuralMethod, resize_frames
from rppgbench.training.augment import SampleAugmentation
from rppgbench.training.inputs import scale_input

from . import PHYSFORMER
from .augment import HorizontalFlip
from .losses import PhysFormerLoss
from .network import TUBE_FRAMES, PhysFormerNet


class _CurriculumEpoch:
    """Training-loop hook: keeps the method's curriculum epoch equal to the loop's (also after a resume)."""

    def __init__(self, method: PhysFormer) -> None:
        self.method = method

    def on_epoch_start(self, loop: Any, epoch: int) -> None:
        self.method.epoch = int(epoch)


class PhysFormer(NeuralMethod, declaration=PHYSFORMER):
    """PhysFormer (Yu et al., CVPR 2022): temporal difference transformer, label-distribution and curriculum losses.

    The frequency terms' weight grows over `curriculum_epochs` (default: the run's epochs). Training
    steps use the current epoch's weight; validation (no gradients) uses the curriculum's final weight,
    so the validation losses of different epochs compare.
    """

    # name, description, trains, params and constraints: the PHYSFORMER declaration in __init__.py
    with_hr: ClassVar[bool] = True
    temporal_multiple: ClassVar[int] = TUBE_FRAMES
    min_frames: ClassVar[int] = TUBE_FRAMES

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.epoch = 0
        self._loss: PhysFormerLoss | None = None

    @property
    def curriculum_epochs(self) -> int:
        """Length of the curriculum: `curriculum_epochs`, or the run's epochs when 0."""
        return int(self.config["curriculum_epochs"]) or max(1, int(self.config["epochs"]))

    def build_model(self) -> nn.Module:
        """The PhysFormer network for this configuration."""
        c = self.config
        return PhysFormerNet(
            dim=int(c["dim"]),
            ff_dim=int(c["ff_dim"]),
            heads=int(c["heads"]),
            layers=int(c["layers"]),
            patch=int(c["patch"]),
            theta=float(c["theta"]),
            tau=float(c["tau"]),
            dropout=float(c["dropout"]),
        )

    def input_transform(self, frames: torch.Tensor) -> torch.Tensor:
        """Resize to `size` and scale as `input_scaling` says (`rppgbench.training.inputs`)."""
        return scale_input(resize_frames(frames, int(self.config["size"])), self.config["input_scaling"])

    def loss_module(self, device: torch.device | str = "cpu") -> PhysFormerLoss:
        """The configured loss (built once), on `device`."""
        if self._loss is None:
            c = self.config
            self._loss = PhysFormerLoss(
                alpha=float(c["alpha"]),
                beta0=float(c["beta0"]),
                eta=float(c["eta"]),
                curriculum_epochs=self.curriculum_epochs,
                sigma=float(c["sigma"]),
                logits=c["freq_logits"],
                time_only=c["loss"] == "time",
            )
        return self._loss.to(device)

    def compute_loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """alpha L_time + beta(epoch) (L_CE + L_LD); validation uses the final beta."""
        epoch = self.epoch if torch.is_grad_enabled() else self.curriculum_epochs
        return self.loss_module(output.device)(output, batch.target, batch.hr, batch.fps, epoch)

    def training_hooks(self) -> Sequence[object]:
        """The hook that advances the curriculum with the training loop's epochs."""
        return (_CurriculumEpoch(self),)

    def sample_augmentations(self) -> Sequence[SampleAugmentation]:
        """The paper's augmentations: horizontal flip and temporal up/down-sampling (AutoHR's DA2)."""
        out: list[SampleAugmentation] = []
        if self.config["flip"]:
            out.append(HorizontalFlip())
        if self.config["da2"]:
            out.append(HeartRateResample())
        return tuple(out)
