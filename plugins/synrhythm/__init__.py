"""SynRhythm (Niu et al., ICPR 2018) as an rppgbench plugin: a RhythmNet-style HR regressor pre-trained on
synthetic rhythm signals turned into STMaps, then fine-tuned on the training fold.

Declared here without importing PyTorch. The pre-training is part of `fit` and is cached (keyed by
its configuration) so that the folds of a run and later runs reuse it. Like RhythmNet it estimates HR
itself and gives no rPPG signal.
"""

from __future__ import annotations

from rppgbench_plugins.rhythmnet import select_on_loss, stmap_params, windows_fit

from rppgbench.declared import MethodDeclaration, method_plugin_hooks, within
from rppgbench.params import Param
from rppgbench.training_params import neural_params

PRETRAIN_PARAMS = (
    Param("pretrain", True, "pre-train on synthetic rhythm STMaps before fine-tuning (cached)"),
    Param("synth_clips", 2000, "synthetic clips of the pre-training"),
    Param("synth_seconds", 15.0, "length of each synthetic clip (s, at 30 fps)"),
    Param("synth_hr_min", 45.0, "lowest synthetic HR (bpm)"),
    Param("synth_hr_max", 150.0, "highest synthetic HR (bpm)"),
    Param("synth_amplitude", 1.5, "pulse amplitude of the strongest ROI's green channel (0-255 levels)"),
    Param("synth_noise", 1.0, "per-ROI sensor noise (0-255 levels, standard deviation)"),
    Param("synth_epochs", 10, "epochs of the pre-training"),
    Param("synth_seed", 0, "seed of the synthetic data"),
)
PRETRAIN_KEYS = tuple(p.name for p in PRETRAIN_PARAMS)

SYNRHYTHM = MethodDeclaration(
    name="synrhythm",
    target="rppgbench_plugins.synrhythm.method:SynRhythm",
    description=(
        "SynRhythm (Niu et al., ICPR 2018): RhythmNet-style STMap regressor (ResNet-18) pre-trained on "
        "synthetic rhythm signals (cached), fine-tuned on the training fold"
    ),
    trains=True,
    estimates_hr=True,
    gives_signal=False,
    params=neural_params(
        epochs=20, batch_size=4, lr=1e-3, weight_decay=0.0, clip_frames=300, size=128
    ) + stmap_params(gru=False, seq_len=1, smooth_weight=0.0) + PRETRAIN_PARAMS,
    checks=(windows_fit, within("margin", 0.0, 0.45), select_on_loss),
)  # fmt: skip


register_methods, register_recipe_dirs = method_plugin_hooks(SYNRHYTHM, "rppgbench_plugins.synrhythm.recipes")
