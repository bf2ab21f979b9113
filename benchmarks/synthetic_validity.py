"""Validity study of the synthetic dataset: GREEN, CHROM and POS heart-rate error per scenario.

Generates (or reuses from the cache) a synthetic preset, runs each method through the ordinary
`rppgbench run` command (each with its default adaptive skin mask, and again averaging the whole face
crop: `--set skin_mask=false`) on a 2-fold protocol written next to the results (the methods do not train,
so the folds only partition the videos), and tabulates MAE / RMSE per scenario from predictions.csv.
Also draws the overview figure of docs/synthetic.md.

    python benchmarks/synthetic_validity.py                      # synth-scenarios, seed 0
    python benchmarks/synthetic_validity.py --preset synth-default --methods green,chrom,pos,pbv
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from rppgbench_plugins.datasets.synthetic import PRESETS, SyntheticDataset, cached_dataset
from rppgbench_plugins.datasets.synthetic.faces import make_sprite
from rppgbench_plugins.datasets.synthetic.writer import identity_for
from tabulate import tabulate

from rppgbench.store import RunStore

PROTOCOL = """name = "synth-validity-{preset}"
description = "Per-scenario validity study on the {preset} preset (classical methods, no training)."
[dataset]
name = "synthetic"
options = {{ preset = "{preset}", seed = {seed} }}
[split]
kind = "kfold"
folds = 2
seed = 0
[preprocess]
face = "dataset"
size = 128
[test]
mode = "clips"
clip_seconds = {clip_seconds}
n_clips = {n_clips}
[reference]
source = "waveform"
[hr]
method = "welch"
band_bpm = [40, 180]
"""


def run_methods(preset: str, seed: int, methods: list[str], out: Path, workers: int) -> pd.DataFrame:
    """Run each method under the study protocol with the CLI; return every prediction row."""
    duration = PRESETS[preset].duration_s
    clip_seconds = 10.0 if duration >= 10 else duration
    protocol = out / "protocol.toml"
    out.mkdir(parents=True, exist_ok=True)
    protocol.write_text(
        PROTOCOL.format(
            preset=preset, seed=seed, clip_seconds=clip_seconds, n_clips=max(1, int(duration // clip_seconds))
        )
    )
    rows = []
    for method in methods:
        for label, extra in ((method, []), (f"{method} (whole crop)", ["--set", "skin_mask=false"])):
            run_dir = out / label.replace(" (whole crop)", "-crop")
            command = [
                "rppgbench",
                "run",
                "--method",
                method,
                "--protocol",
                str(protocol),
                "--out",
                str(run_dir),
            ]
            subprocess.run([*command, *extra, "--workers", str(workers), "--quiet"], check=True)
            rows.append(RunStore(run_dir).read_predictions().assign(method=label))
    return pd.concat(rows, ignore_index=True)


def scenario_table(predictions: pd.DataFrame) -> pd.DataFrame:
    """MAE (bpm) per scenario and method, with the count of videos and of failures."""
    ok = predictions[predictions["status"] == "ok"]
    mae = ok.groupby(["scenario", "method"])["abs_error"].mean().unstack("method")
    rmse = (
        ok.groupby(["scenario", "method"])["abs_error"]
        .apply(lambda e: float(np.sqrt(np.mean(e**2))))
        .unstack("method")
    )
    table = mae.round(2).astype(str) + " / " + rmse.round(2).astype(str)
    counts = predictions.groupby("scenario").agg(videos=("video_id", "nunique"))
    failed = predictions[predictions["status"] != "ok"].groupby("scenario")["video_id"].count()
    table["videos"] = counts["videos"]
    table["failed"] = failed.reindex(table.index).fillna(0).astype(int)
    return table


def draw_figure(preset: str, seed: int, path: Path) -> None:
    """Sample frames per scenario, a pulse-strength map, and a reference vs face-mean green trace."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rppgbench.signal.hr import bandpass

    loader = SyntheticDataset(cached_dataset(preset, seed))
    records = loader.records()
    first = records[0].subject
    by_scenario = [r for r in records if r.subject == first]
    fig = plt.figure(figsize=(2.1 * max(len(by_scenario), 4), 6.2))
    grid = fig.add_gridspec(2, max(len(by_scenario), 4), height_ratios=[1, 1.1])
    for k, record in enumerate(by_scenario):
        frame = next(iter(loader.open_frames(record)))
        x, y, w, h = loader.face_box(record)
        ax = fig.add_subplot(grid[0, k])
        ax.imshow(frame)
        ax.add_patch(plt.Rectangle((x, y), w, h, fill=False, color="lime", lw=1))
        ax.set_title(f"{record.session} {record.scenario}", fontsize=8)
        ax.axis("off")
    sprite = make_sprite(identity_for(PRESETS[preset], seed, 1), 60.0)
    ax = fig.add_subplot(grid[1, 0])
    ax.imshow(sprite.albedo * sprite.alpha[..., None])
    ax.set_title("identity p002 (albedo)", fontsize=8)
    ax.axis("off")
    ax = fig.add_subplot(grid[1, 1])
    shown = ax.imshow(sprite.strength, cmap="magma")
    ax.set_title("pulse-strength map", fontsize=8)
    ax.axis("off")
    fig.colorbar(shown, ax=ax, fraction=0.046)
    record = by_scenario[0]
    source = loader.open_frames(record)
    x, y, w, h = loader.face_box(record)
    green = np.array([f[y : y + h, x : x + w, 1].mean() for f in source])
    times = loader.frame_timestamps(record, len(green), source.fps)
    reference = loader.load_reference(record)
    keep = times < 10
    ax = fig.add_subplot(grid[1, 2:])
    filtered = bandpass(green - green.mean(), source.fps, (40, 180), 4)
    ax.plot(
        times[keep],
        -filtered[keep] / filtered[keep].std(),
        lw=1,
        label="face-mean green (band-passed, inverted)",
    )
    ref_keep = reference.times < 10
    ref = reference.values[ref_keep]
    ax.plot(
        reference.times[ref_keep], (ref - ref.mean()) / ref.std() + 3.5, lw=1, label="reference PPG (60 Hz)"
    )
    ax.set_xlabel("time (s)")
    ax.set_yticks([])
    ax.set_title(f"{record.id}: true mean HR {record.meta['hr_bpm']:.1f} bpm", fontsize=8)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="synth-scenarios", choices=list(PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default="green,chrom,pos")
    parser.add_argument("--out", type=Path, default=Path("results/synthetic-validity"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--figure", type=Path, default=Path("docs/img/synthetic_overview.png"))
    args = parser.parse_args()
    cached_dataset(args.preset, args.seed)  # generate once, before the runs share it
    if args.figure:
        draw_figure(args.preset, args.seed, args.figure)
    predictions = run_methods(args.preset, args.seed, args.methods.split(","), args.out, args.workers)
    table = scenario_table(predictions)
    text = tabulate(table, headers=["scenario", *table.columns], tablefmt="github")
    (args.out / "validity.md").write_text(
        f"MAE / RMSE (bpm) per scenario, preset {args.preset}, seed {args.seed}\n\n{text}\n"
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
