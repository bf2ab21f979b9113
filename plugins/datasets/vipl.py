"""VIPL-HR (Niu et al., ACCV 2018; RhythmNet, T-IP 2020): 107 subjects, 9 scenarios, 3 RGB cameras + NIR.

Layout: `<root>/data/p<subject>/v<scenario>/source<k>/` holding `video.avi`, `wave.csv` (finger-oximeter
BVP, header `Wave`), `gt_HR.csv` (header `HR`, about one value per second), `gt_SpO2.csv` and, for some
sources, `time.txt` (per-frame timestamps in milliseconds, used when present).

Sources: 1 = webcam (~25 fps), 2 and 3 = phones (~30 fps), 4 = near-infrared camera. RGB protocols use
sources 1-3 (the default); add 4 through the `sources` option. Scenarios `v1`..`v9` cover, per the
dataset's documentation, stationary, talking, large head movement, dark, bright, long distance, exercise
and phone-held recordings; the loader keeps the folder names as `Record.scenario` and does not assume
that every subject has every scenario.

Unsure (options): the `wave.csv` sampling rate (`wave_rate`, default 60 Hz) and the `gt_HR.csv`
rate (`hr_rate`, default 1 Hz).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from rppgbench_plugins.datasets import common

from rppgbench.data import Record, Reference
from rppgbench.dataset import DatasetLoader
from rppgbench.errors import DataError
from rppgbench.hookspecs import hookimpl
from rppgbench.params import Param
from rppgbench.video import FrameSource

LAYOUT = "data/p<subject>/v<scenario>/source<k>/video.avi"


class VIPLHR(DatasetLoader):
    """VIPL-HR loader: one record per (subject, scenario, source) video; the reference is `wave.csv`."""

    name = "vipl"
    description = "VIPL-HR: 107 subjects, 9 scenarios, 3 RGB cameras (+ NIR), finger BVP at ~60 Hz"
    params = (
        Param("sources", (1, 2, 3), "camera sources to list (1-3 RGB; 4 is the NIR camera)"),
        Param("scenarios", (), "scenario numbers to keep, e.g. [1, 2]; empty keeps all"),
        Param(
            "reference",
            "wave",
            "reference to load: the BVP wave or the dataset's HR series",
            ("wave", "gt_hr"),
        ),
        Param("wave_rate", 60.0, "sampling rate of wave.csv in Hz (unsure; about 60 Hz)"),
        Param("hr_rate", 1.0, "sampling rate of gt_HR.csv in Hz (unsure; about one value per second)"),
        Param("use_time_txt", True, "use time.txt frame timestamps where a source has them"),
        Param("frame_range", (), "frames [start, stop) used from every video; empty uses all"),
    )

    def records(self) -> list[Record]:
        root = common.require_root(self.root, "VIPL-HR", LAYOUT)
        data = root / "data"
        if not data.is_dir():
            raise DataError(f"{root}: not a VIPL-HR root: no data/ folder (expected {LAYOUT})")
        subjects = sorted(
            (p for p in data.iterdir() if p.is_dir() and re.fullmatch(r"p\d+", p.name)), key=_key
        )
        if not subjects:
            raise DataError(f"{data}: no subject folders p<N> (expected {LAYOUT})")
        wanted_sources = [int(s) for s in self.options["sources"]]
        wanted_scenarios = {f"v{int(s)}" for s in self.options["scenarios"]}
        frame_range = common.frame_range_option(self.options["frame_range"])
        out: list[Record] = []
        for subject_dir in subjects:
            subject = subject_dir.name
            scenarios = sorted(
                (p for p in subject_dir.iterdir() if p.is_dir() and re.fullmatch(r"v\d+", p.name)), key=_key
            )
            scenarios = [s for s in scenarios if not wanted_scenarios or s.name in wanted_scenarios]
            found = []
            for scenario_dir in scenarios:
                for k in wanted_sources:
                    folder = scenario_dir / f"source{k}"
                    if folder.is_dir():
                        found.append(self._record(subject, scenario_dir.name, k, folder, frame_range))
            if not found and not wanted_scenarios:
                found.append(
                    common.problem_record(
                        "vipl", subject, "none", subject_dir, f"no video: no {LAYOUT} folders"
                    )
                )
            out += found
        return out

    def _record(self, subject: str, scenario: str, source: int, folder: Path, frame_range: tuple) -> Record:
        fields = {"scenario": scenario, "source": f"source{source}"}
        video = folder / "video.avi"
        if not video.is_file():
            return common.problem_record(
                "vipl", subject, scenario, folder, "no video.avi in this source folder", **fields
            )
        files = {name: folder / f"{stem}" for name, stem in FILES.items() if (folder / stem).is_file()}
        files.setdefault("wave", folder / "wave.csv")  # a missing file fails when the reference is loaded
        files.setdefault("hr", folder / "gt_HR.csv")
        files["reference"] = files["wave" if self.options["reference"] == "wave" else "hr"]
        return Record(
            "vipl",
            subject,
            scenario,
            video,
            files=files,
            frame_range=frame_range,
            meta={"nir": source == 4},
            **fields,
        )

    def open_frames(self, record: Record) -> FrameSource:
        common.raise_if_problem(record)
        return common.open_video(record, timestamps=self._time_txt(record))

    def frame_timestamps(self, record: Record, n_frames: int, fps: float) -> np.ndarray:
        times = self._time_txt(record)
        if times is None:
            return super().frame_timestamps(record, n_frames, fps)
        if len(times) < n_frames:
            raise DataError(
                f"{record.files['time']}: {len(times)} timestamps for a video of {n_frames} frames"
            )
        return times[:n_frames]

    def _time_txt(self, record: Record) -> np.ndarray | None:
        path = record.files.get("time")
        if path is None or not self.options["use_time_txt"]:
            return None
        stamps = common.parse_numbers(path, common.read_text(path, "time.txt").splitlines(), "time.txt")
        common.check_finite(path, stamps, "time.txt")
        common.check_increasing(path, stamps, "time.txt")
        return (stamps - stamps[0]) / 1000.0

    def load_reference(self, record: Record) -> Reference:
        common.raise_if_problem(record)
        if self.options["reference"] == "gt_hr":
            path, header, kind, rate, option = (
                record.files["hr"],
                "HR",
                "hr",
                self.options["hr_rate"],
                "hr_rate",
            )
        else:
            path, header, kind, rate, option = (
                record.files["wave"],
                "Wave",
                "ppg",
                self.options["wave_rate"],
                "wave_rate",
            )
        common.require_file(path, path.name, record)
        values = common.read_csv_column(path, header, path.name)
        common.check_finite(path, values, path.name)
        span = common.video_span(self, record)
        if kind == "ppg":
            common.check_fixed_rate_length(path, values.size, rate, span, path.name, option)
        times = np.arange(values.size) / rate
        return common.validated_reference(
            path, kind, values, times, loader=self, record=record, what=path.name
        )


FILES = {"wave": "wave.csv", "hr": "gt_HR.csv", "spo2": "gt_SpO2.csv", "time": "time.txt"}


def _key(path: Path) -> list[object]:
    return common.natural_key(path.name)


@hookimpl
def register_datasets(register) -> None:
    """Register the VIPL-HR loader."""
    register(VIPLHR)
