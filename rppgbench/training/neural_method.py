"""`NeuralMethod`: the base class of every neural rPPG method; plugins provide only the model-specific parts.

A subclass declares `params = neural_params(...)` (the common training parameters with its own
defaults, plus its own) and implements `build_model`, `input_transform` and `compute_loss`
(optionally `postprocess` and augmentations). Training, checkpoints, resume, model selection,
chunked inference and the weights file are the harness's job, identical for every model.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from abc import abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rppgbench.data import Clip
from rppgbench.errors import ConfigError
from rppgbench.method import FitContext, Method
from rppgbench.params import resolve
from rppgbench.training import distributed
from rppgbench.training.augment import BatchAugmentation, SampleAugmentation
from rppgbench.training.checkpoint import load_checkpoint, save_checkpoint
from rppgbench.training.device import DeviceSetup, seed_everything, setup_device
from rppgbench.training.inference import predict_signal
from rppgbench.training.sampling import Batch, split_by_subject, subject_names
from rppgbench.training.trainer import LoopConfig, LoopResult, TrainingLoop, build_optimizer, build_scheduler
from rppgbench.training_params import RUNTIME_PARAMS, neural_params

WEIGHTS_FORMAT = "rppgbench-weights"
WEIGHTS_FORMAT_VERSION = 1
__all__ = ["RUNTIME_PARAMS", "NeuralMethod", "neural_params", "read_weights_info", "resize_frames"]


def resize_frames(frames: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (or host-resized float16, 0-255) (B, T, H, W, 3) -> float (B, 3, T, size, size) in [0, 1];
    area averaging when shrinking."""
    b, t, h, w, c = frames.shape
    x = frames.permute(0, 1, 4, 2, 3).reshape(b * t, c, h, w).float().div_(255.0)
    if (h, w) != (size, size):
        mode = "area" if (h >= size and w >= size) else "bilinear"
        x = F.interpolate(
            x, size=(size, size), mode=mode, **({"align_corners": False} if mode == "bilinear" else {})
        )
    return x.reshape(b, t, c, size, size).permute(0, 2, 1, 3, 4)


def _atomic_write_text(path: Path, text: str) -> None:
    from rppgbench.store import atomic_write_bytes

    atomic_write_bytes(path, text.encode())


def read_weights_info(path: Path | str) -> dict[str, Any]:
    """Method name, config and metadata of a weights file written by `NeuralMethod.save`."""
    state = load_checkpoint(path)
    if state.get("format") != WEIGHTS_FORMAT:
        raise ConfigError(f"{path} is not an rppgbench weights file (format {state.get('format')!r})")
    return {"method": state["method"], "config": dict(state["config"]), "meta": dict(state.get("meta", {}))}


class NeuralMethod(Method):
    """A trained rPPG method whose training and inference run through `rppgbench.training`."""

    trains: ClassVar[bool] = True
    #: the loss needs each window's ground-truth HR (`Batch.hr`), e.g. a frequency loss
    with_hr: ClassVar[bool] = False
    #: inference windows must be a multiple of this many frames (e.g. 4 after two temporal poolings)
    temporal_multiple: ClassVar[int] = 1
    #: the fewest frames the model can process
    min_frames: ClassVar[int] = 1

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._given = dict(params)
        self.model: nn.Module | None = None
        self._device: DeviceSetup | None = None
        self.fit_result: LoopResult | None = None

    # -- what a model plugin provides ----------------------------------------------------------------
    @abstractmethod
    def build_model(self) -> nn.Module:
        """The network for `self.config`; it maps `input_transform`'s output to (B, T)."""

    @abstractmethod
    def input_transform(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 frames (B, T, H, W, 3) already on the device -> the model's input tensor."""

    @abstractmethod
    def compute_loss(self, output: torch.Tensor, batch: Batch) -> torch.Tensor:
        """Training loss of the model output (B, T) against the batch's labels (on the device)."""

    def postprocess(self, signal: np.ndarray, fps: float) -> np.ndarray:
        """Model output of a whole clip -> the rPPG signal handed to the HR estimator (default: unchanged)."""
        return signal

    def sample_augmentations(self) -> Sequence[SampleAugmentation]:
        """Host-side per-window augmentations used in training (default: none)."""
        return ()

    def batch_augmentations(self) -> Sequence[BatchAugmentation]:
        """Device-side per-batch augmentations used in training (default: none)."""
        return ()

    def training_hooks(self) -> Sequence[object]:
        """Objects whose `on_epoch_start(loop, epoch)` etc. the training loop calls (default: none),
        e.g. to tell an epoch-dependent loss the current epoch."""
        return ()

    # -- harness ------------------------------------------------------------------------------------
    def device_setup(self, requested: str | None = None) -> DeviceSetup:
        """The device for this method: `device` param if not auto, else `requested`, else auto."""
        name = self.config["device"]
        if name == "auto" and requested:
            name = requested
        return setup_device(name, bool(self.config["amp"]), bool(self.config["channels_last"]))

    def _fingerprint(self, train: Sequence[Clip], seed: int) -> dict[str, Any]:
        ids = hashlib.sha256("\n".join(sorted(c.record.id for c in train)).encode()).hexdigest()[:16]
        learned = {k: v for k, v in self.config.items() if k not in RUNTIME_PARAMS}
        return {"method": self.name, "config": learned, "seed": seed, "train_ids": ids}

    def fit(self, train: Sequence[Clip], context: FitContext) -> None:
        """Train on `train` (validation subjects split off inside), resuming from `context.work_dir`."""
        seed = int(self.config["seed"]) if int(self.config["seed"]) >= 0 else int(context.seed)
        seed_everything(seed)
        device = distributed.local_device(self.device_setup(context.device))
        needs_hr = self.with_hr or self.config["select_metric"] == "val_mae"
        loader_config = {**self.config, "seed": seed, "device": str(device.device)}
        train_loader, val_loader = distributed.make_distributed_loaders(
            train, loader_config, augment=self.sample_augmentations(), with_hr=needs_hr
        )  # = make_loaders unless launched by torchrun; batch_size stays the global batch
        model = distributed.wrap_model(device.prepare_model(self.build_model()), device)
        optimizer = build_optimizer(
            model, self.config["optimizer"], self.config["lr"], self.config["weight_decay"]
        )
        scheduler = build_scheduler(
            optimizer, self.config["scheduler"], self.config["epochs"], len(train_loader)
        )
        loop = TrainingLoop(
            model,
            optimizer,
            self.compute_loss,
            LoopConfig(
                epochs=int(self.config["epochs"]),
                grad_clip=float(self.config["grad_clip"]),
                select_metric=self.config["select_metric"],
                progress=context.progress,
                seed=seed,
                description=f"{self.name}{' ' + context.fold if context.fold else ''}",
            ),
            device,
            input_fn=lambda batch: self.input_transform(batch.frames),
            work_dir=context.work_dir,
            scheduler=scheduler,
            eval_fn=NeuralMethod._evaluate_with(self),
            batch_augment=self.batch_augmentations(),
            hooks=self.training_hooks(),
            fingerprint=self._fingerprint(train, seed),
        )
        self.model, self._device = distributed.unwrap_model(model), device
        self.fit_result = loop.run(train_loader, val_loader)
        self.model.eval()
        with warnings.catch_warnings():  # the loaders warned already
            warnings.simplefilter("ignore")
            fitted, selection = split_by_subject(train, float(self.config["val_fraction"]), seed)  # as theirs
        summary = {
            "method": self.name,
            "subjects": {
                "train": subject_names(fitted),
                "validation": subject_names(selection),
            },
            "best_epoch": self.fit_result.best_epoch,
            "best_metric": self.fit_result.best_metric,
            "select_metric": self.config["select_metric"] if val_loader is not None else "last_epoch",
            "history": self.fit_result.history,
        }
        if distributed.is_main_process():  # the runner keeps it beside the fold's results
            from rppgbench.store.layout import TRAINING_FILE

            _atomic_write_text(
                Path(context.work_dir) / TRAINING_FILE, json.dumps(summary, indent=2, default=float)
            )

    @staticmethod
    def _evaluate_with(method: NeuralMethod):  # noqa: ANN205 - returns the loop's eval_fn
        """The validation function: mean loss and, for select_metric=val_mae, the HR MAE of windows."""

        def evaluate(loop: TrainingLoop, loader: Iterable[Batch]) -> dict[str, float]:
            metrics = loop.default_eval(loader)
            if method.config["select_metric"] != "val_mae":
                return metrics
            from rppgbench.signal.hr import HRConfig, estimate_hr

            errors = []
            for batch in loader:
                batch = batch.to(loop.device.device)
                out = loop.forward(batch).cpu().numpy()
                for signal, hr, fps in zip(out, batch.hr.cpu().numpy(), batch.fps.cpu().numpy(), strict=True):
                    if np.isfinite(hr):
                        pred = estimate_hr(method.postprocess(signal, float(fps)), float(fps), HRConfig())
                        errors.append(abs(float(pred) - float(hr)))
            metrics["val_mae"] = float(np.mean(errors)) if errors else math.nan
            return metrics

        return evaluate

    def _require_model(self) -> tuple[nn.Module, DeviceSetup]:
        if self.model is None:
            raise ConfigError(f"method {self.name!r} has no weights: train it (fit) or load weights first")
        if self._device is None:
            self._device = self.device_setup()
            self.model = self._device.prepare_model(self.model)
        return self.model, self._device

    @torch.no_grad()
    def predict(self, clip: Clip) -> np.ndarray:
        """The clip's rPPG signal, one value per frame, from overlapping model-sized windows."""
        model, device = self._require_model()
        model.eval()
        chunk = int(self.config["infer_frames"] or self.config["clip_frames"])
        chunk = max(self.temporal_multiple, chunk - chunk % self.temporal_multiple)
        overlap = min(chunk - 1, max(0, int(round(float(self.config["infer_overlap"]) * chunk))))

        def run_chunk(frames: torch.Tensor) -> torch.Tensor:
            frames = frames.to(device.device, non_blocking=True)
            with device.autocast():
                return model(device.prepare_input(self.input_transform(frames))).float()

        signal = predict_signal(
            run_chunk,
            clip.frames,
            chunk=chunk,
            overlap=overlap,
            batch_size=int(self.config["infer_batch"]),
            min_frames=self.min_frames,
            multiple=self.temporal_multiple,
        )
        return np.asarray(self.postprocess(signal, clip.fps), dtype=np.float32)

    def save(self, path: Path) -> None:
        """Write weights, the method's config and name (atomically) for `load` and `rppgbench predict`."""
        model, _ = self._require_model()
        meta: dict[str, Any] = {"torch": str(torch.__version__)}
        if self.fit_result is not None:
            meta.update(best_epoch=self.fit_result.best_epoch, best_metric=self.fit_result.best_metric)
        save_checkpoint(
            path,
            {
                "format": WEIGHTS_FORMAT,
                "format_version": WEIGHTS_FORMAT_VERSION,
                "method": self.name,
                "api_version": self.api_version,
                "config": dict(self.config),
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "meta": meta,
            },
        )  # rank 0 writes; under torchrun every rank calls save and the others wait here
        distributed.barrier()

    def load(self, path: Path) -> None:
        """Rebuild the model from a weights file of this method (explicitly given params win)."""
        state = load_checkpoint(path)
        if state.get("format") != WEIGHTS_FORMAT:
            raise ConfigError(f"{path} is not an rppgbench weights file (format {state.get('format')!r})")
        if state.get("method") != self.name:
            raise ConfigError(
                f"{path} holds weights of method {state.get('method')!r}, not {self.name!r}; "
                f"use --method {state.get('method')} or weights trained with {self.name}"
            )
        known = {p.name for p in self.params}
        saved = dict(state["config"])
        dropped = sorted(set(saved) - known)
        if dropped:
            warnings.warn(
                f"{path}: ignoring saved parameters unknown to {self.name}: {', '.join(dropped)}",
                stacklevel=2,
            )
        saved = {k: v for k, v in saved.items() if k in known}
        self.config = resolve(self.params, {**saved, **self._given}, f"method {self.name!r}")
        model = self.build_model()
        try:
            model.load_state_dict(state["state_dict"])
        except RuntimeError as exc:
            raise ConfigError(
                f"{path}: weights do not fit {self.name} with this configuration: {exc}"
            ) from exc
        self._device = self.device_setup()
        self.model = self._device.prepare_model(model).eval()
