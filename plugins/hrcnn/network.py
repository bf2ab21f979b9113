"""HR-CNN's two networks (Špetlík, Franc, Matas, BMVC 2018): the extractor and the HR estimator.

Extractor: a 2-D CNN applied to every frame on its own, mapping the face image to one number, so a
clip becomes a 1-D signal. Four blocks [convolution, max pooling, batch norm, ELU] with kernels
15x10, 15x10, 15x10, 12x10, poolings 15x10 (stride 2 in the first block, 1 after), w, w, 2w, 2w
channels, then a 1x1 convolution to one channel; batch norm on the input; dropout before the last two
convolutions. At the paper's 192x128 input the last block's output is 1x1; at other sizes (`scale`
shrinks every kernel for small inputs) the remaining positions are averaged. Layer shapes follow
the authors' published extractor (github.com/radimspetlik/hr-cnn, `FaceHRNet09V2ELU`, read for the
shapes only): 3,839,367 parameters with RGB input at w = 64.

Estimator: a 1-D CNN over the extractor's signal of a window, regressing its HR: the signal's mean is
removed (and, ours, its scale: the SNR loss leaves the extractor's scale free, so each window is
divided by its standard deviation unless `standardise` is off), then batch norm, `layers` blocks [convolution, batch norm, ELU] with max pooling (stride 1)
in every third block, a 1x1 convolution and global averaging. The paper chose the estimator's depth,
kernel and filter count by a random search whose result is not in the public code; the defaults here
are ours. Its output is `hr_center + hr_scale * y` (an affine parametrisation, ours, so that a fresh
estimator starts near typical HRs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

EXTRACTOR_KERNELS = ((15, 10), (15, 10), (15, 10), (12, 10))
EXTRACTOR_POOL = (15, 10)
EXTRACTOR_DROPOUT = (0.0, 0.0, 0.0, 0.2)


def _scaled(kernel: tuple[int, int], scale: float) -> tuple[int, int]:
    return (max(1, int(round(kernel[0] * scale))), max(1, int(round(kernel[1] * scale))))


class Extractor(nn.Module):
    """(N, 3, H, W) face images -> (N,) one value per image."""

    def __init__(
        self, width: int = 64, scale: float = 1.0, in_channels: int = 3, dropout: bool = True
    ) -> None:
        super().__init__()
        self.dropout = dropout
        self.bn_input = nn.BatchNorm2d(in_channels)
        channels = (width, width, 2 * width, 2 * width)
        blocks, cin = [], in_channels
        pool = _scaled(EXTRACTOR_POOL, scale)
        for i, (cout, kernel) in enumerate(zip(channels, EXTRACTOR_KERNELS, strict=True)):
            blocks.append(nn.ModuleDict({
                "conv": nn.Conv2d(cin, cout, _scaled(kernel, scale)),
                "pool": nn.MaxPool2d(pool, stride=2 if i == 0 else 1),
                "bn": nn.BatchNorm2d(cout),
            }))  # fmt: skip
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.last = nn.Conv2d(cin, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn_input(x)
        for block, p in zip(self.blocks, EXTRACTOR_DROPOUT, strict=True):
            if p and self.dropout:
                x = F.dropout2d(x, p, self.training)
            x = F.elu(block["bn"](block["pool"](block["conv"](x))))
        x = self.last(F.dropout(x, 0.5, self.training) if self.dropout else x)
        return x.mean(dim=(1, 2, 3))


class Estimator(nn.Module):
    """(B, T) signal -> (B,) HR in bpm."""

    def __init__(
        self,
        layers: int = 9,
        filters: int = 64,
        kernel: int = 9,
        pool: int = 3,
        hr_center: float = 80.0,
        hr_scale: float = 20.0,
        standardise: bool = True,
    ) -> None:
        super().__init__()
        self.standardise = standardise
        self.bn_input = nn.BatchNorm1d(1)
        convs, cin = [], 1
        for i in range(layers):
            parts: list[nn.Module] = [nn.Conv1d(cin, filters, kernel)]
            if i % 3 == 2:
                parts.append(nn.MaxPool1d(pool, stride=1))
            parts += [nn.BatchNorm1d(filters), nn.ELU()]
            convs.append(nn.Sequential(*parts))
            cin = filters
        self.convs = nn.Sequential(*convs)
        self.last = nn.Conv1d(cin, 1, 1)
        self.hr_center, self.hr_scale = float(hr_center), float(hr_scale)
        self.shrink = layers * (kernel - 1) + (layers // 3) * (pool - 1)
        """Samples lost to the unpadded convolutions and poolings: inputs need more than this."""

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        x = signal - signal.mean(dim=-1, keepdim=True)
        if self.standardise:
            x = x / x.std(dim=-1, keepdim=True).clamp_min(1e-6)
        x = x[:, None, :]
        x = self.last(self.convs(self.bn_input(x)))
        return self.hr_center + self.hr_scale * x.mean(dim=(1, 2))


class HRCNNNet(nn.Module):
    """Extractor then estimator: (B, T, 3, H, W) frames -> (B,) HR; the extractor can be frozen."""

    def __init__(self, extractor: Extractor, estimator: Estimator, freeze_extractor: bool = True) -> None:
        super().__init__()
        self.extractor, self.estimator = extractor, estimator
        self.freeze_extractor = freeze_extractor
        if freeze_extractor:
            for p in self.extractor.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True) -> HRCNNNet:
        super().train(mode)
        if self.freeze_extractor:  # a frozen extractor keeps its batch-norm statistics and no dropout
            self.extractor.eval()
        return self

    def signal(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) -> (B, T) extractor signal."""
        b, t = frames.shape[:2]
        return self.extractor(frames.flatten(0, 1)).view(b, t)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.estimator(self.signal(frames))


class ExtractorNet(nn.Module):
    """The extractor over clips: (B, T, 3, H, W) -> (B, T) signal (the first training stage's model)."""

    def __init__(self, extractor: Extractor) -> None:
        super().__init__()
        self.extractor = extractor

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, t = frames.shape[:2]
        return self.extractor(frames.flatten(0, 1)).view(b, t)
