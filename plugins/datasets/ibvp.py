"""iBVP (Joshi and Cho, Electronics 2024): 33 subjects x 4 conditions of synchronised RGB and thermal video
with an ear PPG carrying per-sample signal-quality labels.

Layout: `<root>/p<NN>_<c>/` with `p<NN>_<c>_rgb/` (RGB frames, 640x480 BMP files, 30 fps),
`p<NN>_<c>_t/` (thermal frames, 640x512 raw 16-bit; not used here) and `p<NN>_<c>_bvp.csv` (a header
line, then one row per PPG sample: the PPG first, then signal-quality labels). Conditions
(`Record.scenario`): a rhythmic breathing and rest, b easy maths, c difficult maths, d guided head
movement. Each session lasts about 3 minutes; the PPG and the frames start and stop together.

Signal quality: `signal_quality(record)` gives the quality label of every PPG sample (column
`quality_column`, by default the one rPPG-Toolbox reads); with `min_quality` > 0 a record whose mean
quality falls below it fails with that reason instead of being scored on a bad reference.

Unsure (options): the CSV's column positions (`ppg_column`, `quality_column`), the PPG rate
(`ppg_rate`; 0, the default, spreads the PPG evenly over the video's duration, as rPPG-Toolbox
resamples it to the frame count), the frame file extension (`frame_glob`) and the frame rate (`fps`).
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

LAYOUT = "p<NN>_<c>/{p<NN>_<c>_rgb/*.bmp, p<NN>_<c>_t/*.raw, p<NN>_<c>_bvp.csv}"
CONDITIONS = {"a": "breathing_rest", "b": "easy_math", "c": "difficult_math", "d": "head_movement"}
SESSION = re.compile(r"(p\d+)_([a-z])", re.IGNORECASE)


class IBVP(DatasetLoader):
    """iBVP loader: one record per session's RGB frames; the reference is the ear PPG."""

    name = "ibvp"
    description = (
        "iBVP: 33 subjects x 4 conditions, 30-fps RGB (+ thermal) frames, ear PPG with quality labels"
    )
    params = (
        Param("frame_glob", "*.bmp", "RGB frame files in p<NN>_<c>_rgb/ (unsure)"),
        Param("fps", 30.0, "frame rate of the RGB frames (unsure)"),
        Param("ppg_column", 0, "0-based CSV column of the PPG (unsure)"),
        Param("quality_column", 3, "0-based CSV column of the signal-quality label (unsure)"),
        Param("ppg_rate", 0.0, "PPG sampling rate in Hz; 0 spreads it over the video (unsure)"),
        Param("min_quality", 0.0, "fail records whose mean quality label is below this; 0 keeps all"),
        Param("frame_range", (), "frames [start, stop) used from every video; empty uses all"),
    )

    def records(self) -> list[Record]:
        root = common.require_root(self.root, "iBVP", LAYOUT)
        sessions = sorted(
            (p for p in root.iterdir() if p.is_dir() and SESSION.fullmatch(p.name)),
            key=lambda p: common.natural_key(p.name),
        )
        if not sessions:
            raise DataError(f"{root}: not an iBVP root: no p<NN>_<c> session folders (expected {LAYOUT})")
        frame_range = common.frame_range_option(self.options["frame_range"])
        out = []
        for folder in sessions:
            match = SESSION.fullmatch(folder.name)
            subject, condition = match[1], match[2].lower()
            fields = {"scenario": CONDITIONS.get(condition, condition)}
            frames_dir = folder / f"{folder.name}_rgb"
            if not frames_dir.is_dir() or not any(frames_dir.glob(self.options["frame_glob"])):
                out.append(
                    common.problem_record(
                        "ibvp",
                        subject,
                        condition,
                        folder,
                        f"no video: no RGB frames in {frames_dir.name}/",
                        **fields,
                    )
                )
                continue
            csv = folder / f"{folder.name}_bvp.csv"
            out.append(
                Record(
                    "ibvp",
                    subject,
                    condition,
                    frames_dir,
                    fps=self.options["fps"],
                    files={"bvp": csv, "reference": csv},
                    frame_range=frame_range,
                    **fields,
                )
            )
        return out

    def open_frames(self, record: Record) -> FrameSource:
        common.raise_if_problem(record)
        frames = common.image_folder_frames(record.location, self.options["frame_glob"], self.options["fps"])
        common.check_frame_range(record, frames)
        return frames

    def _table(self, record: Record) -> tuple[Path, np.ndarray]:
        path = common.require_file(record.files["bvp"], "PPG file", record)
        columns = max(self.options["ppg_column"], self.options["quality_column"]) + 1
        return path, common.parse_row_table(path, common.read_text(path, "PPG file"), columns, "PPG file")

    def signal_quality(self, record: Record) -> np.ndarray:
        """The quality label of every PPG sample (the CSV's `quality_column`)."""
        common.raise_if_problem(record)
        path, table = self._table(record)
        quality = table[:, self.options["quality_column"]]
        common.check_finite(path, quality, "signal-quality labels")
        return quality

    def load_reference(self, record: Record) -> Reference:
        common.raise_if_problem(record)
        path, table = self._table(record)
        values = table[:, self.options["ppg_column"]]
        threshold = self.options["min_quality"]
        if threshold > 0:
            quality = float(np.nanmean(table[:, self.options["quality_column"]]))
            if quality < threshold:
                raise DataError(
                    f"{path}: mean signal quality {quality:.3g} is below min_quality = {threshold:g}"
                )
        if self.options["ppg_rate"]:
            return common.fixed_rate_reference(self, record, path, values, "PPG", self.options["ppg_rate"])
        return common.stretched_reference(self, record, path, values, "PPG")


@hookimpl
def register_datasets(register) -> None:
    """Register the iBVP loader."""
    register(IBVP)
