"""The README's main job from a cold cache: wall time, time to the generated dataset, bytes written.

Runs `rppgbench run --method pos --protocol synth-5fold` in a fresh process with an empty cache
(RPPGBENCH_CACHE) and results folder under a temporary directory, then sizes what it wrote: the
synthetic videos, the preprocessed-clip cache and the run folder. It also reports the CPU time of the
job and its worker processes: on a machine shared with other jobs the wall time says little, while
CPU time / cores is the wall time the job needs on idle cores. Targets (issue 17): <= 90 s on a
2-core machine, < 1 GB written.

    python benchmarks/bench_first_run.py [--out benchmarks/results/first-run-cpu.txt] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from timing import emit_report

SCRIPT = Path(sys.executable).with_name("rppgbench")
CLI = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "rppgbench"]
JOB = ["run", "--method", "pos", "--protocol", "synth-5fold", "--quiet"]


def folder_bytes(folder: Path) -> int:
    """Bytes of every file below `folder`."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def run_job(work: Path) -> dict[str, float]:
    """Run the main job in `work`; seconds in total and until the dataset was generated."""
    env = {**os.environ, "RPPGBENCH_CACHE": str(work / "cache"), "TQDM_DISABLE": "1"}
    start = time.perf_counter()
    marks: dict[str, float] = {}
    process = subprocess.Popen(
        [*CLI, *JOB, "--out", str(work / "results")], cwd=work, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def watch() -> None:
        for line in process.stderr:
            if "synthetic dataset ready" in line:
                marks["generated_s"] = time.perf_counter() - start
            sys.stderr.write(line)

    watcher = threading.Thread(target=watch)
    watcher.start()
    output = process.stdout.read()
    process.wait()
    watcher.join()
    if process.returncode != 0:
        raise SystemExit(f"the main job failed ({process.returncode}):\n{output}")
    marks["total_s"] = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the job and every worker it waited for
    marks["cpu_s"] = usage.ru_utime + usage.ru_stime
    mae = re.search(r"^\s*80\s+80\s+0\s+\S+\s+(\S+)", output, re.MULTILINE)
    marks["mae"] = float(mae.group(1)) if mae else float("nan")
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, help="Also write the report to this file.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rppgbench-first-run-") as tmp:
        work = Path(tmp)
        marks = run_job(work)
        sizes = {
            "synthetic videos": folder_bytes(work / "cache" / "synthetic"),
            "clip cache": folder_bytes(work / "cache" / "clips"),
            "run folder": folder_bytes(work / "results"),
        }
    total = sum(sizes.values())
    lines = [
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "job: rppgbench run --method pos --protocol synth-5fold (cold cache)",
        f"wall time            {marks['total_s']:6.1f} s (target <= 90 s)",
        f"CPU time             {marks['cpu_s']:6.1f} s = {marks['cpu_s'] / (os.cpu_count() or 1):.1f} s on "
        f"{os.cpu_count()} idle cores",
        f"  dataset generated  {marks.get('generated_s', float('nan')):6.1f} s after start",
        *(f"{name:20s} {size / 1e6:8.1f} MB" for name, size in sizes.items()),
        f"written in total     {total / 1e6:8.1f} MB (target < 1000 MB)",
        f"MAE                  {marks['mae']:.2f} bpm",
    ]
    emit_report(lines, args.out)


if __name__ == "__main__":
    main()
