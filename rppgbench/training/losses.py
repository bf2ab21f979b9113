"""Losses shared by every neural method: negative Pearson, frequency cross-entropy, and their hybrid.

`FrequencyCrossEntropyLoss` follows AutoHR (Yu et al., IEEE SPL 2020, Sec. II-C): the power spectral
density of the predicted signal over integer-bpm heart-rate bins is used as class scores and the
ground-truth HR's bin is the class. Which logits to use is a deliberate decision (see the class).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from rppgbench.errors import ConfigError


def _as_float(x: torch.Tensor) -> torch.Tensor:
    return x.float() if x.dtype != torch.float32 else x


class NegPearsonLoss(nn.Module):
    """Mean over the batch of 1 - Pearson(pred_b, target_b) in time: 0 for an affine match, 2 if inverted."""

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """pred, target: (B, T)."""
        pred, target = _as_float(pred), _as_float(target)
        p = pred - pred.mean(dim=-1, keepdim=True)
        t = target - target.mean(dim=-1, keepdim=True)
        r = (p * t).sum(-1) / (p.norm(dim=-1) * t.norm(dim=-1) + self.eps)
        return (1.0 - r).mean()


def power_spectrum_at(
    pred: torch.Tensor, fps: torch.Tensor, freqs_hz: torch.Tensor, window: str
) -> torch.Tensor:
    """Power (B, K) of each row of pred (B, T) at freqs_hz (K,) by a direct DFT; fps is (B,)."""
    pred = _as_float(pred)
    pred = pred - pred.mean(dim=-1, keepdim=True)
    length = pred.shape[-1]
    if window == "hann":
        pred = pred * torch.hann_window(length, periodic=False, device=pred.device, dtype=pred.dtype)
    elif window != "none":
        raise ConfigError(f"FrequencyCrossEntropyLoss window must be 'hann' or 'none', got {window!r}")
    t = torch.arange(length, device=pred.device, dtype=pred.dtype)
    freqs = freqs_hz.to(pred)
    fps = fps.to(pred)
    if bool((fps == fps[0]).all()):  # one frame rate: a shared (T, K) basis and two matmuls
        phase = 2 * math.pi * (t[:, None] / fps[0]) * freqs[None, :]
        re, im = pred @ torch.cos(phase), pred @ torch.sin(phase)
    else:  # per-sample frame rates: phase (B, T, K)
        phase = 2 * math.pi * (t[None, :, None] / fps[:, None, None]) * freqs[None, None, :]
        re = torch.einsum("bt,btk->bk", pred, torch.cos(phase))
        im = torch.einsum("bt,btk->bk", pred, torch.sin(phase))
    return (re**2 + im**2) / length


class FrequencyCrossEntropyLoss(nn.Module):
    """Cross-entropy between the prediction's PSD over integer-bpm bins (class scores) and the true HR bin.

    Logits decision. A sum-normalised PSD fed straight into softmax gives a nearly flat loss (about
    3.95..4.94 for 140 bins) that barely trains, so it is not offered. Default `logits="log_power"`:
    logits = log(P_k + eps) / temperature; with temperature 1 the softmax is exactly the share of
    in-band power in each bin, so the loss is -log(power share of the true HR bin): invariant to the
    prediction's scale (like the Pearson loss), large for a wrong peak, never saturating.
    `logits="power"`: logits = P_k / mean_k(P_k) / temperature (power relative to its mean; choose a
    small temperature, e.g. 0.1, for a usable range). Samples whose HR label is NaN are ignored.
    """

    def __init__(
        self,
        bpm_min: int = 40,
        bpm_max: int = 179,
        logits: str = "log_power",
        temperature: float = 1.0,
        window: str = "hann",
        eps: float = 1e-8,
    ) -> None:
        super().__init__()
        if bpm_max <= bpm_min:
            raise ConfigError(f"FrequencyCrossEntropyLoss needs bpm_max > bpm_min, got {bpm_min}..{bpm_max}")
        if logits not in {"log_power", "power"}:
            raise ConfigError(
                f"FrequencyCrossEntropyLoss logits must be 'log_power' or 'power', got {logits!r}"
            )
        if temperature <= 0:
            raise ConfigError(f"FrequencyCrossEntropyLoss temperature must be > 0, got {temperature}")
        self.bpm_min, self.bpm_max = int(bpm_min), int(bpm_max)
        self.logits_kind, self.temperature, self.window, self.eps = logits, float(temperature), window, eps
        self.register_buffer(
            "bpm", torch.arange(self.bpm_min, self.bpm_max + 1, dtype=torch.float32), persistent=False
        )

    def logits(self, pred: torch.Tensor, fps: torch.Tensor | float) -> torch.Tensor:
        """Class scores (B, K) of pred (B, T) over the bpm grid."""
        fps_t = torch.as_tensor(fps, dtype=torch.float32, device=pred.device).expand(pred.shape[0])
        power = power_spectrum_at(pred, fps_t, self.bpm / 60.0, self.window)
        if self.logits_kind == "log_power":
            return torch.log(power + self.eps) / self.temperature
        return power / (power.mean(dim=-1, keepdim=True) + self.eps) / self.temperature

    def target_class(self, hr_bpm: torch.Tensor) -> torch.Tensor:
        """Index of the grid bin nearest each HR (clamped to the grid)."""
        return (torch.round(hr_bpm.float()) - self.bpm_min).clamp(0, self.bpm_max - self.bpm_min).long()

    def forward(self, pred: torch.Tensor, hr_bpm: torch.Tensor, fps: torch.Tensor | float) -> torch.Tensor:
        """pred (B, T), hr_bpm (B,), fps (B,) or a number."""
        hr_bpm = torch.as_tensor(hr_bpm, device=pred.device)
        valid = torch.isfinite(hr_bpm)
        if not bool(valid.any()):
            return pred.sum() * 0.0
        fps_t = torch.as_tensor(fps, dtype=torch.float32, device=pred.device).expand(pred.shape[0])
        logits = self.logits(pred[valid], fps_t[valid])
        return F.cross_entropy(logits, self.target_class(hr_bpm[valid]))


class HybridLoss(nn.Module):
    """AutoHR's overall loss: lambda_time * NegPearson(pred, target) + FreqCE(pred, HR) (lambda = 0.2)."""

    def __init__(self, lambda_time: float = 0.2, **freq_kwargs: object) -> None:
        super().__init__()
        self.lambda_time = float(lambda_time)
        self.time = NegPearsonLoss()
        self.freq = FrequencyCrossEntropyLoss(**freq_kwargs)  # type: ignore[arg-type]

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, hr_bpm: torch.Tensor, fps: torch.Tensor | float
    ) -> torch.Tensor:
        """pred, target (B, T); hr_bpm (B,); fps (B,) or a number."""
        return self.lambda_time * self.time(pred, target) + self.freq(pred, hr_bpm, fps)
