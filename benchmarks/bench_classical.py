"""Speed of the classical rPPG methods and of RGB trace extraction, on one CPU thread.

Run:  python benchmarks/bench_classical.py [--repeats 7] [--extract-frames 1024]

Threads: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS and NUMEXPR_NUM_THREADS are set to 1
before numpy is imported, threadpoolctl limits BLAS/OpenMP pools and cv2.setNumThreads(1) OpenCV's
pool to one thread, so the figures are single-core. Each method runs on synthetic 30-fps RGB traces
(skin tone, a pulse along the blood-volume direction, illumination drift, sensor noise) of 1, 10 and
60 minutes; the table gives the median wall time of `--repeats` runs of `from_traces` (traces to
pulse signal, including the final band-pass and polarity step) and the time per 10 minutes, which
stays flat when cost grows linearly.
Trace extraction is timed on 128 x 128 face crops with and without the skin mask.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from rppgbench_plugins.classical import METHODS  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402
from timing import median_seconds  # noqa: E402

from rppgbench.traces import extract_traces  # noqa: E402

FPS = 30.0
MINUTES = (1, 10, 60)


def synthetic_traces(n: int, seed: int = 0) -> np.ndarray:
    """(n, 3) traces: skin tone, 72-bpm pulse along [0.33, 0.77, 0.53], drift and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / FPS
    pulse = np.sin(2 * np.pi * 1.2 * t)
    light = 1 + 0.2 * np.sin(2 * np.pi * 0.05 * t)
    rgb = light[:, None] * np.array([180.0, 120.0, 90.0]) * (1 - 0.003 * np.outer(pulse, [0.33, 0.77, 0.53]))
    return rgb + 0.05 * rng.standard_normal(rgb.shape)


def bench_methods(repeats: int) -> None:
    """Print ms per method for each duration and the ms per 10 minutes of video."""
    traces = {m: synthetic_traces(int(m * 60 * FPS)) for m in MINUTES}
    header = " | ".join(f"{m} min ({int(m * 60 * FPS)} fr)" for m in MINUTES)
    print(f"\nmethod | {header} | ms per 10 min at 1 / 10 / 60 min")
    for method_cls in METHODS:
        run = method_cls().from_traces
        reps = repeats
        ms = {m: 1e3 * median_seconds(lambda x=traces[m], run=run: run(x, FPS), reps) for m in MINUTES}
        per10 = " / ".join(f"{ms[m] * 10 / m:.1f}" for m in MINUTES)
        print(f"{method_cls.name:6s} | " + " | ".join(f"{ms[m]:10.1f} ms" for m in MINUTES) + f" | {per10}")


def face_frames(n: int, size: int = 128, seed: int = 0) -> np.ndarray:
    """(n, size, size, 3) uint8 crops: a noisy skin ellipse on a darker background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size - 0.5
    face = (xx / 0.35) ** 2 + (yy / 0.45) ** 2 < 1
    base = np.where(face[..., None], [185, 128, 100], [60, 70, 80]).astype(np.float32)
    frames = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(0, n, 64):
        block = base + rng.normal(0, 6, (min(64, n - i), size, size, 3)).astype(np.float32)
        frames[i : i + 64] = np.clip(block, 0, 255)
    return frames


def bench_extraction(n: int, repeats: int) -> None:
    """Print frames per second of trace extraction from 128 x 128 crops."""
    frames = face_frames(n)
    print(f"\ntrace extraction, {n} frames of 128x128 (chunk 256):")
    for skin in (True, False):
        ms = 1e3 * median_seconds(lambda s=skin: extract_traces(frames, skin_mask=s), max(3, repeats // 2))
        print(f"  skin_mask={str(skin):5s}: {ms:8.1f} ms  = {n / ms * 1e3:8.0f} frames/s")


def main() -> None:
    """Parse options, pin one thread, run both benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--extract-frames", type=int, default=1024)
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    print(f"{machine}, Python {platform.python_version()}, numpy {np.__version__}")
    cv2.setNumThreads(1)  # OpenCV (colour conversion in trace extraction) has its own pool
    with threadpool_limits(limits=1):
        bench_methods(args.repeats)
        bench_extraction(args.extract_frames, args.repeats)


if __name__ == "__main__":
    main()
