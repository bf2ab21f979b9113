"""PhysFormer (Yu et al., CVPR 2022) as an rppgbench plugin: temporal difference transformer and its losses.

Declared here without importing PyTorch (name, description, parameters), so listing methods and
`rppgbench show` stay fast; `method.py` (network, losses, training through `rppgbench.training`)
is imported when the method runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rppgbench.declared import MethodDeclaration, method_plugin_hooks, multiple_of, weights_dirs_hook, within
from rppgbench.errors import ConfigError
from rppgbench.params import Param
from rppgbench.training_params import INPUT_SCALINGS, neural_params

LOSSES = ("paper", "time")
FREQ_LOGITS = ("log_power", "paper")


def shapes_fit(method: str, config: Mapping[str, Any]) -> None:
    """size is a multiple of 8 x patch (stem pooling, then tubes); dim a multiple of 4 and of heads."""
    size, patch, dim, heads = (int(config[k]) for k in ("size", "patch", "dim", "heads"))
    if patch < 1 or size < 8 * patch or size % (8 * patch):
        use = max(8 * patch, round(size / (8 * patch)) * 8 * patch) if patch >= 1 else 32
        raise ConfigError(
            f"{method} size={size} must be a positive multiple of 8 x patch = {8 * patch}; use size={use}"
        )
    if heads < 1 or dim < 4 or dim % 4 or dim % heads:
        raise ConfigError(f"{method} dim={dim} must be a positive multiple of 4 and of heads={heads}")


PHYSFORMER = MethodDeclaration(
    name="physformer",
    target="rppgbench_plugins.physformer.method:PhysFormer",
    description=(
        "PhysFormer temporal difference transformer (Yu et al., CVPR 2022): TD-MHSA with TDC projections, "
        "ST-FF, label-distribution and curriculum losses"
    ),
    trains=True,
    params=neural_params(
        epochs=25, batch_size=4, lr=1e-4, weight_decay=5e-5, clip_frames=160, size=128
    ) + (
        Param("dim", 96, "token channels D (stem widths D/4, D/2, D)"),
        Param("ff_dim", 144, "hidden channels D' of the spatio-temporal feed-forward"),
        Param("heads", 4, "attention heads"),
        Param("layers", 12, "temporal difference transformer blocks"),
        Param("patch", 4, "tube side over the stem's features (frame side / 8); the tube length is 4 frames"),
        Param("theta", 0.7, "theta of the temporal difference convolutions of the query and key projections"),
        Param("tau", 2.0, "attention temperature: softmax(Q K^T / tau)"),
        Param("dropout", 0.1, "dropout on attention weights and on both residual branches"),
        Param("input_scaling", "clip", "network input scaling (see rppgbench.training.inputs)", INPUT_SCALINGS),
        Param("loss", "paper", "paper: alpha NegPearson + beta (FreqCE + LD-KL); time: NegPearson alone", LOSSES),
        Param("alpha", 0.1, "weight of the negative-Pearson term"),
        Param("beta0", 1.0, "weight of the frequency terms at the first epoch"),
        Param("eta", 5.0, "the frequency terms' weight grows to beta0 x eta over the curriculum"),
        Param("curriculum_epochs", 0, "epochs over which beta grows (0 = the run's epochs)"),
        Param("sigma", 1.0, "width (bpm) of the Gaussian label distribution"),
        Param("flip", True, "augmentation: mirror training windows left-right (probability 0.5)"),
        Param("da2", True, "augmentation: AutoHR's DA2, halve the HR of windows above 90 bpm, double it "
              "below 70 (probability 0.5)"),
        Param("freq_logits", "log_power", "class scores of both frequency terms: log_power, or the "
              "sum-normalised power spectrum of the authors' code (paper)", FREQ_LOGITS),
    ),
    checks=(
        multiple_of("clip_frames", 4),
        within("theta", 0.0, 1.0),
        within("dropout", 0.0, 1.0),
        shapes_fit,
    ),
)  # fmt: skip


register_methods, register_recipe_dirs = method_plugin_hooks(
    PHYSFORMER, "rppgbench_plugins.physformer.recipes"
)
register_weights_dirs = weights_dirs_hook("rppgbench_plugins.physformer.weights")
