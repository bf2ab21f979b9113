"""The `rppgnet` method: rPPGNet (optionally behind STVEN) trained with the paper's losses.

Training, checkpoints, model selection and inference are the shared harness's (`NeuralMethod`). In
training the network returns a dict (global, mid-level and partition signals, skin-map logits, and
with STVEN the enhanced and re-compressed clips); in evaluation it returns the global signal
(B, T). The loss is, as in the paper and the authors' training script,

    L = NegPearson(global) + part_weight * (sum_i NegPearson(part_i) + NegPearson(mid))
        + skin_weight * BCE(skin map, skin mask)   [+ STVEN's terms, below]

with part_weight 0.5 and skin_weight 0.1. The validation loss (model in evaluation mode) is the
negative Pearson loss of the global signal alone: the signal that is evaluated.

STVEN (`stven = true`). The paper trains STVEN on pairs of the same video at several compression
levels (reconstruction and cycle losses), then STVEN and rPPGNet jointly with rPPGNet's loss on the
enhanced video. Our datasets hold no compressed copies, so every training window is compressed on
the device at a random level 1..4 (`network.compress`, a JPEG-like 8x8 block quantisation at
quality 50 / 20 / 10 / 5); STVEN enhances it towards level 0 (uncompressed) and rPPGNet reads the
enhanced clip. Both are trained in one stage from the start, with

    L + rec_weight * (L1 + MSE)(enhanced, clean) + cycle_weight * (L1 + MSE)(STVEN(enhanced, k), compressed)

(the cycle term maps the enhanced clip back to its level k). At inference STVEN enhances the test
clip towards level 0 before rPPGNet.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from rppgbench.training import Batch, NegPearsonLoss, NeuralMethod, resize_frames
from rppgbench.training.inputs import scale_input

from . import RPPGNET
from .network import QUALITIES, STVEN, RPPGNet, compress
from .skin import skin_mask


def _pixel_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """L1 + MSE: STVEN's reconstruction distance."""
    return F.l1_loss(a, b) + F.mse_loss(a, b)


class RPPGNetSystem(nn.Module):
    """(Optional STVEN ->) input scaling -> rPPGNet, on frames (B, 3, T, S, S) in [0, 1]."""

    def __init__(
        self, rppgnet: RPPGNet, scaling: str, stven: STVEN | None = None, cycle: bool = True
    ) -> None:
        super().__init__()
        self.rppgnet, self.stven, self.scaling, self.cycle = rppgnet, stven, scaling, cycle

    def forward(self, x: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        extra: dict[str, torch.Tensor] = {}
        if self.stven is not None:
            zero = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
            if self.training:
                level = torch.randint(1, len(QUALITIES) + 1, (x.shape[0],), device=x.device)
                degraded = x.clone()
                for k in level.unique().tolist():
                    rows = level == k
                    degraded[rows] = compress(x[rows], QUALITIES[k - 1])
                enhanced = self.stven(degraded * 2 - 1, zero)
                extra = {"enhanced": enhanced, "clean": x * 2 - 1}
                if self.cycle:
                    extra["cycled"] = self.stven(enhanced, level)
                    extra["degraded"] = degraded * 2 - 1
            else:
                enhanced = self.stven(x * 2 - 1, zero)
            x = (enhanced + 1) / 2
        out = self.rppgnet(scale_input(x, self.scaling))
        return {**out, **extra} if self.training else out["signal"]


class RPPGNetMethod(NeuralMethod, declaration=RPPGNET):
    """rPPGNet (Yu et al., ICCV 2019) with skin segmentation, attention and partition losses; STVEN optional."""

    # name, description, trains and params: the RPPGNET declaration in __init__.py
    temporal_multiple: ClassVar[int] = 2  # STVEN halves time; harmless without it
    min_frames: ClassVar[int] = 2

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.neg_pearson = NegPearsonLoss()

    def build_model(self) -> nn.Module:
        """rPPGNet, behind STVEN when `stven` is set."""
        c = self.config
        stven = (
            STVEN(int(c["stven_width"]), len(QUALITIES) + 1, int(c["stven_blocks"])) if c["stven"] else None
        )
        return RPPGNetSystem(
            RPPGNet(int(c["width"])), c["input_scaling"], stven, float(c["cycle_weight"]) > 0
        )

    def input_transform(self, frames: torch.Tensor) -> torch.Tensor:
        """Resize to `size`, in [0, 1]; the model scales after STVEN (which works on pixels)."""
        return resize_frames(frames, int(self.config["size"]))

    def compute_loss(self, output: torch.Tensor | dict[str, torch.Tensor], batch: Batch) -> torch.Tensor:
        """The paper's loss in training; the global signal's negative Pearson loss in evaluation."""
        if isinstance(output, torch.Tensor):
            return self.neg_pearson(output, batch.target)
        c = self.config
        target = batch.target
        loss = self.neg_pearson(output["signal"], target)
        side_losses = [
            self.neg_pearson(output["parts"][:, i], target) for i in range(output["parts"].shape[1])
        ]
        side_losses.append(self.neg_pearson(output["mid"], target))
        loss = loss + float(c["part_weight"]) * torch.stack(side_losses).sum()
        logits = output["skin_logits"]
        mask = skin_mask(batch.frames, logits.shape[-1])
        loss = loss + float(c["skin_weight"]) * F.binary_cross_entropy_with_logits(logits, mask)
        if "enhanced" in output:
            loss = loss + float(c["rec_weight"]) * _pixel_loss(output["enhanced"], output["clean"])
        if "cycled" in output:
            loss = loss + float(c["cycle_weight"]) * _pixel_loss(output["cycled"], output["degraded"])
        return loss
