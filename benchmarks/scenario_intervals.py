"""Per-scenario MAE with 95% bootstrap intervals for runs of one protocol, their paired differences,
and the constant-HR line (every test video predicted at its fold's training mean).

The intervals are `rppgbench compare --stats`'s (`rppgbench.leaderboard.stats.bootstrap_ci`: percentile
bootstrap over videos, 10,000 resamples, seed 0), computed within each scenario; a paired difference
resamples the same videos for both methods.

  python benchmarks/scenario_intervals.py leaderboards/results/synth-5fold/{pos,chrom,physnet,autohr} \
      --pairs autohr-physnet,autohr-pos,physnet-pos --out leaderboards/synth-5fold-scenario-ci.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from rppgbench.leaderboard.stats import bootstrap_ci
from rppgbench.store import RunStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from constant_hr_baseline import constant_errors  # noqa: E402


def signed_errors(run: Path) -> pd.DataFrame:
    """video_id, scenario and signed error of the run's scored videos."""
    frame = RunStore(run).read_predictions()
    frame = frame[frame["status"] == "ok"]
    return frame.assign(error=frame["hr_pred"] - frame["hr_ref"])[["video_id", "scenario", "error"]]


def main(argv: list[str] | None = None) -> None:
    """Print (and write) the per-scenario table of intervals and paired differences."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path, help="run folders (named by their folder)")
    p.add_argument("--pairs", default="", help="comma list of A-B: MAE(A) - MAE(B) per scenario")
    p.add_argument("--out", type=Path, help="also write the markdown here")
    args = p.parse_args(argv)
    errors = {run.name: signed_errors(run) for run in args.runs}
    constant = constant_errors(RunStore(args.runs[0]).read_predictions())
    errors["constant HR (training mean)"] = constant.assign(error=constant["abs_error"])[
        ["video_id", "scenario", "error"]
    ]
    scenarios = sorted(set().union(*(set(e["scenario"]) for e in errors.values())))
    lines = [
        "MAE (bpm) per scenario with 95% bootstrap intervals (10,000 resamples over videos, seed 0).",
        "",
    ]
    lines += ["| method | " + " | ".join(scenarios) + " |", "|---|" + "---|" * len(scenarios)]
    for name, frame in errors.items():
        cells = [str(bootstrap_ci(frame.loc[frame["scenario"] == s, "error"].to_numpy())) for s in scenarios]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    pairs = [pair.split("-", 1) for pair in args.pairs.split(",") if pair]
    if pairs:
        lines += ["", "Paired MAE differences (bpm), A - B on the same videos; below 0: A is better.", ""]
        lines += ["| A - B | " + " | ".join(scenarios) + " |", "|---|" + "---|" * len(scenarios)]
        for first, second in pairs:
            cells = []
            for s in scenarios:
                a = errors[first][errors[first]["scenario"] == s].set_index("video_id")["error"]
                b = errors[second][errors[second]["scenario"] == s].set_index("video_id")["error"]
                common = a.index.intersection(b.index)
                cells.append(str(bootstrap_ci(a[common].to_numpy(), paired_with=b[common].to_numpy())))
            lines.append(f"| {first} - {second} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
