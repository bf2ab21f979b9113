"""PBV's pulse signature: the adaptive (per-window) one against the paper's fixed one, per scenario.

Runs `rppgbench run --method pbv` twice on a synthetic protocol (default synth-5fold: 20 subjects x
stationary, motion, dim, illumination), once with each `signature`, and prints MAE / RMSE per scenario
and overall from the runs' predictions.csv. The default of PBV's `signature` parameter follows this
measurement (docs/reliability.md, "Defaults chosen by measurement").

    python benchmarks/pbv_signature.py                     # synth-5fold into /tmp/pbv-signature
    python benchmarks/pbv_signature.py --protocol synth-mini --out /tmp/pbv-mini
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from tabulate import tabulate

from rppgbench.store import RunStore

SIGNATURES = ("adaptive", "fixed")


def run(protocol: str, signature: str, out: Path) -> pd.DataFrame:
    """One `rppgbench run` of PBV with `signature`; its prediction rows."""
    folder = out / f"pbv-{signature}"
    command = [sys.executable, "-m", "rppgbench.cli", "run", "--method", "pbv", "--protocol", protocol,
               "--set", f"signature={signature}", "--out", str(folder), "--quiet"]  # fmt: skip
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return RunStore(folder).read_predictions().assign(signature=signature)


def summary(rows: pd.DataFrame) -> list[list[object]]:
    """MAE / RMSE (bpm) per signature and scenario, then overall."""
    table = []
    ok = rows[rows["status"] == "ok"]
    for (signature, scenario), group in [*ok.groupby(["signature", "scenario"]),
                                         *((( s, "overall"), g) for s, g in ok.groupby("signature"))]:  # fmt: skip
        error = group["hr_pred"] - group["hr_ref"]
        table.append([signature, scenario, len(group), np.abs(error).mean(), np.sqrt((error**2).mean())])
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="synth-5fold")
    parser.add_argument("--out", type=Path, default=Path("/tmp/pbv-signature"))
    args = parser.parse_args()
    rows = pd.concat([run(args.protocol, s, args.out) for s in SIGNATURES], ignore_index=True)
    print(f"PBV signature on {args.protocol} ({platform.machine()}, Python {platform.python_version()})")
    print(tabulate(summary(rows), headers=["signature", "scenario", "videos", "MAE", "RMSE"], floatfmt=".2f"))


if __name__ == "__main__":
    main()
