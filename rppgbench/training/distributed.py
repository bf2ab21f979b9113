"""Multi-process data-parallel training for the shared harness (`torchrun --nproc_per_node N ...`).

A process group is set up from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
MASTER_PORT): NCCL for CUDA tensors, gloo for CPU tensors. Models are wrapped in
DistributedDataParallel with synchronised batch norm, each rank reads its own slice of every global
batch, and metrics are all-reduced so every rank sees the same numbers. Without torchrun every
function here is a no-op, so single-process training is unchanged.

`batch_size` stays GLOBAL: with N processes each one gets `batch_size / N` windows of each batch,
so a run on N GPUs sees the same batches, gradients and schedule as a single-process run.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Sampler

from rppgbench.errors import ConfigError
from rppgbench.training.device import DeviceSetup
from rppgbench.training.sampling import EpochSampler, make_loaders

#: Environment variables torchrun sets for every worker process.
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
#: Default collective timeout: rank 0 may preprocess or evaluate for a long time while others wait.
DEFAULT_TIMEOUT_S = 6 * 3600


# -- who am I -------------------------------------------------------------------------------------
def launched_by_torchrun() -> bool:
    """True when torchrun's variables are in the environment (the process group may not exist yet)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def is_distributed() -> bool:
    """True when a default process group is initialised in this process."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's global rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of processes in the group (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


def local_rank() -> int:
    """This process's rank on its node (LOCAL_RANK; 0 when not distributed)."""
    return int(os.environ.get("LOCAL_RANK", "0")) if is_distributed() else 0


def is_main_process() -> bool:
    """True on rank 0, and always when not distributed: the process that writes files and logs."""
    return rank() == 0


# -- process group --------------------------------------------------------------------------------
def default_backend() -> str:
    """`cpu:gloo,cuda:nccl` when CUDA is present (each tensor goes to its device's backend), else gloo."""
    return "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"


def init_from_env(backend: str | None = None, timeout_s: float | None = None) -> bool:
    """Create the process group from torchrun's variables; True if this call created it.

    Does nothing (False) outside torchrun or when a group already exists. The backend is `backend`,
    else `RPPGBENCH_DIST_BACKEND`, else `default_backend()`; the timeout is `timeout_s`, else
    `RPPGBENCH_DIST_TIMEOUT_S`, else 6 hours (ranks wait while rank 0 preprocesses or evaluates).
    """
    if is_distributed() or not launched_by_torchrun():
        return False
    missing = [name for name in TORCHRUN_VARIABLES[2:] if name not in os.environ]
    if missing:
        raise ConfigError(
            f"distributed launch without {', '.join(missing)}: start with `torchrun --nproc_per_node N ...`"
        )
    backend = backend or os.environ.get("RPPGBENCH_DIST_BACKEND") or default_backend()
    timeout = float(timeout_s or os.environ.get("RPPGBENCH_DIST_TIMEOUT_S") or DEFAULT_TIMEOUT_S)
    local = int(os.environ["LOCAL_RANK"])
    if "nccl" in backend:
        count = torch.cuda.device_count()
        if local >= count:
            raise ConfigError(
                f"process with LOCAL_RANK {local} needs cuda:{local} but this node has {count} GPU(s); "
                "use --nproc_per_node <= the number of GPUs (or RPPGBENCH_DIST_BACKEND=gloo for CPU)"
            )
        torch.cuda.set_device(local)
    dist.init_process_group(
        backend=backend,
        init_method="env://",
        rank=int(os.environ["RANK"]),
        world_size=int(os.environ["WORLD_SIZE"]),
        timeout=datetime.timedelta(seconds=timeout),
    )
    return True


def shutdown() -> None:
    """Destroy the default process group (if any)."""
    if is_distributed():
        dist.destroy_process_group()


@contextlib.contextmanager
def distributed_context(backend: str | None = None) -> Iterator[bool]:
    """Process group for the duration of the block when launched by torchrun (no-op otherwise).

    Yields whether training is distributed. On a normal exit every rank meets at a barrier before the
    group is destroyed (so rank 0 finishes its writes while the others wait); only a group this
    context created is destroyed.
    """
    created = init_from_env(backend)
    try:
        yield is_distributed()
        barrier()
    finally:
        if created:
            shutdown()


def barrier() -> None:
    """Wait until every rank gets here (no-op when not distributed)."""
    if is_distributed():
        dist.barrier()


@contextlib.contextmanager
def main_process_first() -> Iterator[None]:
    """Rank 0 runs the block first (e.g. fills a cache); the other ranks run it after rank 0 is done."""
    if not is_main_process():
        barrier()
    yield
    if is_main_process():
        barrier()


# -- metrics --------------------------------------------------------------------------------------
def _communication_device() -> torch.device:
    backend = str(dist.get_backend())
    return torch.device("cpu") if "gloo" in backend else torch.device("cuda", torch.cuda.current_device())


def all_reduce_metrics(
    metrics: Mapping[str, float], *, weight: float = 1.0, sum_keys: Iterable[str] = ()
) -> dict[str, float]:
    """Metrics every rank agrees on: weighted mean over ranks (sum for `sum_keys`); unchanged if not distributed.

    Means are weighted by `weight` (e.g. a rank's number of windows, which makes a mean loss over
    unequal shards exact); NaN values and zero weights are left out of a mean (NaN if every rank has
    NaN). Every rank must pass the same keys.
    """
    if not is_distributed():
        return metrics if isinstance(metrics, dict) else dict(metrics)
    keys = sorted(metrics)
    summed = set(sum_keys)
    values = torch.tensor([float(metrics[k]) for k in keys], dtype=torch.float64)
    finite = torch.isfinite(values)
    is_sum = torch.tensor([k in summed for k in keys])
    weights = torch.where(finite, torch.full_like(values, float(weight)), torch.zeros_like(values))
    weights = torch.where(is_sum, finite.to(values.dtype), weights)
    numerators = torch.where(
        finite, values * torch.where(is_sum, 1.0, float(weight)), torch.zeros_like(values)
    )
    payload = torch.cat([numerators, weights]).to(_communication_device())
    dist.all_reduce(payload)
    payload = payload.cpu()
    numerators, weights = payload[: len(keys)], payload[len(keys) :]
    out = {}
    for i, key in enumerate(keys):
        if weights[i] <= 0:
            out[key] = math.nan
        elif key in summed:
            out[key] = float(numerators[i])
        else:
            out[key] = float(numerators[i] / weights[i])
    return out


# -- model ----------------------------------------------------------------------------------------
class CpuSyncBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm over the whole global batch for CPU (gloo) processes; `nn.SyncBatchNorm` is CUDA-only.

    In training with a process group, the per-channel mean and variance are computed over every
    rank's samples by differentiable all-reduces (two passes: mean, then the centred sum of squares),
    so the DDP-averaged gradient equals the single-process gradient of the full batch. Otherwise it is
    exactly `BatchNorm`. State-dict keys are those of BatchNorm.
    """

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-D input (N, C, ...), got {input.dim()}-D")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """Global-batch statistics in distributed training, BatchNorm's behaviour otherwise."""
        if not (self.training and is_distributed() and world_size() > 1):
            return super().forward(input)
        from torch.distributed.nn.functional import all_reduce

        self._check_input_dim(input)
        dims = [0, *range(2, input.dim())]
        shape = [1, -1] + [1] * (input.dim() - 2)
        x = input.float()
        count = all_reduce(torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype))
        mean = all_reduce(x.sum(dims)) / count
        centred = x - mean.view(shape)
        var = all_reduce((centred * centred).sum(dims)) / count
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats and self.running_mean is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                n = float(count)
                self.running_mean.lerp_(mean.detach().to(self.running_mean.dtype), factor)
                unbiased = var.detach() * (n / max(n - 1.0, 1.0))
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), factor)
        return out.to(input.dtype)


def convert_sync_batchnorm(model: nn.Module, device: DeviceSetup) -> nn.Module:
    """Batch-norm layers that normalise over the global batch: `nn.SyncBatchNorm` on CUDA, else CPU ones."""
    if device.is_cuda:
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)

    def convert(module: nn.Module) -> nn.Module:
        out = module
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(
            module, CpuSyncBatchNorm | nn.SyncBatchNorm
        ):
            out = CpuSyncBatchNorm(
                module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats
            )
            if module.affine:
                out.weight, out.bias = module.weight, module.bias
            out.running_mean, out.running_var = module.running_mean, module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.train(module.training)
        for name, child in module.named_children():
            out.add_module(name, convert(child))
        return out

    return convert(model)


def sync_batchnorm_default() -> bool:
    """Whether the harness synchronises batch norm under DDP (on unless RPPGBENCH_SYNC_BN=0)."""
    return os.environ.get("RPPGBENCH_SYNC_BN", "1").strip().lower() not in {"0", "false", "no", "off"}


def wrap_model(
    model: nn.Module,
    device: DeviceSetup,
    *,
    sync_batchnorm: bool | None = None,
    find_unused_parameters: bool = False,
) -> nn.Module:
    """DistributedDataParallel around `model` (batch norm synchronised by default); `model` if not distributed."""
    if not is_distributed():
        return model
    if sync_batchnorm if sync_batchnorm is not None else sync_batchnorm_default():
        model = convert_sync_batchnorm(model, device)
    ids = [device.device.index] if device.is_cuda else None
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=find_unused_parameters)


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper (any other model is returned as is)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def local_device(setup: DeviceSetup) -> DeviceSetup:
    """Each process's own GPU under torchrun (`cuda` -> `cuda:LOCAL_RANK`); unchanged otherwise."""
    if not is_distributed() or not setup.is_cuda:
        return setup
    local = local_rank()
    if setup.device.index is not None and setup.device.index != local:
        raise ConfigError(
            f"device {setup.device} was requested, but under torchrun process {rank()} uses cuda:{local}; "
            "set device=cuda (or auto) and choose GPUs with CUDA_VISIBLE_DEVICES"
        )
    return replace(setup, device=torch.device("cuda", local))


# -- data -----------------------------------------------------------------------------------------
class ShardedEpochSampler(Sampler):
    """One rank's share of an `EpochSampler` order; the ranks' shares are disjoint.

    Training (`batch_size` = the GLOBAL batch B): global batch k of the single-process order is split
    into N consecutive slices of B/N and rank r reads slice r, so the N ranks together see exactly the
    single-process batches (the incomplete last batch is dropped, as there; a dataset smaller than
    one batch is split evenly, repeating windows from the start of the order to fill the last
    slice). Evaluation (`batch_size=None`): a contiguous, unpadded 1/N of the order.
    `set_epoch` is forwarded, so every epoch's shuffle differs and is the same for a given seed.
    """

    def __init__(self, base: EpochSampler, rank: int, world_size: int, batch_size: int | None = None) -> None:
        if not 0 <= rank < world_size:
            raise ConfigError(f"rank {rank} is outside a world of {world_size} process(es)")
        if batch_size is not None and batch_size % world_size:
            raise ConfigError(
                f"batch_size {batch_size} is the global batch and must be a multiple of the "
                f"{world_size} processes (each gets batch_size / {world_size})"
            )
        self.base, self.rank, self.world_size, self.global_batch = base, rank, world_size, batch_size
        length = len(base)
        if batch_size is None:
            self.per_rank_batch = 0
            bounds = np.linspace(0, length, world_size + 1).round().astype(int)
            self._count = int(bounds[rank + 1] - bounds[rank])
            self._start = int(bounds[rank])
        elif length > batch_size:
            self.per_rank_batch, self._batches = batch_size // world_size, length // batch_size
            self._count = self._batches * self.per_rank_batch
        else:
            self.per_rank_batch, self._batches = max(1, math.ceil(length / world_size)), 1
            self._count = self.per_rank_batch

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch (the TrainingLoop calls this before each epoch)."""
        self.base.set_epoch(epoch)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = list(iter(self.base))
        if self.global_batch is None:
            return iter(order[self._start : self._start + self._count])
        b, n = self.per_rank_batch, self.world_size
        total = self._batches * b * n
        if total > len(order):
            order = (order * math.ceil(total / len(order)))[:total]
        mine = [order[k * b * n + self.rank * b + j] for k in range(self._batches) for j in range(b)]
        return iter(mine)


def _resharded(loader: DataLoader, sampler: ShardedEpochSampler, batch_size: int) -> DataLoader:
    return DataLoader(
        loader.dataset,
        batch_size=max(1, batch_size),
        sampler=sampler,
        drop_last=False,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        num_workers=loader.num_workers,
        persistent_workers=loader.persistent_workers,
    )


def make_distributed_loaders(
    train_clips: Sequence[Any], config: Mapping[str, Any], **kwargs: Any
) -> tuple[DataLoader, DataLoader | None]:
    """`sampling.make_loaders`, with each rank's loaders reading only its shard when distributed.

    `config["batch_size"]` is the global batch; each rank's train loader yields batches of
    `batch_size / world_size` windows (the same number of steps on every rank), its validation loader
    a disjoint contiguous part of the validation windows. Without a process group the loaders of
    `make_loaders` are returned unchanged.
    """
    train_loader, val_loader = make_loaders(train_clips, config, **kwargs)
    if not is_distributed():
        return train_loader, val_loader
    r, n = rank(), world_size()
    train_sampler = ShardedEpochSampler(train_loader.sampler, r, n, int(train_loader.batch_size))
    train_loader = _resharded(train_loader, train_sampler, train_sampler.per_rank_batch)
    if val_loader is not None:
        per_rank = max(1, int(val_loader.batch_size) // n)
        val_loader = _resharded(val_loader, ShardedEpochSampler(val_loader.sampler, r, n), per_rank)
    return train_loader, val_loader


def loader_weight(loader: Iterable[Any]) -> float:
    """Number of items a loader's sampler yields on this rank (the weight of its evaluation metrics)."""
    sampler = getattr(loader, "sampler", None)
    return float(len(sampler)) if sampler is not None and hasattr(sampler, "__len__") else 1.0


__all__ = [
    "DEFAULT_TIMEOUT_S",
    "TORCHRUN_VARIABLES",
    "CpuSyncBatchNorm",
    "ShardedEpochSampler",
    "all_reduce_metrics",
    "barrier",
    "convert_sync_batchnorm",
    "default_backend",
    "distributed_context",
    "init_from_env",
    "is_distributed",
    "is_main_process",
    "launched_by_torchrun",
    "loader_weight",
    "local_device",
    "local_rank",
    "main_process_first",
    "make_distributed_loaders",
    "rank",
    "shutdown",
    "sync_batchnorm_default",
    "unwrap_model",
    "world_size",
    "wrap_model",
]
