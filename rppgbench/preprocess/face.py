"""Face detection with MediaPipe's BlazeFace short-range model, shipped with the package.

BlazeFace short-range is built for faces within about two metres of the camera, which covers every
rPPG dataset we load; it runs in about 2 ms per frame on one CPU core.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import TracebackType

import numpy as np

MODEL_PACKAGE = "rppgbench.preprocess.models"
MODEL_FILE = "face_detection_short_range.tflite"
# MediaPipe's vision package imports its drawing helpers, and with them matplotlib.pyplot: most of the
# second it takes to import. The face detector never draws, so they load when first used instead.
_DEFERRED_MODULES = (
    "mediapipe.tasks.python.vision.drawing_utils",
    "mediapipe.tasks.python.vision.drawing_styles",
)


class _DeferredImport(importlib.abc.MetaPathFinder):
    """Finds `_DEFERRED_MODULES` as usual but hands them out lazily (run on first attribute access)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> object:
        if name not in _DEFERRED_MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = importlib.util.LazyLoader(spec.loader)
                return spec
        return None


def _mediapipe_tasks() -> tuple[object, object]:
    """MediaPipe's `BaseOptions` and `vision`, imported without the drawing helpers' start-up cost."""
    finder = None
    if "mediapipe" not in sys.modules:
        finder = _DeferredImport()
        sys.meta_path.insert(0, finder)
    try:
        from mediapipe.tasks.python import BaseOptions, vision
    finally:
        if finder is not None:
            sys.meta_path.remove(finder)
    return BaseOptions, vision


@contextmanager
def native_stderr_captured() -> Iterator[None]:
    """Hold back what native code writes to stderr (LiteRT's start-up INFO lines); replay it on error.

    MediaPipe's C++ runtime logs a dozen lines per detector that no setting turns off; in a pool of
    workers they bury the progress bar. Python-level output is unaffected.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@dataclass(frozen=True)
class Box:
    """A face box in pixels of the frame it was found in, with the detector's score (1.0 if annotated)."""

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0

    @property
    def center(self) -> tuple[float, float]:
        """Centre (x, y) of the box."""
        return self.x + self.w / 2.0, self.y + self.h / 2.0


class FaceDetector:
    """BlazeFace through the MediaPipe Tasks API; `detect` returns the most confident face or None.

    Use it as a context manager (or call `close`): MediaPipe's native detector must be released before
    interpreter shutdown.
    """

    def __init__(self, min_confidence: float = 0.5) -> None:
        BaseOptions, vision = _mediapipe_tasks()

        self._stack = ExitStack()
        model = self._stack.enter_context(resources.as_file(resources.files(MODEL_PACKAGE) / MODEL_FILE))
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(Path(model))),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=float(min_confidence),
        )
        self.min_confidence = float(min_confidence)
        with native_stderr_captured():
            self._detector = vision.FaceDetector.create_from_options(options)
        self._warmed_up = False

    def detect(self, frame_rgb: np.ndarray) -> Box | None:
        """The most confident face in an (H, W, 3) uint8 RGB frame, or None if none passes min_confidence."""
        import mediapipe as mp

        if frame_rgb.ndim != 3 or frame_rgb.shape[2] != 3 or frame_rgb.dtype != np.uint8:
            raise ValueError(
                f"expected an (H, W, 3) uint8 RGB frame, got {frame_rgb.shape} {frame_rgb.dtype}"
            )
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(frame_rgb))
        if self._warmed_up:
            detections = self._detector.detect(image).detections
        else:  # the first call logs a memory-alignment notice from native code
            with native_stderr_captured():
                detections = self._detector.detect(image).detections
            self._warmed_up = True
        best: Box | None = None
        for detection in detections:
            score = max((c.score for c in detection.categories), default=0.0)
            if score < self.min_confidence or (best is not None and score <= best.score):
                continue
            b = detection.bounding_box
            if b.width <= 0 or b.height <= 0:
                continue
            best = Box(float(b.origin_x), float(b.origin_y), float(b.width), float(b.height), float(score))
        return best

    def close(self) -> None:
        """Release the native detector (idempotent)."""
        if self._detector is not None:
            with native_stderr_captured():
                self._detector.close()
            self._detector = None
        self._stack.close()

    def __enter__(self) -> FaceDetector:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
