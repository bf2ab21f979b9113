"""Device selection and the speed settings every neural method shares (bf16 autocast, channels_last_3d).

On CUDA, bf16 autocast together with `channels_last_3d` is what makes 3-D convnets fast (bf16 alone
gives nothing for them); on CPU both are off because they slow 3-D convolutions down there.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rppgbench.errors import ConfigError


@dataclass(frozen=True)
class DeviceSetup:
    """Where tensors run and how: the device, the autocast dtype (None = fp32) and the memory layout."""

    device: torch.device
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False

    @property
    def is_cuda(self) -> bool:
        """True when running on a CUDA device."""
        return self.device.type == "cuda"

    @property
    def pin_memory(self) -> bool:
        """Whether host batches should be pinned (only useful for CUDA transfers)."""
        return self.is_cuda

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Mixed-precision region: bf16 autocast on CUDA when enabled, otherwise a no-op."""
        if self.amp_dtype is None:
            yield
            return
        with torch.autocast(device_type=self.device.type, dtype=self.amp_dtype):
            yield

    def prepare_model(self, model: nn.Module) -> nn.Module:
        """Move a model to the device, in channels_last_3d layout when enabled."""
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last_3d)
        return model

    def prepare_input(self, x: torch.Tensor) -> torch.Tensor:
        """Put a 5-D input in channels_last_3d layout when enabled (other tensors are returned unchanged)."""
        if self.channels_last and x.dim() == 5:
            return x.contiguous(memory_format=torch.channels_last_3d)
        return x


def setup_device(name: str | None = "auto", amp: bool = True, channels_last: bool = True) -> DeviceSetup:
    """Resolve "auto" (CUDA when present, else CPU), "cpu", "cuda" or "cuda:N" into a DeviceSetup."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(
            f"device {name!r} is not a valid torch device (use auto, cpu, cuda or cuda:N)"
        ) from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device {name!r} was requested but no CUDA device is available; use device=auto or cpu"
        )
    if device.type not in {"cpu", "cuda"}:
        raise ConfigError(f"device {name!r} is not supported; use auto, cpu, cuda or cuda:N")
    on_cuda = device.type == "cuda"
    return DeviceSetup(
        device=device,
        amp_dtype=torch.bfloat16 if (amp and on_cuda) else None,
        channels_last=bool(channels_last and on_cuda),
    )


def seed_everything(seed: int) -> None:
    """Seed python's `random`, numpy's global generator and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
