"""The one frame pipeline: decoded frames -> face tracking -> square crops -> a sink.

Dataset preprocessing (`rppgbench.preprocess.pipeline`) and `rppgbench predict` both run their
frames through `stream_crops`; only the sink differs: the clip cache's HDF5 writer
(`rppgbench.preprocess.cache.ClipWriter`) or memory (`MemorySink`). So a video prepared for a
benchmark and the same video given to `predict` are cropped by the same code, frame for frame.

Frames are taken one at a time from the source (a `rppgbench.video.FrameSource`: PyAV decoding with
the container's timestamps, or images), so the pipeline holds one decoded frame; the sink decides
what stays in memory (one chunk for the cache writer, every crop for `MemorySink`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any, Protocol

import numpy as np

from rppgbench.errors import DataError
from rppgbench.preprocess.crop import FaceTracker, crop_resize, resize_crop
from rppgbench.video import VideoFile

_GROWTH = 1.5
_MAX_PREALLOCATED = 20_000  # frames; a container's frame count can be garbage, so grow beyond it


class CropSink(Protocol):
    """Where the pipeline puts each frame's (size, size, 3) uint8 crop and its (x, y, w, h) crop box."""

    def append(self, crop: np.ndarray, box: tuple[int, int, int, int]) -> None: ...


class MemorySink:
    """Every crop in one growing (N, S, S, 3) uint8 array, preallocated for `expected` frames.

    Grown by half again when full, for containers whose announced frame count is short or missing.
    """

    def __init__(self, size: int, expected: int = 0) -> None:
        capacity = min(int(expected * 1.02) + 2, _MAX_PREALLOCATED) if expected > 0 else 1024
        self._data = np.empty((max(capacity, 16), size, size, 3), dtype=np.uint8)
        self._boxes = np.empty((max(capacity, 16), 4), dtype=np.int32)
        self.n_frames = 0

    def append(self, crop: np.ndarray, box: tuple[int, int, int, int]) -> None:
        """Store one crop and its box."""
        if self.n_frames == len(self._data):
            grown = int(len(self._data) * _GROWTH) + 1
            self._data = np.resize(self._data, (grown, *self._data.shape[1:]))
            self._boxes = np.resize(self._boxes, (grown, 4))
        self._data[self.n_frames] = crop
        self._boxes[self.n_frames] = box
        self.n_frames += 1

    @property
    def frames(self) -> np.ndarray:
        """(N, S, S, 3) uint8 crops (a view: no copy)."""
        return self._data[: self.n_frames]

    @property
    def boxes(self) -> np.ndarray:
        """(N, 4) int32 crop boxes (x, y, w, h) in source pixels."""
        return self._boxes[: self.n_frames]


@dataclass
class Streamed:
    """What went through the pipeline: frame count and the first frame (a copy, when asked for)."""

    n_frames: int
    first_frame: np.ndarray | None = None


def stream_crops(
    source: Iterable[np.ndarray],
    tracker: FaceTracker,
    sink: CropSink,
    *,
    where: str,
    start: int = 0,
    stop: int | None = None,
    fixed_size: bool = False,
    keep_first: bool = False,
    progress: Callable[[int], Any] | None = None,
) -> Streamed:
    """Crop frames `start` to `stop` (None: to the end) of `source` into `sink`; the tracker picks each box.

    Every frame must be an (H, W, 3) uint8 RGB image (DataError naming `where` and the frame index
    otherwise). `fixed_size` makes a frame whose size differs from the first one an error; without it
    the tracker recomputes the box for the new size. `progress(1)` is called after each frame.
    """
    size = tracker.config.size
    first: np.ndarray | None = None
    first_shape: tuple[int, ...] | None = None
    lazy = by_region = _plain_video(source)  # frames converted to RGB only where needed
    frames: Iterator[Any] = iter(source.decoded() if lazy else source)  # type: ignore[attr-defined]
    n = 0
    try:
        for offset, frame in enumerate(islice(frames, start, stop)):
            index = start + offset
            if lazy:
                shape, pixels, region = frame.shape, frame.rgb, frame.region
            else:
                _check_frame(frame, where, index)
                shape, pixels, region = frame.shape, (lambda frame=frame: frame), None
            if first_shape is None:
                first_shape = shape
                first = pixels().copy() if keep_first else None
            elif fixed_size and shape != first_shape:
                raise DataError(
                    f"{where}: frame {index} is {shape[1]}x{shape[0]}, but the video "
                    f"started at {first_shape[1]}x{first_shape[0]}"
                )
            box = tracker.box_for(offset, shape, pixels, region)
            if by_region and frame.converted and not frame.region_is_exact(*box):
                by_region = False  # never seen; but should a format convert a region differently, stop
            if by_region:
                crop = resize_crop(frame.region(*box), size)
            else:
                crop = crop_resize(frame.rgb() if lazy else frame, box, size)
            sink.append(crop, box)
            n += 1
            if progress is not None:
                progress(1)
    finally:
        _close(frames)
    return Streamed(n, first)


def _plain_video(source: Any) -> bool:
    """True for a `VideoFile` whose frames no subclass changes: its `decoded()` frames are its frames."""
    return isinstance(source, VideoFile) and type(source).__iter__ is VideoFile.__iter__


def _check_frame(frame: Any, where: str, index: int) -> None:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        got = f"{frame.shape} {frame.dtype}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise DataError(f"{where}: frame {index} is not an (H, W, 3) uint8 RGB image ({got})")


def _close(frames: Iterator[np.ndarray]) -> None:
    close = getattr(frames, "close", None)
    if close is not None:
        close()
