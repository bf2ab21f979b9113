"""The `hrcnn` method: HR-CNN's extractor (frames -> signal) and estimator (signal -> HR), trained in turn.

`fit` runs the shared harness twice, as the paper trains the two networks: first the extractor alone
on training windows with the SNR loss at each window's reference HR (`losses.SNRLoss`), then the
estimator on the frozen extractor's signals with the L1 error to the window's HR (`est_epochs`,
`est_lr`). The fold's training history lists both stages' epochs. At test time the method estimates
HR itself (`predict_hr`: extractor then estimator over the evaluation window) and also gives the
extractor's signal (`predict`), which is stored with the run and scored for SNR and MACC.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rppgbench.data import Clip
from rppgbench.errors import SignalError
from rppgbench.method import FitContext
from rppgbench.store.layout import TRAINING_FILE
from rppgbench.training import Batch, NeuralMethod

from . import HR_CNN
from .losses import SNRLoss
from .network import Estimator, Extractor, ExtractorNet, HRCNNNet

_CHUNK = 128  # frames per extractor pass at inference


class HRCNN(NeuralMethod, declaration=HR_CNN):
    """HR-CNN (Špetlík et al., BMVC 2018): per-frame extractor CNN, 1-D estimator CNN."""

    with_hr = True  # both stages' losses use each window's reference HR

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._stage = "both"

    # -- networks -------------------------------------------------------------------------------
    def _extractor(self) -> Extractor:
        c = self.config
        return Extractor(
            width=int(c["ext_width"]), scale=float(c["ext_scale"]), dropout=bool(c["ext_dropout"])
        )

    def _estimator(self) -> Estimator:
        c = self.config
        return Estimator(
            layers=int(c["est_layers"]), filters=int(c["est_filters"]), kernel=int(c["est_kernel"]),
            pool=int(c["est_pool"]), hr_center=float(c["hr_center"]), hr_scale=float(c["hr_scale"]),
        )  # fmt: skip

    def build_model(self) -> nn.Module:
        """Extractor stage: the extractor alone; estimator stage: the trained extractor (frozen) and a
        new estimator; otherwise (loading weights) both."""
        if self._stage == "extractor":
            return ExtractorNet(self._extractor())
        if self._stage == "estimator":
            return HRCNNNet(self._trained_extractor, self._estimator(), freeze_extractor=True)
        return HRCNNNet(self._extractor(), self._estimator(), freeze_extractor=True)

    def input_transform(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 (B, T, H, W, 3) -> float (B, T, 3, input_height, input_width) in [0, 1]."""
        b, t, h, w, c = frames.shape
        size = (int(self.config["input_height"]), int(self.config["input_width"]))
        x = frames.reshape(b * t, h, w, c).permute(0, 3, 1, 2).float().div_(255.0)
        if (h, w) != size:
            shrink = h >= size[0] and w >= size[1]
            x = (
                F.interpolate(x, size=size, mode="area")
                if shrink
                else F.interpolate(x, size=size, mode="bilinear", align_corners=False)
            )
        return x.reshape(b, t, c, *size)

    def compute_loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        if self._stage == "extractor":
            c = self.config
            loss = SNRLoss(float(c["snr_bpm_min"]), float(c["snr_bpm_max"]), float(c["snr_delta_bpm"]))
            return loss(output, batch.hr, batch.fps)
        keep = torch.isfinite(batch.hr)
        return (output.float()[keep] - batch.hr[keep]).abs().mean()

    # -- training: two stages through the shared harness -----------------------------------------
    def fit(self, train: Sequence[Clip], context: FitContext) -> None:
        """Train the extractor (SNR loss), then the estimator on its frozen signals (L1 to the HR)."""
        work = Path(context.work_dir)
        histories: dict[str, list[dict[str, Any]]] = {}
        self._stage = "extractor"
        try:
            super().fit(train, replace(context, work_dir=work / "extractor"))
            histories["extractor"] = self.fit_result.history if self.fit_result else []
            self._trained_extractor = self.model.extractor  # type: ignore[union-attr]
            self._stage = "estimator"
            config = self.config
            self.config = {**config, "epochs": config["est_epochs"], "lr": config["est_lr"]}
            try:
                super().fit(train, replace(context, work_dir=work / "estimator"))
            finally:
                self.config = config
            histories["estimator"] = self.fit_result.history if self.fit_result else []
        finally:
            self._stage = "both"
        from rppgbench.training import distributed

        if distributed.is_main_process():
            history = [{**epoch, "stage": stage} for stage, epochs in histories.items() for epoch in epochs]
            summary = {"method": self.name, "stages": list(histories), "history": history}
            (work / TRAINING_FILE).write_text(json.dumps(summary, indent=2, default=float))

    # -- evaluation -------------------------------------------------------------------------------
    @torch.no_grad()
    def _signal(self, clip: Clip) -> torch.Tensor:
        model, device = self._require_model()
        model.eval()
        parts = []
        for start in range(0, len(clip), _CHUNK):
            block = torch.from_numpy(np.ascontiguousarray(np.asarray(clip.frames[start : start + _CHUNK])))
            with device.autocast():
                parts.append(model.signal(self.input_transform(block[None].to(device.device))).float())
        return torch.cat(parts, dim=1)  # (1, T)

    def predict(self, clip: Clip) -> np.ndarray:
        """The extractor's signal of the clip, one value per frame."""
        return self._signal(clip)[0].cpu().numpy().astype(np.float32)

    @torch.no_grad()
    def predict_hr(self, clip: Clip) -> float:
        """The estimator's HR (bpm) of the extractor's signal of the whole clip."""
        model, device = self._require_model()
        signal = self._signal(clip)
        if signal.shape[1] <= model.estimator.shrink:
            raise SignalError(
                f"{self.name}: {signal.shape[1]} frames are too few for the estimator "
                f"(it needs more than {model.estimator.shrink})"
            )
        with device.autocast():
            return float(model.estimator(signal).float()[0])
