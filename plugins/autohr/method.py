"""The `autohr` method: the derived AutoHR network trained with the hybrid loss and DA1/DA2.

Training, checkpoints, model selection and inference are the shared harness's (`NeuralMethod`); this
class supplies the network (from a genotype JSON, or the shipped reconstructed default), the input
transform, the loss (hybrid by default; time- or frequency-only for the ablation) and augmentations.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from rppgbench.training.augment import BatchAugmentation, SampleAugmentation
from rppgbench.training.losses import FrequencyCrossEntropyLoss, HybridLoss, NegPearsonLoss
from rppgbench.training.neural_method import NeuralMethod
from rppgbench.training.sampling import Batch

from . import AUTOHR
from .augment import HeartRateResample, TubeCutout
from .genotype import Genotype, load_genotype
from .network import TEMPORAL_MULTIPLE, AutoHRNet, physnet_tdc
from .transforms import clip_input


class AutoHR(NeuralMethod, declaration=AUTOHR):
    """AutoHR (Yu et al., IEEE SPL 2020): searched 3D-CNN with TDC, hybrid time/frequency loss, DA1+DA2.

    Without `genotype`, the shipped cell reconstructed from the paper's Appendix C text is used (the
    published cell is not available); results record which genotype was used (`genotype_data`).
    """

    # name, description, trains, params and constraints: the AUTOHR declaration in __init__.py
    with_hr: ClassVar[bool] = True
    temporal_multiple: ClassVar[int] = TEMPORAL_MULTIPLE
    min_frames: ClassVar[int] = TEMPORAL_MULTIPLE

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.config["backbone"] == "searched" and not self.config["genotype_data"]:
            genotype = load_genotype(self.config["genotype"] or None)
            data = genotype.to_dict()
            data["history"] = []  # keep the recorded configuration small; the search folder has it
            self.config["genotype_data"] = json.dumps(data, sort_keys=True)
        self._loss: nn.Module | None = None

    def genotype(self) -> Genotype | None:
        """The genotype the network is built from (None for the PhysNet backbone)."""
        if self.config["backbone"] != "searched":
            return None
        return Genotype.from_dict(json.loads(self.config["genotype_data"]), origin="autohr genotype_data")

    def build_model(self) -> nn.Module:
        """The derived AutoHR network (or PhysNet with TDC for backbone=physnet)."""
        if self.config["backbone"] == "physnet":
            return physnet_tdc(
                theta=float(self.config["physnet_theta"]), width=int(self.config["physnet_width"])
            )
        return AutoHRNet(
            self.genotype(), channels=int(self.config["channels"]), width_mult=self.config["width_mult"]
        )

    def input_transform(self, frames: torch.Tensor) -> torch.Tensor:
        """Resize on the device and scale as `input_scaling` says."""
        return clip_input(frames, int(self.config["size"]), self.config["input_scaling"])

    def _loss_module(self, device: torch.device) -> nn.Module:
        if self._loss is None:
            kind, logits = self.config["loss"], self.config["freq_logits"]
            if kind == "hybrid":
                self._loss = HybridLoss(lambda_time=float(self.config["lambda_time"]), logits=logits)
            elif kind == "freq":
                self._loss = FrequencyCrossEntropyLoss(logits=logits)
            else:
                self._loss = NegPearsonLoss()
        return self._loss.to(device)

    def compute_loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """L_overall = lambda * L_time + L_fre (or one term alone for the loss ablation)."""
        loss = self._loss_module(output.device)
        kind = self.config["loss"]
        if kind == "hybrid":
            return loss(output, batch.target, batch.hr, batch.fps)
        if kind == "freq":
            return loss(output, batch.hr, batch.fps)
        return loss(output, batch.target)

    def sample_augmentations(self) -> Sequence[SampleAugmentation]:
        """DA2 (host side: it reads other frames of the clip)."""
        if not self.config["da2"]:
            return ()
        return (
            HeartRateResample(
                self.config["da2_high_bpm"], self.config["da2_low_bpm"], self.config["da2_prob"]
            ),
        )

    def batch_augmentations(self) -> Sequence[BatchAugmentation]:
        """DA1 (device side: a masked tube)."""
        if not self.config["da1"]:
            return ()
        return (
            TubeCutout(self.config["da1_time_frac"], self.config["da1_area_frac"], self.config["da1_prob"]),
        )
