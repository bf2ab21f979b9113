"""COHFACE (Heusch et al., 2017): 40 subjects x 4 sessions of heavily compressed 640x480 video at 20 fps.

Layout: `<root>/<subject>/<session>/data.avi` and `data.hdf5` with datasets `pulse` (BVP),
`respiration` and `time` (seconds), sampled at 256 Hz. The reference's time origin is its first
`time` value, taken as the video's first frame.

Sessions 0 and 1 are lit by studio light ("clean"), 2 and 3 by natural light ("natural"), as the
dataset's own protocols (bob.db.cohface) group them; the `sessions` option keeps some of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rppgbench_plugins.datasets import common

from rppgbench.data import Record, Reference
from rppgbench.dataset import DatasetLoader
from rppgbench.errors import DataError
from rppgbench.hookspecs import hookimpl
from rppgbench.params import Param
from rppgbench.video import FrameSource

LAYOUT = "<subject>/<session>/{data.avi, data.hdf5}"


class COHFACE(DatasetLoader):
    """COHFACE loader: one record per (subject, session); the reference is the `pulse` BVP."""

    name = "cohface"
    description = "COHFACE: 40 subjects x 4 sessions, compressed 20-fps video, 256-Hz BVP in HDF5"
    params = (
        Param("sessions", (), "session folders to keep, e.g. [0, 1] (studio light); empty keeps all"),
        Param("rate", 256.0, "expected sampling rate of the HDF5 signals in Hz (20 % tolerance)"),
        Param("fps", 0.0, "frame rate; 0 reads it from the video header"),
        Param("frame_range", (), "frames [start, stop) used from every video; empty uses all"),
    )

    def records(self) -> list[Record]:
        root = common.require_root(self.root, "COHFACE", LAYOUT)
        subjects = sorted(
            (p for p in root.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)
        )
        if not subjects:
            raise DataError(f"{root}: not a COHFACE root: no numbered subject folders (expected {LAYOUT})")
        frame_range = common.frame_range_option(self.options["frame_range"])
        wanted = {str(s) for s in self.options["sessions"]}
        out = []
        for subject_dir in subjects:
            every = sorted(
                (p for p in subject_dir.iterdir() if p.is_dir()), key=lambda p: common.natural_key(p.name)
            )
            sessions = [p for p in every if not wanted or p.name in wanted]
            if not every:
                out.append(
                    common.problem_record(
                        "cohface", subject_dir.name, "none", subject_dir, "no session folders"
                    )
                )
            for folder in sessions:
                out.append(self._record(subject_dir.name, folder, frame_range))
        return out

    def _record(self, subject: str, folder: Path, frame_range: tuple) -> Record:
        if not (folder / "data.avi").is_file():
            return common.problem_record(
                "cohface", subject, folder.name, folder, "no data.avi in this session folder"
            )
        return Record(
            "cohface",
            subject,
            folder.name,
            folder / "data.avi",
            fps=self.options["fps"] or None,
            files={"hdf5": folder / "data.hdf5", "reference": folder / "data.hdf5"},
            frame_range=frame_range,
        )

    def open_frames(self, record: Record) -> FrameSource:
        return common.open_video(record)

    def load_reference(self, record: Record) -> Reference:
        common.raise_if_problem(record)
        path = common.require_file(record.files["hdf5"], "data.hdf5", record)
        try:
            import h5py  # imported when a COHFACE file is read

            with h5py.File(path, "r") as f:
                missing = [name for name in ("pulse", "time") if name not in f]
                if missing:
                    raise DataError(
                        f"{path}: no dataset {', '.join(missing)}; found {', '.join(f.keys()) or 'none'}"
                    )
                pulse = np.asarray(f["pulse"][()], dtype=np.float64).ravel()
                times = np.asarray(f["time"][()], dtype=np.float64).ravel()
        except OSError as exc:
            raise DataError(f"{path}: cannot read this HDF5 file ({exc})") from exc
        if pulse.size != times.size:
            raise DataError(f"{path}: pulse has {pulse.size} samples but time has {times.size}")
        common.check_finite(path, times, "time")
        return common.validated_reference(
            path,
            "ppg",
            pulse,
            times - times[0] if times.size else times,
            loader=self,
            record=record,
            what="pulse",
            expected_rate=self.options["rate"],
            rate_option="rate",
        )


@hookimpl
def register_datasets(register) -> None:
    """Register the COHFACE loader."""
    register(COHFACE)
