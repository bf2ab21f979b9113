"""AutoHR's architecture search: PC-DARTS with first-order bi-level optimisation (Sec. II-B, Appendix B).

The training clips are split by subject into a weight half and an architecture half. Each step first
updates the architecture parameters (alpha, beta) on a batch of the architecture split (from epoch
`warmup_epochs` on; they are frozen before) and then the network weights on a batch of the weight split,
both with the hybrid loss. The loop, checkpoints and resume are the shared `TrainingLoop`'s; this module
supplies the bi-level step. After every epoch the softmaxed alpha/beta and the derived genotype are
recorded; at the end `genotype.json` (with that history) and `genotype.png` are written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from rppgbench.data import Clip
from rppgbench.errors import ConfigError
from rppgbench.params import Param, resolve
from rppgbench.store import write_json
from rppgbench.training.device import seed_everything, setup_device
from rppgbench.training.inputs import INPUT_SCALINGS
from rppgbench.training.losses import HybridLoss
from rppgbench.training.sampling import make_loaders, split_by_subject
from rppgbench.training.trainer import LoopConfig, TrainingLoop, build_optimizer

from .genotype import Genotype, draw_genotype
from .network import DEFAULT_WIDTH_MULT
from .ops import DEFAULT_OPS, resolve_ops
from .supernet import SuperNet
from .transforms import clip_input

SEARCH_PARAMS: tuple[Param, ...] = (
    Param("ops", DEFAULT_OPS, "candidate operations (comma-separated; see docs/autohr.md)"),
    Param("exclude_tdc", False, "drop the TDC operations from the candidate set"),
    Param(
        "config", "shared", "one cell for all blocks (shared) or one per block (varied)", ("shared", "varied")
    ),
    Param("channels", 8, "stem width of the supernet (paper: 8; the derived network doubles it)"),
    Param("width_mult", DEFAULT_WIDTH_MULT, "block width = channels x this, per block (reconstructed)"),
    Param("nodes", 3, "intermediate nodes per cell (paper: 3, B1-B3)"),
    Param("partial", 4, "PC-DARTS K: 1/K of the channels go through the mixed operations"),
    Param("clip_frames", 128, "frames per search clip (paper: 128)"),
    Param("size", 112, "face crop side in pixels (paper: 112)"),
    Param("batch_size", 2, "clips per batch (paper: 2)"),
    Param("epochs", 12, "search epochs (paper: 12)"),
    Param("warmup_epochs", 5, "epochs with frozen architecture parameters (paper: 5)"),
    Param("lr", 1e-4, "Adam learning rate of the weights (paper: 1e-4)"),
    Param("weight_decay", 5e-5, "Adam weight decay of the weights (paper: 5e-5)"),
    Param("arch_lr", 6e-4, "Adam learning rate of alpha/beta (paper: 6e-4)"),
    Param("arch_weight_decay", 1e-3, "Adam weight decay of alpha/beta (paper: 1e-3)"),
    Param("arch_beta1", 0.9, "Adam beta1 of alpha/beta (PC-DARTS: 0.5; beta2 stays 0.999)"),
    Param("input_scaling", "clip", "network input scaling (see rppgbench.training.inputs)", INPUT_SCALINGS),
    Param("arch_fraction", 0.5, "share of training subjects in the architecture (validation) split"),
    Param("windows_per_clip", 0, "random windows per clip and epoch (0 = clip length // clip_frames)"),
    Param("lambda_time", 0.2, "weight of the negative-Pearson term of the hybrid loss (paper: 0.2)"),
    Param("grad_clip", 5.0, "gradient-norm clip of the weight step (0 = off)"),
    Param("num_workers", 0, "data-loader worker processes"),
    Param("host_cache_mb", 2048, "resize clips once into host memory when they fit (0 = per window)"),
    Param("device", "auto", "torch device: auto, cpu, cuda, cuda:N"),
    Param("amp", True, "bf16 autocast on CUDA"),
    Param("channels_last", True, "channels_last_3d layout on CUDA"),
    Param("seed", 0, "seed of sampling, splits and initialisation"),
)


_RUNTIME_KEYS = frozenset({"num_workers", "device", "amp", "channels_last", "epochs", "host_cache_mb"})
"""Settings that may change when a search is resumed (more epochs extend it)."""


def search_config(values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Search settings: the paper's defaults overridden by `values` (strings are converted)."""
    config = resolve(SEARCH_PARAMS, dict(values or {}), "autohr search")
    config["ops"] = resolve_ops(config["ops"], exclude_tdc=bool(config["exclude_tdc"]))
    if config["warmup_epochs"] < 0 or config["epochs"] < 1:
        raise ConfigError("autohr search needs epochs >= 1 and warmup_epochs >= 0")
    if config["clip_frames"] % 4:
        raise ConfigError(
            f"clip_frames must be a multiple of 4 (two temporal pools), got {config['clip_frames']}"
        )
    return config


class _History:
    """Per-epoch alpha/beta weights and genotypes, saved in every checkpoint (resume keeps it).

    An epoch's entry is recorded when the loop checkpoints it (`state_dict`) or at the end of the epoch,
    whichever comes first, so a resumed search has the complete history.
    """

    def __init__(self, model: SuperNet) -> None:
        self.model, self.epochs, self.current = model, [], -1

    def record(self) -> dict[str, Any]:
        """The entry of the current epoch (created on first call)."""
        if not self.epochs or self.epochs[-1]["epoch"] != self.current + 1:
            entry = {"epoch": self.current + 1, **self.model.arch_weights()}
            entry["genotype"] = self.model.genotype().to_dict()["cells"]
            self.epochs.append(entry)
        return self.epochs[-1]

    def state_dict(self) -> dict[str, Any]:
        if self.current >= 0:
            self.record()
        return {"history": json.dumps(self.epochs)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epochs = json.loads(state["history"])


class _ArchIterator:
    """Endless batches of the architecture split; its windows depend on (seed, epoch) like training's."""

    def __init__(self, loader: Any) -> None:
        self.loader, self.epoch, self._it = loader, -1, None

    def start_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        for obj in (self.loader.sampler, self.loader.dataset):
            obj.set_epoch(epoch)
        self._it = iter(self.loader)

    def next(self) -> Any:
        try:
            return next(self._it)
        except StopIteration:
            self.start_epoch(self.epoch + 10_000)  # a fresh, still deterministic, draw of windows
            return next(self._it)


class BiLevelStep:
    """The search step: an architecture step on the arch split (after warm-up), then a weight step."""

    def __init__(self, model: SuperNet, arch_optimizer: torch.optim.Optimizer, arch_batches: _ArchIterator,
                 warmup_epochs: int) -> None:  # fmt: skip
        self.model, self.arch_optimizer, self.arch_batches = model, arch_optimizer, arch_batches
        self.warmup_epochs = warmup_epochs

    def __call__(self, loop: TrainingLoop, batch: Any) -> dict[str, float]:
        metrics: dict[str, float] = {}
        arch = self.model.arch_parameters()
        if loop.epoch >= self.warmup_epochs:
            arch_batch = self.arch_batches.next().to(loop.device.device)
            _set_requires_grad(arch, True)
            self.arch_optimizer.zero_grad(set_to_none=True)
            arch_loss = loop.loss_fn(loop.forward(arch_batch), arch_batch)
            loop.check_finite(arch_loss)
            arch_loss.backward()
            self.arch_optimizer.step()
            metrics["arch_loss"] = float(arch_loss.detach())
        _set_requires_grad(arch, False)  # the weight step neither needs nor touches alpha/beta gradients
        loop.optimizer.zero_grad(set_to_none=True)
        loss = loop.loss_fn(loop.forward(batch), batch)
        loop.check_finite(loss)
        loss.backward()
        metrics["grad_norm"] = loop.clip_gradients(self.model.weight_parameters())
        loop.optimizer.step()
        metrics["loss"] = float(loss.detach())
        return metrics


def _set_requires_grad(params: Sequence[torch.nn.Parameter], flag: bool) -> None:
    for p in params:
        p.requires_grad_(flag)


class _EpochHook:
    """Starts the arch split's epoch and records alpha/beta and the derived genotype after each epoch."""

    def __init__(self, model: SuperNet, arch_batches: _ArchIterator, history: _History, out: Path) -> None:
        self.model, self.arch_batches, self.history, self.out = model, arch_batches, history, out

    def on_epoch_start(self, loop: TrainingLoop, epoch: int) -> None:
        self.arch_batches.start_epoch(epoch)
        self.history.current = epoch

    def on_epoch_end(self, loop: TrainingLoop, epoch: int, metrics: dict[str, float]) -> None:
        self.history.record()["train_loss"] = metrics.get("train_loss")
        write_json(self.out / "history.json", self.history.epochs)


def run_search(
    clips: Sequence[Clip], out: Path, values: Mapping[str, Any] | None = None, *, progress: bool = True,
    provenance: Mapping[str, Any] | None = None,
) -> Genotype:  # fmt: skip
    """Search an AutoHR cell on `clips` (the training videos of a fold); write the results into `out`.

    Writes `genotype.json` (with the per-epoch alpha/beta history), `genotype.png`, `history.json`,
    `search_config.json` and `checkpoints/last.pt`; an interrupted search resumes from the checkpoint.
    """
    config = search_config(values)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seed = int(config["seed"])
    seed_everything(seed)
    device = setup_device(config["device"], amp=config["amp"], channels_last=config["channels_last"])
    weight_clips, arch_clips = split_by_subject(clips, float(config["arch_fraction"]), seed)
    if not arch_clips:
        raise ConfigError(
            "the architecture search needs at least two training subjects (weights and architecture are "
            "learnt on subject-disjoint splits)"
        )
    loader_cfg = {
        k: config[k]
        for k in (
            "clip_frames", "batch_size", "num_workers", "windows_per_clip", "device", "size", "host_cache_mb"
        )
    }  # fmt: skip
    train_loader, _ = make_loaders(
        weight_clips, {**loader_cfg, "val_fraction": 0.0, "seed": seed}, with_hr=True
    )
    arch_loader, _ = make_loaders(
        arch_clips, {**loader_cfg, "val_fraction": 0.0, "seed": seed + 1}, with_hr=True
    )

    model = SuperNet(
        config["ops"], config["channels"], config["config"], config["partial"], config["width_mult"],
        n_nodes=int(config["nodes"]),
    )  # fmt: skip
    model = device.prepare_model(model)
    optimizer = build_optimizer(model.weight_parameters(), "adam", config["lr"], config["weight_decay"])
    arch_optimizer = build_optimizer(
        model.arch_parameters(), "adam", config["arch_lr"], config["arch_weight_decay"],
        betas=(float(config["arch_beta1"]), 0.999),
    )  # fmt: skip
    loss = HybridLoss(lambda_time=config["lambda_time"]).to(device.device)
    history = _History(model)
    arch_batches = _ArchIterator(arch_loader)
    size, scaling = int(config["size"]), str(config["input_scaling"])
    loop = TrainingLoop(
        model, optimizer, lambda output, batch: loss(output, batch.target, batch.hr, batch.fps),
        LoopConfig(epochs=config["epochs"], grad_clip=config["grad_clip"], progress=progress, seed=seed,
                   description="search"),
        device,
        input_fn=lambda batch: clip_input(batch.frames, size, scaling),
        work_dir=out,
        step_fn=BiLevelStep(model, arch_optimizer, arch_batches, config["warmup_epochs"]),
        hooks=[_EpochHook(model, arch_batches, history, out)],
        extra_state={"arch_optimizer": arch_optimizer, "history": history},
        fingerprint={"search": {k: v for k, v in config.items() if k not in _RUNTIME_KEYS}},
    )  # fmt: skip
    write_json(out / "search_config.json", {**config, "ops": list(config["ops"])})
    loop.run(train_loader)
    meta = {
        "settings": {**config, "ops": list(config["ops"])},
        "n_weight_clips": len(weight_clips), "n_arch_clips": len(arch_clips),
        "weight_subjects": sorted({c.record.subject for c in weight_clips}),
        "arch_subjects": sorted({c.record.subject for c in arch_clips}),
        **dict(provenance or {}),
    }  # fmt: skip
    genotype = model.genotype(source="searched", search=meta, history=history.epochs,
                              note=f"searched by rppgbench autohr ({config['config']}, {len(config['ops'])} ops)")  # fmt: skip
    genotype.save(out / "genotype.json")
    draw_genotype(genotype, out / "genotype.png", title="AutoHR searched cell")
    return genotype
