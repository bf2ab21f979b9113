"""BP4D+ (Zhang et al., CVPR 2016; the multimodal spontaneous emotion corpus): 140 subjects x 10 tasks,
1040x1392 JPEG frames at 25 fps with 1-kHz physiology.

Layout (as released): `<root>/2D+3D/<subject>.zip` holding `<subject>/<task>/<nnnn>.jpg` (or those
folders already extracted: `<root>/2D+3D/<subject>/<task>/*.jpg`), and
`<root>/Physiology/<subject>/<task>/` with one value per line at 1000 Hz: `BP_mmHg.txt` (the continuous
blood-pressure wave, a pulse wave used as the PPG-like reference), `Pulse Rate_BPM.txt`,
`Resp_Volts.txt`, `Respiration Rate_BPM.txt`, `EDA_microsiemens.txt` and others. Subjects are `F001`..
and `M001`..; tasks `T1`..`T10` (`Record.scenario`). MMSE-HR is a subset (the `mmse` loader).

The reference is the blood-pressure wave (kind "ppg": its beats give the HR through the shared
estimator), or with `reference = "hr"` the dataset's pulse-rate series. Both start with the first frame.

Unsure (options): the physiology file names (`bp_file`, `hr_file`), their rate (`physiology_rate`,
1000 Hz), the frame rate (`fps`, 25), and whether frames are read from the zip files or extracted
folders (`frames`, detected per subject by default).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from rppgbench_plugins.datasets import common

from rppgbench.data import Record, Reference
from rppgbench.dataset import DatasetLoader
from rppgbench.errors import DataError
from rppgbench.hookspecs import hookimpl
from rppgbench.params import Param
from rppgbench.video import FrameSource

LAYOUT = "2D+3D/<subject>.zip (<subject>/<task>/*.jpg) and Physiology/<subject>/<task>/BP_mmHg.txt"
SUBJECT = re.compile(r"[FM]\d+", re.IGNORECASE)
TASK = re.compile(r"T\d+", re.IGNORECASE)


class ZipImages(FrameSource):
    """JPEG frames stored in a zip file, read in the given member order without extracting them."""

    def __init__(self, path: Path, members: Sequence[str], fps: float):
        self.path, self.members, self.fps = Path(path), list(members), float(fps)

    def frame_count(self) -> int | None:
        return len(self.members)

    def __iter__(self) -> Iterator[np.ndarray]:
        import cv2  # OpenCV loads when images are read

        try:
            with zipfile.ZipFile(self.path) as archive:
                for member in self.members:
                    data = np.frombuffer(archive.read(member), dtype=np.uint8)
                    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
                    if bgr is None:
                        raise DataError(f"{self.path}: frame {member} cannot be decoded (corrupt image)")
                    yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        except (zipfile.BadZipFile, OSError, KeyError) as exc:
            raise DataError(f"{self.path}: cannot read frames from this zip file ({exc})") from exc


class BP4DPlus(DatasetLoader):
    """BP4D+ loader: one record per (subject, task); frames from the zip files or extracted folders."""

    name = "bp4d"
    description = "BP4D+: 140 subjects x 10 tasks, 25-fps JPEG frames, 1-kHz blood pressure and pulse rate"
    params = (
        Param(
            "frames",
            "auto",
            "where frames are: zip files, extracted folders, or detected",
            ("auto", "zip", "folders"),
        ),
        Param("frame_glob", "*.jpg", "frame files of a task"),
        Param("reference", "bp", "reference: the blood-pressure wave or the pulse-rate series", ("bp", "hr")),
        Param("bp_file", "BP_mmHg.txt", "blood-pressure wave file in Physiology/<subject>/<task>/ (unsure)"),
        Param("hr_file", "Pulse Rate_BPM.txt", "pulse-rate file in Physiology/<subject>/<task>/ (unsure)"),
        Param("physiology_rate", 1000.0, "sampling rate of the physiology files in Hz (unsure)"),
        Param("tasks", (), 'tasks to keep, e.g. ["T1", "T8"]; empty keeps all'),
        Param("fps", 25.0, "frame rate of the JPEG sequences (unsure)"),
        Param("frame_range", (), "frames [start, stop) used from every video; empty uses all"),
    )

    def records(self) -> list[Record]:
        root = common.require_root(self.root, "BP4D+", LAYOUT)
        frames_root, physiology = root / "2D+3D", root / "Physiology"
        if not frames_root.is_dir() and not physiology.is_dir():
            raise DataError(f"{root}: not a BP4D+ root: no 2D+3D/ or Physiology/ folder (expected {LAYOUT})")
        frames = self._frames(frames_root)
        signals = {
            (s.name, t.name): t
            for s in (physiology.iterdir() if physiology.is_dir() else [])
            if s.is_dir() and SUBJECT.fullmatch(s.name)
            for t in s.iterdir()
            if t.is_dir() and TASK.fullmatch(t.name)
        }
        wanted = {str(t) for t in self.options["tasks"]}
        keys = sorted(
            (k for k in set(frames) | set(signals) if not wanted or k[1] in wanted),
            key=lambda k: (common.natural_key(k[0]), common.natural_key(k[1])),
        )
        if not keys:
            raise DataError(f"{root}: no BP4D+ subject/task frames or physiology (expected {LAYOUT})")
        frame_range = common.frame_range_option(self.options["frame_range"])
        name = self.options["bp_file" if self.options["reference"] == "bp" else "hr_file"]
        out = []
        for subject, task in keys:
            folder = physiology / subject / task
            files = {"reference": folder / name}
            if (subject, task) not in frames:
                unreadable = self._unreadable.get(subject)
                where, problem = (
                    (unreadable[0], unreadable[1])
                    if unreadable
                    else (folder, f"no frames of this task in 2D+3D/{subject}.zip or 2D+3D/{subject}/{task}/")
                )
                out.append(common.problem_record("bp4d", subject, task, where, problem, scenario=task))
                continue
            location, members = frames[(subject, task)]
            out.append(
                Record(
                    "bp4d",
                    subject,
                    task,
                    location,
                    scenario=task,
                    fps=self.options["fps"],
                    files=files,
                    frame_range=frame_range,
                    meta={"members": members} if members else {},
                )
            )
        return out

    def _frames(self, frames_root: Path) -> dict[tuple[str, str], tuple[Path, tuple[str, ...]]]:
        """(subject, task) -> the zip file and its frame members, or the extracted folder and ()."""
        found: dict[tuple[str, str], tuple[Path, tuple[str, ...]]] = {}
        self._unreadable: dict[str, tuple[Path, str]] = {}
        if not frames_root.is_dir():
            return found
        mode, glob = self.options["frames"], self.options["frame_glob"]
        for entry in sorted(frames_root.iterdir(), key=lambda p: common.natural_key(p.name)):
            if entry.is_dir() and SUBJECT.fullmatch(entry.name) and mode in ("auto", "folders"):
                for task in entry.iterdir():
                    if task.is_dir() and TASK.fullmatch(task.name) and any(task.glob(glob)):
                        found[(entry.name, task.name)] = (task, ())
            elif entry.suffix.lower() == ".zip" and SUBJECT.fullmatch(entry.stem) and mode in ("auto", "zip"):
                try:
                    tasks = _zip_tasks(entry, glob)
                except DataError as exc:
                    self._unreadable[entry.stem] = (entry, str(exc).split(": ", 1)[-1])
                    continue
                for task, members in tasks.items():
                    found.setdefault((entry.stem, task), (entry, members))
        return found

    def open_frames(self, record: Record) -> FrameSource:
        common.raise_if_problem(record)
        members = record.meta.get("members")
        if members:
            frames: FrameSource = ZipImages(record.location, members, self.options["fps"])
        else:
            frames = common.image_folder_frames(
                record.location, self.options["frame_glob"], self.options["fps"]
            )
        common.check_frame_range(record, frames)
        return frames

    def load_reference(self, record: Record) -> Reference:
        common.raise_if_problem(record)
        path = common.require_file(record.files["reference"], record.files["reference"].name, record)
        which = self.options["reference"]
        what = "blood-pressure wave" if which == "bp" else "pulse-rate series"
        values = common.parse_numbers(path, common.read_text(path, what).splitlines(), what)
        common.check_finite(path, values, what)
        rate = self.options["physiology_rate"]
        common.check_fixed_rate_length(
            path, values.size, rate, common.video_span(self, record), what, "physiology_rate"
        )
        return common.validated_reference(
            path, "ppg" if which == "bp" else "hr", values, np.arange(values.size) / rate,
            loader=self, record=record, what=what,
        )  # fmt: skip


def _zip_tasks(path: Path, glob: str) -> dict[str, tuple[str, ...]]:
    """Task -> frame members (naturally sorted) of a subject's zip file (DataError if it cannot be read)."""
    import fnmatch

    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{path}: cannot read this zip file ({exc})") from exc
    tasks: dict[str, list[str]] = {}
    for name in names:
        parts = name.split("/")
        if len(parts) >= 3 and TASK.fullmatch(parts[-2]) and fnmatch.fnmatch(parts[-1], glob):
            tasks.setdefault(parts[-2], []).append(name)
    return {
        task: tuple(sorted(members, key=lambda m: common.natural_key(m.rsplit("/", 1)[-1])))
        for task, members in tasks.items()
    }


@hookimpl
def register_datasets(register) -> None:
    """Register the BP4D+ loader."""
    register(BP4DPlus)
