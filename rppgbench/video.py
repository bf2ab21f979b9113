"""Frame sources: stream RGB uint8 frames from a video file or an image sequence, one frame at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from rppgbench.errors import DataError


class FrameSource:
    """Iterable of (H, W, 3) uint8 RGB frames with a nominal fps; optional per-frame timestamps (s)."""

    fps: float
    timestamps: np.ndarray | None = None

    def __iter__(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def frame_count(self) -> int | None:
        """Frame count if known without decoding, else None."""
        return None


class VideoFile(FrameSource):
    """A video file decoded by OpenCV; raises DataError naming the file if it cannot be decoded."""

    def __init__(self, path: Path, fps: float | None = None, timestamps: np.ndarray | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"{self.path}: video file not found")
        import cv2  # OpenCV loads when a video is opened, not at start-up

        capture = cv2.VideoCapture(str(self.path))
        try:
            if not capture.isOpened():
                raise DataError(f"{self.path}: not a video OpenCV can decode")
            self._count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
            self.fps = float(fps or capture.get(cv2.CAP_PROP_FPS) or 0.0)
        finally:
            capture.release()
        if self.fps <= 0:
            raise DataError(f"{self.path}: the video reports no frame rate; pass one to the loader")
        self.timestamps = timestamps

    def frame_count(self) -> int | None:
        return self._count

    def __iter__(self) -> Iterator[np.ndarray]:
        import cv2

        capture = cv2.VideoCapture(str(self.path))
        produced = 0
        try:
            while True:
                ok, bgr = capture.read()
                if not ok:
                    break
                produced += 1
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()
        if produced == 0:
            raise DataError(f"{self.path}: no frame could be decoded (empty, truncated or corrupt video)")


class ImageSequence(FrameSource):
    """Frames stored as image files (PNG/JPEG), read in the given order."""

    def __init__(self, paths: Sequence[Path], fps: float, timestamps: np.ndarray | None = None):
        if not paths:
            raise DataError("image sequence has no frames")
        self.paths = [Path(p) for p in paths]
        self.fps = float(fps)
        self.timestamps = timestamps

    def frame_count(self) -> int | None:
        return len(self.paths)

    def __iter__(self) -> Iterator[np.ndarray]:
        import cv2

        for path in self.paths:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise DataError(f"{path}: image cannot be read (missing or corrupt)")
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
