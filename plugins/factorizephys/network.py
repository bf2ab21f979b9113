"""The FactorizePhys network: a small 3-D CNN with the Factorized Self-Attention Module (FSAM).

Joshi, Agaian, Cho, "FactorizePhys: Matrix Factorization for Multidimensional Attention in Remote
Physiological Sensing", NeurIPS 2024. The paper's full text was not at hand while writing this: the
structure follows its description (diff-normalised input, 3-D CNN, FSAM by non-negative matrix
factorisation of the voxel embeddings, rank 1), and layer shapes and constants were read from the
authors' public code (github.com/PhysiologicAILab/FactorizePhys, `neural_methods/model/
FactorizePhys/FactorizePhys.py` and `FSAM.py`, newest stored version, channel widths nf = [8, 12, 16])
for the facts only:

- input: raw frames (T + 1 of them: the last frame is repeated, as the authors' trainer does, so the
  output has one value per frame); their temporal difference, then instance normalisation per colour
  channel (no affine): the "diff-normalised" input is computed inside the network;
- feature extractor: six 3-D conv blocks (Conv3d 3x3x3 without bias, Tanh, InstanceNorm3d), widths
  8, 12, 12 | 12, 16, 16, the second and fifth with spatial stride 2, only the first padded spatially
  (time is always padded, so T is kept); Dropout3d after the third and the sixth;
- head: three more 16-channel conv blocks and Dropout3d give the voxel embeddings E (16 x T x 7 x 7 at
  72 x 72 input); FSAM; then conv blocks 16 -> 12 -> 8 and a Conv3d 8 -> 1 (3x3x3), which leave one
  value per frame at 72 px (at other sizes the remaining spatial positions are averaged);
- FSAM: E - min(E) >= 0 -> 1x1x1 conv (16 -> 8, with bias) + ReLU gives the non-negative matrix V,
  T x (8 x 7 x 7) (time as one axis, channels x space as the other); a rank-1 (`rank`) non-negative
  factorisation V ~ W H by multiplicative updates (Lee & Seung): W initialised to a constant unit
  vector, H to softmax(V^T W) over the rank, `nmf_steps` (4) updates of H then W without gradient,
  one last update of H with gradient (the one-step gradient of Hamburger, Geng et al. 2021, which the
  authors build on); the low-rank reconstruction W H passes 1x1x1 conv (8 -> 8) + ReLU and 1x1x1 conv
  (8 -> 16), both without bias: the attention S;
- FSAM output: InstanceNorm3d((E - min E + 1) * (S - min S + 1)), added to E (`residual`, the
  "FSAM_Res" model the paper evaluates).

Parameters: 52,168 at the paper's configuration (any input size: all layers are convolutions), the
paper's "about 52K". The authors' code also creates the offset 1 above as
`nn.Parameter(torch.tensor(1.0)).to(device)`, which on a GPU is a plain tensor, never registered nor
trained (on a CPU it would be a 52,169th parameter); it is the constant 1 here.

Choices where the authors' code and the paper differ, or the code is ambiguous (`fsam_layout` and
the minimum):
- the authors' "T_KAB" layout is a `view(B, T, C*H*W)` of the (B, C, T, H, W) tensor without a
  permutation, so its rows mix time steps and channels rather than being time steps; the paper
  describes a temporal x (channel, space) matrix. `fsam_layout = "time"` (default) is the paper's
  matrix, `"view"` the authors' memory reinterpretation.
- the authors subtract the minimum over the whole batch (which makes a window's output depend on the
  other windows of its batch); here each window's own minimum is subtracted.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rppgbench.errors import ConfigError

WIDTHS = (8, 12, 16)
"""nf of the authors' code: channel widths of the three levels."""
FSAM_LAYOUTS = ("time", "view")
PADDINGS = ("valid", "same")
MIN_SIZE = 71
"""The smallest frame side the paper's valid (unpadded) convolutions leave at least one position for."""


def conv_block(c_in: int, c_out: int, stride: int = 1, spatial_pad: int = 0) -> nn.Sequential:
    """Conv3d 3x3x3 (no bias; time padded by 1) + Tanh + InstanceNorm3d."""
    return nn.Sequential(
        nn.Conv3d(
            c_in, c_out, 3, stride=(1, stride, stride), padding=(1, spatial_pad, spatial_pad), bias=False
        ),
        nn.Tanh(),
        nn.InstanceNorm3d(c_out),
    )


def nmf_attention(v: torch.Tensor, rank: int = 1, steps: int = 4, eps: float = 1e-6) -> torch.Tensor:
    """Low-rank non-negative reconstruction W H of v (B, M, N) >= 0 by multiplicative updates.

    W (B, M, rank) starts as a constant unit vector, H (B, N, rank) as softmax(v^T W) over the rank;
    `steps` updates of H then W run without gradient, a last update of H carries the gradient to v.
    """
    b, m, _ = v.shape
    with torch.no_grad():
        bases = F.normalize(torch.ones(b, m, rank, device=v.device, dtype=v.dtype), dim=1)
        coef = torch.softmax(v.transpose(1, 2) @ bases, dim=-1)
        for _ in range(steps):
            coef = coef * (v.transpose(1, 2) @ bases) / (coef @ (bases.transpose(1, 2) @ bases) + eps)
            bases = bases * (v @ coef) / (bases @ (coef.transpose(1, 2) @ coef) + eps)
    coef = coef * (v.transpose(1, 2) @ bases) / (coef @ (bases.transpose(1, 2) @ bases) + eps)
    return bases @ coef.transpose(1, 2)


def _per_sample_min(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1).min(dim=1).values.reshape(-1, *([1] * (x.dim() - 1)))


class FSAM(nn.Module):
    """Factorized Self-Attention Module: voxel embeddings (B, C, T, H, W) -> attention of the same shape."""

    def __init__(self, channels: int = 16, rank: int = 1, steps: int = 4, layout: str = "time") -> None:
        super().__init__()
        if layout not in FSAM_LAYOUTS:
            raise ConfigError(f"FactorizePhys fsam_layout must be one of {FSAM_LAYOUTS}, got {layout!r}")
        if rank < 1 or steps < 0:
            raise ConfigError(f"FactorizePhys needs rank >= 1 and nmf_steps >= 0, got {rank}, {steps}")
        aligned = channels // 2
        self.rank, self.steps, self.layout = int(rank), int(steps), layout
        self.pre = nn.Sequential(nn.Conv3d(channels, aligned, 1), nn.ReLU())
        self.post = nn.Sequential(
            nn.Conv3d(aligned, aligned, 1, bias=False), nn.ReLU(), nn.Conv3d(aligned, channels, 1, bias=False)
        )

    def factorise(self, v: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) >= 0 -> its rank-`rank` NMF reconstruction, same shape."""
        b, c, t, h, w = v.shape
        if self.layout == "view":  # the authors' code: reinterpret the memory as T rows
            return nmf_attention(v.reshape(b, t, c * h * w), self.rank, self.steps).reshape(b, c, t, h, w)
        matrix = v.permute(0, 2, 1, 3, 4).reshape(b, t, c * h * w)
        approx = nmf_attention(matrix, self.rank, self.steps)
        return approx.reshape(b, t, c, h, w).permute(0, 2, 1, 3, 4)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        v = self.pre(embeddings - _per_sample_min(embeddings))
        return self.post(self.factorise(v))


class FactorizePhysNet(nn.Module):
    """FactorizePhys: raw frames (B, 3, T, S, S) in any positive scale -> rPPG signal (B, T)."""

    def __init__(
        self,
        dropout: float = 0.1,
        fsam: bool = True,
        residual: bool = True,
        rank: int = 1,
        nmf_steps: int = 4,
        fsam_layout: str = "time",
        padding: str = "valid",
    ) -> None:
        super().__init__()
        if padding not in PADDINGS:
            raise ConfigError(f"FactorizePhys padding must be one of {PADDINGS}, got {padding!r}")
        n0, n1, n2 = WIDTHS
        p = 1 if padding == "same" else 0
        self.padding = padding
        self.min_size = 4 if padding == "same" else MIN_SIZE
        self.norm = nn.InstanceNorm3d(3)
        self.features = nn.Sequential(
            conv_block(3, n0, spatial_pad=1), conv_block(n0, n1, 2, p), conv_block(n1, n1, 1, p),
            nn.Dropout3d(dropout),
            conv_block(n1, n1, 1, p), conv_block(n1, n2, 2, p), conv_block(n2, n2, 1, p),
            nn.Dropout3d(dropout),
        )  # fmt: skip
        self.embed = nn.Sequential(
            conv_block(n2, n2, 1, p),
            conv_block(n2, n2, 1, p),
            conv_block(n2, n2, 1, p),
            nn.Dropout3d(dropout),
        )
        self.fsam = FSAM(n2, rank, nmf_steps, fsam_layout) if fsam else None
        self.fsam_norm = nn.InstanceNorm3d(n2)
        self.residual = bool(residual)
        self.final = nn.Sequential(
            conv_block(n2, n1, 1, p),
            conv_block(n1, n0, 1, p),
            nn.Conv3d(n0, 1, 3, padding=(1, p, p), bias=False),
        )

    def diff_normalise(self, x: torch.Tensor) -> torch.Tensor:
        """Repeat the last frame, take temporal differences, instance-normalise: (B, 3, T, S, S) -> same shape."""
        x = torch.cat([x, x[:, :, -1:]], dim=2)
        return self.norm(torch.diff(x, dim=2))

    def attend(self, embeddings: torch.Tensor) -> torch.Tensor:
        """FSAM: multiply the shifted embeddings by the shifted attention, normalise, add the residual."""
        if self.fsam is None:
            return embeddings
        attention = self.fsam(embeddings)
        x = (embeddings - _per_sample_min(embeddings) + 1.0) * (attention - _per_sample_min(attention) + 1.0)
        x = self.fsam_norm(x)
        return embeddings + x if self.residual else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t, h, w = x.shape
        if min(h, w) < self.min_size:
            raise ConfigError(
                f"FactorizePhys needs frames of at least {self.min_size} px with padding={self.padding!r}, got {h} x {w}"
            )
        embeddings = self.embed(self.features(self.diff_normalise(x)))
        out = self.final(self.attend(embeddings))  # (B, 1, T, h', w'): 1 x 1 at 72 px
        return out.mean(dim=(1, 3, 4))


def count_parameters(module: nn.Module) -> int:
    """Number of learnable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
