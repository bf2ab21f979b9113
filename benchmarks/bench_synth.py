"""Speed and memory of the synthetic generator.

Prints rendering + encoding frames per second at 128x128 and 640x480 (one process), and the peak
memory of writing a short and a long clip, each in a fresh process (flat memory = streaming works).

    python benchmarks/bench_synth.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rppgbench_plugins.datasets.synthetic.presets import PRESETS


def _spec(width: int, height: int, seconds: float, scenario: str = "talking"):
    from dataclasses import replace

    from rppgbench_plugins.datasets.synthetic.writer import clip_spec

    preset = replace(PRESETS["synth-mini"], width=width, height=height, duration_s=seconds)
    return clip_spec(preset, 0, 1, scenario)


def fps(width: int, height: int, seconds: float = 10.0) -> tuple[float, float]:
    """(render-only fps, render + lossless-encode fps) for one clip in this process."""
    import cv2
    from rppgbench_plugins.datasets.synthetic.render import render_clip
    from rppgbench_plugins.datasets.synthetic.writer import write_clip

    cv2.setNumThreads(1)
    spec = _spec(width, height, seconds)
    start = time.perf_counter()
    n = sum(1 for _ in render_clip(spec).frames())
    render = n / (time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_clip(spec, Path(tmp) / "clip")
        written = n / (time.perf_counter() - start)
    return render, written


def peak_memory_child(seconds: float) -> None:
    """(child process) write one 320x240 clip of `seconds` and print the peak RSS in MiB."""
    import resource

    from rppgbench_plugins.datasets.synthetic.writer import write_clip

    with tempfile.TemporaryDirectory() as tmp:
        write_clip(_spec(320, 240, seconds), Path(tmp) / "clip")
    print(json.dumps({"peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def peak_memory(seconds: float) -> float:
    """Peak resident memory (MiB) of a fresh process that writes one clip of `seconds`."""
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(seconds)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def main() -> None:
    for width, height in ((128, 128), (640, 480)):
        render, written = fps(width, height)
        print(
            f"{width}x{height}: render {render:7.1f} frames/s, render + encode {written:7.1f} frames/s (1 process)"
        )
    short, long = peak_memory(10.0), peak_memory(120.0)
    print(f"peak memory, 320x240 clip: 10 s {short:.0f} MiB, 120 s {long:.0f} MiB")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--memory-child":
        peak_memory_child(float(sys.argv[2]))
    else:
        main()
