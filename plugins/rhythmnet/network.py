"""RhythmNet's network: a ResNet-18 trunk over STMap windows, a GRU over consecutive windows, an HR head.

The ResNet-18 (He et al., CVPR 2016) is written here and randomly initialised: the paper starts from
ImageNet weights, which rppgbench cannot fetch (nothing is downloaded at run time). At `width` 64 and
3 input channels the trunk (everything before the classifier) has torchvision's `resnet18` count less
its fc layer, 11,176,512 parameters; `width` scales every stage for small CPU recipes.
"""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1 projected) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet18Trunk(nn.Module):
    """ResNet-18 without its classifier: 7x7/2 stem, 3x3/2 max pool, four stages of two basic blocks
    (widths w, 2w, 4w, 8w; stride 2 from the second stage), global average pooling -> (N, 8w)."""

    def __init__(self, in_channels: int = 3, width: int = 64) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, width, 7, 2, 3, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        stages, cin = [], width
        for i, cout in enumerate((width, 2 * width, 4 * width, 8 * width)):
            stride = 1 if i == 0 else 2
            stages += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout)]
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.features = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.stages(self.stem(x)), 1), 1)


class RhythmNetModel(nn.Module):
    """(B, S, C, R, W) STMap windows -> (B, S) HR in bpm.

    Each window goes through the trunk; with `gru`, a one-layer GRU runs over the S consecutive
    windows' features (the paper's modelling of neighbouring HR measurements) and a linear head reads
    each step's HR. The head's output is `hr_center + hr_scale * y`: an affine output parametrisation
    (ours) so that a randomly initialised network starts near typical HRs instead of 0 bpm.
    """

    def __init__(
        self,
        in_channels: int = 6,
        width: int = 64,
        gru: bool = True,
        hidden: int = 0,
        hr_center: float = 80.0,
        hr_scale: float = 20.0,
    ) -> None:
        super().__init__()
        self.backbone = ResNet18Trunk(in_channels, width)
        features = self.backbone.features
        hidden = hidden or features
        self.gru = nn.GRU(features, hidden, batch_first=True) if gru else None
        self.head = nn.Linear(hidden if gru else features, 1)
        self.hr_center, self.hr_scale = float(hr_center), float(hr_scale)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        b, s = windows.shape[:2]
        feats = self.backbone(windows.flatten(0, 1)).view(b, s, -1)
        if self.gru is not None:
            feats, _ = self.gru(feats)
        return self.hr_center + self.hr_scale * self.head(feats).squeeze(-1)
