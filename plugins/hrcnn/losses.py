"""HR-CNN's extractor loss: the signal-to-noise ratio of the extracted signal at the true HR (BMVC 2018).

The power spectrum of the (Hann-windowed) signal is taken at every integer bpm of [bpm_min, bpm_max]
by the shared direct DFT (`rppgbench.training.losses.power_spectrum_at`); the "signal" bins lie within
`delta_bpm` of the reference HR or of its first harmonic, the rest are noise; the loss is
-10 log10(signal power / noise power), averaged over the batch, so minimising it concentrates the
signal's power at the HR whatever its scale.
"""

from __future__ import annotations

import torch
from torch import nn

from rppgbench.training.losses import power_spectrum_at


class SNRLoss(nn.Module):
    """`forward(signal (B, T), hr_bpm (B,), fps (B,))` -> -SNR in dB (mean over samples with an HR)."""

    def __init__(self, bpm_min: float = 40.0, bpm_max: float = 240.0, delta_bpm: float = 6.0) -> None:
        super().__init__()
        self.register_buffer("bpm", torch.arange(float(bpm_min), float(bpm_max) + 1.0), persistent=False)
        self.delta = float(delta_bpm)

    def forward(self, signal: torch.Tensor, hr_bpm: torch.Tensor, fps: torch.Tensor) -> torch.Tensor:
        keep = torch.isfinite(hr_bpm)
        if not bool(keep.any()):
            return signal.sum() * 0.0
        signal, hr_bpm, fps = signal[keep], hr_bpm[keep].float(), fps[keep].float()
        power = power_spectrum_at(signal, fps, self.bpm / 60.0, "hann")  # (B, K)
        bpm = self.bpm[None, :].to(power)
        hr = hr_bpm[:, None].to(power)
        near = ((bpm - hr).abs() <= self.delta) | ((bpm - 2 * hr).abs() <= self.delta)
        eps = 1e-10
        wanted = (power * near).sum(-1) + eps
        rest = (power * ~near).sum(-1) + eps
        return (-10.0 * torch.log10(wanted / rest)).mean()
