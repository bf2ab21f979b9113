"""The training parameters every neural method shares, declared without importing PyTorch.

`neural_params(**defaults)` gives a method the common parameters with its own defaults; method
declarations use it, so listing methods and `rppgbench show` never import the training harness.
"""

from __future__ import annotations

from typing import Any

from rppgbench.errors import ConfigError
from rppgbench.params import Param

INPUT_SCALINGS = ("clip", "paper", "ratio", "chroma")
"""Input scalings of the frame-based networks (`rppgbench.training.inputs`), named here for declarations."""

#: Parameters that change how a run executes, not what is learned: excluded from the resume fingerprint.
RUNTIME_PARAMS = frozenset(
    {"device", "num_workers", "amp", "channels_last", "infer_batch", "infer_frames", "infer_overlap"}
)

_COMMON: dict[str, tuple[Any, str, tuple[Any, ...] | None]] = {
    "epochs": (15, "training epochs", None),
    "batch_size": (4, "clips per training batch", None),
    "lr": (1e-4, "learning rate", None),
    "weight_decay": (5e-5, "weight decay", None),
    "optimizer": ("adam", "optimiser", ("adam", "adamw", "adadelta", "sgd")),
    "scheduler": (
        "none",
        "learning-rate schedule, stepped per batch",
        ("none", "cosine", "step", "onecycle"),
    ),
    "clip_frames": (160, "frames per training window (T)", None),
    "size": (112, "face crop side in pixels fed to the model (resized on the device)", None),
    "grad_clip": (1.0, "gradient-norm clipping (0 = off)", None),
    "val_fraction": (0.2, "fraction of training subjects held out for model selection (0 = none)", None),
    "windows_per_clip": (0, "random windows per clip per epoch (0 = clip length // clip_frames)", None),
    "num_workers": (2, "data-loader worker processes", None),
    "host_cache_mb": (
        2048,
        "resize training clips once into host memory (float16) when they fit in this many MiB "
        "(0 = read and resize every window)",
        None,
    ),
    "device": ("auto", "auto (CUDA when present), cpu, cuda or cuda:N", None),
    "amp": (True, "bf16 autocast on CUDA", None),
    "channels_last": (True, "channels_last_3d memory layout on CUDA", None),
    "seed": (-1, "random seed (-1 = the run's seed)", None),
    "select_metric": ("val_loss", "validation metric for model selection", ("val_loss", "val_mae")),
    "infer_frames": (0, "frames per inference window (0 = clip_frames)", None),
    "infer_overlap": (0.5, "fraction of an inference window shared with the next", None),
    "infer_batch": (4, "windows per inference batch", None),
}


def neural_params(**defaults: Any) -> tuple[Param, ...]:
    """The common training parameters, with a method's own defaults (unknown names are an error)."""
    unknown = sorted(set(defaults) - set(_COMMON))
    if unknown:
        raise ConfigError(f"neural_params has no parameter {', '.join(unknown)}; valid: {', '.join(_COMMON)}")
    return tuple(
        Param(name, defaults.get(name, default), help, choices)
        for name, (default, help, choices) in _COMMON.items()
    )
