"""The candidate-operation registry of the AutoHR search space.

Every operation keeps the number of channels and the (T, H, W) size of its input. Names are data:
`conv_{t}x{h}x{w}` is a Conv3d + BN + ReLU with that kernel, `TDC_{t}x{h}x{w}_{theta}` a temporal
difference convolution + BN + ReLU, `none` the zero operation and `skip_connect` the identity. Any such
name is understood without registration, so `ops=conv_1x3x3,TDC_3x3x3_0.6,...` works from the command
line; `register_op` adds operations of other kinds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import torch
from torch import nn

from rppgbench.errors import ConfigError

from .tdc import TemporalDifferenceConv3d

OpFactory = Callable[[int, bool], nn.Module]
"""Builds an operation from (channels, affine): `affine=False` is used in the search's supernet."""

# The nine candidates of Fig. 3(c). The paper's figure did not survive in text; the names the text gives
# are conv_3x1x1, conv_5x1x1, conv_1x5x5 and TDC_3x3x3 with theta 0.2 and 1.0 -- the rest is reconstructed.
DEFAULT_OPS: tuple[str, ...] = (
    "none",
    "skip_connect",
    "conv_1x3x3",
    "conv_1x5x5",
    "conv_3x1x1",
    "conv_5x1x1",
    "conv_3x3x3",
    "TDC_3x3x3_0.2",
    "TDC_3x3x3_1.0",
)

_CONV = re.compile(r"^conv_(\d+)x(\d+)x(\d+)$")
_TDC = re.compile(r"^TDC_(\d+)x(\d+)x(\d+)_([0-9]*\.?[0-9]+)$")
_REGISTRY: dict[str, OpFactory] = {}


class Zero(nn.Module):
    """The `none` operation: an all-zero output of the input's shape (lets the search drop an edge)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class ConvBNReLU(nn.Sequential):
    """Convolution (plain or TDC) + BatchNorm + ReLU, with 'same' padding so the shape is kept."""

    def __init__(self, conv: nn.Module, channels: int, affine: bool) -> None:
        super().__init__(conv, nn.BatchNorm3d(channels, affine=affine), nn.ReLU(inplace=False))


def register_op(name: str, factory: OpFactory) -> None:
    """Add (or replace) an operation under `name`; the factory takes (channels, affine)."""
    _REGISTRY[name] = factory


def _kernel(groups: tuple[str, ...], name: str) -> tuple[int, int, int]:
    kernel = tuple(int(g) for g in groups)
    if any(k < 1 or k % 2 == 0 for k in kernel):
        raise ConfigError(f"operation {name!r}: kernel sizes must be odd and positive, got {kernel}")
    return kernel  # type: ignore[return-value]


def build_op(name: str, channels: int, affine: bool = True) -> nn.Module:
    """Instantiate the operation called `name` for `channels` channels."""
    if name in _REGISTRY:
        return _REGISTRY[name](channels, affine)
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if match := _CONV.match(name):
        kernel = _kernel(match.groups(), name)
        conv = nn.Conv3d(channels, channels, kernel, padding=tuple(k // 2 for k in kernel), bias=False)
        return ConvBNReLU(conv, channels, affine)
    if match := _TDC.match(name):
        kernel = _kernel(match.groups()[:3], name)
        theta = float(match.group(4))
        if not 0.0 <= theta <= 1.0:
            raise ConfigError(f"operation {name!r}: theta must lie in [0, 1]")
        return ConvBNReLU(TemporalDifferenceConv3d(channels, channels, kernel, theta=theta), channels, affine)
    raise ConfigError(
        f"unknown AutoHR operation {name!r}; use none, skip_connect, conv_TxHxW, TDC_TxHxW_theta "
        f"or a registered name ({', '.join(sorted(_REGISTRY)) or 'none registered'})"
    )


def is_tdc(name: str) -> bool:
    """True for temporal difference convolution operations."""
    return name.startswith("TDC_")


def resolve_ops(names: Sequence[str] | str | None = None, exclude_tdc: bool = False) -> tuple[str, ...]:
    """Validate an operation list (a sequence or comma-separated string; default: the nine of the paper).

    `exclude_tdc` drops the TDC operations (the paper's "without TDC" search). The list must contain at
    least one operation other than `none`, and no duplicates.
    """
    if names is None or names == "" or names == ():
        chosen = list(DEFAULT_OPS)
    elif isinstance(names, str):
        chosen = [n.strip() for n in names.split(",") if n.strip()]
    else:
        chosen = [str(n).strip() for n in names]
    if exclude_tdc:
        chosen = [n for n in chosen if not is_tdc(n)]
    if len(set(chosen)) != len(chosen):
        raise ConfigError(f"AutoHR operation list has duplicates: {chosen}")
    for name in chosen:  # fail early, with the offending name
        build_op(name, 4, affine=False)
    if not [n for n in chosen if n != "none"]:
        raise ConfigError("AutoHR operation list needs at least one operation other than 'none'")
    return tuple(chosen)
