"""The PhysFormer network: 3-D CNN stem, tube tokens, temporal difference transformer, predictor head.

Yu, Shen, Shi, Zhao, Torr, Zhao, "PhysFormer: Facial Video-based Physiological Measurement with
Temporal Difference Transformer", CVPR 2022 (Sec. 3.1-3.2, Fig. 2). Written from the paper:

- stem: Conv[1,5,5] -> Conv[3,3,3] -> Conv[3,3,3] (D/4, D/2, D channels), each with BatchNorm, ReLU
  and a MaxPool[1,2,2], so a 3 x T x H x W clip becomes D x T x H/8 x W/8 features;
- tube tokens: a non-overlapping Conv3d with kernel = stride = (Ts, Hs, Ws) = (4, Hs, Ws) embeds each
  tube in D channels: T/4 x H/(8 Hs) x W/(8 Ws) tokens;
- N temporal difference transformer blocks (pre-LayerNorm, residual): TD-MHSA, whose query and key
  projections are temporal difference convolutions (CDC-T: our `TemporalDifferenceConv3d`, kernel 3,
  theta 0.7) with BatchNorm, the value a 1x1x1 convolution, attention softmax(Q K^T / tau) with the
  temperature tau (2.0), heads concatenated and projected by a linear layer; then the spatio-temporal
  feed-forward (ST-FF: 1x1x1 conv D -> D', depth-wise 3x3x3 conv, 1x1x1 conv D' -> D, each with
  BatchNorm, ELU after the first two);
- predictor head: two temporal x2 upsamplings (nearest, then Conv[3,1,1] + BatchNorm + ELU; D -> D
  -> D/2 channels), a spatial average and a 1-D 1x1 convolution to the rPPG signal of length T.

The convolutions that precede BatchNorm have no bias (it would be cancelled by the normalisation).
"""

from __future__ import annotations

import torch
from rppgbench_plugins.autohr.tdc import TemporalDifferenceConv3d
from torch import nn

from rppgbench.errors import ConfigError

TUBE_FRAMES = 4
"""Temporal tube size Ts: fixed, since the head's two x2 upsamplings restore T from T/4 tokens."""
STEM_STRIDE = 8
"""The stem's three MaxPool[1,2,2] divide the frame side by 8."""

Grid = tuple[int, int, int]


def _to_volume(tokens: torch.Tensor, grid: Grid) -> torch.Tensor:
    """(B, N, D) tokens -> (B, D, gt, gh, gw) with N = gt * gh * gw (time-major token order)."""
    b, _, d = tokens.shape
    return tokens.transpose(1, 2).reshape(b, d, *grid)


def _to_tokens(volume: torch.Tensor) -> torch.Tensor:
    """(B, D, gt, gh, gw) -> (B, N, D)."""
    return volume.flatten(2).transpose(1, 2)


class TDMultiHeadSelfAttention(nn.Module):
    """Temporal difference multi-head self-attention (TD-MHSA, Sec. 3.2, Eq. (2)).

    Q = BN(CDC-T(X)), K = BN(CDC-T(X)), V = Conv1x1x1(X) on the token grid; each head attends with
    softmax(Q_h K_h^T / tau); heads are concatenated (the output projection is the block's). theta = 0
    makes the query and key projections plain 3x3x3 convolutions.
    """

    def __init__(self, dim: int, heads: int, theta: float, tau: float, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ConfigError(f"PhysFormer dim ({dim}) must be divisible by heads ({heads})")
        if tau <= 0:
            raise ConfigError(f"PhysFormer attention temperature tau must be > 0, got {tau}")
        self.heads, self.tau = heads, float(tau)
        self.query = nn.Sequential(
            TemporalDifferenceConv3d(dim, dim, 3, padding=1, bias=False, theta=theta), nn.BatchNorm3d(dim)
        )
        self.key = nn.Sequential(
            TemporalDifferenceConv3d(dim, dim, 3, padding=1, bias=False, theta=theta), nn.BatchNorm3d(dim)
        )
        self.value = nn.Conv3d(dim, dim, 1, bias=False)
        self.attn_drop = nn.Dropout(dropout)

    def _split(self, volume: torch.Tensor) -> torch.Tensor:
        """(B, D, gt, gh, gw) -> (B, heads, N, D / heads)."""
        tokens = _to_tokens(volume)
        b, n, d = tokens.shape
        return tokens.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)

    def forward(self, tokens: torch.Tensor, grid: Grid) -> torch.Tensor:
        """tokens (B, N, D) on the grid (gt, gh, gw) -> attended tokens (B, N, D)."""
        x = _to_volume(tokens, grid)
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        weights = self.attn_drop(torch.softmax(q @ k.transpose(-2, -1) / self.tau, dim=-1))
        out = weights @ v  # (B, heads, N, D / heads)
        return out.transpose(1, 2).reshape(tokens.shape)


class SpatioTemporalFeedForward(nn.Module):
    """ST-FF (Sec. 3.2): 1x1x1 conv D -> D', depth-wise 3x3x3 conv, 1x1x1 conv D' -> D, with BatchNorm."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv3d(dim, hidden, 1, bias=False),
            nn.BatchNorm3d(hidden),
            nn.ELU(),
            nn.Conv3d(hidden, hidden, 3, padding=1, groups=hidden, bias=False),
            nn.BatchNorm3d(hidden),
            nn.ELU(),
            nn.Conv3d(hidden, dim, 1, bias=False),
            nn.BatchNorm3d(dim),
        )

    def forward(self, tokens: torch.Tensor, grid: Grid) -> torch.Tensor:
        """tokens (B, N, D) -> (B, N, D)."""
        return _to_tokens(self.net(_to_volume(tokens, grid)))


class TemporalDifferenceTransformerBlock(nn.Module):
    """x + Drop(Linear(TD-MHSA(LN(x)))), then x + Drop(ST-FF(LN(x)))."""

    def __init__(self, dim: int, heads: int, hidden: int, theta: float, tau: float, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = TDMultiHeadSelfAttention(dim, heads, theta, tau, dropout)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.ff = SpatioTemporalFeedForward(dim, hidden)
        self.drop = nn.Dropout(dropout)

    def forward(self, tokens: torch.Tensor, grid: Grid) -> torch.Tensor:
        tokens = tokens + self.drop(self.proj(self.attn(self.norm1(tokens), grid)))
        return tokens + self.drop(self.ff(self.norm2(tokens), grid))


def _stem_block(c_in: int, c_out: int, kernel: tuple[int, int, int]) -> nn.Sequential:
    padding = tuple(k // 2 for k in kernel)
    return nn.Sequential(
        nn.Conv3d(c_in, c_out, kernel, padding=padding, bias=False),
        nn.BatchNorm3d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool3d((1, 2, 2), stride=(1, 2, 2)),
    )


def _upsample_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=(2, 1, 1), mode="nearest"),
        nn.Conv3d(c_in, c_out, (3, 1, 1), padding=(1, 0, 0), bias=False),
        nn.BatchNorm3d(c_out),
        nn.ELU(),
    )


class PhysFormerNet(nn.Module):
    """PhysFormer: (B, 3, T, H, W) -> rPPG (B, T).

    T must be a multiple of 4 (the tube length) and H, W multiples of 8 x `patch` (the stem's
    pooling times the tube's side). Paper defaults: dim 96, ff_dim 144, 4 heads, 12 blocks, tubes
    4 x 4 x 4 over the stem features, theta 0.7, tau 2.0, dropout 0.1.
    """

    def __init__(
        self,
        dim: int = 96,
        ff_dim: int = 144,
        heads: int = 4,
        layers: int = 12,
        patch: int = 4,
        theta: float = 0.7,
        tau: float = 2.0,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if dim % 4:
            raise ConfigError(f"PhysFormer dim must be a multiple of 4 (stem widths D/4, D/2), got {dim}")
        self.patch = int(patch)
        self.stem = nn.Sequential(
            _stem_block(3, dim // 4, (1, 5, 5)),
            _stem_block(dim // 4, dim // 2, (3, 3, 3)),
            _stem_block(dim // 2, dim, (3, 3, 3)),
        )
        tube = (TUBE_FRAMES, self.patch, self.patch)
        self.tubes = nn.Conv3d(dim, dim, tube, stride=tube)
        self.blocks = nn.ModuleList(
            TemporalDifferenceTransformerBlock(dim, heads, ff_dim, theta, tau, dropout) for _ in range(layers)
        )
        self.upsample = nn.Sequential(_upsample_block(dim, dim), _upsample_block(dim, dim // 2))
        self.head = nn.Conv1d(dim // 2, 1, 1)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, T, H, W) -> rPPG signal (B, T)."""
        _, _, t, h, w = x.shape
        side = STEM_STRIDE * self.patch
        if t % TUBE_FRAMES or h % side or w % side:
            raise ConfigError(
                f"PhysFormer needs T a multiple of {TUBE_FRAMES} and H, W multiples of {side}, "
                f"got T={t}, H={h}, W={w}"
            )
        volume = self.tubes(self.stem(x))  # (B, D, T/4, H/(8p), W/(8p))
        grid: Grid = tuple(volume.shape[2:])  # type: ignore[assignment]
        tokens = _to_tokens(volume)
        for block in self.blocks:
            tokens = block(tokens, grid)
        features = self.upsample(_to_volume(tokens, grid))  # (B, D/2, T, gh, gw)
        return self.head(features.mean(dim=(3, 4)))[:, 0]
