"""AutoHR search cost: time and memory of one PC-DARTS bi-level step, and the full search extrapolated.

Measures the real search step (`BiLevelStep` inside the shared `TrainingLoop`: an architecture step on
one batch, then a weight step on another, hybrid loss, bf16 + channels_last_3d on CUDA) at the paper's
search size (3x128x112x112 clips, batch 2, 8 channels, K = 4) on a GPU. On a CPU the default size is
reduced (32 frames, 32x32) and the printed extrapolation is for that CPU, not a GPU.

Full-search estimate (the paper: 12 epochs on VIPL-HR fold 1, architecture frozen for 5; ten P100-days):
    weight_steps_per_epoch = videos x (1 - arch_fraction) x clips_per_video / batch
    hours = epochs x weight_steps_per_epoch x t_weight + (epochs - frozen) x weight_steps_per_epoch x t_arch
with t_weight the time of a weight-only step (frozen epochs) and t_arch the extra time an architecture
step adds. clips_per_video = 7: a VIPL-HR video is ~30 s at ~30 fps (~900 frames) = 7 windows of 128
frames, which is what `windows_per_clip=0` draws per epoch.

    python benchmarks/bench_autohr_search.py [--device cuda] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import time

import torch
from rppgbench_plugins.autohr.ops import DEFAULT_OPS
from rppgbench_plugins.autohr.search import BiLevelStep
from rppgbench_plugins.autohr.supernet import SuperNet
from rppgbench_plugins.autohr.transforms import clip_input

from rppgbench.training.device import setup_device
from rppgbench.training.losses import HybridLoss
from rppgbench.training.sampling import Batch
from rppgbench.training.trainer import LoopConfig, TrainingLoop, build_optimizer

PAPER_GPU_HOURS = 10 * 24.0  # "ten days on a P100 GPU"
TARGET_H100_HOURS = 2.0


class _FixedBatches:
    """Stands in for the architecture split: always the same device batch (data loading is not timed)."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch

    def next(self) -> Batch:
        return self.batch


def synthetic_batch(batch: int, frames: int, size: int, device: torch.device) -> Batch:
    """Random uint8 face crops with a 72-bpm target at 30 fps."""
    t = torch.arange(frames) / 30.0
    target = torch.sin(2 * math.pi * 1.2 * t).repeat(batch, 1)
    return Batch(
        frames=torch.randint(0, 255, (batch, frames, size, size, 3), dtype=torch.uint8),
        target=target, hr=torch.full((batch,), 72.0), fps=torch.full((batch,), 30.0),
        clip_index=torch.zeros(batch, dtype=torch.long), start=torch.zeros(batch, dtype=torch.long),
    ).to(device)  # fmt: skip


def measure(args: argparse.Namespace) -> dict:
    """Time weight-only steps and bi-level steps; return the figures."""
    device = setup_device(args.device, amp=not args.fp32, channels_last=not args.fp32)
    model = device.prepare_model(SuperNet(DEFAULT_OPS, args.channels, args.config, args.partial))
    optimizer = build_optimizer(model.weight_parameters(), "adam", 1e-4, 5e-5)
    arch_optimizer = build_optimizer(model.arch_parameters(), "adam", 6e-4, 1e-3)
    loss = HybridLoss(0.2).to(device.device)
    batch = synthetic_batch(args.batch, args.frames, args.size, device.device)
    loop = TrainingLoop(
        model, optimizer, lambda out, b: loss(out, b.target, b.hr, b.fps),
        LoopConfig(epochs=1, grad_clip=5.0, progress=False), device,
        input_fn=lambda b: clip_input(b.frames, args.size),
    )  # fmt: skip
    step = BiLevelStep(model, arch_optimizer, _FixedBatches(batch), warmup_epochs=1)
    model.train()

    def timed(epoch: int, n: int) -> float:
        loop.epoch = epoch  # epoch 0: frozen architecture (weight step only); 1: bi-level
        for _ in range(args.warmup):
            step(loop, batch)
        if device.is_cuda:
            torch.cuda.synchronize()
        begin = time.perf_counter()
        for _ in range(n):
            step(loop, batch)
        if device.is_cuda:
            torch.cuda.synchronize()
        return (time.perf_counter() - begin) / n

    if device.is_cuda:
        torch.cuda.reset_peak_memory_stats()
    t_weight = timed(0, args.steps)
    t_bilevel = timed(1, args.steps)
    memory = (
        torch.cuda.max_memory_allocated() / 2**30
        if device.is_cuda
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    )
    steps_per_epoch = args.videos * (1 - args.arch_fraction) * args.clips_per_video / args.batch
    seconds = args.epochs * steps_per_epoch * t_weight + (args.epochs - args.frozen) * steps_per_epoch * (
        t_bilevel - t_weight
    )
    name = (
        torch.cuda.get_device_name(device.device)
        if device.is_cuda
        else f"CPU ({torch.get_num_threads()} threads)"
    )
    return {
        "device": name,
        "precision": "bf16 + channels_last_3d" if device.amp_dtype is not None else "fp32",
        "clip": [3, args.frames, args.size, args.size], "batch": args.batch, "channels": args.channels,
        "partial_K": args.partial, "config": args.config, "ops": len(DEFAULT_OPS),
        "weight_step_s": t_weight, "bilevel_step_s": t_bilevel,
        "peak_memory_gib": memory, "memory_kind": "GPU max allocated" if device.is_cuda else "process max RSS",
        "estimate": {
            "videos": args.videos, "arch_fraction": args.arch_fraction, "clips_per_video": args.clips_per_video,
            "epochs": args.epochs, "frozen_epochs": args.frozen, "weight_steps_per_epoch": steps_per_epoch,
            "hours": seconds / 3600, "paper_p100_hours": PAPER_GPU_HOURS, "target_h100_hours": TARGET_H100_HOURS,
        },
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--frames", type=int, default=None, help="default 128 on GPU, 32 on CPU")
    parser.add_argument("--size", type=int, default=None, help="default 112 on GPU, 32 on CPU")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--partial", type=int, default=4)
    parser.add_argument("--config", default="shared", choices=("shared", "varied"))
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--fp32", action="store_true", help="no bf16 / channels_last on CUDA")
    parser.add_argument("--videos", type=int, default=1900, help="training videos of VIPL-HR fold 1")
    parser.add_argument("--clips-per-video", type=float, default=7.0)
    parser.add_argument("--arch-fraction", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--frozen", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0 = torch's default)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    on_gpu = setup_device(args.device).is_cuda
    args.frames = args.frames or (128 if on_gpu else 32)
    args.size = args.size or (112 if on_gpu else 32)
    r = measure(args)
    e = r["estimate"]
    print(f"device: {r['device']}  precision: {r['precision']}  clip: {r['clip']}  batch {r['batch']}  "
          f"channels {r['channels']}  K={r['partial_K']}  {r['config']}  {r['ops']} ops")  # fmt: skip
    if not on_gpu:
        print(
            "NOTE: CPU at a reduced clip size; the estimate below is for this CPU and this size, not a GPU."
        )
    print(f"weight-only step (frozen epochs): {r['weight_step_s'] * 1000:.0f} ms   "
          f"bi-level step (arch + weight): {r['bilevel_step_s'] * 1000:.0f} ms   "
          f"peak memory: {r['peak_memory_gib']:.2f} GiB ({r['memory_kind']})")  # fmt: skip
    print("estimate: steps/epoch = videos x (1 - arch_fraction) x clips_per_video / batch "
          f"= {e['videos']} x {1 - e['arch_fraction']:.2f} x {e['clips_per_video']:g} / {r['batch']} "
          f"= {e['weight_steps_per_epoch']:.0f}")  # fmt: skip
    print("          hours = epochs x steps x t_weight + (epochs - frozen) x steps x (t_bilevel - t_weight) "
          f"= {e['epochs']} x {e['weight_steps_per_epoch']:.0f} x {r['weight_step_s']:.3f} s + "
          f"{e['epochs'] - e['frozen_epochs']} x {e['weight_steps_per_epoch']:.0f} x "
          f"{r['bilevel_step_s'] - r['weight_step_s']:.3f} s = {e['hours']:.2f} h")  # fmt: skip
    print(f"paper: {e['paper_p100_hours']:.0f} P100-hours (ten days); target: <= {e['target_h100_hours']:.0f} "
          f"H100-hours -> {'MET' if on_gpu and e['hours'] <= e['target_h100_hours'] else 'n/a on CPU' if not on_gpu else 'NOT MET'}")  # fmt: skip
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(r, fh, indent=1)


if __name__ == "__main__":
    main()
