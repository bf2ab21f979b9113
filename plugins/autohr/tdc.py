"""Temporal Difference Convolution (TDC), Eq. (1) of Yu et al., "AutoHR", IEEE SPL 2020.

Every tap outside the centre temporal slice sees the difference between its input and theta times the
input at the output's own position (the kernel centre); taps of the centre slice see the plain input.
Expanding Eq. (1) gives the cheap form used here:

    TDC(I) = conv3d(I, w) - theta * conv3d(I_centre, sum of w over all taps not in the centre slice)

where the second term is a 1x1x1 convolution with the main convolution's stride, applied to the input
sampled at the kernel centres. The bias (if any) belongs to the first term only. theta = 0 is a plain
3D convolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rppgbench.errors import ConfigError


def _triple(value: int | tuple[int, int, int], name: str) -> tuple[int, int, int]:
    if isinstance(value, int):
        return (value, value, value)
    out = tuple(int(v) for v in value)
    if len(out) != 3:
        raise ConfigError(f"TDC {name} must be an int or three ints (T, H, W), got {value!r}")
    return out  # type: ignore[return-value]


class TemporalDifferenceConv3d(nn.Module):
    """A 3D convolution whose off-centre temporal taps act on temporal differences (AutoHR Eq. (1)).

    Accepts any odd kernel size (the centre must be a tap), stride, padding, dilation and groups;
    `theta` in [0, 1] weighs the temporal-difference term. Weights are an ordinary `nn.Conv3d`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int, int] = 3,
        stride: int | tuple[int, int, int] = 1,
        padding: int | tuple[int, int, int] | None = None,
        dilation: int | tuple[int, int, int] = 1,
        groups: int = 1,
        bias: bool = False,
        theta: float = 0.2,
    ) -> None:
        super().__init__()
        kernel = _triple(kernel_size, "kernel_size")
        if any(k % 2 == 0 for k in kernel):
            raise ConfigError(f"TDC needs odd kernel sizes so that a centre tap exists, got {kernel}")
        if not 0.0 <= float(theta) <= 1.0:
            raise ConfigError(f"TDC theta must lie in [0, 1], got {theta}")
        dil = _triple(dilation, "dilation")
        pad = tuple(d * (k // 2) for k, d in zip(kernel, dil, strict=True)) if padding is None else padding
        self.conv = nn.Conv3d(
            in_channels,
            out_channels,
            kernel,
            stride=stride,
            padding=pad,
            dilation=dil,
            groups=groups,
            bias=bias,
        )
        self.theta = float(theta)
        # Offset, per dimension, from an output position's window start to its kernel centre (in input
        # coordinates, before padding is removed): centre = out * stride + offset.
        pad3 = (
            self.conv.padding
            if isinstance(self.conv.padding, tuple)
            else _triple(self.conv.padding, "padding")
        )
        self._centre_offset = tuple(d * (k // 2) - p for k, d, p in zip(kernel, dil, pad3, strict=True))

    @property
    def weight(self) -> nn.Parameter:
        """The convolution kernel (out, in / groups, kT, kH, kW)."""
        return self.conv.weight

    def difference_kernel(self) -> torch.Tensor:
        """The 1x1x1 kernel of the difference term: the sum of w over every tap not in the centre slice."""
        w = self.conv.weight
        centre = w.shape[2] // 2
        return (w.sum(dim=(2, 3, 4)) - w[:, :, centre].sum(dim=(2, 3)))[..., None, None, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply Eq. (1) to x of shape (N, C, T, H, W)."""
        out = self.conv(x)
        if self.theta == 0.0:
            return out
        centres = self._centre_input(x)
        diff = F.conv3d(centres, self.difference_kernel(), stride=self.conv.stride, groups=self.conv.groups)
        diff = diff[..., : out.shape[2], : out.shape[3], : out.shape[4]]
        short = [o - d for o, d in zip(out.shape[2:], diff.shape[2:], strict=True)]
        if any(short):  # centres inside the end padding read zeros
            diff = F.pad(diff, (0, short[2], 0, short[1], 0, short[0]))
        return out - self.theta * diff

    def _centre_input(self, x: torch.Tensor) -> torch.Tensor:
        """x shifted so that output position o of a 1x1x1 conv with the main stride reads the kernel centre."""
        if all(o == 0 for o in self._centre_offset):
            return x
        # Negative offsets (more padding than half the kernel) read zeros before the input starts.
        front = [max(0, -o) for o in self._centre_offset]
        if any(front):
            x = F.pad(x, (front[2], 0, front[1], 0, front[0], 0))
        start = [max(0, o) for o in self._centre_offset]
        return x[:, :, start[0] :, start[1] :, start[2] :]

    def extra_repr(self) -> str:
        return f"theta={self.theta}"
