"""HR-CNN (Špetlík, Franc and Matas, BMVC 2018) as an rppgbench plugin: an extractor CNN turns each frame
into one value (a 1-D signal), an estimator CNN regresses HR from that signal.

Declared here without importing PyTorch. HR-CNN estimates HR itself (`estimates_hr`) and also gives
its extractor's signal, which rppgbench stores and scores for SNR and MACC.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rppgbench_plugins.rhythmnet import select_on_loss

from rppgbench.declared import MethodDeclaration, method_plugin_hooks
from rppgbench.errors import ConfigError
from rppgbench.params import Param
from rppgbench.training_params import neural_params


def estimator_fits(method: str, config: Mapping[str, Any]) -> None:
    """Training windows are longer than the estimator's unpadded convolutions and poolings consume."""
    layers, kernel, pool = (int(config[k]) for k in ("est_layers", "est_kernel", "est_pool"))
    shrink = layers * (kernel - 1) + (layers // 3) * (pool - 1)
    if layers < 1 or kernel < 1 or pool < 1:
        raise ConfigError(f"{method} est_layers, est_kernel and est_pool must be positive")
    if int(config["clip_frames"]) <= shrink:
        raise ConfigError(
            f"{method} clip_frames={config['clip_frames']} is too short for the estimator, which "
            f"consumes {shrink} samples; use clip_frames={shrink + 64} or a smaller estimator"
        )


HR_CNN = MethodDeclaration(
    name="hrcnn",
    target="rppgbench_plugins.hrcnn.method:HRCNN",
    description=(
        "HR-CNN (Špetlík et al., BMVC 2018): per-frame extractor CNN trained with an SNR loss, then a 1-D "
        "estimator CNN regressing HR from the extractor's signal"
    ),
    trains=True,
    estimates_hr=True,
    gives_signal=True,
    params=neural_params(
        epochs=30, batch_size=4, lr=1e-4, weight_decay=0.0, clip_frames=300, size=128
    ) + (
        Param("input_height", 192, "extractor input height (paper: 192)"),
        Param("input_width", 128, "extractor input width (paper: 128)"),
        Param("ext_width", 64, "extractor channels w (blocks w, w, 2w, 2w; paper: 64)"),
        Param("ext_scale", 1.0, "scale of the extractor's kernels and poolings (1 = the paper's 15x10)"),
        Param("ext_dropout", True, "the paper's dropout (0.2, 0.5) before the extractor's last two convolutions"),
        Param("est_layers", 9, "estimator convolution blocks"),
        Param("est_filters", 64, "estimator filters per block"),
        Param("est_kernel", 9, "estimator kernel length"),
        Param("est_pool", 3, "estimator max-pooling length (every third block, stride 1)"),
        Param("est_epochs", 30, "epochs of the estimator stage"),
        Param("est_lr", 1e-3, "learning rate of the estimator stage"),
        Param("hr_center", 80.0, "estimator output parametrisation: HR = hr_center + hr_scale x output"),
        Param("hr_scale", 20.0, "see hr_center"),
        Param("snr_delta_bpm", 6.0, "SNR loss: half-width of the signal bands at the HR and its harmonic"),
        Param("snr_bpm_min", 40.0, "SNR loss: lowest frequency considered (bpm)"),
        Param("snr_bpm_max", 240.0, "SNR loss: highest frequency considered (bpm)"),
    ),
    checks=(estimator_fits, select_on_loss),
)  # fmt: skip


register_methods, register_recipe_dirs = method_plugin_hooks(HR_CNN, "rppgbench_plugins.hrcnn.recipes")
