"""From a face box to a square crop: enlargement, smoothing across re-detections, crop and resize."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import cv2
import numpy as np

from rppgbench.preprocess.face import Box, FaceDetector

if TYPE_CHECKING:
    from rppgbench.preprocess.config import PreprocessConfig


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
    """Crop (x, y, w, h) out of an (H, W, 3) frame and resize it to (size, size, 3) (see `resize_crop`)."""
    x, y, w, h = box
    return resize_crop(frame[y : y + h, x : x + w], size)


def resize_crop(crop: np.ndarray, size: int) -> np.ndarray:
    """Resize an (h, w, 3) crop to (size, size, 3).

    Area interpolation (cv2.INTER_AREA) when shrinking, the usual case; bilinear if the crop is smaller.
    """
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


# A re-detection first searches a square window this many times the tracked face box's longer side,
# centred on it: a face that moved less than a box width since the last detection is found there, at
# a higher resolution than in the whole frame, and only that window is converted and scaled for the
# detector. Only if the window shows no face is the whole frame searched.
SEARCH_WINDOW = 3.0


def search_window(box: Box, frame_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The (x, y, w, h) window, inside the frame, where a re-detection looks for the face of `box` first."""
    return square_crop_box(box, SEARCH_WINDOW, frame_shape)


class FaceTracker:
    """Chooses each frame's crop box: the first frame's box kept fixed (the AutoHR default), re-detected
    every `config.redetect_every` frames and smoothed, or the whole frame.

    A re-detection searches a window around the tracked face first (`search_window`), then the whole
    frame if the window shows no face. With `annotated` (the dataset's face box of the frame at an
    offset, or None where it has none) the annotation replaces the detector: the crop follows the
    dataset's boxes, smoothed alike.

    `locate_first(frame)` finds the first frame's face (a detector, or a box the caller was given); it
    returns None to fall back to the whole frame, or raises to fail the video. Shared by the dataset
    preprocessing and `rppgbench predict`, so both crop exactly alike.
    """

    def __init__(
        self,
        config: PreprocessConfig,
        detector: FaceDetector | None,
        locate_first: Callable[[np.ndarray], Box | None],
        annotated: Callable[[int], Box | None] | None = None,
    ) -> None:
        self.config, self.detector, self._locate_first = config, detector, locate_first
        self._annotated = annotated
        self.smoother = BoxSmoother(config.smoothing)
        self.fallback = False
        self.first_box: Box | None = None
        self.redetect_scores: list[float] = []
        self.misses: list[int] = []
        self.frame_shape: tuple[int, ...] = ()
        self._box: tuple[int, int, int, int] | None = None

    def crop_box(self, offset: int, frame: np.ndarray) -> tuple[int, int, int, int]:
        """The (x, y, w, h) crop for the frame at `offset` from the first one."""
        return self.box_for(offset, frame.shape, lambda: frame)

    def box_for(
        self,
        offset: int,
        shape: tuple[int, ...],
        pixels: Callable[[], np.ndarray],
        region: Callable[[int, int, int, int], np.ndarray] | None = None,
    ) -> tuple[int, int, int, int]:
        """`crop_box` for a frame of `shape` whose RGB pixels `pixels()` gives, or `region(x, y, w, h)`
        for a part of it (default: cut from `pixels()`). They are called only on the frames where the face
        is located or re-detected, so the other frames need not be converted whole."""
        if shape != self.frame_shape:
            self.frame_shape, self._box = shape, None
        if self.config.face == "full" or self.fallback:
            return full_frame_box(shape)
        if offset == 0:
            self._first(pixels())
        elif self.config.redetect_every and offset % self.config.redetect_every == 0:
            if self._annotated is not None:
                self._follow(offset, self._annotated(offset))
            elif self.detector is not None:
                window = region or (lambda x, y, w, h: pixels()[y : y + h, x : x + w])
                self._follow(offset, self._redetect(pixels, window))
        if self.fallback:
            return full_frame_box(shape)
        if self._box is None:
            self._box = square_crop_box(self.smoother.current, self.config.enlarge, shape)
        return self._box

    def _first(self, frame: np.ndarray) -> None:
        box = self._locate_first(frame)
        if box is None:
            self.fallback = True
            return
        self.first_box = box
        self.smoother.update(box)

    def _redetect(
        self, pixels: Callable[[], np.ndarray], region: Callable[[int, int, int, int], np.ndarray]
    ) -> Box | None:
        x, y, w, h = search_window(self.smoother.current, self.frame_shape)
        box = self.detector.detect(region(x, y, w, h))  # type: ignore[union-attr]
        if box is not None:
            return Box(box.x + x, box.y + y, box.w, box.h, box.score)
        if (w, h) != tuple(self.frame_shape[1::-1]):
            return self.detector.detect(pixels())  # type: ignore[union-attr]
        return None

    def _follow(self, offset: int, box: Box | None) -> None:
        """Move the crop towards a re-detected (or annotated) box; a missing one keeps the crop."""
        if box is None:
            self.misses.append(offset)
            return
        self.redetect_scores.append(box.score)
        self.smoother.update(box)
        self._box = None
