"""CPU training efficiency of the neural methods at their `cpu` recipes: harness vs a bare loop, and memory.

For each method, on the training videos of `synth-mini` fold 1 (prepared through the runner and the
clip cache, as a real run does):

- harness: one epoch of `NeuralMethod.fit` (window sampling, host-side resize-once, collation, the
  method's input transform, loss, backward, clipping, Adam), in clips/s as the loop records it;
- bare: the same model, optimiser and batch shape on random tensors already in the model's input
  format (forward + loss + backward + step, nothing else), in clips/s;
- their ratio (target >= 0.7: the data pipeline is not the bottleneck);
- peak RSS of a whole `rppgbench run --recipe cpu` on synth-mini in a child process (target <= 2 GB).

  python benchmarks/bench_training_cpu.py                      # all three methods
  python benchmarks/bench_training_cpu.py --methods physnet --profile 25   # plus a cProfile of the epoch
  python benchmarks/bench_training_cpu.py --json out.json
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from tabulate import tabulate

from rppgbench.method import FitContext
from rppgbench.plugins import registry
from rppgbench.recipes import get_recipe
from rppgbench.training import NegPearsonLoss


def fold_clips(protocol: str, fold: str, work: Path) -> list:
    """The training clips of one fold, prepared (or read from the cache) through the runner."""
    from rppgbench_plugins.autohr.data import fold_training_clips

    clips, _ = fold_training_clips(protocol, fold, work, {}, progress=False)
    return clips


def harness_rate(method_name: str, clips: list, work: Path, steps: int, profile: int) -> dict:
    """clips/s of one epoch of the real harness (and the wall time of fit, set-up included)."""
    recipe = get_recipe(method_name, "cpu")
    params = {**recipe.params, "epochs": 1, "val_fraction": 0.0, "device": "cpu"}
    batch, frames = int(params["batch_size"]), int(params["clip_frames"])
    per_clip = max(1, -(-steps * batch // len(clips)))  # ceil: at least `steps` batches in the epoch
    method = registry().method(method_name)(**{**params, "windows_per_clip": per_clip})
    profiler = cProfile.Profile() if profile else None
    begin = time.perf_counter()
    if profiler:
        profiler.enable()
    method.fit(clips, FitContext(work / method_name, seed=0, progress=False))
    if profiler:
        profiler.disable()
    wall = time.perf_counter() - begin
    epoch = method.fit_result.history[0]
    out = {"clips_per_s": epoch["clips_per_s"], "steps": int(epoch["steps"]), "fit_wall_s": wall,
           "batch": batch, "frames": frames, "size": int(params["size"])}  # fmt: skip
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(profile)
        out["profile"] = text.getvalue()
    return out


def bare_rate(method_name: str, steps: int) -> float:
    """clips/s of forward + loss + backward + Adam on random tensors of the model's input shape."""
    recipe = get_recipe(method_name, "cpu")
    method = registry().method(method_name)(**{**recipe.params, "device": "cpu"})
    model = method.build_model().train()
    batch, frames, size = (int(recipe.params[k]) for k in ("batch_size", "clip_frames", "size"))
    probe = method.input_transform(torch.randint(0, 255, (1, frames, size, size, 3), dtype=torch.uint8))
    x = torch.randn(batch, *probe.shape[1:])
    target = torch.randn(batch, frames)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = NegPearsonLoss()
    for step in range(steps + 2):  # two warm-up steps
        if step == 2:
            begin = time.perf_counter()
        optimiser.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
    return steps * batch / (time.perf_counter() - begin)


def run_peak_rss(method_name: str, work: Path) -> float:
    """Peak RSS (MiB) of `rppgbench run --recipe cpu` on synth-mini, fold 1, two epochs, in a child."""
    command = [sys.executable, "-m", "rppgbench.cli", "run", "--method", method_name, "--protocol", "synth-mini",
               "--recipe", "cpu", "--fold", "1", "--set", "epochs=2", "--out", str(work / f"run-{method_name}"),
               "--quiet"]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> None:
    """Measure and print the table (and optionally write JSON)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", default="physnet,deepphys,autohr")
    p.add_argument("--protocol", default="synth-mini")
    p.add_argument("--steps", type=int, default=30, help="timed training steps per method")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--profile", type=int, default=0, help="print the top N functions of the harness epoch")
    p.add_argument("--no-rss", action="store_true", help="skip the child-process memory measurement")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clips = fold_clips(args.protocol, "1", work / "fold")
        for name in [m.strip() for m in args.methods.split(",") if m.strip()]:
            harness = harness_rate(name, clips, work, args.steps, args.profile)
            bare = bare_rate(name, args.steps)
            rss = None if args.no_rss else run_peak_rss(name, work)
            results[name] = {**harness, "bare_clips_per_s": bare, "ratio": harness["clips_per_s"] / bare,
                             "run_peak_rss_mib": rss}  # fmt: skip
            shape = f"{harness['batch']}x3x{harness['frames']}x{harness['size']}x{harness['size']}"
            rows.append((name, shape, f"{harness['clips_per_s']:.1f}", f"{bare:.1f}",
                         f"{harness['clips_per_s'] / bare:.2f}", f"{harness['fit_wall_s']:.1f}",
                         "-" if rss is None else f"{rss:.0f}"))  # fmt: skip
            if harness.get("profile"):
                print(f"--- cProfile of one {name} harness epoch (cumulative) ---\n{harness['profile']}")
    print(f"CPU training at the cpu recipes, {args.protocol} fold 1 ({len(clips)} training videos), "
          f"{args.threads} thread(s), torch {torch.__version__}")  # fmt: skip
    print(tabulate(rows, headers=["method", "batch shape", "harness clips/s", "bare clips/s", "ratio",
                                  "fit wall s", "run peak RSS MiB"]))  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "profile"}
                                         for k, v in results.items()}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
