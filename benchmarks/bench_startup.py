"""Start-up time of the command line against `python -c "import numpy, click"`, measured in one script.

Each command runs in a fresh process; the best of `--repeats` runs is kept for every command (the
least disturbed by other load on the machine), and each ratio divides two bests taken side by side.
Targets (issue 17): `rppgbench --help` <= 4x and `rppgbench list methods` <= 8x the baseline.

    python benchmarks/bench_startup.py [--repeats 15] [--out benchmarks/results/startup-cpu.txt]
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

from timing import emit_report

SCRIPT = Path(sys.executable).with_name("rppgbench")
"""The installed console script next to this interpreter (`python -m rppgbench` where there is none)."""
CLI = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "rppgbench"]
COMMANDS = {
    "baseline": [sys.executable, "-c", "import numpy, click"],
    "rppgbench --help": [*CLI, "--help"],
    "rppgbench list methods": [*CLI, "list", "methods"],
    "rppgbench show physnet": [*CLI, "show", "physnet"],
}
TARGETS = {"rppgbench --help": 4.0, "rppgbench list methods": 8.0}


def best_seconds(repeats: int) -> dict[str, float]:
    """Best wall time of each command; the commands take turns so that load hits them alike."""
    best = dict.fromkeys(COMMANDS, float("inf"))
    for _ in range(repeats):
        for name, argv in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", type=Path, help="Also write the report to this file.")
    args = parser.parse_args()
    best = best_seconds(args.repeats)
    lines = [f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
             f"best of {args.repeats} runs each"]  # fmt: skip
    for name, seconds in best.items():
        ratio = seconds / best["baseline"]
        target = f" (target <= {TARGETS[name]:.0f}x)" if name in TARGETS else ""
        lines.append(f"{name:24s} {seconds * 1000:7.0f} ms  {ratio:4.2f}x baseline{target}")
    emit_report(lines, args.out)


if __name__ == "__main__":
    main()
