"""FactorizePhys (Joshi et al., NeurIPS 2024) as an rppgbench plugin: a 3-D CNN with the Factorized
Self-Attention Module (non-negative matrix factorisation of the voxel embeddings), negative Pearson loss.

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
from rppgbench.training_params import neural_params

FSAM_LAYOUTS = ("time", "view")
PADDINGS = ("valid", "same")
MIN_SIZE = {"valid": 71, "same": 4}
"""Smallest frame side per padding (mirrors `network.MIN_SIZE`, kept torch-free here)."""


def size_fits(method: str, config: Mapping[str, Any]) -> None:
    """size >= 71 px with the paper's unpadded conv blocks (72 in the paper), >= 4 with `same`; rank >= 1."""
    size, padding = int(config["size"]), str(config["padding"])
    if padding not in MIN_SIZE:
        raise ConfigError(f"{method} padding must be one of {PADDINGS}, got {padding!r}")
    if size < MIN_SIZE[padding]:
        raise ConfigError(
            f"{method} size={size} is too small for padding={padding!r}: use size >= {MIN_SIZE[padding]}"
            + (" or padding='same'" if padding == "valid" else "")
        )
    if int(config["rank"]) < 1 or int(config["nmf_steps"]) < 0:
        raise ConfigError(f"{method} needs rank >= 1 and nmf_steps >= 0")
    if int(config["clip_frames"]) < 2:
        raise ConfigError(f"{method} clip_frames must be at least 2")


FACTORIZEPHYS = MethodDeclaration(
    name="factorizephys",
    target="rppgbench_plugins.factorizephys.method:FactorizePhys",
    description=(
        "FactorizePhys (Joshi et al., NeurIPS 2024): 3-D CNN with the Factorized Self-Attention Module "
        "(rank-1 NMF of the voxel embeddings), diff-normalised input, negative Pearson loss"
    ),
    trains=True,
    params=neural_params(
        epochs=10, batch_size=4, lr=1e-3, weight_decay=0.0, optimizer="adam", scheduler="onecycle",
        clip_frames=160, size=72,
    ) + (
        Param("dropout", 0.1, "Dropout3d rate after each group of conv blocks"),
        Param("fsam", True, "use the Factorized Self-Attention Module (false: the paper's base 3-D CNN)"),
        Param("residual", True, "add the FSAM output to the voxel embeddings (the paper's FSAM_Res)"),
        Param("rank", 1, "rank of the non-negative factorisation"),
        Param("nmf_steps", 4, "multiplicative-update steps of the factorisation"),
        Param("fsam_layout", "time", "matrix the FSAM factorises: time (T x channels*space, the paper) or "
              "view (the authors' code: the same memory viewed as T rows)", FSAM_LAYOUTS),
        Param("padding", "valid", "spatial padding of the conv blocks: valid (the paper, frames >= 71 px) or "
              "same (any size; the last map is averaged)", PADDINGS),
    ),
    checks=(within("dropout", 0.0, 1.0), size_fits),
)  # fmt: skip


register_methods, register_recipe_dirs = method_plugin_hooks(
    FACTORIZEPHYS, "rppgbench_plugins.factorizephys.recipes"
)
