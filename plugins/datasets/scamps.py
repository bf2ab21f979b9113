"""SCAMPS (McDuff et al., NeurIPS 2022 Datasets): 2,800 synthetic avatar videos with aligned waveforms.

Layout (the released `scamps_videos.tar.gz`): `<root>/P<NNNNNN>.mat`, one MATLAB v7.3 (HDF5) file per
video holding `RawFrames` (the 320x240 rendering), `Xsub` (a 240x240 centre crop of the face), both
RGB stored as h5py sees them `[c, w, h, t]` (MATLAB `[t, h, w, c]`), and per-frame signals `d_ppg`
(pulse), `d_br` (breathing), head pose and action units. 600 frames at 30 fps (20 s) per video.
Files saved in older MATLAB formats are read with scipy.io.

Every video renders its own avatar, so each file is its own subject (`Record.subject` = file stem);
the dataset's own train/validation/test split (a CSV) can be given to a protocol as a split file.

Unsure (options): which frames to use (`frames`, default `RawFrames`; `Xsub` is the face crop used
by rPPG-Toolbox), the frames' axis order (`frame_axes`, MATLAB `thwc`), their value range
(`float_max`, 1.0: floating-point pixels in [0, 1]), the frame rate (`fps`, 30) and the PPG's rate
(`ppg_rate`, 0 = one sample per frame).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rppgbench_plugins.datasets import common, matfile

from rppgbench.data import Record, Reference
from rppgbench.dataset import DatasetLoader
from rppgbench.errors import DataError
from rppgbench.hookspecs import hookimpl
from rppgbench.params import Param
from rppgbench.video import FrameSource

LAYOUT = "P<NNNNNN>.mat (MATLAB v7.3) with RawFrames/Xsub and d_ppg"


class SCAMPS(DatasetLoader):
    """SCAMPS loader: one record per .mat file; frames and the `d_ppg` pulse come from the same file."""

    name = "scamps"
    description = "SCAMPS: 2,800 synthetic 20-s videos (30 fps), per-frame PPG and breathing in .mat files"
    params = (
        Param(
            "frames",
            "RawFrames",
            "video variable: the full rendering or the face crop",
            ("RawFrames", "Xsub"),
        ),
        Param("ppg", "d_ppg", "pulse waveform variable"),
        Param("breathing", "d_br", "breathing waveform variable (the respiration reference of vitals)"),
        Param("pattern", "P*.mat", "glob of the video files, searched below the root"),
        Param("fps", 30.0, "frame rate of the rendered videos (unsure)"),
        Param("ppg_rate", 0.0, "PPG sampling rate in Hz; 0 = one sample per frame (unsure)"),
        Param("frame_axes", "thwc", "MATLAB axis order of the frame arrays (unsure)", matfile.FRAME_AXES),
        Param("float_max", 1.0, "value of full brightness for floating-point frames (unsure)"),
        Param("frame_range", (), "frames [start, stop) used from every video; empty uses all"),
    )

    def records(self) -> list[Record]:
        root = common.require_root(self.root, "SCAMPS", LAYOUT)
        files = sorted(
            (p for p in root.rglob(self.options["pattern"]) if p.is_file()),
            key=lambda p: common.natural_key(p.name),
        )
        if not files:
            raise DataError(
                f"{root}: not a SCAMPS root: no {self.options['pattern']} files (expected {LAYOUT})"
            )
        frame_range = common.frame_range_option(self.options["frame_range"])
        out = []
        for path in files:
            problem = self._problem(path)
            if problem:
                out.append(common.problem_record("scamps", path.stem, "1", path, problem))
                continue
            out.append(
                Record(
                    "scamps",
                    path.stem,
                    "1",
                    path,
                    fps=self.options["fps"],
                    files={"mat": path, "reference": path},
                    frame_range=frame_range,
                )
            )
        return out

    def _problem(self, path: Path) -> str | None:
        """Why a file cannot be a record (no video variable), from its header; None if it can."""
        try:
            names = matfile.variable_names(path)
        except DataError:
            return None  # a damaged file is reported, naming it, when the record is opened
        if self.options["frames"] not in names:
            return f"no video: variable {self.options['frames']} not in this file"
        return None

    def open_frames(self, record: Record) -> FrameSource:
        return matfile.open_video(self, record, self.options["frames"])

    def load_reference(self, record: Record) -> Reference:
        common.raise_if_problem(record)
        path = record.location
        name = self.options["ppg"]
        values = np.ravel(np.asarray(matfile.read_variables(path, [name], "PPG")[name], dtype=np.float64))
        return common.fixed_rate_reference(self, record, path, values, name, self.options["ppg_rate"])

    def vitals_reference(self, record: Record):  # noqa: ANN201 - a rppgbench.vitals.VitalsReference
        """Beats from the pulse waveform's systolic peaks and the breathing waveform `d_br` (same rate)."""
        from dataclasses import replace

        from rppgbench.vitals import beats_from_reference

        path, name = record.location, self.options["breathing"]
        values = np.ravel(np.asarray(matfile.read_variables(path, [name], "breathing")[name], np.float64))
        breathing = common.fixed_rate_reference(self, record, path, values, name, self.options["ppg_rate"])
        respiration = replace(breathing, kind="resp")
        return replace(beats_from_reference(self.load_reference(record)), respiration=respiration)


@hookimpl
def register_datasets(register) -> None:
    """Register the SCAMPS loader."""
    register(SCAMPS)
