"""I3D (Carreira & Zisserman, CVPR 2017) as an rPPG baseline: the inflated Inception-V1 trunk, randomly
initialised, with a per-frame regression head, trained with the negative Pearson loss.

Declared here without importing PyTorch (name, description, parameters), so listing methods and
`rppgbench show` stay fast; `method.py` (training through `rppgbench.training`) is imported when the
method runs. No ImageNet or Kinetics weights can be fetched here: the network always starts from a
random initialisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rppgbench.declared import MethodDeclaration, method_plugin_hooks, weights_dirs_hook, within
from rppgbench.errors import ConfigError
from rppgbench.params import Param
from rppgbench.training_params import INPUT_SCALINGS, neural_params


def frames_fit(method: str, config: Mapping[str, Any]) -> None:
    """With the published temporal strides the trunk divides time by 8 and the head multiplies it back."""
    frames = int(config["clip_frames"])
    if not config["keep_time"] and frames % 8:
        use = max(8, round(frames / 8) * 8)
        raise ConfigError(f"{method} clip_frames={frames} must be a multiple of 8 (or keep_time); use {use}")


I3D = MethodDeclaration(
    name="i3d",
    target="rppgbench_plugins.i3d.method:I3D",
    description=(
        "I3D inflated Inception-V1 (Carreira & Zisserman, CVPR 2017) as an rPPG baseline: random "
        "initialisation, per-frame regression head, negative Pearson loss"
    ),
    trains=True,
    params=neural_params(
        epochs=15, batch_size=4, lr=1e-4, weight_decay=5e-5, clip_frames=160, size=112
    ) + (
        Param("width", 1.0, "multiplier of every channel count of the trunk (1 = the published I3D)"),
        Param("head_width", 64, "channels of the regression head's temporal upsampling"),
        Param("keep_time", False, "temporal strides 1 in the trunk (no temporal downsampling; the head "
              "then does not upsample); false = the published strides"),
        Param("input_scaling", "clip", "network input scaling (see rppgbench.training.inputs)", INPUT_SCALINGS),
    ),
    checks=(
        frames_fit,
        within("width", 0.01, 4.0),
    ),
)  # fmt: skip


register_methods, register_recipe_dirs = method_plugin_hooks(I3D, "rppgbench_plugins.i3d.recipes")
register_weights_dirs = weights_dirs_hook("rppgbench_plugins.i3d.weights")
