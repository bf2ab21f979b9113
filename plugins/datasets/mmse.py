"""MMSE-HR (Tulyakov et al., CVPR 2016; a subset of BP4D+): 40 subjects, 102 videos.

Distributed as per-subject, per-task folders of JPEG frames (1040x1392, 25 fps) plus physiology text
files: a heart-rate series computed by the dataset's authors (the usual ground truth, reference kind
"hr") and a blood-pressure waveform. Folder and file names differ between releases, so every location
is a pattern relative to the root with `{subject}` and `{task}` placeholders:

- `frames_pattern` (default `{subject}/{task}/*.jpg`, e.g. `F013/T1/0000.jpg`),
- `hr_pattern` (default `Physiology/{subject}/{task}/Pulse Rate_BPM.txt`),
- `bp_pattern` (default `Physiology/{subject}/{task}/BP_mmHg.txt`).

Unsure (options): all three patterns, and the rates of the text files (`hr_rate`, `bp_rate`: 1000 Hz,
one value per line, starting with the first frame).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from rppgbench_plugins.datasets import common

from rppgbench.data import Record, Reference
from rppgbench.dataset import DatasetLoader
from rppgbench.errors import ConfigError, DataError
from rppgbench.hookspecs import hookimpl
from rppgbench.params import Param
from rppgbench.video import FrameSource, ImageSequence


class MMSEHR(DatasetLoader):
    """MMSE-HR loader: one record per (subject, task) frame folder; the reference is the HR series."""

    name = "mmse"
    description = "MMSE-HR: 40 subjects, 102 JPEG-frame videos at 25 fps, dataset HR series as ground truth"
    params = (
        Param("frames_pattern", "{subject}/{task}/*.jpg", "frame files, relative to the root (unsure)"),
        Param("hr_pattern", "Physiology/{subject}/{task}/Pulse Rate_BPM.txt", "HR series file (unsure)"),
        Param(
            "bp_pattern", "Physiology/{subject}/{task}/BP_mmHg.txt", "blood-pressure waveform file (unsure)"
        ),
        Param("hr_rate", 1000.0, "samples per second of the HR series (unsure)"),
        Param("bp_rate", 1000.0, "samples per second of the blood-pressure waveform (unsure)"),
        Param(
            "reference",
            "hr",
            "reference to load: the HR series or the BP waveform (a pulse wave)",
            ("hr", "bp"),
        ),
        Param("fps", 25.0, "frame rate of the JPEG sequences"),
        Param("frame_range", (), "frames [start, stop) used from every video; empty uses all"),
    )

    def records(self) -> list[Record]:
        root = common.require_root(self.root, "MMSE-HR", self.options["frames_pattern"])
        frames_dir_pattern, _, frame_glob = self.options["frames_pattern"].rpartition("/")
        if "{subject}" not in frames_dir_pattern or "{task}" not in frames_dir_pattern:
            raise ConfigError("frames_pattern must name {subject} and {task} in its folder part")
        frame_dirs = {key: path for key, path in _match(root, frames_dir_pattern, want_dir=True).items()}
        hr_files = _match(root, self.options["hr_pattern"], want_dir=False)
        with_frames = {key for key, path in frame_dirs.items() if any(path.glob(frame_glob))}
        keys = with_frames | set(hr_files)
        if not keys:
            raise DataError(
                f"{root}: not an MMSE-HR root: nothing matches {self.options['frames_pattern']!r} "
                f"or {self.options['hr_pattern']!r} (set the pattern options for this release)"
            )
        frame_range = common.frame_range_option(self.options["frame_range"])
        out = []
        for subject, task in sorted(keys, key=lambda k: (common.natural_key(k[0]), common.natural_key(k[1]))):
            folder = root / frames_dir_pattern.format(subject=subject, task=task)
            files = {
                "hr": root / self.options["hr_pattern"].format(subject=subject, task=task),
                "bp": root / self.options["bp_pattern"].format(subject=subject, task=task),
            }
            files["reference"] = files[self.options["reference"]]
            if (subject, task) not in with_frames:
                out.append(
                    common.problem_record(
                        "mmse", subject, task, folder, f"no frames matching {frame_glob!r}", scenario=task
                    )
                )
                continue
            out.append(
                Record(
                    "mmse",
                    subject,
                    task,
                    folder,
                    scenario=task,
                    fps=self.options["fps"],
                    files=files,
                    frame_range=frame_range,
                    meta={"frame_glob": frame_glob},
                )
            )
        return out

    def open_frames(self, record: Record) -> FrameSource:
        common.raise_if_problem(record)
        paths = sorted(
            record.location.glob(record.meta["frame_glob"]), key=lambda p: common.natural_key(p.name)
        )
        if not paths:
            raise DataError(f"{record.location}: no frames matching {record.meta['frame_glob']!r}")
        frames = ImageSequence(paths, fps=record.fps or self.options["fps"])
        common.check_frame_range(record, frames)
        return frames

    def load_reference(self, record: Record) -> Reference:
        common.raise_if_problem(record)
        which = self.options["reference"]
        path = record.files[which]
        rate = self.options[f"{which}_rate"]
        what = "HR series" if which == "hr" else "blood-pressure waveform"
        values = common.parse_numbers(path, common.read_text(path, what).splitlines(), what)
        common.check_finite(path, values, what)
        common.check_fixed_rate_length(
            path, values.size, rate, common.video_span(self, record), what, f"{which}_rate"
        )
        kind = "hr" if which == "hr" else "ppg"
        return common.validated_reference(
            path, kind, values, np.arange(values.size) / rate, loader=self, record=record, what=what
        )


def _match(root: Path, pattern: str, want_dir: bool) -> dict[tuple[str, str], Path]:
    """Paths under `root` matching a `{subject}`/`{task}` pattern, keyed by (subject, task)."""
    glob = pattern.replace("{subject}", "*").replace("{task}", "*")
    regex = (
        re.escape(pattern)
        .replace(r"\{subject\}", r"(?P<subject>[^/]+)")
        .replace(r"\{task\}", r"(?P<task>[^/]+)")
    )
    regex = regex.replace(r"\*", r"[^/]*")
    found = {}
    for path in root.glob(glob):
        if path.is_dir() != want_dir:
            continue
        match = re.fullmatch(regex, path.relative_to(root).as_posix())
        if match:
            found[(match["subject"], match["task"])] = path
    return found


@hookimpl
def register_datasets(register) -> None:
    """Register the MMSE-HR loader."""
    register(MMSEHR)
