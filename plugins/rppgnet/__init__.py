"""rPPGNet (Yu et al., ICCV 2019) as an rppgbench plugin: skin segmentation, skin-based spatio-temporal
attention, partition constraints and negative Pearson losses, with the STVEN video enhancement
network as an option (`stven = true`).

Declared here without importing PyTorch (name, description, parameters), so listing methods and
`rppgbench show` stay fast; `method.py` (training through `rppgbench.training`) is imported when
the method runs.
"""

from __future__ import annotations

from rppgbench.declared import MethodDeclaration, method_plugin_hooks, multiple_of, weights_dirs_hook
from rppgbench.params import Param
from rppgbench.training_params import INPUT_SCALINGS, neural_params

RPPGNET = MethodDeclaration(
    name="rppgnet",
    target="rppgbench_plugins.rppgnet.method:RPPGNetMethod",
    description=(
        "rPPGNet (Yu et al., ICCV 2019): skin segmentation, skin-based attention, partition constraints, "
        "negative Pearson losses; optional STVEN video enhancement before it"
    ),
    trains=True,
    params=neural_params(
        epochs=15, batch_size=4, lr=1e-4, weight_decay=5e-5, clip_frames=64, size=128
    ) + (
        Param("width", 64, "channels of the deep spatio-temporal blocks (shallow ones: width / 4, width / 2)"),
        Param("skin_weight", 0.1, "weight of the skin-segmentation loss (binary cross-entropy)"),
        Param("part_weight", 0.5, "weight of the partition and mid-level negative Pearson losses"),
        Param("input_scaling", "clip", "rPPGNet input scaling (see rppgbench.training.inputs)", INPUT_SCALINGS),
        Param("stven", False, "put STVEN (video enhancement) before rPPGNet and train both jointly"),
        Param("stven_width", 64, "STVEN's first channel count (the bottleneck has 4 x this)"),
        Param("stven_blocks", 4, "STVEN's spatio-temporal bottleneck convolutions"),
        Param("rec_weight", 1.0, "STVEN: weight of the reconstruction loss (L1 + MSE to the clean clip)"),
        Param("cycle_weight", 1.0, "STVEN: weight of the cycle loss (re-compressing the enhanced clip); "
              "0 skips it"),
    ),
    checks=(
        multiple_of("size", 16),  # three 2x poolings, then the four quarters of the last features
        multiple_of("clip_frames", 2),  # STVEN halves time and doubles it back
    ),
)  # fmt: skip


register_methods, register_recipe_dirs = method_plugin_hooks(RPPGNET, "rppgbench_plugins.rppgnet.recipes")
register_weights_dirs = weights_dirs_hook("rppgbench_plugins.rppgnet.weights")
