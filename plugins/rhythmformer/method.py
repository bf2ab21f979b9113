"""The `rhythmformer` method: the RhythmFormer network trained with its time + frequency loss.

Training, checkpoints, model selection and inference are the shared harness's (`NeuralMethod`); this
class supplies the network, the input transform, the loss and the augmentation.

Loss (the authors' training code, `RhythmFormer_Loss`): per window 0.2 NegPearson + cross-entropy of
the prediction's power spectrum over 45..149 bpm against the label's HR bin. The shared `HybridLoss`
is exactly that form. The authors' class scores are the sum-normalised spectrum (`freq_logits =
"paper"`); rppgbench's default `log_power` is the power share of each bin (see
`rppgbench.training.losses` for why). The authors' code adds a third term, a KL divergence between
Gaussians (std 3) centred on the spectral peaks of prediction and label, but computes it from
detached NumPy arrays, so it is a constant without gradient; it is left out (it changes reported
loss values, not training).
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
from rppgbench.training.losses import HybridLoss, NegPearsonLoss

from . import RHYTHMFORMER, frames_multiple
from .network import RhythmFormerNet

BPM_MIN, BPM_MAX = 45, 149
"""The frequency loss's class grid in the authors' code (`torch.arange(45, 150)`)."""


def rhythmformer_loss(loss: str, alpha: float, logits: str) -> nn.Module:
    """`paper`: alpha NegPearson + FreqCE over 45..149 bpm (`logits` paper = sum-normalised PSD); `time`."""
    if loss == "time":
        return NegPearsonLoss()
    if logits == "paper":  # softmax over P_k / sum(P): the shared `power` scores at temperature K
        return HybridLoss(
            alpha, bpm_min=BPM_MIN, bpm_max=BPM_MAX, logits="power", temperature=BPM_MAX - BPM_MIN + 1
        )
    return HybridLoss(alpha, bpm_min=BPM_MIN, bpm_max=BPM_MAX, logits="log_power")


class RhythmFormer(NeuralMethod, declaration=RHYTHMFORMER):
    """RhythmFormer (Zou et al., Pattern Recognition 2025): periodic sparse attention at several temporal scales."""

    # name, description, trains, params and constraints: the RHYTHMFORMER declaration in __init__.py
    with_hr: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.temporal_multiple = frames_multiple(int(self.config["stages"]))
        self.min_frames = self.temporal_multiple
        self._loss: nn.Module | None = None

    def build_model(self) -> nn.Module:
        """The RhythmFormer network for this configuration."""
        c = self.config
        return RhythmFormerNet(
            dim=int(c["dim"]),
            heads=int(c["heads"]),
            depth=int(c["depth"]),
            stages=int(c["stages"]),
            topk=int(c["topk"]),
            patch=int(c["patch"]),
            spatial_regions=int(c["spatial_regions"]),
            mlp_ratio=float(c["mlp_ratio"]),
            theta=float(c["theta"]),
        )

    def input_transform(self, frames: torch.Tensor) -> torch.Tensor:
        """Resize to `size` and scale as `input_scaling` says (`clip`: the authors' standardised frames)."""
        return scale_input(resize_frames(frames, int(self.config["size"])), self.config["input_scaling"])

    def loss_module(self, device: torch.device | str = "cpu") -> nn.Module:
        """The configured loss (built once), on `device`."""
        if self._loss is None:
            c = self.config
            self._loss = rhythmformer_loss(c["loss"], float(c["alpha"]), c["freq_logits"])
        return self._loss.to(device)

    def compute_loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """alpha NegPearson + FreqCE (loss = paper) or NegPearson (loss = time)."""
        loss = self.loss_module(output.device)
        if isinstance(loss, HybridLoss):
            return loss(output, batch.target, batch.hr, batch.fps)
        return loss(output, batch.target)

    def sample_augmentations(self) -> Sequence[SampleAugmentation]:
        """The authors' temporal up/down-sampling of windows above 90 / below 75 bpm (probability 0.5)."""
        return (HeartRateResample(high_bpm=90.0, low_bpm=75.0, prob=0.5),) if self.config["da2"] else ()
