"""Neural rPPG methods: PhysNet, DeepPhys, TS-CAN and EfficientPhys, trained through `rppgbench.training`.

Declared here without importing PyTorch (name, description, parameters), so listing methods and
`rppgbench show` stay fast; the model code (`physnet.py`, `deepphys.py`, `tscan.py`,
`efficientphys.py`) is imported when a method runs.
"""

from __future__ import annotations

from collections.abc import Callable

from rppgbench.declared import (
    MethodDeclaration,
    multiple_of,
    multiple_of_param,
    recipe_dirs_hook,
    weights_dirs_hook,
)
from rppgbench.hookspecs import hookimpl
from rppgbench.params import Param
from rppgbench.training_params import INPUT_SCALINGS, neural_params

PHYSNET = MethodDeclaration(
    name="physnet",
    target="rppgbench_plugins.neural.physnet:PhysNet",
    description="PhysNet 3D-CNN encoder-decoder (Yu et al., BMVC 2019), negative Pearson loss",
    trains=True,
    params=neural_params(
        epochs=15, batch_size=4, lr=1e-4, weight_decay=5e-5, clip_frames=160, size=112
    ) + (
        Param("width", 64, "channels of the 3-D conv blocks (stem width / 4, second block width / 2)"),
        Param(
            "input_scaling",
            "clip",
            "clip: standardise per clip and channel; paper: (x - 127.5) / 128; ratio: per-pixel AC/DC",
            INPUT_SCALINGS,
        ),
    ),
    checks=(multiple_of("clip_frames", 4),),  # two temporal poolings, then two x2 upsamplings
)  # fmt: skip

DEEPPHYS = MethodDeclaration(
    name="deepphys",
    target="rppgbench_plugins.neural.deepphys:DeepPhys",
    description="DeepPhys convolutional attention network (Chen & McDuff, ECCV 2018)",
    trains=True,
    params=neural_params(
        epochs=10, batch_size=4, lr=1e-3, weight_decay=0.0, clip_frames=160, size=36
    ) + (
        Param("dropout", 0.25, "dropout after the conv stages (twice this before the output layer)"),
        Param("detrend_lambda", 100.0, "smoothness-priors lambda (at 30 Hz) applied after integration"),
    ),
)  # fmt: skip

FRAME_DEPTH = Param(
    "frame_depth", 10, "frames per temporal-shift segment; training and inference windows are whole segments"
)


def _shift_network(name: str, target: str, description: str) -> MethodDeclaration:
    """TS-CAN and EfficientPhys share DeepPhys's settings plus the temporal-shift segment length."""
    return MethodDeclaration(
        name=name,
        target=target,
        description=description,
        trains=True,
        params=neural_params(
            epochs=10, batch_size=4, lr=1e-3, weight_decay=0.0, clip_frames=160, size=36
        ) + (
            Param("dropout", 0.25, "dropout after the conv stages (twice this before the output layer)"),
            Param("detrend_lambda", 100.0, "smoothness-priors lambda (at 30 Hz) applied after integration"),
            FRAME_DEPTH,
        ),
        checks=(multiple_of_param("clip_frames", "frame_depth"),),
    )  # fmt: skip


TSCAN = _shift_network(
    "tscan",
    "rppgbench_plugins.neural.tscan:TSCAN",
    "TS-CAN temporal shift convolutional attention network (Liu et al., NeurIPS 2020)",
)
EFFICIENTPHYS = _shift_network(
    "efficientphys",
    "rppgbench_plugins.neural.efficientphys:EfficientPhys",
    "EfficientPhys: normalisation module, shifted convolutions, self-attention (Liu et al., WACV 2023)",
)


@hookimpl
def register_methods(register: Callable[[object], None]) -> None:
    """Register PhysNet, DeepPhys, TS-CAN and EfficientPhys (declared; their modules load when they run)."""
    register(PHYSNET)
    register(DEEPPHYS)
    register(TSCAN)
    register(EFFICIENTPHYS)


register_recipe_dirs = recipe_dirs_hook("rppgbench_plugins.neural.recipes")
register_weights_dirs = weights_dirs_hook("rppgbench_plugins.neural.weights")
