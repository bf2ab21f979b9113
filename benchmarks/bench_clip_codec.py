"""The clip cache's codecs on the embedded synthetic benchmark: size, write and read speed per codec.

Prepares the clips of the first N subjects of `synth-5fold` (every scenario; the protocol's own
preprocessing: the dataset's face box, 128-px crops) once per codec into a temporary cache, then
reports per codec the cache size (and the size of all 80 clips of the benchmark at the same ratio),
the time to prepare (rendering included, the same for every codec), whole-clip reads in frames/s
(how runs and training read a clip) and random 128-frame window reads per second (how training
without the host cache reads). One process, so the figures are per core.

    python benchmarks/bench_clip_codec.py [--subjects 2] [--out benchmarks/results/clip-codec-cpu.txt]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from timing import emit_report

from rppgbench.plugins import registry
from rppgbench.preprocess import PreprocessConfig, load_clip, prepare
from rppgbench.preprocess.cache import COMPRESSIONS
from rppgbench.protocol import load_protocol

PROTOCOL = "synth-5fold"
BENCHMARK_VIDEOS = 80


def measure(loader, records, config, cache: Path, codec: str) -> dict[str, float]:
    """Prepare `records` with `codec` into `cache`; size, prepare time and read speeds."""
    start = time.perf_counter()
    results = prepare(loader, records, config, cache, workers=1, progress=False, compression=codec)
    prepare_s = time.perf_counter() - start
    paths = [results[r.id].path for r in records]
    size = sum(p.stat().st_size for p in paths)
    frames, start = 0, time.perf_counter()
    for path in paths:
        frames += len(load_clip(path).frames[:])
    whole = frames / (time.perf_counter() - start)
    rng = np.random.default_rng(0)
    lazies = [load_clip(p).frames for p in paths]
    picks = [(lazies[i], int(rng.integers(0, len(lazies[i]) - 128))) for i in rng.integers(0, len(paths), 40)]
    start = time.perf_counter()
    for lazy, s in picks:
        lazy[s : s + 128]
    windows = len(picks) / (time.perf_counter() - start)
    return {"mb": size / 1e6, "prepare_s": prepare_s, "frames": frames, "whole": whole, "windows": windows}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subjects", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write the report here")
    args = parser.parse_args()
    protocol = load_protocol(PROTOCOL)
    spec = protocol.datasets["data"]
    config = PreprocessConfig.from_dict(protocol.preprocess)
    lines = [
        f"{PROTOCOL}: clips of {args.subjects} subjects x every scenario, {config.size}-px crops; one process"
    ]
    with tempfile.TemporaryDirectory() as tmp:
        loader = registry().dataset(spec.name)(None, **spec.options)  # the embedded dataset (generated once)
        subjects = sorted({r.subject for r in loader.records()})[: args.subjects]
        records = [r for r in loader.records() if r.subject in subjects]
        lines.append(f"{'codec':12s}{'clips':>6s}{'MB':>8s}{'ratio':>7s}{'80 clips':>10s}"
                     f"{'prepare':>10s}{'whole-clip read':>18s}{'128-frame windows':>20s}")  # fmt: skip
        rows = {codec: measure(loader, records, config, Path(tmp) / codec, codec) for codec in COMPRESSIONS}
        raw = rows["none"]["mb"]
        for codec, row in rows.items():
            lines.append(
                f"{codec:12s}{len(records):6d}{row['mb']:8.1f}{raw / row['mb']:6.2f}x"
                f"{row['mb'] * BENCHMARK_VIDEOS / len(records):7.0f} MB{row['prepare_s']:8.1f} s"
                f"{row['whole']:9.0f} frames/s{row['windows']:11.1f} per s"
            )
    emit_report(lines, args.out)


if __name__ == "__main__":
    main()
