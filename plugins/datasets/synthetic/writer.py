"""Write a synthetic dataset to disk in the layout a real dataset would have, streaming frames.

    <root>/meta.json                          preset, seed, generator version, subjects, scenarios, codec
    <root>/<subject>/<scenario id>/video.avi  RGB video (HuffYUV or FFV1 lossless, or MJPG quality 95)
    <root>/<subject>/<scenario id>/ppg.csv    time_s,ppg   reference blood-volume pulse at 60 Hz
    <root>/<subject>/<scenario id>/frames.csv frame,time_s,x,y,w,h   per-frame timestamps, true face box
    <root>/<subject>/<scenario id>/clip.json  scenario, true mean HR, pulse parameters, identity

Every clip gets its own random streams from (seed, subject, scenario), so a clip is the same whatever
the number of workers or the other clips; the whole tree is written to a temporary folder and renamed.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from rppgbench.errors import DataError
from rppgbench.permissions import apply_umask
from rppgbench.video import FrameSource

from .faces import Identity
from .presets import Preset
from .pulse import PulseParams
from .render import ClipSpec, render_clip
from .scene import SCENARIOS

GENERATOR_VERSION = "1.0"  # bump when the frames or references of an existing preset change (clip cache key)
SCENARIO_ORDER = tuple(SCENARIOS)


def subject_name(index: int) -> str:
    """Folder name of subject `index` (0-based)."""
    return f"p{index + 1:03d}"


def identity_for(preset: Preset, seed: int, subject: int) -> Identity:
    """The identity of subject `subject`: depends only on the seed and the subject index."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, subject, 1]))
    return Identity.draw(subject_name(subject), rng, photo=subject % preset.photo_every == 0)


def clip_spec(preset: Preset, seed: int, subject: int, scenario: str) -> ClipSpec:
    """The spec of one clip: the subject's identity, the scenario, and this session's physiology."""
    scen_index = SCENARIO_ORDER.index(scenario)
    rng = np.random.default_rng(np.random.SeedSequence([seed, subject, 2, scen_index]))
    low, mode, high = preset.hr_range_bpm
    pulse = PulseParams(
        hr_bpm=float(rng.triangular(low, mode, high)),
        drift_bpm=float(rng.uniform(1.0, 5.0)),
        rsa_bpm=float(rng.uniform(0.5, 3.0)),
        hrv_ms=float(rng.uniform(10.0, 45.0)),
        resp_hz=float(rng.uniform(0.15, 0.35)),
        resp_amplitude=float(rng.uniform(0.05, 0.2)),
        resp_baseline=float(rng.uniform(0.03, 0.15)),
        amplitude_jitter=float(rng.uniform(0.02, 0.08)),
    )
    return ClipSpec(
        identity=identity_for(preset, seed, subject),
        scenario=SCENARIOS[scenario],
        pulse=pulse,
        duration_s=preset.duration_s,
        width=preset.width,
        height=preset.height,
        fps=preset.fps,
        ppg_rate=preset.ppg_rate,
        entropy=(seed, subject, 3, scen_index),
    )


def _open_writer(path: Path, codec: str, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    if codec == "MJPG":
        writer = cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
        writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
    else:
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, size)
    if not writer.isOpened():
        raise DataError(f"{path}: OpenCV cannot write {codec} video here")
    return writer


def write_clip(spec: ClipSpec, folder: Path, codec: str = "HFYU", video: bool = True) -> dict:
    """Render one clip into `folder` (video, reference, frame table, clip.json); returns its summary.

    With `video=False` the frames are not rendered here: readers render them from the spec when
    they need them (`rendered_frames`), which gives the very frames a lossless video would hold.
    """
    folder.mkdir(parents=True, exist_ok=True)
    clip = render_clip(spec)
    if video:
        writer = _open_writer(folder / "video.avi", codec, spec.fps, (spec.width, spec.height))
        try:
            for frame in clip.frames():
                writer.write(np.ascontiguousarray(frame[..., ::-1]))
        finally:
            writer.release()
    with open(folder / "ppg.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["time_s", "ppg"])
        out.writerows(zip([f"{t:.6f}" for t in clip.ppg_times], [f"{v:.6f}" for v in clip.ppg], strict=True))
    with open(folder / "frames.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["frame", "time_s", "x", "y", "w", "h"])
        for i, (t, box) in enumerate(zip(clip.times, clip.boxes, strict=True)):
            out.writerow([i, f"{t:.6f}", *(int(b) for b in box)])
    summary = {
        "subject": spec.identity.subject,
        "scenario": spec.scenario.name,
        "scenario_id": spec.scenario.id,
        "hr_bpm": round(clip.hr_bpm, 4),
        "n_frames": len(clip.times),
        "fps": spec.fps,
        "ppg_rate": spec.ppg_rate,
        "jpeg_quality": clip.jpeg_quality,
        "pulse": asdict(spec.pulse),
        "identity": asdict(spec.identity),
    }
    if spec.scenario.video_bpp is not None:
        summary["video_bpp"] = spec.scenario.video_bpp
    (folder / "clip.json").write_text(json.dumps(summary, indent=1))
    return summary


LOSSLESS_CODECS = ("HFYU", "FFV1")
"""Codecs whose decoded frames equal the rendered ones, so a tree can skip its videos (`videos=False`)."""


def _write_job(args: tuple[ClipSpec, str, str, bool]) -> dict:
    spec, folder, codec, video = args
    cv2.setNumThreads(1)
    return write_clip(spec, Path(folder), codec, video)


def generate(
    out: Path,
    preset: Preset,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = False,
    videos: bool = True,
) -> Path:
    """Write the whole dataset of `preset` and `seed` to `out` (atomically: temp folder, then rename).

    `out` must not exist yet (or be an empty folder). Frames are streamed, so memory does not grow with
    the dataset; clips are rendered in parallel by `workers` processes (default: all cores).
    `videos=False` (lossless presets only) writes references, frame tables and metadata but no
    video files: the loader renders each clip's frames when they are read (`rendered_frames`).
    """
    if not videos and preset.codec not in LOSSLESS_CODECS:
        raise DataError(f"preset {preset.name!r} is stored as {preset.codec} (lossy): it needs its videos")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out}: folder exists and is not empty; choose a new folder or delete it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    apply_umask(tmp, directory=True)  # mkdtemp makes a private folder; the dataset is renamed from it
    try:
        jobs = [
            (
                clip_spec(preset, seed, s, scen),
                str(tmp / subject_name(s) / SCENARIOS[scen].id),
                preset.codec,
                videos,
            )
            for s in range(preset.n_subjects)
            for scen in preset.scenarios
        ]
        workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
        if workers == 1:
            summaries = [_write_job(job) for job in _progress(jobs, progress)]
        else:
            # spawn, not fork: forking a process that already runs torch/Ray threads can deadlock
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
                summaries = list(_progress(pool.map(_write_job, jobs), progress, total=len(jobs)))
        meta = {
            "dataset": "synthetic",
            "generator_version": GENERATOR_VERSION,
            "preset": asdict(preset),
            "seed": seed,
            "codec": preset.codec,
            "videos": videos,
            "subjects": [subject_name(s) for s in range(preset.n_subjects)],
            "scenarios": {SCENARIOS[s].id: SCENARIOS[s].name for s in preset.scenarios},
            "clips": summaries,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _progress(items, enabled: bool, total: int | None = None):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc="synthetic clips", unit="clip")


class RenderedFrames(FrameSource):
    """The frames of one clip of a tree written with `videos=False`, rendered as they are read."""

    def __init__(self, spec: ClipSpec, timestamps: np.ndarray | None = None) -> None:
        self.spec = spec
        self.fps = float(spec.fps)
        self.timestamps = timestamps

    def frame_count(self) -> int | None:
        return int(round(self.spec.duration_s * self.spec.fps))

    def __iter__(self) -> Iterator[np.ndarray]:
        cv2.setNumThreads(1)
        return render_clip(self.spec).frames()


def spec_from_meta(meta: dict, subject: str, scenario: str) -> ClipSpec:
    """The spec of clip (`subject`, `scenario` name) of a tree whose meta.json is `meta`."""
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["preset"].items()}
    return clip_spec(Preset(**fields), int(meta["seed"]), meta["subjects"].index(subject), scenario)


def rendered_frames(meta: dict, subject: str, scenario: str, timestamps: np.ndarray | None) -> RenderedFrames:
    """The frame source of clip (`subject`, `scenario` name) of a tree whose meta.json is `meta`."""
    return RenderedFrames(spec_from_meta(meta, subject, scenario), timestamps)
