"""Stream a video into square face crops held in memory: the only pixels `predict` keeps.

Frames are decoded one at a time; the face is found on the first frame (BlazeFace, or a box the user
gives) and optionally re-detected every N frames with exponential smoothing of the box; each frame is
cropped and resized as it is decoded. Memory is bounded by the crops (size x size x 3 bytes a frame,
48 KiB at 128 px: about 85 MiB a minute at 30 fps) plus one decoded frame.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from rppgbench.errors import ConfigError, DataError
from rppgbench.preprocess.config import PreprocessConfig
from rppgbench.preprocess.crop import FaceTracker, crop_resize
from rppgbench.preprocess.face import Box, FaceDetector
from rppgbench.video import VideoFile

_GROWTH = 1.5
_MAX_PREALLOCATED = 20_000  # frames; a container's frame count can be garbage, so grow beyond it


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


class _Buffer:
    """A growing (N, S, S, 3) uint8 array: preallocated from the announced frame count, grown by 1.5x."""

    def __init__(self, capacity: int, size: int) -> None:
        self._data = np.empty((max(capacity, 16), size, size, 3), dtype=np.uint8)
        self._boxes = np.empty((max(capacity, 16), 4), dtype=np.int32)
        self.n = 0

    def append(self, crop: np.ndarray, box: tuple[int, int, int, int]) -> None:
        if self.n == len(self._data):
            grown = int(len(self._data) * _GROWTH) + 1
            self._data = np.resize(self._data, (grown, *self._data.shape[1:]))
            self._boxes = np.resize(self._boxes, (grown, 4))
        self._data[self.n] = crop
        self._boxes[self.n] = box
        self.n += 1

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        return self._data[: self.n], self._boxes[: self.n]


def read_face_crops(
    path: Path | str,
    config: PreprocessConfig | None = None,
    *,
    box: tuple[float, float, float, float] | None = None,
    fps: float | None = None,
    progress: bool = False,
) -> FaceCrops:
    """Decode `path` frame by frame into face crops per `config` (face, enlarge, redetect_every, ...).

    `box` (x, y, w, h in pixels of the first frame) replaces detection on the first frame; it is
    enlarged like a detected box. Raises DataError for a missing or undecodable file and for a video
    without a face on its first frame (naming the frame index).
    """
    config = config or PreprocessConfig()
    if box is not None and config.redetect_every:
        raise ConfigError("a given face box is fixed; it cannot be combined with redetect_every")
    if config.face == "dataset" and box is None:
        raise ConfigError("face='dataset' needs the face box (x, y, w, h) of the first frame")
    video = VideoFile(Path(path), fps=fps)
    announced = max(video.frame_count() or 0, 0)
    stop = config.max_frames or None
    capacity = min(announced, stop) if stop and announced else (announced or stop or 1024)
    buffer = _Buffer(min(int(capacity * 1.02) + 2, _MAX_PREALLOCATED), config.size)
    detector = FaceDetector(config.min_confidence) if config.face == "blazeface" and box is None else None
    tracker = FaceTracker(config, detector, _first_face_locator(video.path, config, detector, box))
    first_frame: np.ndarray | None = None
    frames = iter(video)
    try:
        bar = tqdm(
            total=announced or None, desc=f"decode {video.path.name}", unit="frame", disable=not progress
        )
        with bar:
            for index, frame in enumerate(_limit(frames, stop)):
                if first_frame is None:
                    first_frame = frame.copy()
                elif frame.shape != first_frame.shape:
                    raise DataError(
                        f"{video.path}: frame {index} is {frame.shape[1]}x{frame.shape[0]}, but the video "
                        f"started at {first_frame.shape[1]}x{first_frame.shape[0]}"
                    )
                crop_box = tracker.crop_box(index, frame)
                buffer.append(crop_resize(frame, crop_box, config.size), crop_box)
                bar.update(1)
    finally:
        if detector is not None:
            detector.close()
        close = getattr(frames, "close", None)
        if close is not None:
            close()
    crops, boxes = buffer.result()
    assert first_frame is not None  # VideoFile raises when no frame decodes
    if video.timestamps is None:
        raise DataError(video.problem or f"{video.path}: no frame timestamps and no frame rate")
    detected_first = detector is not None and tracker.first_box is not None
    return FaceCrops(
        path=video.path,
        frames=crops,
        fps=video.fps,
        crop_boxes=boxes,
        first_frame=first_frame,
        detection=tracker.first_box,
        config=config,
        detections=int(detected_first) + len(tracker.redetect_scores),
        missed_frames=tracker.misses,
        announced_frames=announced,
        frame_times=video.timestamps,
    )


def _limit(frames: Iterator[np.ndarray], stop: int | None) -> Iterator[np.ndarray]:
    for index, frame in enumerate(frames):
        if stop is not None and index >= stop:
            return
        yield frame


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
