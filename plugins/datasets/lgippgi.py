"""LGI-PPGI (Pilz et al., CVPR Workshops 2018): 25 subjects (6 released openly) x 4 sessions: resting,
gym (exercise on a bicycle ergometer), talk (a conversation in a city street) and rotation (head rotation).

Layout: `<root>/<subject>/<subject>_<session>/` holding `cv_camera_sensor_stream_handler.avi` (the
uncompressed 25-fps webcam video), `cv_camera_sensor_timer_stream_handler.xml` (per-frame times) and
`cms50_stream_handler.xml` (the CMS50E finger pulse oximeter at 60 Hz). Both XML files are Boost
serialisation archives: a list of items whose `value0`, `value1`, `value2` children hold the fields;
for the oximeter `value1` is the pulse rate and `value2` the pleth waveform, for the camera timer
`value1` is the frame time in milliseconds.

Time alignment: the oximeter has no timestamps; as in pyVHR's loader, it is taken to sample at exactly
`wave_rate` and to stop with the video (`sync = "end"`: it started a little earlier). `sync = "start"`
assumes instead that both started together.

Unsure (options): `sync`, the oximeter rate (`wave_rate`, 60 Hz), the XML fields (`wave_field`,
`hr_field`, `time_field`) and whether to use the camera timer file (`use_timer`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
from rppgbench_plugins.datasets import common

from rppgbench.data import Record, Reference
from rppgbench.dataset import DatasetLoader
from rppgbench.errors import DataError
from rppgbench.hookspecs import hookimpl
from rppgbench.params import Param
from rppgbench.video import FrameSource

VIDEO = "cv_camera_sensor_stream_handler.avi"
OXIMETER = "cms50_stream_handler.xml"
TIMER = "cv_camera_sensor_timer_stream_handler.xml"
LAYOUT = f"<subject>/<subject>_<session>/{{{VIDEO}, {OXIMETER}}}"
SESSIONS = ("resting", "gym", "talk", "rotation")


class LGIPPGI(DatasetLoader):
    """LGI-PPGI loader: one record per (subject, session); the reference is the oximeter's pleth wave."""

    name = "lgippgi"
    description = (
        "LGI-PPGI: subjects x 4 sessions (resting, gym, talk, rotation), 25-fps video, 60-Hz CMS50E PPG"
    )
    params = (
        Param("sessions", SESSIONS, "sessions to list"),
        Param(
            "reference",
            "ppg",
            "reference to load: the pleth waveform or the oximeter's pulse rate",
            ("ppg", "hr"),
        ),
        Param("wave_rate", 60.0, "oximeter sampling rate in Hz (unsure)"),
        Param(
            "sync", "end", "the oximeter stops with the video, or starts with it (unsure)", ("end", "start")
        ),
        Param("wave_field", "value2", "XML field of the pleth waveform (unsure)"),
        Param("hr_field", "value1", "XML field of the pulse rate (unsure)"),
        Param("time_field", "value1", "XML field of the frame time in ms in the timer file (unsure)"),
        Param("use_timer", True, "use the camera timer file's frame times where present"),
        Param("fps", 0.0, "frame rate; 0 reads it from the video header"),
        Param("frame_range", (), "frames [start, stop) used from every video; empty uses all"),
    )

    def records(self) -> list[Record]:
        root = common.require_root(self.root, "LGI-PPGI", LAYOUT)
        wanted = [str(s) for s in self.options["sessions"]]
        subjects = sorted(
            (p for p in root.iterdir() if p.is_dir() and any(p.glob(f"{p.name}_*"))),
            key=lambda p: common.natural_key(p.name),
        )
        if not subjects:
            raise DataError(
                f"{root}: not an LGI-PPGI root: no <subject>/<subject>_<session> folders (expected {LAYOUT})"
            )
        frame_range = common.frame_range_option(self.options["frame_range"])
        out = []
        for subject_dir in subjects:
            subject = subject_dir.name
            for session in wanted:
                folder = subject_dir / f"{subject}_{session}"
                if not folder.is_dir():
                    continue
                out.append(self._record(subject, session, folder, frame_range))
        return out

    def _record(self, subject: str, session: str, folder: Path, frame_range: tuple) -> Record:
        if not (folder / VIDEO).is_file():
            return common.problem_record(
                "lgippgi",
                subject,
                session,
                folder,
                f"no video {VIDEO} in this session folder",
                scenario=session,
            )
        files = {"oximeter": folder / OXIMETER, "reference": folder / OXIMETER}
        if (folder / TIMER).is_file():
            files["timer"] = folder / TIMER
        return Record(
            "lgippgi",
            subject,
            session,
            folder / VIDEO,
            scenario=session,
            fps=self.options["fps"] or None,
            files=files,
            frame_range=frame_range,
        )

    def open_frames(self, record: Record) -> FrameSource:
        common.raise_if_problem(record)
        return common.open_video(record, timestamps=self._timer(record))

    def frame_timestamps(self, record: Record, n_frames: int, fps: float) -> np.ndarray:
        times = self._timer(record)
        if times is None:
            return super().frame_timestamps(record, n_frames, fps)
        if len(times) < n_frames:
            raise DataError(
                f"{record.files['timer']}: {len(times)} frame times for a video of {n_frames} frames"
            )
        return times[:n_frames]

    def _timer(self, record: Record) -> np.ndarray | None:
        path = record.files.get("timer")
        if path is None or not self.options["use_timer"]:
            return None
        stamps = read_items(path, self.options["time_field"], "camera timer")
        common.check_finite(path, stamps, "frame times")
        common.check_increasing(path, stamps, "frame times")
        return (stamps - stamps[0]) / 1000.0

    def load_reference(self, record: Record) -> Reference:
        common.raise_if_problem(record)
        path = common.require_file(record.files["oximeter"], OXIMETER, record)
        field = self.options["wave_field" if self.options["reference"] == "ppg" else "hr_field"]
        values = read_items(path, field, "oximeter")
        common.check_finite(path, values, f"oximeter {field}")
        rate = self.options["wave_rate"]
        span = common.video_span(self, record)
        common.check_fixed_rate_length(path, values.size, rate, span, f"oximeter {field}", "wave_rate")
        times = np.arange(values.size) / rate
        if self.options["sync"] == "end":
            times += self._video_end(record) - times[-1]
        kind = "ppg" if self.options["reference"] == "ppg" else "hr"
        return common.validated_reference(
            path, kind, values, times, loader=self, record=record, what=f"oximeter {field}"
        )

    def _video_end(self, record: Record) -> float:
        """Time of the video's last frame (of the whole video, whatever the frame range)."""
        frames = self.open_frames(record)
        count = frames.frame_count()
        if not count:
            raise DataError(
                f"{record.location}: the video's frame count is unknown, so sync = 'end' cannot apply"
            )
        return float(self.frame_timestamps(record, count, frames.fps)[-1])


def read_items(path: Path, field: str, what: str) -> np.ndarray:
    """The numeric `field` of every item of a Boost-serialised XML stream, in file order."""
    text = common.read_text(path, f"{what} XML")
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise DataError(f"{path}: malformed {what} XML ({exc})") from exc
    values = []
    for element in root.iter():
        child = element.find(field)
        if child is None or len(child):  # not an item, or an item list whose entries are named like fields
            continue
        try:
            values.append(float((child.text or "").strip()))
        except ValueError:
            continue  # a stray non-numeric entry (the archive's header fields)
    if not values:
        raise DataError(f"{path}: no items with a numeric <{field}> in this {what} XML")
    return np.asarray(values, dtype=np.float64)


@hookimpl
def register_datasets(register) -> None:
    """Register the LGI-PPGI loader."""
    register(LGIPPGI)
