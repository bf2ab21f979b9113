"""The RhythmFormer network: fusion stem, patch embedding, hierarchical temporal periodic transformer.

Zou, Guo, Chen, Zhuo, Huang, Ma, "RhythmFormer: Extracting Patterned rPPG Signals based on Periodic
Sparse Attention", Pattern Recognition 2025 (arXiv 2402.12788). Only the paper's abstract and
overview were at hand while writing this, so the structure follows the paper's description (fusion
stem, hierarchical temporal periodic transformer, pre-attention routing over temporal segments) and
every layer shape and constant below was read from the authors' public code
(github.com/zizheng-guo/RhythmFormer, `neural_methods/model/RhythmFormer.py` and the video
bi-level routing attention it imports) for the facts only:

- fusion stem (per frame, 2-D): the frame X_t and the stack of its four neighbouring frame
  differences [X_{t-1}-X_{t-2}, X_t-X_{t-1}, X_{t+1}-X_t, X_{t+2}-X_{t+1}] (12 channels; the clip's
  edge frames are repeated) each pass Conv5x5/2 + BatchNorm + ReLU + MaxPool3x3/2 (D channels,
  side / 4); the two are fused twice with weights alpha = beta = 0.5:
  P1 = Conv3x3-BN-ReLU(alpha X + beta Delta), P2 = Conv3x3-BN-ReLU(Delta), out = alpha P1 + beta P2;
- patch embedding: Conv3d with kernel = stride = (1, p, p) (p = 4: 128 px -> 8 x 8 tokens per frame);
- hierarchical temporal periodic transformer: `stages` TPT blocks applied one after the other, stage i
  working at temporal scale s = 2^(i+1) (2, 4, 8): log2(s) x [BatchNorm + Conv3d (2,1,1)/(2,1,1)]
  shorten time by s, `depth` transformer blocks run there, and log2(s) x [nearest x2 upsampling in
  time + Conv3d (3,1,1) + BatchNorm + ELU] bring the features back to the frame rate;
- transformer block (pre-norm with BatchNorm3d, residual): periodic sparse attention, then a
  convolutional feed-forward (1x1x1 conv D -> 1.5 D, BN, GELU, 3x3x3 conv, BN, GELU, 1x1x1 conv, BN);
- periodic sparse attention (bi-level routing attention over spatio-temporal segments): Q and K are
  temporal difference convolutions (our `TemporalDifferenceConv3d`, theta 0.2) with BatchNorm, V a
  1x1x1 convolution. The token grid is cut into regions of max(4 / s, 1) time steps (4 frames at
  every scale that allows it) x (H / r) x (W / r) tokens (r = `spatial_regions`, 4). Pre-attention:
  region-mean queries and keys (no gradient, as in the authors' code) give a region affinity matrix;
  each query region keeps its `topk` (40) most related regions. Token attention: every token of a
  query region attends, per head, to all tokens of its routed regions with softmax(Q K^T / sqrt(D))
  (the authors' code scales by the full width D, not the head width); a depth-wise 3x3x3
  convolution of V is added (local context) and a 1x1x1 convolution projects the heads;
- head: spatial average, 1-D 1x1 convolution to one value per frame.

The authors' attention module also builds a 1x1x1 `qkv_linear` projection that its forward never
uses; it is left out here. With it the reference model has 3,326,017 parameters, without it
3,251,137 (see tests/test_rhythmformer.py), which is what ours has at the paper's configuration.
"""

from __future__ import annotations

import math

import torch
from rppgbench_plugins.autohr.tdc import TemporalDifferenceConv3d
from torch import nn

from rppgbench.errors import ConfigError

SEGMENT_FRAMES = 4
"""Frames per temporal routing region at the full frame rate (the reference's `max(4 // s, 1)` steps)."""


def temporal_multiple(stages: int) -> int:
    """Window lengths must be a multiple of this: every stage halves time log2(s) times into whole regions."""
    return max(SEGMENT_FRAMES, 2**stages)


class FusionStem(nn.Module):
    """Frame and frame-difference branches fused twice (alpha, beta = 0.5): (B, 3, T, S, S) -> (B*T, D, S/4, S/4)."""

    def __init__(self, dim: int = 64, alpha: float = 0.5, beta: float = 0.5) -> None:
        super().__init__()
        self.alpha, self.beta = float(alpha), float(beta)

        def branch(channels: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(channels, dim, 5, stride=2, padding=2),
                nn.BatchNorm2d(dim),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, stride=2, padding=1),
            )

        def refine() -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(dim, dim, 3, padding=1), nn.BatchNorm2d(dim), nn.ReLU(inplace=True)
            )

        self.frame, self.diff = branch(3), branch(12)
        self.fuse_frame, self.fuse_diff = refine(), refine()

    @staticmethod
    def differences(x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, S, S) -> (B, 12, T, S, S): the four differences of frames t-2 .. t+2 (edges repeated)."""
        t = x.shape[2]
        index = torch.arange(t, device=x.device)
        frames = [x.index_select(2, (index + k).clamp(0, t - 1)) for k in (-2, -1, 0, 1, 2)]
        return torch.cat([b - a for a, b in zip(frames, frames[1:], strict=False)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        diffs = self.differences(x)

        def per_frame(v: torch.Tensor) -> torch.Tensor:
            return v.transpose(1, 2).reshape(b * t, v.shape[1], h, w)

        frame, delta = self.frame(per_frame(x)), self.diff(per_frame(diffs))
        path1 = self.fuse_frame(self.alpha * frame + self.beta * delta)
        path2 = self.fuse_diff(delta)
        return self.alpha * path1 + self.beta * path2


def _to_regions(x: torch.Tensor, heads: int, region: tuple[int, int, int]) -> torch.Tensor:
    """(B, C, T, H, W) -> (B, heads, regions, tokens per region, C / heads), regions in (t, h, w) order."""
    b, c, t, h, w = x.shape
    rt, rh, rw = region
    x = x.reshape(b, heads, c // heads, t // rt, rt, h // rh, rh, w // rw, rw)
    x = x.permute(0, 1, 3, 5, 7, 4, 6, 8, 2)
    return x.reshape(b, heads, (t // rt) * (h // rh) * (w // rw), rt * rh * rw, c // heads)


def _from_regions(x: torch.Tensor, shape: tuple[int, ...], region: tuple[int, int, int]) -> torch.Tensor:
    """Inverse of `_to_regions` for a (B, C, T, H, W) `shape`."""
    b, c, t, h, w = shape
    rt, rh, rw = region
    heads, head_dim = x.shape[1], x.shape[-1]
    x = x.reshape(b, heads, t // rt, h // rh, w // rw, rt, rh, rw, head_dim)
    return x.permute(0, 1, 8, 2, 5, 3, 6, 4, 7).reshape(b, c, t, h, w)


class PeriodicSparseAttention(nn.Module):
    """Bi-level routing attention over spatio-temporal regions (the paper's periodic sparse attention)."""

    def __init__(
        self, dim: int, heads: int, scale: int, topk: int, spatial_regions: int, theta: float = 0.2,
        side_kernel: int = 3,
    ) -> None:  # fmt: skip
        super().__init__()
        if dim % heads:
            raise ConfigError(f"RhythmFormer dim ({dim}) must be divisible by heads ({heads})")
        self.heads, self.topk, self.spatial_regions = heads, int(topk), int(spatial_regions)
        self.region_steps = max(SEGMENT_FRAMES // scale, 1)
        self.softmax_scale = dim**-0.5
        self.query = nn.Sequential(
            TemporalDifferenceConv3d(dim, dim, 3, padding=1, bias=False, theta=theta), nn.BatchNorm3d(dim)
        )
        self.key = nn.Sequential(
            TemporalDifferenceConv3d(dim, dim, 3, padding=1, bias=False, theta=theta), nn.BatchNorm3d(dim)
        )
        self.value = nn.Conv3d(dim, dim, 1, bias=False)
        self.local = nn.Conv3d(dim, dim, side_kernel, padding=side_kernel // 2, groups=dim)
        self.project = nn.Conv3d(dim, dim, 1)

    def region_size(self, t: int, h: int, w: int) -> tuple[int, int, int]:
        """Tokens per region along (t, h, w) for a (t, h, w) token grid."""
        r = self.spatial_regions
        if t % self.region_steps or h % r or w % r:
            raise ConfigError(
                f"RhythmFormer token grid {t} x {h} x {w} does not split into regions of "
                f"{self.region_steps} steps and {r} x {r} spatial regions"
            )
        return self.region_steps, h // r, w // r

    def route(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Pre-attention: (B, heads, R, n, d) queries and keys -> (B, R, topk) indices of routed regions."""
        b, heads, regions, _, d = q.shape
        q_r = q.detach().mean(dim=3).permute(0, 2, 1, 3).reshape(b, regions, heads * d)
        k_r = k.detach().mean(dim=3).permute(0, 2, 1, 3).reshape(b, regions, heads * d)
        affinity = q_r @ k_r.transpose(1, 2)
        return affinity.topk(min(self.topk, regions), dim=-1).indices

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = tuple(x.shape)
        region = self.region_size(*shape[2:])
        v_grid = self.value(x)
        q = _to_regions(self.query(x), self.heads, region)
        k = _to_regions(self.key(x), self.heads, region)
        v = _to_regions(v_grid, self.heads, region)
        index = self.route(q, k)  # (B, R, k)
        b, heads, regions, n, d = k.shape
        batch = torch.arange(b, device=x.device)[:, None, None]

        def gather(t: torch.Tensor) -> torch.Tensor:  # (B, h, R, n, d) -> (B, h, R, k n, d)
            picked = t.permute(0, 2, 1, 3, 4)[batch, index]  # (B, R, k, h, n, d)
            return picked.permute(0, 3, 1, 2, 4, 5).reshape(b, heads, regions, -1, d)

        attn = torch.softmax((q * self.softmax_scale) @ gather(k).transpose(-1, -2), dim=-1)
        out = _from_regions(attn @ gather(v), shape, region)
        return self.project(out + self.local(v_grid))


class TransformerBlock(nn.Module):
    """BN -> periodic sparse attention -> +; BN -> convolutional feed-forward -> +."""

    def __init__(self, dim: int, heads: int, scale: int, topk: int, spatial_regions: int, mlp_ratio: float,
                 theta: float) -> None:  # fmt: skip
        super().__init__()
        hidden = int(mlp_ratio * dim)
        self.norm1, self.norm2 = nn.BatchNorm3d(dim), nn.BatchNorm3d(dim)
        self.attn = PeriodicSparseAttention(dim, heads, scale, topk, spatial_regions, theta)
        self.mlp = nn.Sequential(
            nn.Conv3d(dim, hidden, 1), nn.BatchNorm3d(hidden), nn.GELU(),
            nn.Conv3d(hidden, hidden, 3, padding=1), nn.BatchNorm3d(hidden), nn.GELU(),
            nn.Conv3d(hidden, dim, 1), nn.BatchNorm3d(dim),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TemporalPeriodicStage(nn.Module):
    """One TPT block: shorten time by `scale`, run `depth` transformer blocks, upsample back to the frame rate."""

    def __init__(self, dim: int, depth: int, heads: int, scale: int, topk: int, spatial_regions: int,
                 mlp_ratio: float, theta: float) -> None:  # fmt: skip
        super().__init__()
        halvings = int(round(math.log2(scale)))
        self.down = nn.Sequential(
            *(
                nn.Sequential(nn.BatchNorm3d(dim), nn.Conv3d(dim, dim, (2, 1, 1), stride=(2, 1, 1)))
                for _ in range(halvings)
            )
        )
        self.blocks = nn.Sequential(
            *(
                TransformerBlock(dim, heads, scale, topk, spatial_regions, mlp_ratio, theta)
                for _ in range(depth)
            )
        )
        self.up = nn.Sequential(
            *(
                nn.Sequential(
                    nn.Upsample(scale_factor=(2, 1, 1)),
                    nn.Conv3d(dim, dim, (3, 1, 1), padding=(1, 0, 0)),
                    nn.BatchNorm3d(dim),
                    nn.ELU(),
                )
                for _ in range(halvings)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.blocks(self.down(x)))


class RhythmFormerNet(nn.Module):
    """RhythmFormer: frames (B, 3, T, S, S) -> rPPG signal (B, T). T must be a multiple of `temporal_multiple`."""

    def __init__(
        self,
        dim: int = 64,
        heads: int = 4,
        depth: int = 2,
        stages: int = 3,
        topk: int = 40,
        patch: int = 4,
        spatial_regions: int = 4,
        mlp_ratio: float = 1.5,
        theta: float = 0.2,
    ) -> None:
        super().__init__()
        if stages < 1 or depth < 1 or patch < 1 or spatial_regions < 1 or topk < 1:
            raise ConfigError("RhythmFormer stages, depth, patch, spatial_regions and topk must be >= 1")
        self.stages_n, self.patch, self.spatial_regions = stages, patch, spatial_regions
        self.stem = FusionStem(dim)
        self.embed = nn.Conv3d(dim, dim, (1, patch, patch), stride=(1, patch, patch))
        self.stages = nn.Sequential(
            *(
                TemporalPeriodicStage(
                    dim, depth, heads, 2 ** (i + 1), topk, spatial_regions, mlp_ratio, theta
                )
                for i in range(stages)
            )
        )
        self.head = nn.Conv1d(dim, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t, h, w = x.shape
        multiple = temporal_multiple(self.stages_n)
        if t % multiple:
            raise ConfigError(f"RhythmFormer needs a multiple of {multiple} frames, got {t}")
        side = 4 * self.patch * self.spatial_regions
        if h % side or w % side:
            raise ConfigError(
                f"RhythmFormer frame side must be a multiple of 4 x patch x spatial_regions = {side}"
            )
        features = self.stem(x)  # (B*T, D, S/4, S/4)
        features = features.reshape(b, t, *features.shape[1:]).transpose(1, 2)
        features = self.stages(self.embed(features))
        return self.head(features.mean(dim=(3, 4))).squeeze(1)


def count_parameters(module: nn.Module) -> int:
    """Number of learnable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


__all__ = [
    "FusionStem",
    "PeriodicSparseAttention",
    "RhythmFormerNet",
    "TemporalPeriodicStage",
    "TransformerBlock",
    "count_parameters",
    "temporal_multiple",
]
