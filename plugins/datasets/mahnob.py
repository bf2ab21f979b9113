"""MAHNOB-HCI (Soleymani et al., 2012): 27 subjects, emotion-elicitation sessions with ECG.

Layout: `<root>/Sessions/<session id>/` holding `session.xml` (the subject id is the `id` attribute of
its `<subject>` element), the frontal colour video (`P<k>-Rec1-<date>_C1 trigger _C Section_<n>.avi`,
61 fps) and the BioSemi recording `Part_<k>_S_Trial<n>_emotion.bdf` (256 Hz; ECG leads EXG1..EXG3 and a
`Status` trigger channel), read with pyedflib.

The reference is the ECG channel `ecg_channel` (EXG2 by default, as in the usual protocol), kind "ecg":
HR comes from R peaks. The usual protocol (Li et al., CVPR 2014) uses frames 306..2135 (30 s), set
through the `frame_range` option; that convention sidesteps exact video/BDF synchronisation.

Unsure (options): the video file name pattern (`video_pattern`), the nominal frame rate (`fps`, 61),
and the time origin of the BDF (`sync`: "start" assumes the BDF and the video start together; "status"
puts time zero at the first change of the Status channel).
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

LAYOUT = "Sessions/<id>/{session.xml, *.avi, *.bdf}"


class MAHNOBHCI(DatasetLoader):
    """MAHNOB-HCI loader: one record per session folder; the reference is an ECG lead of the BDF."""

    name = "mahnob"
    description = "MAHNOB-HCI: 27 subjects, 61-fps colour video, 256-Hz ECG in BDF files"
    params = (
        Param("video_pattern", "*C1 trigger*.avi", "glob of the colour video in a session folder (unsure)"),
        Param("bdf_pattern", "*.bdf", "glob of the physiological recording in a session folder"),
        Param("ecg_channel", "EXG2", "BDF channel label used as the ECG reference"),
        Param("ecg_rate", 256.0, "expected ECG sampling rate in Hz; other rates are an error"),
        Param("fps", 61.0, "nominal video frame rate (the header's rate is not always right)"),
        Param(
            "sync",
            "start",
            "time origin of the BDF: its start, or the first Status change",
            ("start", "status"),
        ),
        Param("frame_range", (), "frames [start, stop) used from every video, e.g. [306, 2135]"),
    )

    def records(self) -> list[Record]:
        root = common.require_root(self.root, "MAHNOB-HCI", LAYOUT)
        sessions_dir = root / "Sessions"
        if not sessions_dir.is_dir():
            raise DataError(f"{root}: not a MAHNOB-HCI root: no Sessions/ folder (expected {LAYOUT})")
        sessions = sorted(
            (p for p in sessions_dir.iterdir() if p.is_dir()), key=lambda p: common.natural_key(p.name)
        )
        if not sessions:
            raise DataError(f"{sessions_dir}: no session folders (expected {LAYOUT})")
        frame_range = common.frame_range_option(self.options["frame_range"])
        return [self._record(folder, frame_range) for folder in sessions]

    def _record(self, folder: Path, frame_range: tuple) -> Record:
        session = folder.name
        try:
            subject, fps_attr, named_bdf = _read_session_xml(folder / "session.xml")
        except DataError as exc:
            return common.problem_record("mahnob", "unknown", session, folder, str(exc).split(": ", 1)[-1])
        videos = sorted(folder.glob(self.options["video_pattern"]))
        if len(videos) != 1:
            problem = (
                f"no video matching {self.options['video_pattern']!r}"
                if not videos
                else f"{len(videos)} videos match {self.options['video_pattern']!r}; "
                "set the video_pattern option"
            )
            return common.problem_record("mahnob", subject, session, folder, problem)
        bdfs = sorted(folder.glob(self.options["bdf_pattern"]))
        if not bdfs and named_bdf:  # session.xml names it: a missing file is reported by that name
            bdfs = [folder / named_bdf]
        files = {"session_xml": folder / "session.xml"}
        if len(bdfs) == 1:
            files["bdf"] = files["reference"] = bdfs[0]
        meta = (
            {"bdf_problem": f"{len(bdfs)} files match {self.options['bdf_pattern']!r}"}
            if len(bdfs) != 1
            else {}
        )
        if fps_attr:
            meta["xml_fps"] = fps_attr
        return Record(
            "mahnob",
            subject,
            session,
            videos[0],
            fps=self.options["fps"],
            files=files,
            frame_range=frame_range,
            meta=meta,
        )

    def open_frames(self, record: Record) -> FrameSource:
        return common.open_video(record)

    def load_reference(self, record: Record) -> Reference:
        common.raise_if_problem(record)
        path = record.files.get("bdf")
        if path is None:
            raise DataError(
                f"{record.location.parent}: no BDF recording for {record.id} ({record.meta['bdf_problem']})"
            )
        common.require_file(path, "BDF recording", record)
        channel = self.options["ecg_channel"]
        try:
            import pyedflib  # imported when a BDF file is read

            reader = pyedflib.EdfReader(str(path))
        except OSError as exc:
            raise DataError(f"{path}: cannot read this BDF file ({exc})") from exc
        try:
            labels = [label.strip() for label in reader.getSignalLabels()]
            index = _channel_index(path, labels, channel)
            rate = float(reader.getSampleFrequency(index))
            values = reader.readSignal(index)
            offset = 0.0
            if self.options["sync"] == "status":
                status = _channel_index(path, labels, "Status")
                offset = _first_change(path, reader.readSignal(status)) / float(
                    reader.getSampleFrequency(status)
                )
        finally:
            reader.close()
        common.check_rate(path, "ecg", rate, self.options["ecg_rate"], "ecg_rate")
        times = np.arange(values.size) / rate - offset
        return common.validated_reference(
            path,
            "ecg",
            values,
            times,
            loader=self,
            record=record,
            what=f"ECG channel {channel}",
            expected_rate=self.options["ecg_rate"],
            rate_option="ecg_rate",
        )


def _read_session_xml(path: Path) -> tuple[str, float | None, str | None]:
    """The subject id, the video rate and the BDF file name (the last two if stated) from a session.xml."""
    if not path.is_file():
        raise DataError(f"{path}: session.xml not found")
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as exc:
        raise DataError(f"{path}: malformed XML ({exc})") from exc
    subject_element = root.find(".//subject")
    subject = subject_element.get("id") if subject_element is not None else None
    subject = subject or root.get("subject") or root.get("subjectId")
    if not subject:
        raise DataError(f"{path}: no subject id (expected <subject id=...>)")
    try:
        fps = float(root.get("vidRate")) if root.get("vidRate") else None
    except ValueError:
        fps = None
    tracks = [t.get("filename", "") for t in root.iter("track")]
    bdf = next((name for name in tracks if name.lower().endswith(".bdf")), None)
    return subject.strip(), fps, bdf


def _channel_index(path: Path, labels: list[str], channel: str) -> int:
    lowered = [label.lower() for label in labels]
    if channel.lower() not in lowered:
        raise DataError(f"{path}: no channel {channel!r}; channels: {', '.join(labels)}")
    return lowered.index(channel.lower())


def _first_change(path: Path, status: np.ndarray) -> int:
    changes = np.flatnonzero(status != status[0])
    if changes.size == 0:
        raise DataError(
            f"{path}: the Status channel never changes, so it cannot set the time origin (sync='status')"
        )
    return int(changes[0])


@hookimpl
def register_datasets(register) -> None:
    """Register the MAHNOB-HCI loader."""
    register(MAHNOBHCI)
