"""Tiny benchmark datasets written in exactly the real on-disk layouts, with a known heart rate.

Each `make_<dataset>_tree(root, ...)` writes a few seconds of low-resolution video per record: a
face (the astronaut of `skimage.data`, scaled down) on a plain background whose skin changes colour
with a pulse at the record's known HR, as blood volume does, so any rPPG method can read it back.
Reference files (PPG, ECG in a real BDF, HR series) are written in each dataset's own format, sampled
at its native rate and carrying the same HR. The `break_*` helpers damage one record in the ways real
releases go wrong, for tests of the loaders' error messages.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import h5py
import numpy as np
import pyedflib

DEFAULT_SIZE = (160, 120)
"""Frame (width, height) of the fixtures: small, yet the face stays large enough for BlazeFace."""

PULSE_RGB_GAIN = np.array([1.3, 2.6, 1.0], dtype=np.float32)
"""Peak pulsatile change of skin (R, G, B) in grey levels: green strongest, as in real skin."""


@dataclass
class FixtureVideo:
    """One record of a fixture: where its files are and what the loader must read back."""

    record_id: str
    subject: str
    session: str
    video: Path
    reference: Path
    hr_bpm: float
    fps: float
    timestamps: np.ndarray
    scenario: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        """Number of frames written."""
        return len(self.timestamps)

    @property
    def duration(self) -> float:
        """Seconds from the first to one frame past the last."""
        return float(self.timestamps[-1] + 1.0 / self.fps)


@dataclass
class DatasetFixture:
    """A written fixture tree: its dataset name, root, records and the reference kind the loader gives."""

    dataset: str
    root: Path
    videos: list[FixtureVideo]
    reference_kind: str
    options: dict[str, Any] = field(default_factory=dict)

    def by_id(self) -> dict[str, FixtureVideo]:
        """Records keyed by their expected `Record.id`."""
        return {v.record_id: v for v in self.videos}

    def copy_to(self, root: Path) -> DatasetFixture:
        """A copy of the whole tree under `root` (e.g. to damage it without touching a shared fixture)."""
        root = Path(root)
        shutil.copytree(self.root, root)

        def moved(path: Path) -> Path:
            return root / Path(path).relative_to(self.root)

        videos = [replace(v, video=moved(v.video), reference=moved(v.reference)) for v in self.videos]
        return replace(self, root=root, videos=videos)


# --------------------------------------------------------------------------- signals and frames


def ppg_wave(times: np.ndarray, hr_bpm: float, phase: float = 0.0) -> np.ndarray:
    """A blood-volume pulse at `hr_bpm`: fundamental plus a dicrotic second harmonic, in [-1, 1]."""
    omega = 2 * np.pi * hr_bpm / 60.0
    wave = np.sin(omega * times + phase) + 0.3 * np.sin(2 * omega * times + 2 * phase + 0.6)
    return (wave / 1.3).astype(np.float64)


def ecg_wave(times: np.ndarray, hr_bpm: float, first_beat: float = 0.3) -> np.ndarray:
    """A synthetic ECG in millivolts: P, QRS and T waves as Gaussians around each beat at `hr_bpm`."""
    period = 60.0 / hr_bpm
    beats = np.arange(first_beat, times[-1] + period, period)
    rel = times[:, None] - beats[None, :]
    waves = (
        (0.15, -0.18, 0.025),
        (-0.12, -0.03, 0.008),
        (1.2, 0.0, 0.01),
        (-0.25, 0.03, 0.008),
        (0.3, 0.25, 0.04),
    )
    ecg = sum(a * np.exp(-0.5 * ((rel - mu) / sigma) ** 2) for a, mu, sigma in waves)
    return ecg.sum(axis=1)


@cache
def _face_patch(height: int) -> tuple[np.ndarray, np.ndarray]:
    """The astronaut's head scaled to `height` pixels, and a soft elliptical skin mask of the same size."""
    from skimage import data

    crop = data.astronaut()[10:250, 120:340]  # head and shoulders, 240 x 220
    width = round(height * crop.shape[1] / crop.shape[0])
    patch = cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cy, cx, ry, rx = 0.46 * height, 0.48 * width, 0.22 * height, 0.19 * width  # the face's skin
    mask = np.clip(1.5 - np.hypot((yy - cy) / ry, (xx - cx) / rx), 0.0, 1.0)
    return patch, mask


def synthetic_face_frames(
    timestamps: np.ndarray,
    hr_bpm: float,
    size: tuple[int, int] = DEFAULT_SIZE,
    seed: int = 0,
    phase: float = 0.0,
    nir: bool = False,
    amplitude: float = 1.0,
) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB frames: a face whose skin pulses at `hr_bpm`, with sensor noise.

    The pulse follows `ppg_wave(timestamps, hr_bpm, phase)`, the waveform the references carry.
    `nir=True` gives grey frames, as a near-infrared camera records; `amplitude` scales the pulse
    (heavily compressed codecs flatten subtle colour changes).
    """
    width, height = size
    rng = np.random.default_rng(seed)
    patch, mask = _face_patch(round(0.85 * height))
    background = np.empty((height, width, 3), np.float32)
    background[:] = (
        np.array([70, 90, 120], np.float32) + np.linspace(0, 40, width, dtype=np.float32)[None, :, None]
    )
    top, left = (height - patch.shape[0]) // 2, (width - patch.shape[1]) // 2
    base = background.copy()
    base[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
    skin = np.zeros((height, width), np.float32)
    skin[top : top + patch.shape[0], left : left + patch.shape[1]] = mask
    pulse = ppg_wave(np.asarray(timestamps, np.float64), hr_bpm, phase).astype(np.float32)
    frames = base[None] + pulse[:, None, None, None] * skin[None, :, :, None] * (amplitude * PULSE_RGB_GAIN)
    frames += rng.normal(0.0, 1.0, frames.shape).astype(np.float32)
    if nir:
        frames[:] = frames.mean(axis=3, keepdims=True)
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def write_avi(path: Path, frames: np.ndarray, fps: float, fourcc: str = "MJPG") -> Path:
    """Write RGB frames as an AVI with the given codec (`I420` is uncompressed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps), (width, height))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: OpenCV cannot write {fourcc} video here")
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_timed_video(path: Path, frames: np.ndarray, times: np.ndarray, nominal_fps: float = 30.0) -> Path:
    """Write RGB frames losslessly (FFV1 in Matroska) with each frame's presentation time from `times`.

    Irregular `times` give a variable-frame-rate file, as phones record; the header rate says
    `nominal_fps`, which is then wrong for parts of the clip.
    """
    import fractions

    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    base = fractions.Fraction(1, 10_000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=round(nominal_fps))
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv444p"
        stream.codec_context.time_base = base
        for frame, t in zip(frames, times, strict=True):
            packet_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            packet_frame = packet_frame.reformat(format="yuv444p")
            packet_frame.pts, packet_frame.time_base = int(round(float(t) / base)), base
            container.mux(stream.encode(packet_frame))
        container.mux(stream.encode())
    return path


def variable_frame_times(
    seconds: float, rates: Sequence[float] = (15.0, 45.0), block_s: float = 1.0
) -> np.ndarray:
    """Frame times whose rate switches between `rates` every `block_s` seconds (a phone under load)."""
    times, t, index = [], 0.0, 0
    while t < seconds:
        rate = rates[int(t // block_s) % len(rates)]
        times.append(t)
        t += 1.0 / rate
        index += 1
    return np.asarray(times, dtype=np.float64)


def write_images(folder: Path, frames: np.ndarray, names: Sequence[str]) -> None:
    """Write RGB frames as image files (format from each name's suffix)."""
    folder.mkdir(parents=True, exist_ok=True)
    for frame, name in zip(frames, names, strict=True):
        if not cv2.imwrite(str(folder / name), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
            raise RuntimeError(f"{folder / name}: OpenCV cannot write this image")


def _hr_values(count: int, hr_bpm: float | Sequence[float] | None, seed: int) -> list[float]:
    """One known HR per record: the given value(s), or distinct values spread over 60-105 bpm."""
    if hr_bpm is None:
        rng = np.random.default_rng(seed + 101)
        base = np.linspace(62.0, 104.0, max(count, 1))
        return [round(float(v), 1) for v in rng.permutation(base)[:count]]
    if isinstance(hr_bpm, (int, float)):
        return [float(hr_bpm)] * count
    values = [float(v) for v in hr_bpm]
    if len(values) < count:
        raise ValueError(f"{len(values)} HR values given for {count} records")
    return values[:count]


def _frame_times(seconds: float, fps: float, jitter_s: float = 0.0, seed: int = 0) -> np.ndarray:
    """Frame timestamps from 0, optionally with jitter (real cameras do not tick exactly)."""
    n = int(round(seconds * fps))
    times = np.arange(n, dtype=np.float64) / fps
    if jitter_s:
        times[1:] += np.random.default_rng(seed).uniform(-jitter_s, jitter_s, n - 1)
    return times


def _reference_times(seconds: float, rate: float, start: float = 0.0) -> np.ndarray:
    return start + np.arange(int(round(seconds * rate)), dtype=np.float64) / rate


def _with_nans(values: np.ndarray, nan: bool) -> np.ndarray:
    if nan:
        values = values.astype(np.float64).copy()
        values[len(values) // 3 : len(values) // 3 + 5] = np.nan
    return values


# --------------------------------------------------------------------------- VIPL-HR

VIPL_SOURCE_FPS = {1: 25.0, 2: 30.0, 3: 30.0, 4: 30.0}
VIPL_WAVE_RATE = 60.0


def make_vipl_tree(
    root: Path,
    subjects: int = 3,
    scenarios: Sequence[str] = ("v1",),
    sources: Sequence[int] = (1, 2, 4),
    seconds: float = 4.0,
    size: tuple[int, int] = DEFAULT_SIZE,
    hr_bpm: float | Sequence[float] | None = None,
    time_txt_sources: Sequence[int] = (2, 3),
    seed: int = 0,
) -> DatasetFixture:
    """VIPL-HR: `data/p<n>/v<k>/source<s>/{video.avi, wave.csv, gt_HR.csv, gt_SpO2.csv[, time.txt]}`.

    Source 4 is written as grey (NIR) video. Sources in `time_txt_sources` get a jittered `time.txt`
    (per-frame milliseconds) and their video header claims the nominal fps.
    """
    root = Path(root)
    keys = [(s, v, k) for s in range(1, subjects + 1) for v in scenarios for k in sources]
    hrs = _hr_values(len(keys), hr_bpm, seed)
    videos = []
    for i, ((subject, scenario, source), hr) in enumerate(zip(keys, hrs, strict=True)):
        folder = root / "data" / f"p{subject}" / scenario / f"source{source}"
        fps = VIPL_SOURCE_FPS[source]
        has_time = source in time_txt_sources
        times = _frame_times(seconds, fps, jitter_s=0.004 if has_time else 0.0, seed=seed + i)
        frames = synthetic_face_frames(times, hr, size, seed=seed + i, nir=source == 4)
        write_avi(folder / "video.avi", frames, fps, "MJPG")
        if has_time:
            (folder / "time.txt").write_text("".join(f"{t * 1000:.0f}\n" for t in times))
            times = np.round(times * 1000) / 1000
        video = FixtureVideo(
            f"vipl/p{subject}/{scenario}/source{source}",
            f"p{subject}",
            scenario,
            folder / "video.avi",
            folder / "wave.csv",
            hr,
            fps,
            times,
            scenario=scenario,
            source=f"source{source}",
        )
        _write_vipl_reference(video, seconds=video.duration)
        (folder / "gt_HR.csv").write_text("HR\n" + "".join(f"{hr:.0f}\n" for _ in range(int(video.duration))))
        (folder / "gt_SpO2.csv").write_text("SpO2\n" + "".join("98\n" for _ in range(int(video.duration))))
        if source != 4:
            videos.append(video)
    return DatasetFixture("vipl", root, videos, "ppg")


def _write_vipl_reference(
    video: FixtureVideo, seconds: float, wrong_rate: bool = False, nan: bool = False
) -> None:
    rate = VIPL_WAVE_RATE * (3.0 if wrong_rate else 1.0)
    times = _reference_times(seconds, rate) / (3.0 if wrong_rate else 1.0)
    wave = _with_nans(np.rint(60 + 30 * ppg_wave(times, video.hr_bpm)), nan)
    video.reference.write_text("Wave\n" + "".join(f"{v:.0f}\n" if np.isfinite(v) else "nan\n" for v in wave))


# --------------------------------------------------------------------------- MAHNOB-HCI

MAHNOB_ECG_RATE = 256


def make_mahnob_tree(
    root: Path,
    subjects: int = 3,
    sessions_per_subject: int = 1,
    seconds: float = 4.0,
    fps: float = 61.0,
    size: tuple[int, int] = DEFAULT_SIZE,
    hr_bpm: float | Sequence[float] | None = None,
    seed: int = 0,
) -> DatasetFixture:
    """MAHNOB-HCI: `Sessions/<id>/` with `session.xml`, `P<k>-Rec1-..._C1 trigger _C Section_<n>.avi`
    and `Part_<k>_S_Trial<n>_emotion.bdf`.

    The BDF has channels EXG1..EXG3 and Status at 256 Hz; EXG2 carries the clearest ECG.
    """
    root = Path(root)
    keys = [(s, t) for s in range(1, subjects + 1) for t in range(1, sessions_per_subject + 1)]
    hrs = _hr_values(len(keys), hr_bpm, seed)
    videos = []
    for i, ((subject, trial), hr) in enumerate(zip(keys, hrs, strict=True)):
        session_id = str(2 * i + 2)
        folder = root / "Sessions" / session_id
        video_name = (
            f"P{subject}-Rec1-2009.07.{9 + subject:02d}.17.53.46_C1 trigger _C Section_{trial * 2}.avi"
        )
        bdf_name = f"Part_{subject}_S_Trial{trial}_emotion.bdf"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "session.xml").write_text(
            '<?xml version="1.0" encoding="utf-8"?>\n'
            f'<session cutNum="{trial}" mediaFile="{trial}.avi" cutLenSec="{seconds:g}" '
            f'sessionId="{session_id}" date="2009-07-{9 + subject:02d}" vidRate="{fps:g}" isStim="1" '
            'feltEmo="0" feltArsl="5" feltVlnc="5">\n'
            f'  <subject id="{subject}" age="25" gender="male" />\n'
            f'  <track id="1" type="Video" filename="{video_name}" />\n'
            f'  <track id="7" type="Physiological" filename="{bdf_name}" />\n'
            "</session>\n"
        )
        times = _frame_times(seconds, fps)
        frames = synthetic_face_frames(times, hr, size, seed=seed + i)
        write_avi(folder / video_name, frames, fps, "MJPG")
        video = FixtureVideo(
            f"mahnob/{subject}/{session_id}",
            str(subject),
            session_id,
            folder / video_name,
            folder / bdf_name,
            hr,
            fps,
            times,
        )
        _write_mahnob_reference(video, seconds=np.ceil(video.duration) + 1)
        videos.append(video)
    return DatasetFixture("mahnob", root, videos, "ecg")


def _write_mahnob_reference(
    video: FixtureVideo, seconds: float, wrong_rate: bool = False, nan: bool = False
) -> None:
    """Write a BioSemi-style BDF: EXG1..EXG3 (ECG leads, uV) and Status (trigger at the video's start)."""
    if nan:
        raise ValueError("a BDF stores 24-bit integers: it cannot hold NaN samples")
    rate = MAHNOB_ECG_RATE // 2 if wrong_rate else MAHNOB_ECG_RATE
    seconds = int(np.ceil(seconds))
    times = np.arange(seconds * rate) / rate
    ecg = 1000.0 * ecg_wave(times, video.hr_bpm)  # microvolts
    noise = np.random.default_rng(7).normal(0.0, 5.0, (3, times.size))
    signals = [0.6 * ecg + noise[0] + 300.0, ecg + noise[1] - 200.0, -0.4 * ecg + noise[2] + 50.0]
    status = np.ones(times.size)  # the trigger is high from the video's first frame
    labels = ["EXG1", "EXG2", "EXG3", "Status"]
    writer = pyedflib.EdfWriter(str(video.reference), len(labels), file_type=pyedflib.FILETYPE_BDF)
    try:
        headers = []
        for label in labels:
            is_status = label == "Status"
            headers.append(
                {
                    "label": label,
                    "dimension": "Boolean" if is_status else "uV",
                    "sample_frequency": rate,
                    "physical_min": -8388608 if is_status else -262144,
                    "physical_max": 8388607 if is_status else 262143,
                    "digital_min": -8388608,
                    "digital_max": 8388607,
                    "transducer": "Triggers and Status" if is_status else "Active Electrode",
                    "prefilter": "" if is_status else "HP:DC; LP:52 Hz",
                }
            )
        writer.setSignalHeaders(headers)
        writer.writeSamples([*signals, status])
    finally:
        writer.close()


# --------------------------------------------------------------------------- MMSE-HR

MMSE_HR_RATE = 1000.0


def make_mmse_tree(
    root: Path,
    subjects: Sequence[str] = ("F013", "M001", "F020"),
    tasks: Sequence[str] = ("T1",),
    seconds: float = 4.0,
    fps: float = 25.0,
    size: tuple[int, int] = DEFAULT_SIZE,
    hr_bpm: float | Sequence[float] | None = None,
    seed: int = 0,
) -> DatasetFixture:
    """MMSE-HR (BP4D+ style): `<subject>/<task>/NNNN.jpg` frames and `Physiology/<subject>/<task>/`
    with `Pulse Rate_BPM.txt` (HR series) and `BP_mmHg.txt` (blood-pressure waveform), both at 1 kHz."""
    root = Path(root)
    keys = [(s, t) for s in subjects for t in tasks]
    hrs = _hr_values(len(keys), hr_bpm, seed)
    videos = []
    for i, ((subject, task), hr) in enumerate(zip(keys, hrs, strict=True)):
        times = _frame_times(seconds, fps)
        frames = synthetic_face_frames(times, hr, size, seed=seed + i)
        folder = root / subject / task
        write_images(folder, frames, [f"{n:04d}.jpg" for n in range(len(frames))])
        physiology = root / "Physiology" / subject / task
        physiology.mkdir(parents=True, exist_ok=True)
        video = FixtureVideo(
            f"mmse/{subject}/{task}",
            subject,
            task,
            folder,
            physiology / "Pulse Rate_BPM.txt",
            hr,
            fps,
            times,
            scenario=task,
        )
        _write_mmse_reference(video, seconds=video.duration)
        bp_times = _reference_times(video.duration, MMSE_HR_RATE)
        bp = 95 + 20 * ppg_wave(bp_times, hr)
        (physiology / "BP_mmHg.txt").write_text("".join(f"{v:.3f}\n" for v in bp))
        videos.append(video)
    return DatasetFixture("mmse", root, videos, "hr")


def _write_mmse_reference(
    video: FixtureVideo, seconds: float, wrong_rate: bool = False, nan: bool = False
) -> None:
    rate = MMSE_HR_RATE * (3.0 if wrong_rate else 1.0)
    n = int(round(seconds * rate))
    wobble = 0.8 * np.sin(np.linspace(0, 2 * np.pi, n))
    values = _with_nans(video.hr_bpm + wobble, nan)
    video.reference.write_text("".join(f"{v:.4f}\n" for v in values))


# --------------------------------------------------------------------------- UBFC-rPPG


def make_ubfc_tree(
    root: Path,
    subjects: int = 3,
    variant: str = "dataset2",
    seconds: float = 4.0,
    fps: float = 30.0,
    size: tuple[int, int] = DEFAULT_SIZE,
    hr_bpm: float | Sequence[float] | None = None,
    seed: int = 0,
) -> DatasetFixture:
    """UBFC-rPPG. DATASET_2: `subject<N>/{vid.avi, ground_truth.txt}` (3 lines: PPG, HR, time in s,
    one sample per frame). DATASET_1: `<N>-gt/{vid.avi, gtdump.xmp}` (rows ms, HR, SpO2, PPG at 60 Hz).
    Videos are uncompressed, as released."""
    if variant not in ("dataset1", "dataset2"):
        raise ValueError(f"variant must be dataset1 or dataset2, not {variant!r}")
    root = Path(root)
    hrs = _hr_values(subjects, hr_bpm, seed)
    videos = []
    for i, hr in enumerate(hrs):
        name = f"subject{i + 1}" if variant == "dataset2" else f"{i + 5}-gt"
        folder = root / name
        times = _frame_times(seconds, fps)
        frames = synthetic_face_frames(times, hr, size, seed=seed + i)
        write_avi(folder / "vid.avi", frames, fps, "I420")
        ref = folder / ("ground_truth.txt" if variant == "dataset2" else "gtdump.xmp")
        video = FixtureVideo(f"ubfc/{name}/1", name, "1", folder / "vid.avi", ref, hr, fps, times)
        _write_ubfc_reference(video, seconds=video.duration)
        videos.append(video)
    return DatasetFixture("ubfc", root, videos, "ppg")


def _write_ubfc_reference(
    video: FixtureVideo, seconds: float, wrong_rate: bool = False, nan: bool = False
) -> None:
    if video.reference.name == "ground_truth.txt":
        times = _reference_times(seconds, video.fps)
        ppg = _with_nans(ppg_wave(times, video.hr_bpm), nan)
        stamps = times * (10.0 if wrong_rate else 1.0)
        hr = np.full(times.size, video.hr_bpm)
        lines = [" ".join(f"{v:.7e}" for v in row) for row in (ppg, hr, stamps)]
        video.reference.write_text("\n".join(lines) + "\n")
    else:
        times = _reference_times(seconds, 60.0)
        ppg = _with_nans(np.rint(50 + 40 * ppg_wave(times, video.hr_bpm)), nan)
        stamps = times * 1000.0 * (10.0 if wrong_rate else 1.0)
        rows = [
            f"{t:.0f},{video.hr_bpm:.0f},98,{p:.0f}"
            if np.isfinite(p)
            else f"{t:.0f},{video.hr_bpm:.0f},98,nan"
            for t, p in zip(stamps, ppg, strict=True)
        ]
        video.reference.write_text("\n".join(rows) + "\n")


# --------------------------------------------------------------------------- PURE

PURE_START_NS = 1392643993642815000
PURE_WAVE_RATE = 60.0


def make_pure_tree(
    root: Path,
    subjects: int = 3,
    tasks: Sequence[str] = ("01",),
    seconds: float = 4.0,
    fps: float = 30.0,
    size: tuple[int, int] = DEFAULT_SIZE,
    hr_bpm: float | Sequence[float] | None = None,
    seed: int = 0,
) -> DatasetFixture:
    """PURE: `<ss>-<tt>/<ss>-<tt>/Image<ns>.png` and `<ss>-<tt>/<ss>-<tt>.json` with `/FullPackage`
    (pulse oximeter at ~60 Hz, starting before the camera) and `/Image` timestamps in nanoseconds."""
    root = Path(root)
    keys = [(s, t) for s in range(1, subjects + 1) for t in tasks]
    hrs = _hr_values(len(keys), hr_bpm, seed)
    videos = []
    for i, ((subject, task), hr) in enumerate(zip(keys, hrs, strict=True)):
        name = f"{subject:02d}-{task}"
        times = _frame_times(seconds, fps, jitter_s=0.003, seed=seed + i)
        stamps = PURE_START_NS + np.rint(times * 1e9).astype(np.int64)
        times = (stamps - stamps[0]) / 1e9
        frames = synthetic_face_frames(times, hr, size, seed=seed + i)
        folder = root / name / name
        write_images(folder, frames, [f"Image{s}.png" for s in stamps])
        video = FixtureVideo(
            f"pure/{subject:02d}/{task}",
            f"{subject:02d}",
            task,
            folder,
            root / name / f"{name}.json",
            hr,
            fps,
            times,
            scenario=task,
            extra={"stamps": stamps},
        )
        _write_pure_reference(video, seconds=video.duration)
        videos.append(video)
    return DatasetFixture("pure", root, videos, "ppg")


def _write_pure_reference(
    video: FixtureVideo, seconds: float, wrong_rate: bool = False, nan: bool = False
) -> None:
    stamps = video.extra["stamps"]
    times = _reference_times(seconds + 0.5, PURE_WAVE_RATE, start=-0.5)
    wave = _with_nans(np.rint(128 + 60 * ppg_wave(times, video.hr_bpm)), nan)
    pkg_ns = stamps[0] + np.rint(times * 1e9 * (10.0 if wrong_rate else 1.0)).astype(np.int64)
    package = [
        {
            "Timestamp": int(t),
            "Value": {
                "waveform": float(w) if np.isfinite(w) else float("nan"),
                "signalStrength": 4,
                "pulseRate": int(round(video.hr_bpm)),
                "o2saturation": 98,
            },
        }
        for t, w in zip(pkg_ns, wave, strict=True)
    ]
    document = {"/FullPackage": package, "/Image": [{"Timestamp": int(s)} for s in stamps]}
    video.reference.write_text(json.dumps(document, indent=1))


# --------------------------------------------------------------------------- COHFACE

COHFACE_RATE = 256.0


def make_cohface_tree(
    root: Path,
    subjects: int = 3,
    sessions: Sequence[str] = ("0",),
    seconds: float = 4.0,
    fps: float = 20.0,
    size: tuple[int, int] = DEFAULT_SIZE,
    hr_bpm: float | Sequence[float] | None = None,
    seed: int = 0,
) -> DatasetFixture:
    """COHFACE: `<subject>/<session>/data.avi` (compressed) and `data.hdf5` with `pulse`,
    `respiration` and `time` (seconds) at 256 Hz."""
    root = Path(root)
    keys = [(s, n) for s in range(1, subjects + 1) for n in sessions]
    hrs = _hr_values(len(keys), hr_bpm, seed)
    videos = []
    for i, ((subject, session), hr) in enumerate(zip(keys, hrs, strict=True)):
        folder = root / str(subject) / session
        times = _frame_times(seconds, fps)
        frames = synthetic_face_frames(times, hr, size, seed=seed + i, amplitude=2.0)
        write_avi(folder / "data.avi", frames, fps, "XVID")
        video = FixtureVideo(
            f"cohface/{subject}/{session}",
            str(subject),
            session,
            folder / "data.avi",
            folder / "data.hdf5",
            hr,
            fps,
            times,
        )
        _write_cohface_reference(video, seconds=video.duration)
        videos.append(video)
    return DatasetFixture("cohface", root, videos, "ppg")


def _write_cohface_reference(
    video: FixtureVideo, seconds: float, wrong_rate: bool = False, nan: bool = False
) -> None:
    times = _reference_times(seconds, COHFACE_RATE)
    pulse = _with_nans(0.5 + 0.2 * ppg_wave(times, video.hr_bpm), nan)
    with h5py.File(video.reference, "w") as f:
        f.create_dataset("pulse", data=pulse)
        f.create_dataset("respiration", data=0.3 * np.sin(2 * np.pi * 0.25 * times))
        f.create_dataset("time", data=times * (10.0 if wrong_rate else 1.0))


# --------------------------------------------------------------------------- registry and breakers

FIXTURE_MAKERS: dict[str, Callable[..., DatasetFixture]] = {
    "vipl": make_vipl_tree,
    "mahnob": make_mahnob_tree,
    "mmse": make_mmse_tree,
    "ubfc": make_ubfc_tree,
    "pure": make_pure_tree,
    "cohface": make_cohface_tree,
}

_REFERENCE_WRITERS: dict[str, Callable[..., None]] = {
    "vipl": _write_vipl_reference,
    "mahnob": _write_mahnob_reference,
    "mmse": _write_mmse_reference,
    "ubfc": _write_ubfc_reference,
    "pure": _write_pure_reference,
    "cohface": _write_cohface_reference,
}


def make_tree(dataset: str, root: Path, **kwargs: Any) -> DatasetFixture:
    """Write the fixture of `dataset` (a loader name) under `root`."""
    if dataset not in FIXTURE_MAKERS:
        raise KeyError(f"no fixture for dataset {dataset!r}; valid: {', '.join(FIXTURE_MAKERS)}")
    return FIXTURE_MAKERS[dataset](Path(root), **kwargs)


def break_missing_reference(fixture: DatasetFixture, index: int = 0) -> Path:
    """Delete one record's reference file; returns its path."""
    path = fixture.videos[index].reference
    path.unlink()
    return path


def break_video(fixture: DatasetFixture, index: int = 0) -> Path:
    """Corrupt one record's video: truncate a video file to 1 KiB, or overwrite a frame image with junk.

    Returns the damaged file.
    """
    video = fixture.videos[index].video
    if video.is_file():
        video.write_bytes(video.read_bytes()[:1024])
        return video
    first = sorted(p for p in video.iterdir() if p.is_file())[0]
    first.write_bytes(b"this is not an image")
    return first


def break_short_reference(fixture: DatasetFixture, index: int = 0) -> Path:
    """Rewrite one record's reference to cover only 40 % of the video; returns its path."""
    video = fixture.videos[index]
    seconds = 0.4 * video.duration
    _REFERENCE_WRITERS[fixture.dataset](
        video, seconds=int(seconds) if fixture.dataset == "mahnob" else seconds
    )
    return video.reference


def break_nan_reference(fixture: DatasetFixture, index: int = 0) -> Path:
    """Rewrite one record's reference with a run of NaN samples (not possible in a BDF: ValueError)."""
    video = fixture.videos[index]
    _REFERENCE_WRITERS[fixture.dataset](video, seconds=_full_seconds(fixture, video), nan=True)
    return video.reference


def break_wrong_rate(fixture: DatasetFixture, index: int = 0) -> Path:
    """Rewrite one record's reference at a wrong sampling rate, as its own format expresses one."""
    video = fixture.videos[index]
    _REFERENCE_WRITERS[fixture.dataset](video, seconds=_full_seconds(fixture, video), wrong_rate=True)
    return video.reference


def _full_seconds(fixture: DatasetFixture, video: FixtureVideo) -> float:
    return float(np.ceil(video.duration) + 1) if fixture.dataset == "mahnob" else video.duration


def break_empty_subject(fixture: DatasetFixture) -> Path:
    """Add a subject whose folder holds reference files but no video; returns that folder."""
    template = fixture.videos[0]
    root = fixture.root
    if fixture.dataset == "vipl":
        folder = root / "data" / "p99" / "v1" / "source1"
        folder.mkdir(parents=True)
        shutil.copy(template.reference, folder / "wave.csv")
        return root / "data" / "p99"
    if fixture.dataset == "mahnob":
        folder = root / "Sessions" / "998"
        folder.mkdir(parents=True)
        xml = (template.video.parent / "session.xml").read_text().replace('subject id="1"', 'subject id="99"')
        (folder / "session.xml").write_text(xml)
        shutil.copy(template.reference, folder / "Part_99_S_Trial1_emotion.bdf")
        return folder
    if fixture.dataset == "mmse":
        folder = root / "M099" / "T1"
        folder.mkdir(parents=True)
        physiology = root / "Physiology" / "M099" / "T1"
        physiology.mkdir(parents=True)
        shutil.copy(template.reference, physiology / template.reference.name)
        return folder
    if fixture.dataset == "ubfc":
        folder = root / "subject99"
        folder.mkdir()
        shutil.copy(template.reference, folder / template.reference.name)
        return folder
    if fixture.dataset == "pure":
        folder = root / "99-01"
        (folder / "99-01").mkdir(parents=True)
        shutil.copy(template.reference, folder / "99-01.json")
        return folder
    if fixture.dataset == "cohface":
        folder = root / "99" / "0"
        folder.mkdir(parents=True)
        shutil.copy(template.reference, folder / "data.hdf5")
        return root / "99"
    raise KeyError(fixture.dataset)
