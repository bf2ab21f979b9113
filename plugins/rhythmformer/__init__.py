"""RhythmFormer (Zou et al., Pattern Recognition 2025) as an rppgbench plugin: fusion stem, hierarchical
temporal periodic transformer with periodic sparse (bi-level routing) attention, and its loss.

Declared here without importing PyTorch (name, description, parameters), so listing methods and
`rppgbench show` stay fast; `method.py` (network, loss, training through `rppgbench.training`) is
imported when the method runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rppgbench.declared import MethodDeclaration, method_plugin_hooks, within
from rppgbench.errors import ConfigError
from rppgbench.params import Param
from rppgbench.training_params import INPUT_SCALINGS, neural_params

LOSSES = ("paper", "time")
FREQ_LOGITS = ("log_power", "paper")
SEGMENT_FRAMES = 4
"""Frames per temporal routing region (mirrors `network.SEGMENT_FRAMES`, kept torch-free here)."""


def frames_multiple(stages: int) -> int:
    """Window lengths must be a multiple of this (stage i halves time i + 1 times into whole regions)."""
    return max(SEGMENT_FRAMES, 2 ** int(stages))


def shapes_fit(method: str, config: Mapping[str, Any]) -> None:
    """clip_frames a multiple of max(4, 2^stages); size a multiple of 4 x patch x spatial_regions; dim a multiple of heads."""
    stages, frames = int(config["stages"]), int(config["clip_frames"])
    size, patch, regions = (int(config[k]) for k in ("size", "patch", "spatial_regions"))
    dim, heads = int(config["dim"]), int(config["heads"])
    if min(stages, patch, regions, heads, int(config["depth"]), int(config["topk"])) < 1:
        raise ConfigError(f"{method} stages, depth, heads, topk, patch and spatial_regions must be >= 1")
    multiple = frames_multiple(stages)
    if frames < multiple or frames % multiple:
        use = max(multiple, round(frames / multiple) * multiple)
        raise ConfigError(
            f"{method} clip_frames={frames} must be a multiple of {multiple}; use clip_frames={use}"
        )
    side = 4 * patch * regions
    if size < side or size % side:
        use = max(side, round(size / side) * side)
        raise ConfigError(
            f"{method} size={size} must be a positive multiple of 4 x patch x spatial_regions = {side}; use size={use}"
        )
    if dim % heads:
        raise ConfigError(f"{method} dim={dim} must be a multiple of heads={heads}")


RHYTHMFORMER = MethodDeclaration(
    name="rhythmformer",
    target="rppgbench_plugins.rhythmformer.method:RhythmFormer",
    description=(
        "RhythmFormer (Zou et al., Pattern Recognition 2025): fusion stem, hierarchical temporal periodic "
        "transformer with periodic sparse attention, NegPearson + frequency cross-entropy loss"
    ),
    trains=True,
    params=neural_params(
        epochs=30, batch_size=4, lr=9e-3, weight_decay=0.0, optimizer="adamw", scheduler="onecycle",
        clip_frames=160, size=128,
    ) + (
        Param("dim", 64, "channels of the fusion stem, the tokens and every stage"),
        Param("heads", 4, "attention heads (the paper's head width is 16)"),
        Param("depth", 2, "transformer blocks per temporal stage"),
        Param("stages", 3, "temporal stages; stage i runs at 1 / 2^(i+1) of the frame rate (2, 4, 8)"),
        Param("topk", 40, "routed regions per query region in the pre-attention"),
        Param("patch", 4, "patch embedding side over the stem's features (frame side / 4)"),
        Param("spatial_regions", 4, "routing regions per side of the token grid"),
        Param("mlp_ratio", 1.5, "hidden width of the feed-forward as a multiple of dim"),
        Param("theta", 0.2, "theta of the temporal difference convolutions of the query and key"),
        Param("input_scaling", "clip", "network input scaling (see rppgbench.training.inputs)", INPUT_SCALINGS),
        Param("loss", "paper", "paper: alpha NegPearson + FreqCE (45..149 bpm); time: NegPearson alone", LOSSES),
        Param("alpha", 0.2, "weight of the negative-Pearson term"),
        Param("freq_logits", "log_power", "class scores of the frequency cross-entropy: log_power, or the "
              "sum-normalised power spectrum of the authors' code (paper)", FREQ_LOGITS),
        Param("da2", True, "augmentation: halve the HR of windows above 90 bpm, double it below 75 "
              "(probability 0.5), as the authors' training code"),
    ),
    checks=(within("theta", 0.0, 1.0), shapes_fit),
)  # fmt: skip


register_methods, register_recipe_dirs = method_plugin_hooks(
    RHYTHMFORMER, "rppgbench_plugins.rhythmformer.recipes"
)
