"""Wall time of finished runs (from run.json's start and update times) and their training/test seconds.

python benchmarks/run_durations.py leaderboards/results/synth-5fold/*
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from rppgbench.store import RunStore


def main(argv: list[str] | None = None) -> None:
    """Print one line per run folder: method, recipe, wall minutes, summed train and test seconds."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    args = p.parse_args(argv)
    width = max(len("run"), *(len(run.name) for run in args.runs))
    print(f"{'run':{width}s} {'recipe':10s} {'wall (min)':>10s} {'train (s)':>10s} {'test (s)':>9s}  machine")
    for run in args.runs:
        store = RunStore(run)
        manifest = store.read_manifest()
        started, updated = (datetime.fromisoformat(manifest[k]) for k in ("started", "updated"))
        recipe = manifest["config"].get("recipe")
        label = f"{recipe['name']} v{recipe['version']}" if recipe else "-"
        folds = [fold.read_metrics() for fold in store.fold_stores() if fold.finished()]
        train = sum(f.get("timings", {}).get("train_s", 0.0) for f in folds)
        test = sum(f.get("timings", {}).get("test_s", 0.0) for f in folds)
        where = manifest["provenance"]
        minutes = (updated - started).total_seconds() / 60
        print(f"{run.name:{width}s} {label:10s} {minutes:10.1f} {train:10.0f} {test:9.0f}  "
              f"{where.get('cpu_count')} cores, {where.get('accelerator') or 'no GPU'}")  # fmt: skip


if __name__ == "__main__":
    main()
