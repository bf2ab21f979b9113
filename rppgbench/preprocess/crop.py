"""From a face box to a square crop: enlargement, smoothing across re-detections, crop and resize."""

from __future__ import annotations

import cv2
import numpy as np

from rppgbench.preprocess.face import Box


def square_crop_box(box: Box, enlarge: float, frame_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The integer (x, y, w, h) crop for a face box: square on the box's longer side times `enlarge`,
    centred on the face, shifted to lie inside the frame and shrunk only if the frame is too small.

    Keeping the crop square means resizing never distorts the face.
    """
    height, width = int(frame_shape[0]), int(frame_shape[1])
    cx, cy = box.center
    side = max(box.w, box.h) * enlarge
    side = int(round(min(side, width, height)))
    side = max(side, 1)
    x = int(round(cx - side / 2.0))
    y = int(round(cy - side / 2.0))
    x = min(max(x, 0), width - side)
    y = min(max(y, 0), height - side)
    return x, y, side, side


def full_frame_box(frame_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The whole frame as a crop box."""
    return 0, 0, int(frame_shape[1]), int(frame_shape[0])


def crop_resize(frame: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """Crop (x, y, w, h) out of an (H, W, 3) frame and resize it to (size, size, 3).

    Area interpolation (cv2.INTER_AREA) when shrinking, the usual case; bilinear if the crop is smaller.
    """
    x, y, w, h = box
    crop = frame[y : y + h, x : x + w]
    if crop.shape[0] == size and crop.shape[1] == size:
        return np.ascontiguousarray(crop)
    interpolation = cv2.INTER_AREA if crop.shape[0] >= size and crop.shape[1] >= size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)


class BoxSmoother:
    """Exponential smoothing of a box's centre and size across re-detections.

    box_t = weight * box_{t-1} + (1 - weight) * detected_t, applied to (cx, cy, w, h), so the crop
    follows slow head motion without jumping with each detection's jitter.
    """

    def __init__(self, weight: float) -> None:
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
        self.weight = weight
        self._state: np.ndarray | None = None
        self._score = 0.0

    def update(self, detected: Box) -> Box:
        """Blend a new detection into the running box and return the smoothed box."""
        cx, cy = detected.center
        new = np.array([cx, cy, detected.w, detected.h], dtype=np.float64)
        self._state = new if self._state is None else self.weight * self._state + (1.0 - self.weight) * new
        self._score = detected.score
        return self.current

    @property
    def current(self) -> Box:
        """The smoothed box (raises if no detection was given yet)."""
        if self._state is None:
            raise RuntimeError("no box yet")
        cx, cy, w, h = self._state
        return Box(cx - w / 2.0, cy - h / 2.0, w, h, self._score)
