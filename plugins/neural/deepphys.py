"""DeepPhys: a convolutional attention network on frame differences, trained on the pulse derivative.

Chen & McDuff, "DeepPhys: Video-Based Physiological Measurement Using Convolutional Attention
Networks", ECCV 2018. Written from the paper's description; trains and predicts through
`rppgbench.training`.

- Motion input: the normalised frame difference (c(t+1) - c(t)) / (c(t+1) + c(t)) of the 36 x 36 face,
  scaled by its standard deviation over the clip and clipped to +-3 (robust to outlier pixels).
- Appearance input: the frame average (c(t) + c(t+1)) / 2, standardised over the clip.
- Two 2-D CNN branches (tanh activations, as in the paper): conv 3x3 x2 (32), average pool, conv 3x3
  x2 (64), average pool; after each conv pair a soft attention mask from the appearance branch,
  q = H W sigmoid(w * a + b) / (2 ||sigmoid(w * a + b)||_1) (1x1 conv), gates the motion features.
  The motion branch ends in dense 128 -> 1: the predicted pulse derivative of each frame pair.
- Loss: MSE against the first difference of the reference waveform (standardised per window).
- Output: the derivative is integrated (cumulative sum) and detrended before HR estimation.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rppgbench.signal.hr import detrend, effective_lambda
from rppgbench.training import Batch, NeuralMethod, resize_frames

from . import DEEPPHYS


class AttentionMask(nn.Module):
    """Soft spatial mask from appearance features: 1x1 conv + sigmoid, L1-normalised (DeepPhys Eq. 6)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 1, kernel_size=1)

    def forward(self, appearance: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> mask (N, 1, H, W) with mean 0.5 over each map."""
        mask = torch.sigmoid(self.conv(appearance))
        h, w = mask.shape[-2:]
        return h * w * mask / (2 * mask.abs().sum(dim=(2, 3), keepdim=True))


class TemporalShift(nn.Module):
    """Temporal shift module (Lin, Gan & Han, ICCV 2019), as TS-CAN and EfficientPhys use it.

    Frames (N * segment, C, H, W), `segment` consecutive frames at a time: the first C // fold_div
    channels of each frame are taken from the next frame, the next C // fold_div from the previous one
    (zeros past the segment's ends), the rest stay. No parameters; a 2-D network sees its neighbours.
    """

    def __init__(self, segment: int, fold_div: int = 3) -> None:
        super().__init__()
        if segment < 1 or fold_div < 1:
            raise ValueError(
                f"temporal shift needs segment >= 1 and fold_div >= 1, got {segment}, {fold_div}"
            )
        self.segment, self.fold_div = segment, fold_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c, h, w = x.shape
        if nt % self.segment:
            raise ValueError(f"temporal shift: {nt} frames are not a multiple of the segment {self.segment}")
        x = x.reshape(nt // self.segment, self.segment, c, h, w)
        fold = c // self.fold_div
        pad = x.new_zeros(x.shape[0], 1, fold, h, w)
        from_next = torch.cat([x[:, 1:, :fold], pad], dim=1)
        from_previous = torch.cat([pad, x[:, :-1, fold : 2 * fold]], dim=1)
        return torch.cat([from_next, from_previous, x[:, :, 2 * fold :]], dim=2).reshape(nt, c, h, w)


def conv_branch(filters: tuple[int, int]) -> nn.ModuleList:
    """The four 3x3 convolutions of a DeepPhys branch: 3 -> f1 (padded), f1 -> f1, f1 -> f2 (padded), f2 -> f2."""
    f1, f2 = filters
    return nn.ModuleList(
        [
            nn.Conv2d(3, f1, 3, padding=1),
            nn.Conv2d(f1, f1, 3),
            nn.Conv2d(f1, f2, 3, padding=1),
            nn.Conv2d(f2, f2, 3),
        ]
    )


def dense_side(size: int) -> int:
    """Side of the feature maps entering the dense layer: two unpadded 3x3 convs and two 2x2 poolings."""
    side = ((size - 2) // 2 - 2) // 2
    if side < 1:
        raise ValueError(f"the network needs input of at least 10 x 10 pixels, got {size}")
    return side


class DeepPhysNet(nn.Module):
    """DeepPhys network: (B, 6, T, S, S) (motion then appearance channels) -> pulse derivative (B, T).

    With `frame_depth` > 0 a temporal shift over segments of that many frames precedes each motion
    convolution: TS-CAN (Liu et al. 2020) is this network with `frame_depth=10`.
    """

    def __init__(
        self,
        size: int = 36,
        filters: tuple[int, int] = (32, 64),
        hidden: int = 128,
        dropout: float = 0.25,
        frame_depth: int = 0,
    ):
        super().__init__()
        f2 = filters[1]
        self.motion, self.appearance = conv_branch(filters), conv_branch(filters)
        self.mask1, self.mask2 = AttentionMask(filters[0]), AttentionMask(f2)
        self.shift = TemporalShift(frame_depth) if frame_depth > 0 else nn.Identity()
        self.pool = nn.AvgPool2d(2)
        self.drop_conv = nn.Dropout(dropout)
        self.drop_dense = nn.Dropout(2 * dropout)
        side = dense_side(size)
        self.dense = nn.Linear(f2 * side * side, hidden)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, 6, T, S, S) -> (B, T)."""
        b, _, t, s, _ = x.shape
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * t, 6, s, s)
        m, a = frames[:, :3], frames[:, 3:]
        shift = self.shift
        m = torch.tanh(self.motion[1](shift(torch.tanh(self.motion[0](shift(m))))))
        a = torch.tanh(self.appearance[1](torch.tanh(self.appearance[0](a))))
        m = self.drop_conv(self.pool(m * self.mask1(a)))
        a = self.drop_conv(self.pool(a))
        m = torch.tanh(self.motion[3](shift(torch.tanh(self.motion[2](shift(m))))))
        a = torch.tanh(self.appearance[3](torch.tanh(self.appearance[2](a))))
        m = self.drop_conv(self.pool(m * self.mask2(a)))
        m = self.drop_dense(torch.tanh(self.dense(m.flatten(1))))
        return self.out(m).reshape(b, t)


def normalised_difference(x: torch.Tensor, clip_sigma: float = 3.0) -> torch.Tensor:
    """(B, C, T, H, W) in [0, 1] -> (c(t+1) - c(t)) / (c(t+1) + c(t)), last frame repeated, scaled by its
    per-clip std and clipped to +-clip_sigma."""
    diff = (x[:, :, 1:] - x[:, :, :-1]) / (x[:, :, 1:] + x[:, :, :-1] + 1e-3)
    diff = torch.cat([diff, diff[:, :, -1:]], dim=2)
    diff = diff / (diff.std(dim=(1, 2, 3, 4), keepdim=True) + 1e-6)
    return diff.clamp(-clip_sigma, clip_sigma)


def standardised_derivative(target: torch.Tensor) -> torch.Tensor:
    """(B, T) waveform -> first difference (last repeated), zero mean and unit std per window."""
    d = target[:, 1:] - target[:, :-1]
    d = torch.cat([d, d[:, -1:]], dim=1)
    return (d - d.mean(dim=1, keepdim=True)) / (d.std(dim=1, keepdim=True) + 1e-6)


class DeepPhys(NeuralMethod, declaration=DEEPPHYS):
    """DeepPhys (Chen & McDuff, ECCV 2018): attention CNN on frame differences, fit to the derivative."""

    # name, description, trains and params: the DEEPPHYS declaration in __init__.py
    min_frames: ClassVar[int] = 2

    def build_model(self) -> nn.Module:
        """The DeepPhys two-branch network for `size` x `size` inputs."""
        return DeepPhysNet(size=int(self.config["size"]), dropout=float(self.config["dropout"]))

    def input_transform(self, frames: torch.Tensor) -> torch.Tensor:
        """Motion (normalised differences) and appearance (standardised frames), stacked on channels."""
        x = resize_frames(frames, int(self.config["size"]))
        motion = normalised_difference(x)
        mean_pair = torch.cat([(x[:, :, 1:] + x[:, :, :-1]) / 2, x[:, :, -1:]], dim=2)
        appearance = (mean_pair - mean_pair.mean(dim=(1, 2, 3, 4), keepdim=True)) / (
            mean_pair.std(dim=(1, 2, 3, 4), keepdim=True) + 1e-6
        )
        return torch.cat([motion, appearance], dim=1)

    def compute_loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """MSE between the predicted and the reference pulse derivative (both standardised per window)."""
        return F.mse_loss(output, standardised_derivative(batch.target))

    def postprocess(self, signal: np.ndarray, fps: float) -> np.ndarray:
        """Integrate the derivative and remove the slow trend.

        Output t estimates p(t+1) - p(t), so the pulse at frame t is the sum of outputs before t
        (an exclusive cumulative sum keeps the waveform aligned with the frames).
        """
        d = np.asarray(signal, dtype=np.float64)
        pulse = np.concatenate([[0.0], np.cumsum(d[:-1])])
        lam = float(self.config["detrend_lambda"])
        if lam > 0 and len(pulse) >= 3:
            pulse = detrend(pulse, effective_lambda(lam, fps))
        return pulse.astype(np.float32)
