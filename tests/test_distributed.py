"""Multi-process data-parallel training: a 2-process gloo DDP PhysNet matches single-process training.

The 2-process run is launched with torchrun on this file (the `__main__` block is the worker). With a
global batch of 4 split 2 + 2 over the ranks, batch norm synchronised over the global batch and DDP's
gradient averaging, every step must equal the single-process step up to float32 rounding.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from rppgbench_plugins.neural.physnet import PhysNet
from torch import nn

from rppgbench.errors import ConfigError
from rppgbench.method import FitContext
from rppgbench.testing.clips import make_pulse_clips
from rppgbench.training import distributed, make_loaders
from rppgbench.training.checkpoint import load_checkpoint
from rppgbench.training.device import seed_everything, setup_device
from rppgbench.training.sampling import EpochSampler

TINY = dict(
    epochs=2,
    clip_frames=16,
    size=16,
    width=8,
    lr=0.05,
    optimizer="sgd",  # Adam turns float noise in the zero gradients of pre-BN biases into +-lr steps
    batch_size=4,  # global: 2 windows per rank with 2 processes
    num_workers=0,
    val_fraction=0.25,
    device="cpu",
    seed=0,
)
HRS = [55, 65, 75, 85, 95, 105, 115, 125]  # 8 subjects: 6 train (24 windows, 6 steps/epoch), 2 val
#: Float32 rounding differs between one batch of 4 and two of 2 (conv reductions, all-reduce order)
#: and training amplifies it: the SAME single-process run with 1 vs 2 CPU threads differs by ~1e-6
#: (epoch 1) and ~2e-5 (epoch 2) in train_loss, as the DDP run does. Without synchronised batch norm
#: the DDP run is off by ~1e-2 (train) and ~3e-2 (val) in epoch 2, so 1e-3 separates both by >10x.
LOSS_TOL = 1e-3
#: weights may differ by at most this fraction of how far training moved them from initialisation
WEIGHT_REL_TOL = 0.05


def _clips():
    return make_pulse_clips(HRS, frames=64, size=16, seed=3)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- single process is untouched ------------------------------------------------------------------
def test_without_torchrun_everything_is_a_no_op(monkeypatch):
    for name in distributed.TORCHRUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert not distributed.launched_by_torchrun()
    with distributed.distributed_context() as active:
        assert active is False
        assert not torch.distributed.is_initialized()
        assert (distributed.rank(), distributed.world_size(), distributed.local_rank()) == (0, 1, 0)
        assert distributed.is_main_process() and not distributed.is_distributed()
        metrics = {"loss": 0.25, "clips_per_s": 3.0}
        assert distributed.all_reduce_metrics(metrics, sum_keys=("clips_per_s",)) is metrics
        model = nn.Sequential(nn.Conv3d(3, 4, 1), nn.BatchNorm3d(4))
        assert distributed.wrap_model(model, setup_device("cpu")) is model
        assert distributed.unwrap_model(model) is model
        cpu = setup_device("cpu")
        assert distributed.local_device(cpu) is cpu
        distributed.barrier()
        with distributed.main_process_first():
            pass
    config = {"clip_frames": 16, "batch_size": 4, "val_fraction": 0.25, "num_workers": 0}
    plain = make_loaders(_clips(), config)
    same = distributed.make_distributed_loaders(_clips(), config)
    for a, b in zip(plain, same, strict=True):
        assert [batch.start.tolist() for batch in a] == [batch.start.tolist() for batch in b]


def test_cpu_sync_batchnorm_is_plain_batchnorm_without_a_process_group():
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Conv3d(3, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU())
    converted = distributed.convert_sync_batchnorm(
        nn.Sequential(nn.Conv3d(3, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU()), setup_device("cpu")
    )
    converted.load_state_dict(plain.state_dict())
    assert isinstance(converted[1], distributed.CpuSyncBatchNorm)
    assert list(converted.state_dict()) == list(plain.state_dict())
    x = torch.randn(2, 3, 4, 5, 5)
    assert torch.equal(converted(x), plain(x))
    assert torch.equal(converted[1].running_var, plain[1].running_var)


# -- sharding -------------------------------------------------------------------------------------
def _single_process_batches(order, batch):
    n = len(order) // batch if len(order) > batch else 1
    return [order[k * batch : (k + 1) * batch] for k in range(n)]


@pytest.mark.parametrize(("length", "batch", "world"), [(10, 4, 2), (24, 6, 3), (12, 4, 4)])
def test_rank_shards_rebuild_the_single_process_batches(length, batch, world):
    for epoch in (0, 1):
        base = EpochSampler(length, seed=5)
        base.set_epoch(epoch)
        order = list(base)
        shards = []
        for r in range(world):
            sampler = distributed.ShardedEpochSampler(EpochSampler(length, seed=5), r, world, batch)
            sampler.set_epoch(epoch)
            shards.append(list(sampler))
            assert len(shards[-1]) == len(sampler)
        per_rank = batch // world
        rebuilt = [
            [pair for shard in shards for pair in shard[k * per_rank : (k + 1) * per_rank]]
            for k in range(len(shards[0]) // per_rank)
        ]
        assert rebuilt == _single_process_batches(order, batch)
        flat = [pair for shard in shards for pair in shard]
        assert len(set(flat)) == len(flat)  # disjoint
    # each epoch shuffles differently, the same seed gives the same shuffle
    a, b = EpochSampler(length, seed=5), EpochSampler(length, seed=5)
    a.set_epoch(0), b.set_epoch(0)
    assert list(a) == list(b)
    b.set_epoch(1)
    assert [i for _, i in a] != [i for _, i in b]


def test_small_dataset_is_split_evenly_and_validation_is_covered_once():
    base = list(EpochSampler(3, seed=1))
    shards = [list(distributed.ShardedEpochSampler(EpochSampler(3, seed=1), r, 2, 4)) for r in range(2)]
    assert shards == [base[:2], [base[2], base[0]]]  # one batch of 3 windows: 2 + 2, padded from the start
    val = [list(distributed.ShardedEpochSampler(EpochSampler(7, shuffle=False), r, 3)) for r in range(3)]
    assert [pair for shard in val for pair in shard] == list(EpochSampler(7, shuffle=False))
    with pytest.raises(ConfigError, match="multiple of the 4 processes"):
        distributed.ShardedEpochSampler(EpochSampler(10), 0, 4, 6)


def test_python_m_rppgbench_cli_runs():
    done = subprocess.run(
        [sys.executable, "-m", "rppgbench.cli", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "run" in done.stdout


# -- 2-process DDP against single process ---------------------------------------------------------
def _worker(out: Path) -> None:
    """Run by torchrun on every rank: the harness's PhysNet fit, then a record of what this rank saw."""
    torch.set_num_threads(1)
    with distributed.distributed_context(backend="gloo") as active:
        r = distributed.rank()
        method = PhysNet(**TINY)
        work = out / f"work{r}"  # a folder per rank, so a file written by rank 1 would show
        started = time.perf_counter()
        method.fit(_clips(), FitContext(work, seed=0, device="cpu", progress=True))
        method.save(work / "model.pt")
        reduced = distributed.all_reduce_metrics(
            {"mean": float(r), "sum": float(r + 1), "some_nan": math.nan if r else 4.0},
            weight=r + 1,
            sum_keys=("sum",),
        )
        record = {
            "active": active,
            "world": distributed.world_size(),
            "history": method.fit_result.history,
            "reduced": reduced,
            "sync_bn": sum(isinstance(m, distributed.CpuSyncBatchNorm) for m in method.model.modules()),
            "fit_s": time.perf_counter() - started,
        }
        (out / f"rank{r}.json").write_text(json.dumps(record))


def test_two_process_gloo_ddp_matches_single_process(tmp_path):
    out = tmp_path / "ddp"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in distributed.TORCHRUN_VARIABLES}
    env["OMP_NUM_THREADS"] = "1"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        str(Path(__file__).resolve()),
        str(out),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    ddp_s = time.perf_counter() - started
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    torch.set_num_threads(1)
    single = PhysNet(**TINY)
    started = time.perf_counter()
    single.fit(_clips(), FitContext(tmp_path / "single", seed=0, device="cpu", progress=False))
    single_s = time.perf_counter() - started

    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
    assert all(rec["active"] and rec["world"] == 2 for rec in ranks)
    assert ranks[0]["sync_bn"] == ranks[1]["sync_bn"] == 11  # every PhysNet batch norm synchronised
    # every rank sees the same numbers
    assert ranks[0]["history"] == ranks[1]["history"]
    assert ranks[0]["reduced"] == ranks[1]["reduced"]
    assert ranks[0]["reduced"]["mean"] == pytest.approx(2 / 3)  # (0 * 1 + 1 * 2) / (1 + 2)
    assert ranks[0]["reduced"]["sum"] == 3.0
    assert ranks[0]["reduced"]["some_nan"] == 4.0  # NaN on rank 1 is left out of the mean

    # the loss curves match the single-process run: same global batches, same steps
    history = ranks[0]["history"]
    expected = single.fit_result.history
    assert [h["steps"] for h in history] == [h["steps"] for h in expected] == [6.0] * TINY["epochs"]
    for key in ("train_loss", "val_loss"):
        got, want = np.array([h[key] for h in history]), np.array([h[key] for h in expected])
        diff = float(np.max(np.abs(got - want)))
        print(f"{key}: ddp {got.round(6)} single {want.round(6)} max |diff| {diff:.2e}")
        assert diff < LOSS_TOL, key

    # rank-0-only files: checkpoint, training summary and weights; rank 1 wrote nothing
    work0, work1 = out / "work0", out / "work1"
    assert (work0 / "checkpoints" / "last.pt").is_file()
    assert (work0 / "training.json").is_file() and (work0 / "model.pt").is_file()
    assert not work1.exists() or not [p for p in work1.rglob("*") if p.is_file()]
    assert not list(work0.rglob("*.tmp"))
    ckpt = load_checkpoint(work0 / "checkpoints" / "last.pt")
    assert not any(k.startswith("module.") for k in ckpt["model"])  # portable to single-process resume

    weights = load_checkpoint(work0 / "model.pt")["state_dict"]
    reference = single.model.state_dict()
    assert weights.keys() == reference.keys()
    seed_everything(0)  # what fit does before building the model: the initial weights
    initial = PhysNet(**TINY).build_model().state_dict()
    learned = [k for k in reference if reference[k].is_floating_point() and "running" not in k]
    weight_diff = max(float((weights[k] - reference[k]).abs().max()) for k in learned)
    moved = max(float((initial[k] - reference[k]).abs().max()) for k in learned)
    print(
        f"max |weight diff| {weight_diff:.2e}, moved {moved:.2e}; torchrun {ddp_s:.1f} s, single {single_s:.1f} s"
    )
    assert weight_diff < WEIGHT_REL_TOL * moved


@pytest.mark.slow
def test_rppgbench_run_under_torchrun_trains_on_both_ranks_and_rank_0_writes(tmp_path):
    """`torchrun ... rppgbench.cli run`: the TorchrunExecutor holds the process group for the run; rank 0
    alone writes the run folder and prints the summary."""
    env = {k: v for k, v in os.environ.items() if k not in distributed.TORCHRUN_VARIABLES}
    env |= {"OMP_NUM_THREADS": "1", "RPPGBENCH_CACHE": str(tmp_path / "cache"), "TQDM_DISABLE": "1"}
    sets = [f"--set={k}={v}" for k, v in dict(epochs=1, clip_frames=32, size=32, width=8, batch_size=4,
                                              num_workers=0).items()]  # fmt: skip
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr",
               "127.0.0.1", "--master_port", str(_free_port()), "-m", "rppgbench.cli", "run", "--method", "physnet",
               "--protocol", "synth-mini", "--fold", "1", "--device", "cpu", "--out", str(tmp_path / "run"),
               "--quiet", *sets]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("results: ") == 1  # one summary: rank 0's
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["status"] == "complete" and run["folds"] == ["1"]
    fold = tmp_path / "run" / "folds" / "1"
    assert (fold / "model.pt").is_file() and (fold / "training.json").is_file()
    assert not list((tmp_path / "run").rglob("*.tmp"))


if __name__ == "__main__":
    _worker(Path(sys.argv[1]))
