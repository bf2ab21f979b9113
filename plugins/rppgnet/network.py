"""rPPGNet and STVEN (Yu, Peng, Li, Hong, Zhao, ICCV 2019), written from the paper.

rPPGNet (the paper's Sec. 3.2 and Fig. 4): a spatio-temporal convolutional network that keeps the
temporal resolution. Its 3x3x3 convolutions are factorised (R(2+1)D) into a 1x3x3 spatial and a
3x1x1 temporal convolution with M intermediate channels, M chosen to keep the parameters of the full
3x3x3 kernel. A skin-segmentation branch on the half-resolution features predicts a skin map;
skin-based spatio-temporal attention (sigmoid of the channel mean + sigmoid of the channel max + the
skin map, softmax over each frame's positions) weights the features at 1/4 and 1/8 of the input
side; the weighted features are averaged over space into signals: a mid-level signal (1/4), the
global signal (1/8, the output) and one signal per quarter of the 1/8 feature map (the partition
constraint: every part must carry the pulse on its own).

STVEN (Sec. 3.1, Fig. 3): a video-to-video encoder-decoder conditioned on a target compression
level (one-hot label maps concatenated to the input): 3x7x7 conv, two strided down-sampling convs
(space /4, time /2), factorised spatio-temporal bottleneck convs, two transposed up-sampling convs
and a 1x7x7 conv with tanh, added to the input (it predicts a residual). Instance normalisation.

Layer widths follow the authors' released code (github.com/ZitongYu/STVEN_rPPGNet), read for shapes
only: rPPGNet 16 / 32 / 64 channels, skin branch 16 -> 8 (+ a 1x1 residual to 8) -> 1; STVEN 64
channels, 5 compression labels, 4 bottleneck convs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def intermediate_channels(c_in: int, c_out: int, kernel: tuple[int, int, int] = (3, 3, 3)) -> int:
    """M of a factorised (2+1)-D convolution: as many parameters as the full t x h x w kernel."""
    t, h, w = kernel
    return (t * h * w * c_in * c_out) // (h * w * c_in + t * c_out)


class SpatioTemporalConv(nn.Module):
    """1x3x3 spatial conv -> BatchNorm -> ReLU -> 3x1x1 temporal conv ('same' padding, stride 1)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        mid = intermediate_channels(c_in, c_out)
        self.spatial = nn.Conv3d(c_in, mid, (1, 3, 3), padding=(0, 1, 1))
        self.norm = nn.BatchNorm3d(mid)
        self.temporal = nn.Conv3d(mid, c_out, (3, 1, 1), padding=(1, 0, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.temporal(F.relu(self.norm(self.spatial(x))))


def st_block(c_in: int, c_out: int) -> nn.Sequential:
    """Factorised spatio-temporal conv + BatchNorm + ReLU."""
    return nn.Sequential(SpatioTemporalConv(c_in, c_out), nn.BatchNorm3d(c_out), nn.ReLU(inplace=True))


def skin_attention(features: torch.Tensor, skin: torch.Tensor) -> torch.Tensor:
    """Skin-based spatio-temporal attention: features (B, C, T, H, W), skin map (B, T, H, W) in [0, 1]
    -> features weighted by softmax over each frame's H x W positions of
    sigmoid(mean over channels) + sigmoid(max over channels) + skin."""
    b, _, t, h, w = features.shape
    score = torch.sigmoid(features.mean(dim=1)) + torch.sigmoid(features.amax(dim=1)) + skin
    weights = torch.softmax(score.reshape(b, t, h * w), dim=-1).reshape(b, 1, t, h, w)
    return features * weights


class RPPGNet(nn.Module):
    """rPPGNet: (B, 3, T, S, S) -> dict of signals (B, T), parts (B, 4, T) and skin map (B, T, S/2, S/2).

    S must be a multiple of 16 (three 2x poolings, then the four quarters). `width` is the channel
    count of the deep layers (64 in the paper); the shallow ones have width / 4 and width / 2.
    """

    PARTS = 4

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        quarter, half = max(1, width // 4), max(1, width // 2)
        self.stem = nn.Sequential(
            nn.Conv3d(3, quarter, (1, 5, 5), padding=(0, 2, 2)),
            nn.BatchNorm3d(quarter),
            nn.ReLU(inplace=True),
        )
        self.pool = nn.AvgPool3d((1, 2, 2), stride=(1, 2, 2))
        self.block_half = nn.Sequential(st_block(quarter, half), st_block(half, half))  # 1/2 side
        self.block_quarter = nn.Sequential(st_block(half, width), st_block(width, width))  # 1/4
        self.block_eighth = nn.Sequential(*(st_block(width, width) for _ in range(3)))  # 1/8
        self.skin_main = nn.Sequential(
            nn.Conv3d(half, 16, (1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(16), nn.ReLU(inplace=True),
            nn.Conv3d(16, 8, (1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(8), nn.ReLU(inplace=True),
        )  # fmt: skip
        self.skin_residual = nn.Sequential(nn.Conv3d(half, 8, 1), nn.BatchNorm3d(8), nn.ReLU(inplace=True))
        self.skin_output = nn.Conv3d(8, 1, (1, 3, 3), padding=(0, 1, 1))  # logits; sigmoid in forward
        self.mid_head = nn.Conv3d(width, 1, 1)
        self.global_head = nn.Conv3d(width, 1, 1)
        self.part_heads = nn.ModuleList(nn.Conv3d(width, 1, 1) for _ in range(self.PARTS))

    @staticmethod
    def _signal(head: nn.Module, features: torch.Tensor) -> torch.Tensor:
        """Spatial mean of (attention-weighted) features, then a 1x1x1 conv: (B, C, T, h, w) -> (B, T)."""
        return head(features.mean(dim=(3, 4), keepdim=True))[:, 0, :, 0, 0]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        half = self.block_half(self.pool(self.stem(x)))
        skin_logits = self.skin_output(self.skin_main(half) + self.skin_residual(half))[:, 0]
        skin = torch.sigmoid(skin_logits)  # (B, T, S/2, S/2)
        quarter = self.block_quarter(self.pool(half))
        eighth = self.block_eighth(self.pool(quarter))
        skin_quarter = F.avg_pool2d(skin.flatten(0, 1), 2).reshape(*skin.shape[:2], *quarter.shape[3:])
        skin_eighth = F.avg_pool2d(skin_quarter.flatten(0, 1), 2).reshape(*skin.shape[:2], *eighth.shape[3:])
        attended = skin_attention(eighth, skin_eighth)
        h, w = attended.shape[3] // 2, attended.shape[4] // 2
        quarters = (
            attended[..., :h, :w],
            attended[..., h:, :w],
            attended[..., :h, w:],
            attended[..., h:, w:],
        )
        return {
            "signal": self._signal(self.global_head, attended),
            "mid": self._signal(self.mid_head, skin_attention(quarter, skin_quarter)),
            "parts": torch.stack(
                [self._signal(hd, q) for hd, q in zip(self.part_heads, quarters, strict=True)], 1
            ),
            "skin_logits": skin_logits,
        }


class STVEN(nn.Module):
    """Spatio-temporal video enhancement network: video in [-1, 1] (B, 3, T, S, S) and target compression
    labels (B,) -> enhanced video (input + residual). T must be even and S a multiple of 4."""

    def __init__(self, width: int = 64, levels: int = 5, blocks: int = 4) -> None:
        super().__init__()
        self.levels = levels
        w1, w2, w4 = width, 2 * width, 4 * width

        def norm(c: int) -> nn.Module:
            return nn.InstanceNorm3d(c, affine=True)

        self.encoder = nn.Sequential(
            nn.Conv3d(3 + levels, w1, (3, 7, 7), padding=(1, 3, 3), bias=False), norm(w1), nn.ReLU(inplace=True),
            nn.Conv3d(w1, w2, (3, 4, 4), stride=(1, 2, 2), padding=1, bias=False), norm(w2), nn.ReLU(inplace=True),
            nn.Conv3d(w2, w4, 4, stride=2, padding=1, bias=False), norm(w4), nn.ReLU(inplace=True),
            *(SpatioTemporalConv(w4, w4) for _ in range(blocks)),
        )  # fmt: skip
        self.decoder = nn.Sequential(
            nn.ConvTranspose3d(w4, w1, 4, stride=2, padding=1, bias=False), norm(w1), nn.ReLU(inplace=True),
            nn.ConvTranspose3d(w1, w1 // 2, (1, 4, 4), stride=(1, 2, 2), padding=(0, 1, 1), bias=False),
            norm(w1 // 2), nn.ReLU(inplace=True),
            nn.Conv3d(w1 // 2, 3, (1, 7, 7), padding=(0, 3, 3), bias=False), nn.Tanh(),
        )  # fmt: skip

    def forward(self, video: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        b, _, t, h, w = video.shape
        labels = F.one_hot(level.long(), self.levels).to(video.dtype)
        labels = labels[:, :, None, None, None].expand(b, self.levels, t, h, w)
        return video + self.decoder(self.encoder(torch.cat([video, labels], dim=1)))


# -- the compression STVEN learns to undo -------------------------------------------------------------

#: the JPEG standard's luminance quantisation table (ITU-T T.81, Annex K, Table K.1)
JPEG_LUMINANCE = (
    (16, 11, 10, 16, 24, 40, 51, 61), (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56), (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77), (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101), (72, 92, 95, 98, 112, 100, 103, 99),
)  # fmt: skip
#: JPEG quality of compression labels 1, 2, ...; label 0 is the uncompressed video
QUALITIES = (50, 20, 10, 5)


def _dct_matrix(n: int = 8) -> torch.Tensor:
    k = torch.arange(n, dtype=torch.float64)
    m = torch.cos(math.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n)) * math.sqrt(2 / n)
    m[0] /= math.sqrt(2)
    return m.float()


def compress(video: torch.Tensor, quality: int) -> torch.Tensor:
    """JPEG-like intra-frame compression of video (B, 3, T, H, W) in [0, 1]: each channel's 8x8 blocks are
    DCT-transformed, quantised with the JPEG luminance table at `quality` (IJG scaling) and restored.

    Our datasets hold no pairs of compressed and uncompressed videos, so STVEN's training pairs are
    made with this stand-in for a video codec's quantisation (blocking, lost fine detail and lost
    small colour changes)."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    table = torch.tensor(JPEG_LUMINANCE, dtype=video.dtype, device=video.device)
    table = torch.clamp(torch.floor((table * scale + 50) / 100), min=1) / 255.0
    b, c, t, h, w = video.shape
    ph, pw = (-h) % 8, (-w) % 8
    x = video.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w)
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    hh, ww = x.shape[2] // 8, x.shape[3] // 8
    blocks = x.reshape(b * t, c, hh, 8, ww, 8).transpose(3, 4)  # (N, C, hh, ww, 8, 8)
    d = _dct_matrix().to(video)
    coeffs = d @ (blocks - 0.5) @ d.T
    restored = d.T @ (torch.round(coeffs / table) * table) @ d + 0.5
    x = restored.transpose(3, 4).reshape(b * t, c, hh * 8, ww * 8)[..., :h, :w].clamp(0.0, 1.0)
    return x.reshape(b, t, c, h, w).permute(0, 2, 1, 3, 4)
