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


# --------------------------------------------------------------------------- MATLAB files (SCAMPS, MMPD)

MATLAB_73_HEADER = (
    b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  2 12:00:00 2023 HDF5 schema 1.00 ."
)


def write_mat73(path: Path, variables: dict[str, Any]) -> Path:
    """Write a MATLAB v7.3 file: HDF5 behind MATLAB's 512-byte header, arrays with their axes reversed
    (as MATLAB stores them), text as uint16 `char` arrays, numeric arrays gzip-compressed in chunks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            if isinstance(value, str):
                data = np.array([[ord(c) for c in value]], dtype=np.uint16).T
                f.create_dataset(name, data=data).attrs["MATLAB_class"] = np.bytes_("char")
                continue
            array = np.asarray(value)
            array = array.reshape(1, -1) if array.ndim == 1 else array
            options = (
                {"compression": "gzip", "compression_opts": 1, "shuffle": True} if array.size > 4096 else {}
            )
            matlab_class = {np.dtype(np.float32): "single", np.dtype(np.uint8): "uint8"}.get(
                array.dtype, "double"
            )
            f.create_dataset(name, data=array.T, **options).attrs["MATLAB_class"] = np.bytes_(matlab_class)
    header = MATLAB_73_HEADER.ljust(116) + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as handle:
        handle.write(header.ljust(512, b"\x00"))
    return path


def write_mat5(path: Path, variables: dict[str, Any]) -> Path:
    """Write a MATLAB v5 file (compressed) with scipy.io, as older MATLAB releases save them."""
    from scipy.io import savemat

    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, variables, do_compression=True)
    return path


def _write_mat(path: Path, variables: dict[str, Any], version: str) -> Path:
    return write_mat73(path, variables) if version == "7.3" else write_mat5(path, variables)


def _mat_frames(times: np.ndarray, hr: float, size: tuple[int, int], seed: int) -> np.ndarray:
    """Frames as MATLAB (t, h, w, c) single-precision values in [0, 1], as SCAMPS and MMPD store them."""
    return synthetic_face_frames(times, hr, size, seed=seed).astype(np.float32) / np.float32(255.0)


def _rewrite_mat_variable(path: Path, name: str, value: Any | None) -> None:
    """Replace (or with None delete) one variable of a .mat file in place."""
    if mat_is_v73(path):
        with h5py.File(path, "a") as f:
            if name in f:
                del f[name]
            if value is not None:
                array = np.asarray(value)
                array = array.reshape(1, -1) if array.ndim == 1 else array
                f.create_dataset(name, data=array.T).attrs["MATLAB_class"] = np.bytes_("double")
        return
    from scipy.io import loadmat

    content = {k: v for k, v in loadmat(path).items() if not k.startswith("__")}
    content.pop(name, None)
    if value is not None:
        content[name] = value
    write_mat5(path, content)


def mat_is_v73(path: Path) -> bool:
    """True for an HDF5-based (v7.3) .mat file."""
    with open(path, "rb") as handle:
        return handle.read(520)[512:520] == b"\x89HDF\r\n\x1a\n"


# --------------------------------------------------------------------------- SCAMPS

SCAMPS_FPS = 30.0


def make_scamps_tree(
    root: Path,
    videos: int = 3,
    seconds: float = 4.0,
    fps: float = SCAMPS_FPS,
    size: tuple[int, int] = DEFAULT_SIZE,
    hr_bpm: float | Sequence[float] | None = None,
    mat_version: str = "7.3",
    seed: int = 0,
) -> DatasetFixture:
    """SCAMPS: `P<NNNNNN>.mat` per video (MATLAB v7.3 = HDF5, or `mat_version="5"`) with `RawFrames`,
    `Xsub` (a centre crop), `d_ppg` and `d_br` (one sample per frame) and a few more per-frame signals."""
    root = Path(root)
    hrs = _hr_values(videos, hr_bpm, seed)
    out = []
    for i, hr in enumerate(hrs):
        name = f"P{i + 1:06d}"
        path = root / f"{name}.mat"
        times = _frame_times(seconds, fps)
        frames = _mat_frames(times, hr, size, seed + i)
        h, w = frames.shape[1:3]
        side = min(h, w)
        crop = frames[:, (h - side) // 2 : (h + side) // 2, (w - side) // 2 : (w + side) // 2]
        video = FixtureVideo(f"scamps/{name}/1", name, "1", path, path, hr, fps, times)
        variables = {
            "RawFrames": frames,
            "Xsub": crop,
            "d_ppg": ppg_wave(times, hr),
            "d_br": 0.5 * np.sin(2 * np.pi * 0.25 * times),
            "d_pitch": np.zeros(times.size),
        }
        _write_mat(path, variables, mat_version)
        out.append(video)
    return DatasetFixture("scamps", root, out, "ppg")


def _write_scamps_reference(
    video: FixtureVideo, seconds: float, wrong_rate: bool = False, nan: bool = False
) -> None:
    rate = video.fps * (3.0 if wrong_rate else 1.0)
    times = _reference_times(seconds, rate) / (3.0 if wrong_rate else 1.0)
    _rewrite_mat_variable(video.reference, "d_ppg", _with_nans(ppg_wave(times, video.hr_bpm), nan))


# --------------------------------------------------------------------------- MMPD

MMPD_LABELS = (
    {"light": "LED-low", "motion": "Stationary", "exercise": "False", "skin_color": 3},
    {"light": "Nature", "motion": "Talking", "exercise": "False", "skin_color": 5},
    {"light": "Incandescent", "motion": "Stationary (after exercise)", "exercise": "True", "skin_color": 6},
)


def mmpd_scenario(labels: dict[str, Any]) -> str:
    """The `Record.scenario` the MMPD loader builds from a file's labels (default scenario_labels)."""
    return ";".join(f"{k}={labels[k]}" for k in ("light", "motion", "exercise", "skin_color"))


def make_mmpd_tree(
    root: Path,
    subjects: int = 3,
    videos_per_subject: int = 1,
    seconds: float = 4.0,
    fps: float = 30.0,
    size: tuple[int, int] = DEFAULT_SIZE,
    hr_bpm: float | Sequence[float] | None = None,
    mat_version: str = "5",
    seed: int = 0,
) -> DatasetFixture:
    """MMPD: `subject<N>/p<N>_<k>.mat` with `video` (t, h, w, c in [0, 1]), `GT_ppg` (1 x T, at the frame
    rate) and the labels `light`, `motion`, `exercise`, `skin_color`, `gender`, `glasser`, `hair_cover`,
    `makeup` (text, skin colour a number)."""
    root = Path(root)
    keys = [(s, k) for s in range(1, subjects + 1) for k in range(videos_per_subject)]
    hrs = _hr_values(len(keys), hr_bpm, seed)
    out = []
    for i, ((subject, k), hr) in enumerate(zip(keys, hrs, strict=True)):
        path = root / f"subject{subject}" / f"p{subject}_{k}.mat"
        times = _frame_times(seconds, fps)
        labels = MMPD_LABELS[i % len(MMPD_LABELS)]
        variables = {
            "video": _mat_frames(times, hr, size, seed + i),
            "GT_ppg": ppg_wave(times, hr).reshape(1, -1),
            **{key: (float(v) if isinstance(v, int) else v) for key, v in labels.items()},
            "gender": "female" if subject % 2 else "male",
            "glasser": "False",
            "hair_cover": "False",
            "makeup": "False",
        }
        _write_mat(path, variables, mat_version)
        out.append(
            FixtureVideo(
                f"mmpd/subject{subject}/{k}", f"subject{subject}", str(k), path, path, hr, fps, times,
                scenario=mmpd_scenario(labels), extra={"labels": labels},
            )
        )  # fmt: skip
    return DatasetFixture("mmpd", root, out, "ppg")


def _write_mmpd_reference(
    video: FixtureVideo, seconds: float, wrong_rate: bool = False, nan: bool = False
) -> None:
    rate = video.fps * (3.0 if wrong_rate else 1.0)
    times = _reference_times(seconds, rate) / (3.0 if wrong_rate else 1.0)
    ppg = _with_nans(ppg_wave(times, video.hr_bpm), nan).reshape(1, -1)
    _rewrite_mat_variable(video.reference, "GT_ppg", ppg)


# --------------------------------------------------------------------------- UBFC-Phys

UBFCPHYS_BVP_RATE = 64.0
UBFCPHYS_TASKS = {"T1": "rest", "T2": "speech", "T3": "arithmetic"}


def make_ubfcphys_tree(
    root: Path,
    subjects: int = 3,
    tasks: Sequence[str] = ("T1",),
    seconds: float = 4.0,
    fps: float = 35.0,
    size: tuple[int, int] = DEFAULT_SIZE,
    hr_bpm: float | Sequence[float] | None = None,
    seed: int = 0,
) -> DatasetFixture:
    """UBFC-Phys: `s<N>/vid_s<N>_T<k>.avi` with `bvp_s<N>_T<k>.csv` (64 Hz, one value a line, no header)
    and `eda_s<N>_T<k>.csv` (4 Hz)."""
    root = Path(root)
    keys = [(s, t) for s in range(1, subjects + 1) for t in tasks]
    hrs = _hr_values(len(keys), hr_bpm, seed)
    out = []
    for i, ((subject, task), hr) in enumerate(zip(keys, hrs, strict=True)):
        folder = root / f"s{subject}"
        times = _frame_times(seconds, fps)
        video_path = write_avi(
            folder / f"vid_s{subject}_{task}.avi", synthetic_face_frames(times, hr, size, seed=seed + i), fps
        )
        video = FixtureVideo(
            f"ubfcphys/s{subject}/{task}", f"s{subject}", task, video_path, folder / f"bvp_s{subject}_{task}.csv",
            hr, fps, times, scenario=UBFCPHYS_TASKS.get(task, task),
        )  # fmt: skip
        _write_ubfcphys_reference(video, seconds=video.duration)
        eda = 2.0 + 0.1 * np.sin(np.arange(int(video.duration * 4)) / 4.0)
        (folder / f"eda_s{subject}_{task}.csv").write_text("".join(f"{v:.6f}\n" for v in eda))
        out.append(video)
    return DatasetFixture("ubfcphys", root, out, "ppg")


def _write_ubfcphys_reference(
    video: FixtureVideo, seconds: float, wrong_rate: bool = False, nan: bool = False
) -> None:
    rate = UBFCPHYS_BVP_RATE * (3.0 if wrong_rate else 1.0)
    times = _reference_times(seconds, rate) / (3.0 if wrong_rate else 1.0)
    bvp = _with_nans(40.0 * ppg_wave(times, video.hr_bpm), nan)
    video.reference.write_text("".join(f"{v:.6f}\n" if np.isfinite(v) else "nan\n" for v in bvp))


# --------------------------------------------------------------------------- iBVP

IBVP_CONDITIONS = {"a": "breathing_rest", "b": "easy_math", "c": "difficult_math", "d": "head_movement"}
IBVP_PPG_RATE = 250.0  # the fixture's own choice: the loader spreads the PPG over the video


def make_ibvp_tree(
    root: Path,
    subjects: int = 3,
    conditions: Sequence[str] = ("a",),
    seconds: float = 4.0,
    fps: float = 30.0,
    size: tuple[int, int] = DEFAULT_SIZE,
    hr_bpm: float | Sequence[float] | None = None,
    seed: int = 0,
) -> DatasetFixture:
    """iBVP: `p<NN>_<c>/` with `p<NN>_<c>_rgb/<n>.bmp` (RGB), `p<NN>_<c>_t/<n>.raw` (16-bit thermal,
    640x512 in the release, a few small ones here) and `p<NN>_<c>_bvp.csv`: a header line, then rows of
    PPG and signal-quality labels spanning the video."""
    root = Path(root)
    keys = [(s, c) for s in range(1, subjects + 1) for c in conditions]
    hrs = _hr_values(len(keys), hr_bpm, seed)
    out = []
    for i, ((subject, condition), hr) in enumerate(zip(keys, hrs, strict=True)):
        name = f"p{subject:02d}_{condition}"
        folder = root / name
        times = _frame_times(seconds, fps)
        frames = synthetic_face_frames(times, hr, size, seed=seed + i)
        write_images(folder / f"{name}_rgb", frames, [f"{n + 1}.bmp" for n in range(len(frames))])
        thermal = folder / f"{name}_t"
        thermal.mkdir(parents=True, exist_ok=True)
        for n in range(3):
            np.full((8, 8), 7600 + n, dtype=np.uint16).tofile(thermal / f"{n + 1}.raw")
        video = FixtureVideo(
            f"ibvp/p{subject:02d}/{condition}", f"p{subject:02d}", condition, folder / f"{name}_rgb",
            folder / f"{name}_bvp.csv", hr, fps, times, scenario=IBVP_CONDITIONS[condition],
        )  # fmt: skip
        _write_ibvp_reference(video, seconds=video.duration)
        out.append(video)
    return DatasetFixture("ibvp", root, out, "ppg")


def _write_ibvp_reference(
    video: FixtureVideo, seconds: float, wrong_rate: bool = False, nan: bool = False
) -> None:
    times = _reference_times(seconds, IBVP_PPG_RATE)
    ppg = _with_nans(ppg_wave(times, video.hr_bpm), nan)
    quality = np.where(np.arange(times.size) % 50 < 45, 1.0, 0.2)
    rows = [
        f"{p:.6f},1,{q:.2f},{q:.2f}" if np.isfinite(p) else f"nan,1,{q:.2f},{q:.2f}"
        for p, q in zip(ppg, quality, strict=True)
    ]
    video.reference.write_text("BVP,SQ1,SQA,SQ2\n" + "\n".join(rows) + "\n")


# --------------------------------------------------------------------------- LGI-PPGI

LGI_WAVE_RATE = 60.0
LGI_SUBJECTS = ("alex", "angelo", "cpi", "david", "felix", "harun")


def _boost_xml(items: Sequence[Sequence[str]]) -> str:
    """A Boost serialisation XML archive of a list of items with fields value0, value1, ..."""
    body = "".join(
        '\t<item class_id="1" tracking_level="0" version="0">\n'
        + "".join(f"\t\t<value{k}>{v}</value{k}>\n" for k, v in enumerate(item))
        + "\t</item>\n"
        for item in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>\n<!DOCTYPE boost_serialization>\n'
        '<boost_serialization signature="serialization::archive" version="12">\n'
        f'<data class_id="0" tracking_level="0" version="0">\n\t<count>{len(items)}</count>\n'
        f"\t<item_version>0</item_version>\n{body}</data>\n</boost_serialization>\n"
    )


def make_lgippgi_tree(
    root: Path,
    subjects: int = 3,
    sessions: Sequence[str] = ("resting",),
    seconds: float = 4.0,
    fps: float = 25.0,
    size: tuple[int, int] = DEFAULT_SIZE,
    hr_bpm: float | Sequence[float] | None = None,
    seed: int = 0,
) -> DatasetFixture:
    """LGI-PPGI: `<subject>/<subject>_<session>/` with `cv_camera_sensor_stream_handler.avi` (uncompressed),
    `cv_camera_sensor_timer_stream_handler.xml` (frame times in ms, jittered) and
    `cms50_stream_handler.xml` (60-Hz pleth and pulse rate; it starts before the camera and stops with it)."""
    root = Path(root)
    keys = [(LGI_SUBJECTS[s], n) for s in range(subjects) for n in sessions]
    hrs = _hr_values(len(keys), hr_bpm, seed)
    out = []
    for i, ((subject, session), hr) in enumerate(zip(keys, hrs, strict=True)):
        folder = root / subject / f"{subject}_{session}"
        times = _frame_times(seconds, fps, jitter_s=0.003, seed=seed + i)
        stamps_ms = np.rint(times * 1000.0)
        times = (stamps_ms - stamps_ms[0]) / 1000.0
        write_avi(
            folder / "cv_camera_sensor_stream_handler.avi",
            synthetic_face_frames(times, hr, size, seed=seed + i),
            fps,
            "I420",
        )
        (folder / "cv_camera_sensor_timer_stream_handler.xml").write_text(
            _boost_xml([(str(n), f"{t:.0f}") for n, t in enumerate(stamps_ms + 1000)])
        )
        video = FixtureVideo(
            f"lgippgi/{subject}/{session}", subject, session, folder / "cv_camera_sensor_stream_handler.avi",
            folder / "cms50_stream_handler.xml", hr, fps, times, scenario=session,
        )  # fmt: skip
        _write_lgippgi_reference(video, seconds=float(times[-1]) + 0.5)
        out.append(video)
    return DatasetFixture("lgippgi", root, out, "ppg")


def _write_lgippgi_reference(
    video: FixtureVideo, seconds: float, wrong_rate: bool = False, nan: bool = False
) -> None:
    """`seconds` of oximeter samples ending at the video's last frame (3x as many for a wrong rate)."""
    end = float(video.timestamps[-1])
    rate = LGI_WAVE_RATE * (3.0 if wrong_rate else 1.0)
    n = int(round(seconds * rate)) + 1
    times = end - (n - 1 - np.arange(n)) / LGI_WAVE_RATE  # what the loader assumes at 60 Hz
    if wrong_rate:
        times = end - (n - 1 - np.arange(n)) / rate
    wave = _with_nans(np.rint(50 + 40 * ppg_wave(times, video.hr_bpm)), nan)
    items = [
        (str(k), f"{video.hr_bpm:.0f}", f"{w:.0f}" if np.isfinite(w) else "nan") for k, w in enumerate(wave)
    ]
    video.reference.write_text(_boost_xml(items))


# --------------------------------------------------------------------------- BP4D+

BP4D_RATE = 1000.0


def make_bp4d_tree(
    root: Path,
    subjects: Sequence[str] = ("F001", "M001", "F002"),
    tasks: Sequence[str] = ("T1",),
    seconds: float = 4.0,
    fps: float = 25.0,
    size: tuple[int, int] = DEFAULT_SIZE,
    hr_bpm: float | Sequence[float] | None = None,
    extracted: bool = False,
    seed: int = 0,
) -> DatasetFixture:
    """BP4D+: `2D+3D/<subject>.zip` holding `<subject>/<task>/<nnnn>.jpg` (or, with `extracted`, those
    folders under `2D+3D/`), and `Physiology/<subject>/<task>/` with `BP_mmHg.txt`, `Pulse Rate_BPM.txt`
    and `Resp_Volts.txt`, one value a line at 1 kHz."""
    import zipfile

    root = Path(root)
    keys = [(s, t) for s in subjects for t in tasks]
    hrs = _hr_values(len(keys), hr_bpm, seed)
    out = []
    staging = root / "2D+3D"
    for i, ((subject, task), hr) in enumerate(zip(keys, hrs, strict=True)):
        times = _frame_times(seconds, fps)
        frames = synthetic_face_frames(times, hr, size, seed=seed + i)
        folder = staging / subject / task
        write_images(folder, frames, [f"{n:04d}.jpg" for n in range(len(frames))])
        physiology = root / "Physiology" / subject / task
        physiology.mkdir(parents=True, exist_ok=True)
        location = folder if extracted else staging / f"{subject}.zip"
        video = FixtureVideo(
            f"bp4d/{subject}/{task}", subject, task, location, physiology / "BP_mmHg.txt", hr, fps, times,
            scenario=task,
        )  # fmt: skip
        _write_bp4d_reference(video, seconds=video.duration)
        rr = _reference_times(video.duration, BP4D_RATE)
        (physiology / "Pulse Rate_BPM.txt").write_text("".join(f"{hr:.3f}\n" for _ in rr))
        (physiology / "Resp_Volts.txt").write_text(
            "".join(f"{v:.4f}\n" for v in np.sin(2 * np.pi * 0.25 * rr))
        )
        out.append(video)
    if not extracted:
        for subject in dict.fromkeys(subjects):
            with zipfile.ZipFile(staging / f"{subject}.zip", "w", zipfile.ZIP_STORED) as archive:
                for path in sorted((staging / subject).rglob("*.jpg")):
                    archive.write(path, path.relative_to(staging).as_posix())
            shutil.rmtree(staging / subject)
    return DatasetFixture("bp4d", root, out, "ppg", {"frames": "folders" if extracted else "zip"})


def _write_bp4d_reference(
    video: FixtureVideo, seconds: float, wrong_rate: bool = False, nan: bool = False
) -> None:
    rate = BP4D_RATE * (3.0 if wrong_rate else 1.0)
    times = _reference_times(seconds, rate) / (3.0 if wrong_rate else 1.0)
    bp = _with_nans(95 + 20 * ppg_wave(times, video.hr_bpm), nan)
    video.reference.write_text("".join(f"{v:.3f}\n" if np.isfinite(v) else "nan\n" for v in bp))


# --------------------------------------------------------------------------- registry and breakers

FIXTURE_MAKERS: dict[str, Callable[..., DatasetFixture]] = {
    "vipl": make_vipl_tree,
    "mahnob": make_mahnob_tree,
    "mmse": make_mmse_tree,
    "ubfc": make_ubfc_tree,
    "pure": make_pure_tree,
    "cohface": make_cohface_tree,
    "scamps": make_scamps_tree,
    "mmpd": make_mmpd_tree,
    "ubfcphys": make_ubfcphys_tree,
    "ibvp": make_ibvp_tree,
    "lgippgi": make_lgippgi_tree,
    "bp4d": make_bp4d_tree,
}

_REFERENCE_WRITERS: dict[str, Callable[..., None]] = {
    "vipl": _write_vipl_reference,
    "mahnob": _write_mahnob_reference,
    "mmse": _write_mmse_reference,
    "ubfc": _write_ubfc_reference,
    "pure": _write_pure_reference,
    "cohface": _write_cohface_reference,
    "scamps": _write_scamps_reference,
    "mmpd": _write_mmpd_reference,
    "ubfcphys": _write_ubfcphys_reference,
    "ibvp": _write_ibvp_reference,
    "lgippgi": _write_lgippgi_reference,
    "bp4d": _write_bp4d_reference,
}


def make_tree(dataset: str, root: Path, **kwargs: Any) -> DatasetFixture:
    """Write the fixture of `dataset` (a loader name) under `root`."""
    if dataset not in FIXTURE_MAKERS:
        raise KeyError(f"no fixture for dataset {dataset!r}; valid: {', '.join(FIXTURE_MAKERS)}")
    return FIXTURE_MAKERS[dataset](Path(root), **kwargs)


MAT_REFERENCE_VARIABLE = {"scamps": "d_ppg", "mmpd": "GT_ppg"}
"""Datasets whose reference is a variable of the video's own .mat file, and that variable."""


def break_missing_reference(fixture: DatasetFixture, index: int = 0) -> Path:
    """Delete one record's reference file (or, where the video's .mat file holds it, that variable);
    returns the file's path."""
    path = fixture.videos[index].reference
    if fixture.dataset in MAT_REFERENCE_VARIABLE:
        _rewrite_mat_variable(path, MAT_REFERENCE_VARIABLE[fixture.dataset], None)
        return path
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
    if fixture.dataset == "lgippgi":
        return float(video.timestamps[-1]) + 0.5
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
    return _break_empty_subject_more(fixture, template)


def _break_empty_subject_more(fixture: DatasetFixture, template: FixtureVideo) -> Path:
    root = fixture.root
    if fixture.dataset == "scamps":
        path = root / "P999999.mat"
        write_mat73(path, {"d_ppg": np.zeros(10)})
        return path
    if fixture.dataset == "mmpd":
        folder = root / "subject99"
        write_mat5(folder / "p99_0.mat", {"GT_ppg": np.zeros((1, 10)), "light": "Nature"})
        return folder
    if fixture.dataset == "ubfcphys":
        folder = root / "s99"
        folder.mkdir()
        shutil.copy(template.reference, folder / "bvp_s99_T1.csv")
        return folder
    if fixture.dataset == "ibvp":
        folder = root / "p99_a"
        folder.mkdir()
        shutil.copy(template.reference, folder / "p99_a_bvp.csv")
        return folder
    if fixture.dataset == "lgippgi":
        folder = root / "zoe" / "zoe_resting"
        folder.mkdir(parents=True)
        shutil.copy(template.reference, folder / template.reference.name)
        return folder
    if fixture.dataset == "bp4d":
        folder = root / "Physiology" / "M099" / "T1"
        folder.mkdir(parents=True)
        shutil.copy(template.reference, folder / template.reference.name)
        return folder
    raise KeyError(fixture.dataset)
