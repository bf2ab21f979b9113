"""Speed of the shared HR estimator on long signals: detrend, estimate_hr and hr_over_time.

Run: python benchmarks/bench_hr.py [--repeats 5] [--minutes 1 10 60] [--dense]

Prints the median wall time of each step on 30-fps signals of 1, 10 and 60 minutes and the cost per
minute of signal relative to the shortest one (about 1.0 everywhere means linear growth). `--dense`
also times the dense-inverse detrending formula at 3,600 samples for comparison.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from tabulate import tabulate
from timing import median_seconds

from rppgbench.signal import hr

FS = 30.0


def pulse_signal(minutes: float, seed: int = 0) -> np.ndarray:
    """A noisy 72-bpm pulse with baseline wander, `minutes` long at 30 fps."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(minutes * 60 * FS)) / FS
    return np.sin(2 * np.pi * 1.2 * t) + 2 * np.sin(2 * np.pi * 0.05 * t) + 0.5 * rng.standard_normal(t.size)


def dense_detrend_seconds(n: int = 3600, lam: float = 100.0) -> float:
    """Time of the dense formula x - inv(I + lam^2 D2'D2) x (cubic in n), for comparison."""
    x = pulse_signal(n / FS / 60)
    start = time.perf_counter()
    d2 = np.diff(np.eye(n), n=2, axis=0)
    _ = x - np.linalg.inv(np.eye(n) + lam**2 * d2.T @ d2) @ x
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0, 60.0])
    parser.add_argument("--dense", action="store_true", help="also time the dense detrending formula")
    args = parser.parse_args()

    config = hr.HRConfig()
    steps: dict[str, Callable[[np.ndarray], object]] = {
        "detrend": lambda x: hr.detrend(x, config.detrend_lambda),
        "estimate_hr (welch)": lambda x: hr.estimate_hr(x, FS, config),
        "hr_over_time (10 s / 1 s)": lambda x: hr.hr_over_time(x, FS, 10.0, 1.0, config),
    }
    rows, per_minute = [], {}
    for minutes in args.minutes:
        x = pulse_signal(minutes)
        row: list[object] = [f"{minutes:g} min", x.size]
        total = 0.0
        for name, step in steps.items():
            seconds = median_seconds(lambda step=step, x=x: step(x), args.repeats)
            per_minute.setdefault(name, []).append(seconds / minutes)
            row.append(f"{seconds * 1e3:.1f}")
            total += seconds
        per_minute.setdefault("total", []).append(total / minutes)
        row.append(f"{total * 1e3:.1f}")
        rows.append(row)
    headers = ["signal", "samples", *[f"{name} ms" for name in steps], "total ms"]
    print(f"median of {args.repeats} runs, 30 fps\n")
    print(tabulate(rows, headers=headers, tablefmt="github"))
    print("\ncost per minute of signal relative to the shortest signal (1.0 = linear growth):\n")
    ratio_rows = [[name, *[f"{v / values[0]:.2f}" for v in values]] for name, values in per_minute.items()]
    print(tabulate(ratio_rows, headers=["step", *[f"{m:g} min" for m in args.minutes]], tablefmt="github"))
    if args.dense:
        print(f"\ndense-inverse detrending of 3,600 samples: {dense_detrend_seconds():.2f} s")


if __name__ == "__main__":
    main()
