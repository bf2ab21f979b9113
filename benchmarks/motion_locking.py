"""Why methods fail on head motion: do their signals follow the head instead of the pulse?

python benchmarks/motion_locking.py leaderboards/results/synth-5fold/*

For every test window of the `motion` scenario in the given synth-5fold runs, the script takes the
method's stored signal (`signals.npz`, what `rescore` reads) and the synthetic dataset's true face box
of every frame in that window (the head's motion, known exactly here), band-passes both to the HR band
(40-180 bpm) and reports, per method:

- `|r| motion`: the median over windows of the largest absolute correlation of the signal with the
  box's horizontal position, vertical position and size (how much of the signal is head motion);
- `|r| pulse`: the median absolute correlation of the signal with the reference PPG;
- `failed`: windows whose stored HR (`windows.parquet`) is off the reference HR by more than 5 bpm;
- `locked`: of the windows whose HR error exceeds 5 bpm, the share whose predicted HR lies within
  3 bpm of the spectral peak of one of the three motion traces (the method read the head's rhythm).

The reference PPG's line is the floor: the pulse and the head motion are drawn independently, so any
correlation above its `|r| motion` is motion in the signal, and its `locked` is how often the true HR
lies within 3 bpm of a motion peak by chance.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rppgbench.plugins import registry
from rppgbench.signal.hr import HRConfig, bandpass, estimate_hr
from rppgbench.store import RunStore

BAND_BPM = (40.0, 180.0)
LOCK_BPM = 3.0
FAILED_BPM = 5.0


@dataclass
class MethodTally:
    """Per-window figures of one method on the motion scenario."""

    motion_r: list[float] = field(default_factory=list)
    pulse_r: list[float] = field(default_factory=list)
    failed: int = 0
    locked: int = 0


def _abs_corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return abs(float((a * b).sum()) / denominator) if denominator > 0 else 0.0


def _motion_traces(boxes: np.ndarray) -> np.ndarray:
    """(3, T) horizontal centre, vertical centre and width of the true face box."""
    x, y, w, h = boxes.T.astype(np.float64)
    return np.stack([x + w / 2, y + h / 2, w])


def _on_grid(times: np.ndarray, frame_times: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.stack([np.interp(times, frame_times, v) for v in np.atleast_2d(values)])


def main(argv: list[str] | None = None) -> None:
    """Print one line per run: motion and pulse correlation of its signals, share of motion-locked failures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    args = p.parse_args(argv)
    loader = registry().dataset("synthetic")(None, preset="synth-default", seed=0)
    records = {record.id: record for record in loader.records() if record.scenario == "motion"}
    motion: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    hr_config = HRConfig.from_dict({})
    floor: list[float] = []
    coincide: list[bool] = []
    print(f"{'run':14s} {'windows':>7s} {'|r| motion':>10s} {'|r| pulse':>9s} {'failed':>6s} {'locked':>6s}")
    for run in args.runs:
        tally = MethodTally()
        for fold in RunStore(run).fold_stores():
            windows = pd.read_parquet(fold.find_windows()).set_index(["video_id", "window"])
            for video in fold.read_signals():
                record = records.get(video.video_id)
                if record is None or video.reference is None:
                    continue
                if video.video_id not in motion:
                    frame_times = loader.frame_timestamps(record, None, video.fps)
                    motion[video.video_id] = (frame_times, _motion_traces(loader.face_boxes(record)))
                frame_times, traces = motion[video.video_id]
                for w, (signal, times) in enumerate(zip(video.signals, video.times, strict=True)):
                    fs = (len(times) - 1) / (times[-1] - times[0])
                    head = [bandpass(t, fs, BAND_BPM) for t in _on_grid(times, frame_times, traces)]
                    ref_times = np.asarray(video.reference.times)
                    pulse = bandpass(_on_grid(times, ref_times, video.reference.values)[0], fs, BAND_BPM)
                    own = bandpass(np.asarray(signal, dtype=np.float64), fs, BAND_BPM)
                    tally.motion_r.append(max(_abs_corr(own, t) for t in head))
                    tally.pulse_r.append(_abs_corr(own, pulse))
                    predicted, true = windows.loc[(video.video_id, w), ["hr_pred", "hr_ref"]]
                    head_hr = [estimate_hr(t, fs, hr_config) for t in head]
                    if run == args.runs[0]:
                        floor.append(max(_abs_corr(pulse, t) for t in head))
                        coincide.append(any(abs(true - h) <= LOCK_BPM for h in head_hr))
                    if abs(predicted - true) > FAILED_BPM:
                        tally.failed += 1
                        tally.locked += any(abs(predicted - h) <= LOCK_BPM for h in head_hr)
        n = len(tally.motion_r)
        share = f"{tally.locked / tally.failed:6.0%}" if tally.failed else f"{'-':>6s}"
        print(f"{run.name:14s} {n:7d} {np.median(tally.motion_r):10.2f} {np.median(tally.pulse_r):9.2f} "
              f"{tally.failed:6d} {share}")  # fmt: skip
    chance = f"{np.mean(coincide):6.0%}"
    print(f"{'reference PPG':14s} {len(floor):7d} {np.median(floor):10.2f} {1.0:9.2f} {0:6d} {chance}")


if __name__ == "__main__":
    main()
