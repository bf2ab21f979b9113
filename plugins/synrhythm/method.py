"""The `synrhythm` method: RhythmNet's regressor pre-trained on synthetic rhythm STMaps, then fine-tuned.

`fit` first makes sure the pre-trained weights exist: they are trained once on synthetic clips
(`synthetic.py`) through the same harness and kept in rppgbench's cache under a key that hashes
everything they depend on (the synthetic data's settings, the network and STMap settings, the
pre-training's own training settings and the seed), so the folds of a run and later runs reuse
them; then it fine-tunes on the fold's training clips starting from them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rppgbench_plugins.rhythmnet.method import RhythmNet
from torch import nn

from rppgbench.data import Clip
from rppgbench.method import FitContext
from rppgbench.store.layout import TRAINING_FILE
from rppgbench.training.checkpoint import load_checkpoint

from . import PRETRAIN_KEYS, SYNRHYTHM
from .synthetic import synthetic_rhythm_clips

PRETRAINED_FILE = "pretrained.pt"
# Parameters of the fine-tuning stage and the runtime that the pre-trained weights do not depend on.
_NOT_IN_KEY = {"epochs", "pretrain", "hr_resample", "val_fraction", "select_metric", "device", "num_workers",
               "infer_frames", "infer_overlap", "infer_batch", "amp", "channels_last", "seed"}  # fmt: skip


def pretraining_dir() -> Path:
    """Where pre-trained SynRhythm weights are kept: `<rppgbench cache>/synrhythm`."""
    from rppgbench.paths import cache_root

    return cache_root() / "synrhythm"


class SynRhythm(RhythmNet, declaration=SYNRHYTHM):
    """SynRhythm (Niu et al., ICPR 2018): synthetic-rhythm pre-training, then fine-tuning on real faces."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._pretrained: dict[str, Any] | None = None

    def pretraining_config(self, seed: int) -> dict[str, Any]:
        """Everything the pre-trained weights depend on (hashed into their cache key)."""
        shared = {k: v for k, v in self.config.items() if k not in _NOT_IN_KEY and k not in PRETRAIN_KEYS}
        own = {k: self.config[k] for k in PRETRAIN_KEYS if k != "pretrain"}
        return {
            "method": self.name,
            "stage": "synthetic-pretraining",
            "version": 1,
            "seed": seed,
            **shared,
            **own,
        }

    def pretraining_key(self, seed: int) -> str:
        """Cache key of the pre-trained weights for `seed` (sha256 of `pretraining_config`, 16 hex digits)."""
        text = json.dumps(self.pretraining_config(seed), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def synthetic_clips(self) -> list[Clip]:
        """The synthetic training clips of the pre-training."""
        c = self.config
        return synthetic_rhythm_clips(
            int(c["synth_clips"]), frames=int(round(float(c["synth_seconds"]) * 30.0)), fps=30.0,
            rows=int(c["rows"]), cols=int(c["cols"]), margin=float(c["margin"]),
            hr_range=(float(c["synth_hr_min"]), float(c["synth_hr_max"])),
            amplitude=float(c["synth_amplitude"]), noise=float(c["synth_noise"]), seed=int(c["synth_seed"]),
        )  # fmt: skip

    def pretrain(self, context: FitContext, seed: int) -> Path:
        """The pre-trained weights' file, trained now unless the cache holds them already."""
        folder = pretraining_dir() / self.pretraining_key(seed)
        weights = folder / PRETRAINED_FILE
        if weights.is_file():
            return weights
        c = self.config
        stage = RhythmNet(**{
            **{p.name: c[p.name] for p in RhythmNet.params},
            "epochs": int(c["synth_epochs"]), "hr_resample": False, "val_fraction": 0.0, "size": 0,
            "seed": seed,
        })  # fmt: skip
        work = folder / f"work-{os.getpid()}"  # one per process: concurrent folds never share a checkpoint
        stage.fit(self.synthetic_clips(), FitContext(work_dir=work, seed=seed, device=context.device,
                                                     fold="synthetic", progress=context.progress))  # fmt: skip
        stage.save(work / PRETRAINED_FILE)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(self.pretraining_config(seed), indent=2, default=str))
        os.replace(work / TRAINING_FILE, folder / TRAINING_FILE)
        os.replace(work / PRETRAINED_FILE, weights)  # atomic: a reader sees the whole file or none
        shutil.rmtree(work, ignore_errors=True)  # its checkpoints are no longer needed
        return weights

    def fit(self, train: Sequence[Clip], context: FitContext) -> None:
        """Pre-train on synthetic rhythms (cached), then fine-tune on `train` from those weights."""
        seed = int(self.config["seed"]) if int(self.config["seed"]) >= 0 else int(context.seed)
        self._pretrained = None
        if self.config["pretrain"]:
            self._pretrained = dict(load_checkpoint(self.pretrain(context, seed))["state_dict"])
        super().fit(train, context)

    def build_model(self) -> nn.Module:
        """RhythmNet's network, holding the pre-trained weights when fitting after pre-training."""
        model = super().build_model()
        if self._pretrained is not None:
            model.load_state_dict(self._pretrained)
        return model
