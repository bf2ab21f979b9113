"""UBFC-Phys (Meziati Sabour et al., IEEE T-AFFC 2021): 56 subjects x 3 tasks of a social-stress protocol.

Layout: `<root>/s<N>/vid_s<N>_T<k>.avi` (colour video, 35 fps) with `bvp_s<N>_T<k>.csv` (the wristband's
blood-volume pulse, one value per line, no header, 64 Hz) and `eda_s<N>_T<k>.csv` (4 Hz) beside it.
Tasks (`Record.scenario`): T1 rest, T2 speech, T3 arithmetic. The BVP and the video start together.

Unsure (options): the BVP rate (`bvp_rate`, 64 Hz) and the file name patterns (`video_name`,
`bvp_name`, with `{subject}` and `{task}` placeholders).
"""

from __future__ import annotations

import re
from pathlib import Path

from rppgbench_plugins.datasets import common

from rppgbench.data import Record, Reference
from rppgbench.dataset import DatasetLoader
from rppgbench.errors import DataError
from rppgbench.hookspecs import hookimpl
from rppgbench.params import Param
from rppgbench.video import FrameSource

LAYOUT = "s<N>/{vid_s<N>_T<k>.avi, bvp_s<N>_T<k>.csv}"
TASKS = {"T1": "rest", "T2": "speech", "T3": "arithmetic"}


class UBFCPhys(DatasetLoader):
    """UBFC-Phys loader: one record per (subject, task) video; the reference is the 64-Hz BVP."""

    name = "ubfcphys"
    description = "UBFC-Phys: 56 subjects x 3 stress-protocol tasks, 35-fps video, 64-Hz wristband BVP"
    params = (
        Param("tasks", ("T1", "T2", "T3"), "tasks to list"),
        Param("video_name", "vid_{subject}_{task}.avi", "video file name in a subject folder (unsure)"),
        Param("bvp_name", "bvp_{subject}_{task}.csv", "BVP file name in a subject folder (unsure)"),
        Param("bvp_rate", 64.0, "BVP sampling rate in Hz (unsure)"),
        Param("fps", 0.0, "frame rate; 0 reads it from the video header"),
        Param("frame_range", (), "frames [start, stop) used from every video; empty uses all"),
    )

    def records(self) -> list[Record]:
        root = common.require_root(self.root, "UBFC-Phys", LAYOUT)
        subjects = sorted(
            (p for p in root.iterdir() if p.is_dir() and re.fullmatch(r"s\d+", p.name)),
            key=lambda p: common.natural_key(p.name),
        )
        if not subjects:
            raise DataError(f"{root}: not a UBFC-Phys root: no s<N> subject folders (expected {LAYOUT})")
        frame_range = common.frame_range_option(self.options["frame_range"])
        out = []
        for folder in subjects:
            found = []
            for task in self.options["tasks"]:
                found.append(self._record(folder, str(task), frame_range))
            present = [r for r in found if r is not None]
            any_video = self.options["video_name"].format(subject=folder.name, task="*")
            if not present and not any(folder.glob(any_video)):
                out.append(
                    common.problem_record(
                        "ubfcphys", folder.name, "none", folder, f"no video: no {any_video} files"
                    )
                )
            out += present
        return out

    def _record(self, folder: Path, task: str, frame_range: tuple) -> Record | None:
        names = {"subject": folder.name, "task": task}
        video = folder / self.options["video_name"].format(**names)
        bvp = folder / self.options["bvp_name"].format(**names)
        fields = {"scenario": TASKS.get(task, task)}
        if not video.is_file():
            if bvp.is_file():
                return common.problem_record(
                    "ubfcphys",
                    folder.name,
                    task,
                    folder,
                    f"no video {video.name} beside {bvp.name}",
                    **fields,
                )
            return None  # this subject has no such task
        return Record(
            "ubfcphys",
            folder.name,
            task,
            video,
            fps=self.options["fps"] or None,
            files={"bvp": bvp, "reference": bvp},
            frame_range=frame_range,
            **fields,
        )

    def open_frames(self, record: Record) -> FrameSource:
        return common.open_video(record)

    def load_reference(self, record: Record) -> Reference:
        common.raise_if_problem(record)
        path = common.require_file(record.files["bvp"], "BVP file", record)
        lines = common.read_text(path, "BVP file").splitlines()
        values = common.parse_numbers(path, [line.split(",")[0] for line in lines], "BVP file")
        return common.fixed_rate_reference(
            self, record, path, values, "BVP", self.options["bvp_rate"], "bvp_rate"
        )


@hookimpl
def register_datasets(register) -> None:
    """Register the UBFC-Phys loader."""
    register(UBFCPhys)
