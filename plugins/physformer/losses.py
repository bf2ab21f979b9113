"""PhysFormer's losses (Yu et al., CVPR 2022, Sec. 3.3): negative Pearson, frequency cross-entropy,
label-distribution KL and the curriculum that raises the weight of the frequency terms over epochs.

    L_overall = alpha * L_time + beta(epoch) * (L_CE + L_LD),   beta = beta0 * eta ** (epoch / E)

with alpha = 0.1, beta0 = 1, eta = 5 and E the curriculum length in epochs (epoch counted from 0,
the paper's (Epoch_current - 1) / Epoch_total; beta stays at beta0 * eta after E epochs).

L_CE is the shared `FrequencyCrossEntropyLoss` (the AutoHR frequency loss; the PSD of the prediction
over integer-bpm bins 40..179 as class scores). L_LD is the label-distribution loss: the HR label
becomes a Gaussian over the same bins, p_k = N(k; HR, sigma^2) normalised to sum 1 (sigma = 1 bpm),
and the loss is KL(p || softmax(class scores)). Its minimum, 0, is reached when the prediction's
spectral distribution equals p.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from rppgbench.errors import ConfigError
from rppgbench.training.losses import FrequencyCrossEntropyLoss, NegPearsonLoss

PAPER_BINS = 140
"""40..179 bpm: the paper's class grid (bins of 1 bpm)."""


def frequency_loss(logits: str, bpm_min: int = 40, bpm_max: int = 179) -> FrequencyCrossEntropyLoss:
    """The frequency cross-entropy with PhysFormer's class scores.

    `logits="paper"`: the power spectrum divided by its sum, fed to softmax as in the authors' code
    (= the shared loss's `power` scores with temperature K, the number of bins). `"log_power"`: log
    power, whose softmax is the share of power in each bin (the shared loss's default; see there why).
    """
    if logits == "paper":
        return FrequencyCrossEntropyLoss(bpm_min, bpm_max, logits="power", temperature=bpm_max - bpm_min + 1)
    if logits == "log_power":
        return FrequencyCrossEntropyLoss(bpm_min, bpm_max, logits="log_power")
    raise ConfigError(f"PhysFormer freq_logits must be 'paper' or 'log_power', got {logits!r}")


def curriculum_weight(epoch: int, beta0: float = 1.0, eta: float = 5.0, epochs: int = 25) -> float:
    """beta of the frequency terms at `epoch` (from 0): beta0 * eta ** (min(epoch, epochs) / epochs)."""
    if epochs < 1:
        raise ConfigError(f"PhysFormer curriculum length must be at least 1 epoch, got {epochs}")
    return float(beta0) * math.pow(float(eta), min(max(int(epoch), 0), epochs) / epochs)


class LabelDistributionLoss(nn.Module):
    """KL(Gaussian label distribution || softmax of the frequency class scores), averaged over the batch.

    The class scores are those of `freq` (a `FrequencyCrossEntropyLoss`, so both frequency terms see
    the same spectrum); samples whose HR is NaN are ignored.
    """

    def __init__(self, freq: FrequencyCrossEntropyLoss, sigma: float = 1.0) -> None:
        super().__init__()
        if sigma <= 0:
            raise ConfigError(f"label-distribution sigma must be > 0, got {sigma}")
        self.freq, self.sigma = freq, float(sigma)

    def target_distribution(self, hr_bpm: torch.Tensor) -> torch.Tensor:
        """(B, K): a Gaussian of width sigma around each HR over the bpm bins, normalised to sum 1.

        Bins are floored at 1e-15 (as in the authors' code), so log p is finite everywhere.
        """
        bpm = self.freq.bpm.to(hr_bpm.device)
        hr = hr_bpm.float().clamp(float(bpm[0]), float(bpm[-1]))
        density = torch.exp(-((bpm[None, :] - hr[:, None]) ** 2) / (2 * self.sigma**2))
        density = (density / density.sum(dim=-1, keepdim=True)).clamp_min(1e-15)
        return density / density.sum(dim=-1, keepdim=True)

    def divergence(self, log_predicted: torch.Tensor, hr_bpm: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of KL(target || predicted), with the predicted distribution in log form."""
        return F.kl_div(log_predicted, self.target_distribution(hr_bpm), reduction="batchmean")

    def forward(self, pred: torch.Tensor, hr_bpm: torch.Tensor, fps: torch.Tensor | float) -> torch.Tensor:
        """pred (B, T), hr_bpm (B,), fps (B,) or a number."""
        hr_bpm = torch.as_tensor(hr_bpm, device=pred.device)
        valid = torch.isfinite(hr_bpm)
        if not bool(valid.any()):
            return pred.sum() * 0.0
        fps_t = torch.as_tensor(fps, dtype=torch.float32, device=pred.device).expand(pred.shape[0])
        logits = self.freq.logits(pred[valid], fps_t[valid])
        return self.divergence(F.log_softmax(logits, dim=-1), hr_bpm[valid])


class PhysFormerLoss(nn.Module):
    """alpha * NegPearson + beta(epoch) * (FreqCE + LabelDistributionKL); `time_only` keeps the first term."""

    def __init__(
        self,
        alpha: float = 0.1,
        beta0: float = 1.0,
        eta: float = 5.0,
        curriculum_epochs: int = 25,
        sigma: float = 1.0,
        logits: str = "log_power",
        time_only: bool = False,
    ) -> None:
        super().__init__()
        self.alpha, self.beta0, self.eta = float(alpha), float(beta0), float(eta)
        self.curriculum_epochs, self.time_only = int(curriculum_epochs), bool(time_only)
        curriculum_weight(0, beta0, eta, self.curriculum_epochs)  # validates the length
        self.time = NegPearsonLoss()
        self.freq = frequency_loss(logits)
        self.label_distribution = LabelDistributionLoss(self.freq, sigma)

    def beta(self, epoch: int) -> float:
        """The frequency terms' weight at `epoch` (from 0)."""
        return curriculum_weight(epoch, self.beta0, self.eta, self.curriculum_epochs)

    def forward(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        hr_bpm: torch.Tensor,
        fps: torch.Tensor | float,
        epoch: int = 0,
    ) -> torch.Tensor:
        """pred, target (B, T); hr_bpm (B,); fps (B,) or a number; epoch from 0."""
        time = self.time(pred, target)
        if self.time_only:
            return time
        freq = self.freq(pred, hr_bpm, fps) + self.label_distribution(pred, hr_bpm, fps)
        return self.alpha * time + self.beta(epoch) * freq
