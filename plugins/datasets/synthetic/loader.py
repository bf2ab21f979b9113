"""The `synthetic` dataset loader: reads a generated tree, generating the preset into the cache if needed."""

from __future__ import annotations

import json
import shutil
from functools import cache
from pathlib import Path

import numpy as np

from rppgbench.data import Record, Reference
from rppgbench.dataset import DatasetLoader
from rppgbench.errors import DataError
from rppgbench.params import Param
from rppgbench.paths import cache_root
from rppgbench.video import FrameSource, VideoFile

from .presets import PRESETS, get_preset


def cached_dataset(preset: str, seed: int) -> Path:
    """The cached tree of `preset` and `seed`, generated on first use (atomically) and reused afterwards."""
    from . import writer  # OpenCV and the renderer load only here

    folder = cache_root() / "synthetic" / f"{preset}-seed{seed}"
    meta = folder / "meta.json"
    if meta.is_file() and json.loads(meta.read_text()).get("generator_version") == writer.GENERATOR_VERSION:
        return folder
    if folder.exists():  # written by another generator version: replace it
        shutil.rmtree(folder)
    chosen = get_preset(preset)
    stored = (
        f"about {chosen.approx_bytes / 1e6:.0f} MB"
        if chosen.codec not in writer.LOSSLESS_CODECS
        else "frames rendered when read, no video files"
    )
    _say(
        f"generating the embedded synthetic dataset {preset} (seed {seed}): {chosen.n_videos} videos "
        f"({stored}), into {folder} (once; later runs reuse it)"
    )
    videos = chosen.codec not in writer.LOSSLESS_CODECS  # lossless: frames are rendered when read
    try:
        writer.generate(folder, chosen, seed, progress=True, videos=videos)
    except (DataError, OSError):
        if not (folder / "meta.json").is_file():  # lost a race with another process: use its tree
            raise
    written = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    _say(f"synthetic dataset ready: {written / 1e6:.0f} MB in {folder}")
    return folder


def _say(text: str) -> None:
    """A one-line notice on standard error (kept out of tables printed on standard output)."""
    import sys

    print(f"rppgbench: {text}", file=sys.stderr, flush=True)


@cache
def _read_frames_table(path: Path):  # noqa: ANN202 - a pandas DataFrame
    try:
        import pandas as pd

        table = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the frame table ({exc})") from exc
    missing = {"frame", "time_s", "x", "y", "w", "h"} - set(table.columns)
    if missing:
        raise DataError(f"{path}: frame table lacks columns {sorted(missing)}")
    return table


class SyntheticDataset(DatasetLoader):
    """Physically modelled synthetic face videos with reference PPG (see docs/synthetic.md)."""

    name = "synthetic"
    description = "Synthetic rPPG videos (skin reflection model, VIPL-HR-like scenarios), generated locally."
    needs_root = False
    params = (
        Param("preset", "synth-default", "generated dataset size", tuple(PRESETS)),
        Param("seed", 0, "generator seed"),
    )

    def __init__(self, root: Path | None = None, **options):
        super().__init__(root, **options)
        self.folder = (
            self.root
            if self.root is not None
            else cached_dataset(self.options["preset"], self.options["seed"])
        )
        meta_path = self.folder / "meta.json"
        if not meta_path.is_file():
            raise DataError(f"{meta_path}: not a synthetic dataset (meta.json missing)")
        try:
            self.meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise DataError(f"{meta_path}: malformed JSON ({exc})") from exc

    def describe(self) -> dict:
        """As every loader's, plus the generator version that wrote the tree: it is part of the clip
        cache key and of a run's configuration, so clips cut from another generator's frames are
        never reused and a run is not resumed over changed data."""
        return {**super().describe(), "generator_version": self.meta.get("generator_version")}

    def records(self) -> list[Record]:
        """One record per (subject, scenario) clip listed in meta.json, in a stable order."""
        out = []
        for clip in self.meta.get("clips", []):
            folder = self.folder / clip["subject"] / clip["scenario_id"]
            video = folder / "video.avi"
            if self.meta.get("videos", True) and not video.is_file():
                raise DataError(f"{video}: listed in {self.folder / 'meta.json'} but missing")
            out.append(
                Record(
                    dataset=self.name,
                    subject=clip["subject"],
                    session=clip["scenario_id"],
                    scenario=clip["scenario"],
                    location=video,
                    fps=float(clip["fps"]),
                    files={
                        "ppg": folder / "ppg.csv",
                        "frames": folder / "frames.csv",
                        "clip": folder / "clip.json",
                    },
                    meta={
                        "hr_bpm": clip["hr_bpm"],
                        "n_frames": clip["n_frames"],
                        "skin_type": clip["identity"]["fitzpatrick"],
                        "identity_kind": clip["identity"]["kind"],
                    },
                )
            )
        if not out:
            raise DataError(f"{self.folder / 'meta.json'}: lists no clips")
        return sorted(out, key=lambda r: (r.subject, r.session))

    def open_frames(self, record: Record) -> FrameSource:
        """The clip's video, decoded by OpenCV like any real dataset's, with its stored timestamps.

        A tree written without videos (the embedded cache) renders the clip's frames instead: the very
        frames its lossless video would decode to.
        """
        times = self.frame_timestamps(record, int(record.meta.get("n_frames", 0)) or None, record.fps or 30.0)
        if not self.meta.get("videos", True):
            from .writer import rendered_frames

            return rendered_frames(self.meta, record.subject, record.scenario, times)
        return VideoFile(record.location, fps=record.fps, timestamps=times)

    def load_reference(self, record: Record) -> Reference:
        """The 60 Hz reference PPG with its own timestamps (seconds on the video's clock)."""
        import pandas as pd

        path = record.files["ppg"]
        try:
            table = pd.read_csv(path)
            values, times = table["ppg"].to_numpy(np.float64), table["time_s"].to_numpy(np.float64)
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"{path}: cannot read the reference PPG ({exc})") from exc
        if len(values) < 2 or not np.all(np.diff(times) > 0) or not np.all(np.isfinite(values)):
            raise DataError(f"{path}: reference PPG is empty, non-finite or not increasing in time")
        return Reference("ppg", values, times)

    def vitals_reference(self, record: Record):  # noqa: ANN201 - a rppgbench.vitals.VitalsReference
        """The clip's true beats (the generator's beat onsets) and true breathing rate.

        Recomputed from the clip's spec (seed, subject, scenario), not read from a file, so trees
        generated before this existed give them too; nothing of the stored tree changes.
        """
        from rppgbench.vitals import VitalsReference

        from .render import clip_pulse
        from .writer import spec_from_meta

        pulse = clip_pulse(spec_from_meta(self.meta, record.subject, record.scenario))
        return VitalsReference(pulse.onsets.copy(), detected=False, breaths_per_min=pulse.breaths_per_min,
                               source="truth")  # fmt: skip

    def frame_timestamps(self, record: Record, n_frames: int | None, fps: float) -> np.ndarray:
        """The stored per-frame timestamps (the first `n_frames`; all when None)."""
        table = _read_frames_table(record.files["frames"])
        times = table["time_s"].to_numpy(np.float64)
        if n_frames is not None and n_frames > len(times):
            raise DataError(
                f"{record.files['frames']}: {len(times)} timestamps for {n_frames} decoded frames"
            )
        return times if n_frames is None else times[:n_frames]

    def face_boxes(self, record: Record) -> np.ndarray:
        """True face boxes (x, y, w, h) of every frame, (T, 4) int."""
        return _read_frames_table(record.files["frames"])[["x", "y", "w", "h"]].to_numpy(np.int64)

    def face_box(self, record: Record) -> tuple[int, int, int, int]:
        """The true face box of the first frame."""
        x, y, w, h = self.face_boxes(record)[0]
        return int(x), int(y), int(w), int(h)
