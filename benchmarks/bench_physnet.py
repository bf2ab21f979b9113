"""PhysNet training and inference throughput (clips/s) and peak memory, through the real harness.

Measures `TrainingLoop.default_step` (forward under autocast, negative Pearson loss, backward,
gradient clipping, Adam step) and no-grad inference of the `physnet` plugin, with batches of random
uint8 clips already on the device ("model only") and with batches drawn by `make_loaders` from cached
HDF5 clips written by the preprocessing cache ("with data": reading, collation, pinned host-to-device
copy and on-device normalisation included). Precisions: fp32, bf16 autocast, bf16 + channels_last_3d.

  python benchmarks/bench_physnet.py          # on a GPU: 3x160x112x112, batch 4 and the largest that fits
  python benchmarks/bench_physnet.py --quick  # CPU-sized run (32 frames, 64x64, fp32)
  python benchmarks/bench_physnet.py --json physnet.json  # also write JSON
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch
from rppgbench_plugins.neural.physnet import PhysNet
from tabulate import tabulate

from rppgbench.testing.clips import make_pulse_clip
from rppgbench.training import (
    DeviceSetup,
    LoopConfig,
    NegPearsonLoss,
    TrainingLoop,
    build_optimizer,
    make_loaders,
)

PRECISIONS = {
    "fp32": (None, False),
    "bf16": (torch.bfloat16, False),
    "bf16+cl3d": (torch.bfloat16, True),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=160)
    p.add_argument("--size", type=int, default=112)
    p.add_argument("--width", type=int, default=64, help="PhysNet channel width")
    p.add_argument(
        "--batches", default="4,max", help="comma list of batch sizes; 'max' = largest that fits (CUDA)"
    )
    p.add_argument(
        "--precisions",
        default=None,
        help=f"comma list of {', '.join(PRECISIONS)} (default: all on CUDA, fp32 on CPU)",
    )
    p.add_argument("--steps", type=int, default=20, help="timed steps per setting")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--workers", type=int, default=8, help="loader workers for the with-data runs")
    p.add_argument("--clips", type=int, default=16, help="cached clips written for the with-data runs")
    p.add_argument("--no-data", action="store_true", help="skip the with-data runs")
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="CPU-sized: 32 frames, 64x64, batch 2, 3 steps")
    p.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    args = p.parse_args(argv)
    if args.quick:
        args.frames, args.size, args.batches, args.steps, args.warmup = 32, 64, "2", 3, 1
        args.clips, args.workers = 4, 1
    return args


def peak_memory_gib(device: torch.device) -> float:
    """Peak CUDA memory allocated since the last reset, or the process's peak RSS on CPU (GiB)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def synchronise(device: torch.device) -> None:
    """Wait for queued GPU work so timings are real."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def write_cached_clips(folder: Path, n: int, frames: int, size: int) -> list:
    """Write n toy clips (2.5 windows long) through the preprocessing cache's writer; return lazy clips."""
    from rppgbench.preprocess.cache import ClipWriter, load_clip, record_to_dict

    clips = []
    for i in range(n):
        clip = make_pulse_clip(f"s{i:02d}", 60 + 5 * i, frames=int(frames * 2.5), size=size, seed=i)
        path = folder / f"clip{i}.h5"
        with ClipWriter(path, size) as writer:
            for frame in clip.frames:
                writer.append(frame, (0, 0, size, size))
            writer.commit(
                clip.timestamps, clip.reference, {"record": json.dumps(record_to_dict(clip.record))}
            )
        clips.append(load_clip(path, clip.record))
    return clips


class Bench:
    """One PhysNet model + optimiser on a device in a given precision."""

    def __init__(self, args: argparse.Namespace, device: torch.device, precision: str) -> None:
        amp, channels_last = PRECISIONS[precision]
        self.setup = DeviceSetup(device, amp, channels_last)
        self.method = PhysNet(clip_frames=args.frames, size=args.size, width=args.width, device=str(device))
        torch.manual_seed(0)
        model = self.setup.prepare_model(self.method.build_model())
        loss = NegPearsonLoss()
        self.loop = TrainingLoop(
            model,
            build_optimizer(model, "adam", 1e-4, 5e-5),
            lambda out, batch: loss(out, batch.target),
            LoopConfig(epochs=1, progress=False),
            self.setup,
            input_fn=lambda batch: self.method.input_transform(batch.frames),
        )
        self.args = args

    def random_batch(self, batch_size: int):
        """A device batch of random uint8 clips at the cached resolution."""
        from rppgbench.training import Batch

        a = self.args
        g = torch.Generator().manual_seed(batch_size)
        return Batch(
            frames=torch.randint(
                0, 256, (batch_size, a.frames, a.size, a.size, 3), dtype=torch.uint8, generator=g
            ),
            target=torch.randn(batch_size, a.frames, generator=g),
            hr=torch.full((batch_size,), float("nan")),
            fps=torch.full((batch_size,), 30.0),
            clip_index=torch.zeros(batch_size, dtype=torch.int64),
            start=torch.zeros(batch_size, dtype=torch.int64),
        ).to(self.setup.device)

    def time_steps(self, batches, steps: int, warmup: int, train: bool) -> float:
        """Clips per second over `steps` timed steps after `warmup` steps."""
        device = self.setup.device
        self.loop.model.train(train)
        clips, start = 0, 0.0
        for done, batch in enumerate(batches, start=1):
            batch = batch.to(device)
            if train:
                self.loop.default_step(batch)
            else:
                with torch.no_grad():
                    self.loop.forward(batch)
            if done == warmup:
                synchronise(device)
                start, clips = time.perf_counter(), 0
            elif done > warmup:
                clips += len(batch)
            if done == warmup + steps:
                break
        synchronise(device)
        return clips / (time.perf_counter() - start)


def repeat(batch, n: int):
    """The same device batch n times (model-only timing)."""
    for _ in range(n):
        yield batch


def loader_batches(loader):
    """Batches from a loader, cycling over epochs."""
    epoch = 0
    while True:
        loader.sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


def largest_batch(args: argparse.Namespace, device: torch.device, precision: str) -> int:
    """The largest power-of-two batch (>= 4) whose training step fits in GPU memory."""
    best, size = 0, 4
    while size <= 1024:
        try:
            bench = Bench(args, device, precision)
            bench.time_steps(repeat(bench.random_batch(size), 2), 1, 1, train=True)
            best, size = size, size * 2
        except torch.OutOfMemoryError:
            break
        finally:
            torch.cuda.empty_cache()
    return best


def main(argv: list[str] | None = None) -> int:
    """Run every setting, print a markdown table and optionally write JSON."""
    args = parse_args(argv)
    device = torch.device(
        "cuda"
        if (args.device == "auto" and torch.cuda.is_available())
        else ("cpu" if args.device == "auto" else args.device)
    )
    precisions = (args.precisions or ("fp32,bf16,bf16+cl3d" if device.type == "cuda" else "fp32")).split(",")
    rows = []
    tmp = tempfile.TemporaryDirectory()
    cached = None if args.no_data else write_cached_clips(Path(tmp.name), args.clips, args.frames, args.size)
    for precision in precisions:
        sizes = []
        for b in args.batches.split(","):
            if b == "max":
                if device.type == "cuda":
                    sizes.append(largest_batch(args, device, precision))
            else:
                sizes.append(int(b))
        for batch_size in sorted(set(s for s in sizes if s > 0)):
            bench = Bench(args, device, precision)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            batch = bench.random_batch(batch_size)
            n = args.steps + args.warmup
            train_rate = bench.time_steps(repeat(batch, n), args.steps, args.warmup, train=True)
            memory = peak_memory_gib(device)
            infer_rate = bench.time_steps(repeat(batch, n), args.steps, args.warmup, train=False)
            data_rate = float("nan")
            if cached is not None:
                train_loader, _ = make_loaders(
                    cached,
                    {
                        "clip_frames": args.frames,
                        "batch_size": batch_size,
                        "val_fraction": 0.0,
                        "num_workers": args.workers,
                        "device": str(device),
                    },
                )
                data_rate = bench.time_steps(
                    loader_batches(train_loader), args.steps, args.warmup, train=True
                )
                del train_loader
            rows.append(
                {
                    "precision": precision,
                    "batch": batch_size,
                    "train_clips_per_s": train_rate,
                    "train_with_data_clips_per_s": data_rate,
                    "infer_clips_per_s": infer_rate,
                    "peak_memory_gib": memory,
                }
            )
            print(f"done {precision} batch {batch_size}", file=sys.stderr)
    tmp.cleanup()
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    )
    print(
        f"\nPhysNet (width {args.width}) 3x{args.frames}x{args.size}x{args.size} on {name}, "
        f"torch {torch.__version__}; "
        f"memory = {'peak CUDA allocated' if device.type == 'cuda' else 'peak process RSS'}\n"
    )
    headers = [
        "precision",
        "batch",
        "train clips/s",
        "train+data clips/s",
        "inference clips/s",
        "peak memory GiB",
    ]
    print(
        tabulate(
            [
                [
                    r["precision"],
                    r["batch"],
                    r["train_clips_per_s"],
                    r["train_with_data_clips_per_s"],
                    r["infer_clips_per_s"],
                    r["peak_memory_gib"],
                ]
                for r in rows
            ],
            headers=headers,
            tablefmt="github",
            floatfmt=".2f",
        )
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "device": name,
                    "torch": torch.__version__,
                    "frames": args.frames,
                    "size": args.size,
                    "width": args.width,
                    "workers": args.workers,
                    "rows": rows,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
