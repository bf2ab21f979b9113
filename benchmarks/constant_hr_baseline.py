"""The error of a method that has learnt nothing: predict every test video's HR as the training mean.

For each fold of a committed run folder, the constant is the mean reference HR of the videos of the
other folds (the fold's training subjects, as the run's own predictions.csv records them), and the
fold's test videos are scored against it. A trained method "learns" on a scenario only where it is
clearly below this line.

  python benchmarks/constant_hr_baseline.py leaderboards/results/synth-5fold/pos
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from rppgbench.store import RunStore


def constant_errors(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per video: |reference HR - mean reference HR of the other folds|, with the video's scenario."""
    ok = predictions[predictions["status"] == "ok"]
    rows = []
    for fold, test in ok.groupby("fold"):
        constant = ok.loc[ok["fold"] != fold, "hr_ref"].mean()
        rows.append(test.assign(constant=constant, abs_error=(test["hr_ref"] - constant).abs()))
    return pd.concat(rows)


def main(argv: list[str] | None = None) -> None:
    """Print MAE and RMSE of the constant predictor overall and per scenario."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path, help="a run folder whose predictions.csv holds every fold")
    args = p.parse_args(argv)
    errors = constant_errors(RunStore(args.run).read_predictions())
    print(f"Constant-HR predictor (training mean per fold) on the test videos of {args.run}")
    print(f"{'scenario':14s} {'n':>4s} {'MAE (bpm)':>10s} {'RMSE (bpm)':>11s}")
    groups = [("overall", errors)] + [(str(k), g) for k, g in errors.groupby("scenario")]
    for name, group in groups:
        mae = group["abs_error"].mean()
        rmse = float(np.sqrt((group["abs_error"] ** 2).mean()))
        print(f"{name:14s} {len(group):4d} {mae:10.2f} {rmse:11.2f}")


if __name__ == "__main__":
    main()
