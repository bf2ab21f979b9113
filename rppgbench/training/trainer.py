"""THE training loop of rppgbench: every neural method (and AutoHR's search) trains through it.

It moves batches to the device, runs a step (the default one or a custom `step_fn`), steps the
schedule per batch, validates after every epoch, keeps the best weights on the validation metric,
writes `checkpoints/last.pt` atomically after every epoch and resumes from it after an interruption.
Window sampling is a function of (seed, epoch) and RNG states are checkpointed, so on CPU a resumed
run reproduces an uninterrupted one exactly.
"""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from rppgbench.errors import ConfigError, RppgbenchError
from rppgbench.training import distributed
from rppgbench.training.augment import BatchAugmentation, apply_batch_augmentations
from rppgbench.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from rppgbench.training.device import DeviceSetup

CHECKPOINT_NAME = "last.pt"


class TrainingDivergedError(RppgbenchError):
    """The loss became NaN or infinite."""


@dataclass
class LoopConfig:
    """Settings of the loop itself (optimiser and model settings live with the method)."""

    epochs: int
    grad_clip: float = 1.0
    select_metric: str = "val_loss"
    select_mode: str = "min"
    progress: bool = True
    seed: int = 0
    description: str = "train"


@dataclass
class LoopResult:
    """What a run produced: the selected epoch and metric, per-epoch history and the selected weights."""

    best_epoch: int
    best_metric: float
    history: list[dict[str, float]]
    best_state: dict[str, torch.Tensor] = field(repr=False)
    resumed_from_epoch: int | None = None


def build_optimizer(
    params: nn.Module | Iterable[torch.nn.Parameter],
    name: str,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.999),
) -> torch.optim.Optimizer:
    """Adam, AdamW (with `betas`), Adadelta or SGD (momentum 0.9) over a model's (or an iterable of) parameters."""
    if isinstance(params, nn.Module):
        params = params.parameters()
    name = name.lower()
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, betas=betas)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas)
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise ConfigError(f"optimizer {name!r} is not one of adam, adamw, adadelta, sgd")


def build_scheduler(
    optimizer: torch.optim.Optimizer, name: str, epochs: int, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """A per-batch schedule: none, cosine (to 1% of lr), step (x0.1 at 50% and 75%) or onecycle."""
    total = max(1, epochs * max(1, steps_per_epoch))
    name = name.lower()
    if name == "none":
        return None
    if name == "cosine":
        base = optimizer.param_groups[0]["lr"]
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total, eta_min=base * 0.01)
    if name == "step":
        return torch.optim.lr_scheduler.MultiStepLR(
            optimizer, milestones=[total // 2, (3 * total) // 4], gamma=0.1
        )
    if name == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=total
        )
    raise ConfigError(f"scheduler {name!r} is not one of none, cosine, step, onecycle")


def _to_device(batch: Any, device: torch.device) -> Any:
    return batch.to(device) if hasattr(batch, "to") else batch


def _float32(out: Any) -> Any:
    """A model output (tensor, or tuple / list / dict of them) with every tensor in float32."""
    if isinstance(out, torch.Tensor):
        return out.float()
    if isinstance(out, dict):
        return {k: _float32(v) for k, v in out.items()}
    if isinstance(out, (tuple, list)):
        return type(out)(_float32(v) for v in out)
    return out


class TrainingLoop:
    """Runs epochs of `step_fn` over a train loader with validation, selection, checkpoints and resume."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        loss_fn: Callable[[Any, Any], torch.Tensor],
        config: LoopConfig,
        device: DeviceSetup,
        *,
        input_fn: Callable[[Any], torch.Tensor] | None = None,
        work_dir: Path | str | None = None,
        scheduler: Any = None,
        step_fn: Callable[[TrainingLoop, Any], Mapping[str, float]] | None = None,
        eval_fn: Callable[[TrainingLoop, Iterable[Any]], Mapping[str, float]] | None = None,
        hooks: Sequence[Any] = (),
        batch_augment: Sequence[BatchAugmentation] = (),
        extra_state: Mapping[str, Any] | None = None,
        fingerprint: Mapping[str, Any] | None = None,
    ) -> None:
        if config.select_mode not in {"min", "max"}:
            raise ConfigError(f"select_mode must be 'min' or 'max', got {config.select_mode!r}")
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.config, self.device, self.scheduler = config, device, scheduler
        self.input_fn = input_fn or (lambda batch: batch.frames.float())
        self.work_dir = Path(work_dir) if work_dir is not None else None
        self.step_fn = step_fn or TrainingLoop.default_step
        self.eval_fn = eval_fn or TrainingLoop.default_eval
        self.hooks, self.batch_augment = tuple(hooks), tuple(batch_augment)
        self.extra_state = dict(extra_state or {})
        self.fingerprint = json.dumps(fingerprint or {}, sort_keys=True, default=str)
        self.epoch = 0
        self.global_step = 0

    # -- building blocks a custom step may use -------------------------------------------------------
    def forward(self, batch: Any) -> Any:
        """Model output for a device batch, under autocast, in float32. A model with several outputs
        (e.g. rPPGNet's skin map and partition signals in training) may return a tuple, list or dict
        of tensors: every tensor in it is cast."""
        with self.device.autocast():
            out = self.model(self.device.prepare_input(self.input_fn(batch)))
        return _float32(out)

    def clip_gradients(self, params: Iterable[torch.nn.Parameter] | None = None) -> float:
        """Clip the gradient norm to `grad_clip` (0 = off); returns the norm before clipping."""
        params = list(self.model.parameters() if params is None else params)
        limit = self.config.grad_clip if self.config.grad_clip > 0 else math.inf
        return float(torch.nn.utils.clip_grad_norm_(params, limit))

    def check_finite(self, loss: torch.Tensor) -> None:
        """Raise TrainingDivergedError for a NaN or infinite loss, naming the epoch and step."""
        if not torch.isfinite(loss.detach()).all():
            raise TrainingDivergedError(
                f"training diverged at epoch {self.epoch + 1}, step {self.global_step}: "
                f"loss is {loss.item()}; "
                "lower lr or grad_clip, or check the inputs"
            )

    def default_step(self, batch: Any) -> dict[str, float]:
        """Zero grads, forward under autocast, loss, backward, clip, optimiser step."""
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.forward(batch), batch)
        self.check_finite(loss)
        loss.backward()
        grad_norm = self.clip_gradients()
        self.optimizer.step()
        return {"loss": float(loss.detach()), "grad_norm": grad_norm}

    @torch.no_grad()
    def default_eval(self, loader: Iterable[Any]) -> dict[str, float]:
        """Mean loss over the validation batches, reported as `val_loss`."""
        total, count = 0.0, 0
        for batch in loader:
            batch = _to_device(batch, self.device.device)
            n = len(batch) if hasattr(batch, "__len__") else 1
            total += float(self.loss_fn(self.forward(batch), batch)) * n
            count += n
        return {"val_loss": total / max(count, 1)}

    # -- checkpointing --------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path | None:
        """`work_dir/checkpoints/last.pt`, or None without a work_dir."""
        return None if self.work_dir is None else self.work_dir / "checkpoints" / CHECKPOINT_NAME

    def _state(self, history: list[dict[str, float]], best: dict[str, Any]) -> dict[str, Any]:
        return {
            "format": "rppgbench-checkpoint",
            "fingerprint": self.fingerprint,
            "epoch": self.epoch,
            "global_step": self.global_step,
            "model": distributed.unwrap_model(self.model).state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "extra": {name: obj.state_dict() for name, obj in self.extra_state.items()},
            "history": history,
            "best": best,
            "rng": rng_state(),
        }

    def _resume(self) -> dict[str, Any] | None:
        path = self.checkpoint_path
        if path is None or not path.is_file():
            return None
        state = load_checkpoint(path)
        if state.get("format") != "rppgbench-checkpoint":
            raise ConfigError(f"{path} is not an rppgbench training checkpoint")
        if state.get("fingerprint") != self.fingerprint:
            raise ConfigError(
                f"checkpoint {path} was written by a different configuration "
                f"({state.get('fingerprint')}); remove it or use another work directory"
            )
        distributed.unwrap_model(self.model).load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        for name, obj in self.extra_state.items():
            obj.load_state_dict(state["extra"][name])
        set_rng_state(state["rng"])
        self.epoch, self.global_step = int(state["epoch"]), int(state["global_step"])
        return state

    # -- the loop -------------------------------------------------------------------------------------
    def _better(self, value: float, best: float | None) -> bool:
        if best is None or math.isnan(best):
            return not math.isnan(value)
        return value < best if self.config.select_mode == "min" else value > best

    def _call_hooks(self, name: str, *args: Any) -> None:
        for hook in self.hooks:
            method = getattr(hook, name, None)
            if method is not None:
                method(self, *args)

    def run(self, train_loader: Iterable[Any], val_loader: Iterable[Any] | None = None) -> LoopResult:
        """Train for `config.epochs` (resuming from a checkpoint in `work_dir`); keep the best epoch."""
        history: list[dict[str, float]] = []
        best: dict[str, Any] = {"epoch": -1, "metric": math.nan, "state": None}
        resumed = self._resume()
        start = 0
        if resumed is not None:
            history, best, start = list(resumed["history"]), dict(resumed["best"]), int(resumed["epoch"]) + 1
        self._call_hooks("on_fit_start")
        for epoch in range(start, self.config.epochs):
            self.epoch = epoch
            for obj in (getattr(train_loader, "sampler", None), getattr(train_loader, "dataset", None)):
                if hasattr(obj, "set_epoch"):
                    obj.set_epoch(epoch)
            metrics = self._train_epoch(train_loader)
            metrics = distributed.all_reduce_metrics(metrics, sum_keys=("clips_per_s",))
            if val_loader is not None:
                self.model.eval()
                with torch.no_grad():
                    metrics.update(self._evaluate(val_loader))
            metrics["epoch"] = float(epoch)
            value = metrics.get(self.config.select_metric, math.nan) if val_loader is not None else math.nan
            if val_loader is None or self._better(value, best["metric"]) or best["state"] is None:
                best = {
                    "epoch": epoch,
                    "metric": float(value),
                    "state": {
                        k: v.detach().to("cpu", copy=True)
                        for k, v in distributed.unwrap_model(self.model).state_dict().items()
                    },
                }
            history.append(metrics)
            if self.checkpoint_path is not None:
                save_checkpoint(self.checkpoint_path, self._state(history, best))  # rank 0 only
                distributed.barrier()
            self._call_hooks("on_epoch_end", epoch, metrics)
        if best["state"] is None:  # zero epochs requested
            best["state"] = copy.deepcopy(distributed.unwrap_model(self.model).state_dict())
        distributed.unwrap_model(self.model).load_state_dict(best["state"])
        result = LoopResult(
            int(best["epoch"]),
            float(best["metric"]),
            history,
            best["state"],
            None if resumed is None else int(resumed["epoch"]),
        )
        self._call_hooks("on_fit_end", result)
        return result

    def _evaluate(self, val_loader: Iterable[Any]) -> dict[str, float]:
        """`eval_fn` on this process's validation windows; under DDP on the unwrapped model, then averaged."""
        if not distributed.is_distributed():
            return self.eval_fn(self, val_loader)
        wrapped, self.model = self.model, distributed.unwrap_model(self.model)
        try:  # the plain module: no DDP collectives, so ranks may hold unequal validation shards
            metrics = dict(self.eval_fn(self, val_loader))
        finally:
            self.model = wrapped
        return distributed.all_reduce_metrics(metrics, weight=distributed.loader_weight(val_loader))

    def _train_epoch(self, loader: Iterable[Any]) -> dict[str, float]:
        self.model.train()
        self._call_hooks("on_epoch_start", self.epoch)
        total_loss, total_clips, steps = 0.0, 0, 0
        started = time.perf_counter()
        bar = tqdm(
            loader,
            desc=f"{self.config.description} {self.epoch + 1}/{self.config.epochs}",
            disable=not self.config.progress or not distributed.is_main_process(),
            leave=False,
            dynamic_ncols=True,
        )
        for batch in bar:
            batch = _to_device(batch, self.device.device)
            if self.batch_augment:
                generator = torch.Generator(device=self.device.device)
                generator.manual_seed(
                    ((self.config.seed * 1_000_003 + self.epoch) * 1_000_003 + steps) % 2**63
                    + distributed.rank()  # distinct draws for each rank's part of the batch
                )
                batch = apply_batch_augmentations(batch, self.batch_augment, generator)
            step_metrics = distributed.all_reduce_metrics(dict(self.step_fn(self, batch)))
            if self.scheduler is not None:
                self.scheduler.step()
            self.global_step += 1
            steps += 1
            n = len(batch) if hasattr(batch, "__len__") else 1
            total_clips += n
            total_loss += step_metrics.get("loss", math.nan) * n
            rate = total_clips / max(time.perf_counter() - started, 1e-9)
            bar.set_postfix(loss=f"{total_loss / total_clips:.4f}", clips_s=f"{rate:.1f}")
            self._call_hooks("on_batch_end", step_metrics)
        bar.close()
        elapsed = time.perf_counter() - started
        return {
            "train_loss": total_loss / max(total_clips, 1),
            "clips_per_s": total_clips / max(elapsed, 1e-9),
            "lr": float(self.optimizer.param_groups[0]["lr"]),
            "steps": float(steps),
        }
