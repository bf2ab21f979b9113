"""PURE (Stricker et al., 2014): 10 subjects x 6 head-motion tasks, lossless 640x480 frames at ~30 fps.

Layout: `<root>/<ss>-<tt>/<ss>-<tt>/Image<timestamp ns>.png` and `<root>/<ss>-<tt>/<ss>-<tt>.json` with
`/FullPackage` (pulse oximeter samples at ~60 Hz: `Timestamp` in ns and `Value` with `waveform`,
`pulseRate`, `o2saturation`, `signalStrength`) and `/Image` (frame timestamps).

Frames are ordered by the timestamps in their file names, and the reference is placed on the same
clock (time zero = the first frame), so video and PPG are aligned by timestamps, not by counting.
Tasks (`Record.scenario`): 01 steady, 02 talking, 03 slow translation, 04 fast translation,
05 small rotation, 06 medium rotation.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
from rppgbench_plugins.datasets import common

from rppgbench.data import Record, Reference
from rppgbench.dataset import DatasetLoader
from rppgbench.errors import DataError
from rppgbench.hookspecs import hookimpl
from rppgbench.params import Param
from rppgbench.video import FrameSource, ImageSequence

LAYOUT = "<ss>-<tt>/<ss>-<tt>/Image<ns>.png + <ss>-<tt>/<ss>-<tt>.json"
TASKS = {
    "01": "steady",
    "02": "talking",
    "03": "slow_translation",
    "04": "fast_translation",
    "05": "small_rotation",
    "06": "medium_rotation",
}
IMAGE_NAME = re.compile(r"Image(\d+)\.png")


class PURE(DatasetLoader):
    """PURE loader: one record per `<ss>-<tt>` sequence; frames and PPG aligned by their timestamps."""

    name = "pure"
    description = "PURE: 10 subjects x 6 motion tasks, lossless 30-fps frames, 60-Hz finger PPG"
    params = (
        Param(
            "reference", "ppg", "reference to load: the waveform or the oximeter's pulseRate", ("ppg", "hr")
        ),
        Param("wave_rate", 60.0, "expected oximeter sampling rate in Hz (20 % tolerance)"),
        Param("frame_range", (), "frames [start, stop) used from every video; empty uses all"),
    )

    def records(self) -> list[Record]:
        root = common.require_root(self.root, "PURE", LAYOUT)
        folders = sorted(p for p in root.iterdir() if p.is_dir() and re.fullmatch(r"\d+-\d+", p.name))
        if not folders:
            raise DataError(f"{root}: not a PURE root: no <ss>-<tt> folders (expected {LAYOUT})")
        frame_range = common.frame_range_option(self.options["frame_range"])
        out = []
        for folder in folders:
            subject, task = folder.name.split("-")
            fields = {"scenario": TASKS.get(task, task)}
            frames_dir = folder / folder.name
            if not frames_dir.is_dir() or not any(frames_dir.glob("Image*.png")):
                out.append(
                    common.problem_record(
                        "pure", subject, task, frames_dir, "no Image<ns>.png frames", **fields
                    )
                )
                continue
            out.append(
                Record(
                    "pure",
                    subject,
                    task,
                    frames_dir,
                    files={
                        "json": folder / f"{folder.name}.json",
                        "reference": folder / f"{folder.name}.json",
                    },
                    frame_range=frame_range,
                    **fields,
                )
            )
        return out

    def open_frames(self, record: Record) -> FrameSource:
        common.raise_if_problem(record)
        paths, stamps = _frames(record.location)
        times = (stamps - stamps[0]) / 1e9
        frames = ImageSequence(
            paths, fps=float(1.0 / np.median(np.diff(times))) if len(times) > 1 else 30.0, timestamps=times
        )
        common.check_frame_range(record, frames)
        return frames

    def frame_timestamps(self, record: Record, n_frames: int, fps: float) -> np.ndarray:
        _, stamps = _frames(record.location)
        if len(stamps) < n_frames:
            raise DataError(f"{record.location}: {len(stamps)} frame timestamps for {n_frames} frames")
        return (stamps[:n_frames] - stamps[0]) / 1e9

    def load_reference(self, record: Record) -> Reference:
        common.raise_if_problem(record)
        path = common.require_file(record.files["json"], "JSON file", record)
        try:
            document = json.loads(common.read_text(path, "JSON file"))
            package = document["/FullPackage"]
            stamps = np.array([entry["Timestamp"] for entry in package], dtype=np.int64)
            field = "waveform" if self.options["reference"] == "ppg" else "pulseRate"
            values = np.array([entry["Value"][field] for entry in package], dtype=np.float64)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}: not valid JSON ({exc})") from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"{path}: no /FullPackage entries with Timestamp and Value.{exc} (malformed PURE JSON)"
            ) from exc
        if stamps.size < 2:
            raise DataError(f"{path}: /FullPackage has {stamps.size} samples")
        _, frame_stamps = _frames(record.location)
        times = (stamps - frame_stamps[0]) / 1e9
        kind = "ppg" if self.options["reference"] == "ppg" else "hr"
        return common.validated_reference(
            path,
            kind,
            values,
            times,
            loader=self,
            record=record,
            what=f"/FullPackage {field}",
            expected_rate=self.options["wave_rate"],
            rate_option="wave_rate",
        )


@lru_cache(maxsize=64)
def _frames(folder: Path) -> tuple[list[Path], np.ndarray]:
    """Frame files of a sequence sorted by the nanosecond timestamps in their names."""
    entries = []
    for path in folder.glob("Image*.png"):
        match = IMAGE_NAME.fullmatch(path.name)
        if not match:
            raise DataError(f"{path}: frame name is not Image<timestamp ns>.png")
        entries.append((int(match[1]), path))
    if not entries:
        raise DataError(f"{folder}: no Image<ns>.png frames")
    entries.sort()
    return [p for _, p in entries], np.array([s for s, _ in entries], dtype=np.int64)


@hookimpl
def register_datasets(register) -> None:
    """Register the PURE loader."""
    register(PURE)
