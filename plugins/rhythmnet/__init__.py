"""RhythmNet (Niu et al., IEEE T-IP 2020) as an rppgbench plugin: HR regressed from spatial-temporal maps.

Declared here without importing PyTorch; `method.py` (network, loss, training through
`rppgbench.training`) is imported when the method runs. RhythmNet estimates HR itself
(`estimates_hr`) and gives no rPPG signal, so the shared HR estimator does not read its output.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rppgbench.declared import MethodDeclaration, method_plugin_hooks, within
from rppgbench.errors import ConfigError
from rppgbench.params import Param
from rppgbench.training_params import neural_params

COLORS = ("rgb+yuv", "rgb", "yuv")


def color_spaces(colors: str) -> tuple[str, ...]:
    """`"rgb+yuv"` -> ("rgb", "yuv")."""
    return tuple(colors.split("+"))


def windows_fit(method: str, config: Mapping[str, Any]) -> None:
    """clip_frames covers seq_len windows of window_frames frames, step_frames apart."""
    window, step, seq = (int(config[k]) for k in ("window_frames", "step_frames", "seq_len"))
    if window < 8 or step < 1 or seq < 1:
        raise ConfigError(f"{method} needs window_frames >= 8, step_frames >= 1 and seq_len >= 1")
    want = window + (seq - 1) * step
    if int(config["clip_frames"]) != want:
        raise ConfigError(
            f"{method} clip_frames={config['clip_frames']} must be window_frames + (seq_len - 1) x "
            f"step_frames = {want}; use clip_frames={want}"
        )


def select_on_loss(method: str, config: Mapping[str, Any]) -> None:
    """An HR-regressing method selects its epoch on the validation loss (val_mae reads a signal)."""
    if config["select_metric"] != "val_loss":
        raise ConfigError(
            f"{method} regresses HR (its loss is the HR error) and gives no signal for val_mae; "
            "use select_metric=val_loss"
        )


def stmap_params(**defaults: Any) -> tuple[Param, ...]:
    """The STMap and RhythmNet-model parameters (shared with SynRhythm), with `defaults` overriding."""
    own = {
        "rows": (5, "ROI grid rows over the face crop (the fallback for the paper's landmark ROIs)"),
        "cols": (5, "ROI grid columns"),
        "margin": (0.1, "fraction of the crop's side left out on each side of the ROI grid"),
        "window_frames": (300, "frames per STMap window (paper: 300)"),
        "step_frames": (15, "frames between consecutive windows (paper: 0.5 s = 15 frames at 30 fps)"),
        "seq_len": (6, "consecutive windows per training sample, the GRU's sequence length"),
        "width": (64, "ResNet-18 stage widths w, 2w, 4w, 8w (64 = ResNet-18)"),
        "gru": (True, "run a GRU over consecutive windows' features"),
        "smooth_weight": (100.0, "weight lambda of the smoothness term of the loss"),
        "hr_center": (80.0, "output parametrisation: HR = hr_center + hr_scale x head output"),
        "hr_scale": (20.0, "see hr_center"),
        "hr_resample": (True, "augmentation: HR-based temporal resampling of training windows"),
    }
    params = [Param(name, defaults.pop(name, default), help) for name, (default, help) in own.items()]
    params.append(Param("colors", defaults.pop("colors", "rgb+yuv"), "STMap colour spaces", COLORS))
    if defaults:
        raise ConfigError(f"stmap_params has no parameter {', '.join(sorted(defaults))}")
    return tuple(params)


RHYTHMNET = MethodDeclaration(
    name="rhythmnet",
    target="rppgbench_plugins.rhythmnet.method:RhythmNet",
    description=(
        "RhythmNet (Niu et al., T-IP 2020): RGB+YUV spatial-temporal maps of a grid of face ROIs, "
        "ResNet-18 (randomly initialised) and a GRU over consecutive windows regress HR; L1 + smoothness loss"
    ),
    trains=True,
    estimates_hr=True,
    gives_signal=False,
    params=neural_params(
        epochs=50, batch_size=4, lr=1e-3, weight_decay=0.0, clip_frames=375, size=128
    ) + stmap_params(),
    checks=(windows_fit, within("margin", 0.0, 0.45), select_on_loss),
)  # fmt: skip


register_methods, register_recipe_dirs = method_plugin_hooks(RHYTHMNET, "rppgbench_plugins.rhythmnet.recipes")
