"""Stream a video into square face crops held in memory: the only pixels `predict` keeps.

The video goes through the frame pipeline of dataset preprocessing (`rppgbench.preprocess.stream`:
PyAV decoding with the container's timestamps, the face found on the first frame by BlazeFace or a
box the user gives and optionally re-detected every N frames with the box smoothed, crop and resize),
with a memory sink in place of the clip cache. Memory is bounded by the crops (size x size x 3 bytes
a frame, 48 KiB at 128 px: about 85 MiB a minute at 30 fps) plus one decoded frame."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from rppgbench.errors import ConfigError, DataError
from rppgbench.preprocess.config import PreprocessConfig
from rppgbench.preprocess.crop import FaceTracker
from rppgbench.preprocess.face import Box, FaceDetector
from rppgbench.preprocess.stream import MemorySink, stream_crops
from rppgbench.video import VideoFile


@dataclass
class FaceCrops:
    """The face crops of a video and how they were found.

    frames: (N, size, size, 3) uint8 RGB crops; crop_boxes: (N, 4) int (x, y, w, h) crop of each frame
    in source pixels; detection: the face box found on (or given for) the first frame, None for
    face="full"; first_frame: the full first frame (RGB), kept for figures.
    """

    path: Path
    frames: np.ndarray
    fps: float
    crop_boxes: np.ndarray
    first_frame: np.ndarray
    detection: Box | None
    config: PreprocessConfig
    detections: int = 0
    missed_frames: list[int] = field(default_factory=list)
    announced_frames: int = 0
    frame_times: np.ndarray | None = None  # from the container (variable frame rate); None: uniform

    @property
    def n_frames(self) -> int:
        """Number of frames decoded and cropped."""
        return int(self.frames.shape[0])

    @property
    def duration(self) -> float:
        """Seconds covered by the frames (n_frames / fps)."""
        return self.n_frames / self.fps

    @property
    def timestamps(self) -> np.ndarray:
        """Frame times in seconds from the first frame: the container's, else uniform at `fps`."""
        if self.frame_times is not None and len(self.frame_times) >= self.n_frames:
            return np.asarray(self.frame_times[: self.n_frames], dtype=np.float64)
        return np.arange(self.n_frames, dtype=np.float64) / self.fps

    def describe(self) -> dict[str, Any]:
        """JSON-ready facts about the face boxes, as recorded in the prediction summary."""
        height, width = self.first_frame.shape[:2]
        detection = None
        if self.detection is not None:
            d = self.detection
            detection = {"x": d.x, "y": d.y, "w": d.w, "h": d.h, "score": d.score}
        x, y, w, h = (int(v) for v in self.crop_boxes[0])
        moving = bool(np.any(self.crop_boxes != self.crop_boxes[0]))
        return {
            "source": self.config.face,
            "frame_size": [int(width), int(height)],
            "detection": detection,
            "crop_box": {"x": x, "y": y, "w": w, "h": h},
            "crop_size": self.config.size,
            "enlarge": self.config.enlarge,
            "redetect_every": self.config.redetect_every,
            "smoothing": self.config.smoothing,
            "min_confidence": self.config.min_confidence,
            "detections": self.detections,
            "missed_redetections": len(self.missed_frames),
            "first_missed_frames": self.missed_frames[:20],
            "box_moves": moving,
        }


def read_face_crops(
    path: Path | str,
    config: PreprocessConfig | None = None,
    *,
    box: tuple[float, float, float, float] | None = None,
    fps: float | None = None,
    progress: bool = False,
) -> FaceCrops:
    """Decode `path` frame by frame into face crops per `config` (face, enlarge, redetect_every, ...).

    The frames go through the same pipeline as dataset preprocessing (`rppgbench.preprocess.stream`),
    into memory instead of the clip cache. `box` (x, y, w, h in pixels of the first frame) replaces
    detection on the first frame (with face="dataset"); it is enlarged like a detected box. Raises
    DataError for a missing or undecodable file and for a video without a face on its first frame
    (naming the frame index).
    """
    config = config or PreprocessConfig()
    if box is not None and config.redetect_every:
        raise ConfigError("a given face box is fixed; it cannot be combined with redetect_every")
    if config.face == "dataset" and box is None:
        raise ConfigError("face='dataset' needs the face box (x, y, w, h) of the first frame")
    video = VideoFile(Path(path), fps=fps)
    announced = max(video.frame_count() or 0, 0)
    stop = config.max_frames or None
    sink = MemorySink(config.size, min(announced, stop) if stop and announced else (announced or stop or 0))
    detector = FaceDetector(config.min_confidence) if config.face == "blazeface" and box is None else None
    tracker = FaceTracker(config, detector, _first_face_locator(video.path, config, detector, box))
    bar = tqdm(total=announced or None, desc=f"decode {video.path.name}", unit="frame", disable=not progress)
    try:
        with bar:
            streamed = stream_crops(
                video, tracker, sink, where=str(video.path), stop=stop, fixed_size=True, keep_first=True,
                progress=bar.update,
            )  # fmt: skip
    finally:
        if detector is not None:
            detector.close()
    assert streamed.first_frame is not None  # VideoFile raises when no frame decodes
    if video.timestamps is None:
        raise DataError(video.problem or f"{video.path}: no frame timestamps and no frame rate")
    detected_first = detector is not None and tracker.first_box is not None
    return FaceCrops(
        path=video.path,
        frames=sink.frames,
        fps=video.fps,
        crop_boxes=sink.boxes,
        first_frame=streamed.first_frame,
        detection=tracker.first_box,
        config=config,
        detections=int(detected_first) + len(tracker.redetect_scores),
        missed_frames=tracker.misses,
        announced_frames=announced,
        frame_times=video.timestamps,
    )


def _first_face_locator(
    path: Path, config: PreprocessConfig, detector: FaceDetector | None, box: tuple[float, ...] | None
) -> Callable[[np.ndarray], Box]:
    """The first frame's face: the given box (checked against the frame) or the detector's, else an error."""

    def locate(frame: np.ndarray) -> Box:
        if box is not None:
            return _given_box(path, box, frame.shape)
        found = detector.detect(frame)  # type: ignore[union-attr]
        if found is None:
            raise DataError(
                f"{path}: no face found on frame 0 (the first frame, "
                f"min_confidence={config.min_confidence}); give the face box with --box X,Y,W,H "
                "or use --face full"
            )
        return found

    return locate


def _given_box(path: Path, box: tuple[float, float, float, float], shape: tuple[int, ...]) -> Box:
    x, y, w, h = (float(v) for v in box)
    height, width = shape[:2]
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width or y + h > height:
        raise ConfigError(f"{path}: face box {list(box)} is not inside the {width}x{height} first frame")
    return Box(x, y, w, h, 1.0)
