"""MMPD (Tang et al., EMBC 2023): 33 subjects, 660 one-minute phone videos across skin tones,
lighting, motion and exercise.

Layout (the distributed `mat_dataset`): `<root>/subject<N>/p<N>_<k>.mat`, one MATLAB file per video
holding `video` (frames, MATLAB `[t, h, w, c]`, floating point in [0, 1]; 320x240 in mini-MMPD),
`GT_ppg` (the finger-oximeter PPG) and the recording's labels: `light` (LED-low, LED-high,
Incandescent, Nature), `motion` (Stationary, Stationary (after exercise), Rotation, Talking, Walking),
`exercise` and `skin_color` (Fitzpatrick type 3-6), plus `gender`, `glasser`, `hair_cover`, `makeup`.

The labels named by the `scenario_labels` option become `Record.scenario` (e.g.
`light=Nature;motion=Talking`), so results break down per condition; every label is kept in
`Record.meta["labels"]`. Reading labels at listing time opens each file's header and small variables.

Unsure (options): the frame rate (`fps`, 30), the PPG's rate (`ppg_rate`, 30 Hz; 0 = stretch the PPG
over the video as rPPG-Toolbox does), the frames' axis order and value range (`frame_axes`,
`float_max`), and the label variable names (`labels`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from rppgbench_plugins.datasets import common, matfile

from rppgbench.data import Record, Reference
from rppgbench.dataset import DatasetLoader
from rppgbench.errors import ConfigError, DataError
from rppgbench.hookspecs import hookimpl
from rppgbench.params import Param
from rppgbench.video import FrameSource

LAYOUT = "subject<N>/p<N>_<k>.mat with video, GT_ppg and labels"
LABELS = ("light", "motion", "exercise", "skin_color", "gender", "glasser", "hair_cover", "makeup")
FILE_NAME = re.compile(r"p(\d+)_(\d+)\.mat", re.IGNORECASE)


class MMPD(DatasetLoader):
    """MMPD loader: one record per .mat file; the scenario is built from the file's condition labels."""

    name = "mmpd"
    description = "MMPD: 33 subjects x 20 one-minute phone videos (30 fps), skin tone/light/motion labels"
    params = (
        Param("video", "video", "video variable in each file"),
        Param("ppg", "GT_ppg", "PPG variable in each file"),
        Param("labels", LABELS, "label variables read from each file (unsure)"),
        Param(
            "scenario_labels",
            ("light", "motion", "exercise", "skin_color"),
            "labels joined into Record.scenario; empty leaves it blank",
        ),
        Param("fps", 30.0, "frame rate of the videos (unsure)"),
        Param("ppg_rate", 30.0, "PPG sampling rate in Hz; 0 stretches it over the video (unsure)"),
        Param("frame_axes", "thwc", "MATLAB axis order of the video arrays (unsure)", matfile.FRAME_AXES),
        Param("float_max", 1.0, "value of full brightness for floating-point frames (unsure)"),
        Param("frame_range", (), "frames [start, stop) used from every video; empty uses all"),
    )

    def records(self) -> list[Record]:
        root = common.require_root(self.root, "MMPD", LAYOUT)
        unknown = sorted(set(self.options["scenario_labels"]) - set(self.options["labels"]))
        if unknown:
            raise ConfigError(
                f"scenario_labels {unknown} are not among the labels read {list(self.options['labels'])}"
            )
        subjects = sorted(
            (p for p in root.iterdir() if p.is_dir() and re.fullmatch(r"subject\d+", p.name, re.IGNORECASE)),
            key=lambda p: common.natural_key(p.name),
        )
        if not subjects:
            raise DataError(f"{root}: not an MMPD root: no subject<N> folders (expected {LAYOUT})")
        frame_range = common.frame_range_option(self.options["frame_range"])
        out = []
        for folder in subjects:
            files = sorted(
                (p for p in folder.glob("*.mat") if FILE_NAME.fullmatch(p.name)),
                key=lambda p: common.natural_key(p.name),
            )
            if not files:
                out.append(
                    common.problem_record(
                        "mmpd", folder.name, "none", folder, "no video: no p<N>_<k>.mat files"
                    )
                )
            for path in files:
                out.append(self._record(folder.name, path, frame_range))
        return out

    def _record(self, subject: str, path: Path, frame_range: tuple) -> Record:
        session = FILE_NAME.fullmatch(path.name)[2]
        labels: dict[str, str] = {}
        try:
            names = matfile.variable_names(path)
            if self.options["video"] not in names:
                return common.problem_record(
                    "mmpd",
                    subject,
                    session,
                    path,
                    f"no video: variable {self.options['video']} not in this file",
                )
            wanted = [name for name in self.options["labels"] if name in names]
            labels = {k: matfile.scalar_text(v) for k, v in matfile.read_variables(path, wanted).items()}
        except DataError:
            pass  # a damaged file is reported, naming it, when the record is opened
        scenario = ";".join(
            f"{name}={labels[name]}" for name in self.options["scenario_labels"] if name in labels
        )
        return Record(
            "mmpd",
            subject,
            session,
            path,
            scenario=scenario,
            fps=self.options["fps"],
            files={"mat": path, "reference": path},
            frame_range=frame_range,
            meta={"labels": labels},
        )

    def open_frames(self, record: Record) -> FrameSource:
        return matfile.open_video(self, record, self.options["video"])

    def load_reference(self, record: Record) -> Reference:
        common.raise_if_problem(record)
        path, name = record.location, self.options["ppg"]
        values = np.ravel(np.asarray(matfile.read_variables(path, [name], "PPG")[name], dtype=np.float64))
        rate = self.options["ppg_rate"]
        if rate:
            return common.fixed_rate_reference(self, record, path, values, name, rate)
        return common.stretched_reference(self, record, path, values, name)


@hookimpl
def register_datasets(register) -> None:
    """Register the MMPD loader."""
    register(MMPD)
