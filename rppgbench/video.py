"""Frame sources: stream RGB uint8 frames from a video file or an image sequence, one frame at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from rppgbench.errors import DataError


class FrameSource:
    """Iterable of (H, W, 3) uint8 RGB frames with a nominal fps; optional per-frame timestamps (s)."""

    fps: float
    timestamps: np.ndarray | None = None
    problem: str | None = None  # why no timestamps could be settled after decoding, if so

    def __iter__(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def frame_count(self) -> int | None:
        """Frame count if known without decoding, else None."""
        return None


MIN_FPS, MAX_FPS = 1.0, 1000.0
"""Frame rates outside this range are absurd for face video: the header or the timestamps are wrong."""


def plausible_rate(rate: float | None) -> bool:
    """True for a finite frame rate within [MIN_FPS, MAX_FPS]."""
    return rate is not None and np.isfinite(rate) and MIN_FPS <= rate <= MAX_FPS


def _rate(value: Any) -> float | None:
    try:
        rate = float(value) if value is not None else None
    except (ZeroDivisionError, TypeError, ValueError):
        return None
    return rate if rate and np.isfinite(rate) and rate > 0 else None


@contextmanager
def _demuxer_warnings() -> Iterator[list[tuple[int, str, str]]]:
    """FFmpeg's warnings while a file is opened (PyAV keeps FFmpeg quiet unless a level is set)."""
    import av.logging

    previous, repeated = av.logging.get_level(), av.logging.get_skip_repeated()
    av.logging.set_level(av.logging.WARNING)
    av.logging.set_skip_repeated(False)  # the same file is opened more than once
    try:
        with av.logging.Capture(local=True) as logs:
            yield logs
    finally:
        av.logging.set_level(previous)
        av.logging.set_skip_repeated(repeated)


def _clock_problem(warnings: list[tuple[int, str, str]]) -> str | None:
    """The demuxer's complaint about an invalid frame rate or time base (e.g. a 0-fps AVI header)."""
    for _level, _name, message in warnings:
        text = message.strip()
        lowered = text.lower()
        if "invalid" in lowered and any(word in lowered for word in ("rate", "time base", "timebase")):
            return text
    return None


class VideoFile(FrameSource):
    """A video file decoded by PyAV (FFmpeg); frame times come from the container, not the header rate.

    Timestamps, in order of precedence: `timestamps` given by the loader (e.g. VIPL's time.txt); the
    uniform grid of an `fps` the loader knows better than the header; the presentation times stored in
    the container (constant or variable frame rate); the header's rate. After decoding, `timestamps`
    holds the times of the decoded frames; with none of these usable, a DataError names the file.
    """

    def __init__(self, path: Path, fps: float | None = None, timestamps: np.ndarray | None = None):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"{self.path}: video file not found")
        import av  # PyAV loads when a video is opened, not at start-up

        try:
            with _demuxer_warnings() as warnings, av.open(str(self.path)) as container:
                if not container.streams.video:
                    raise DataError(f"{self.path}: the file holds no video stream")
                stream = container.streams.video[0]
                self._count = int(stream.frames or 0) or None
                self.header_fps = _rate(stream.average_rate) or _rate(stream.base_rate)
        except av.FFmpegError as exc:
            raise DataError(f"{self.path}: not a video FFmpeg can decode ({exc})") from exc
        self.clock_problem = _clock_problem(warnings)
        if self.clock_problem:  # FFmpeg made up a rate (25 fps) and timestamps from it: use neither
            self.header_fps = None
        self._given_fps = _rate(fps)
        if fps is not None and fps != 0 and not plausible_rate(self._given_fps):
            raise DataError(f"{self.path}: frame rate {fps!r} given for this video is not plausible")
        self.fps = self._given_fps or self.header_fps or 0.0  # nominal until decoded
        self._given = None if timestamps is None else np.asarray(timestamps, dtype=np.float64)
        self.timestamps = self._given

    def frame_count(self) -> int | None:
        return self._count

    def __iter__(self) -> Iterator[np.ndarray]:
        import av

        times: list[float | None] = []
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                try:
                    for frame in container.decode(stream):
                        times.append(frame.time)
                        yield frame.to_ndarray(format="rgb24")
                except av.FFmpegError as exc:  # a truncated or damaged file: keep what decoded
                    if not times:
                        raise DataError(f"{self.path}: no frame could be decoded ({exc})") from exc
        except av.FFmpegError as exc:
            raise DataError(f"{self.path}: not a video FFmpeg can decode ({exc})") from exc
        finally:
            if times:
                self._settle_times(times)
        if not times:
            raise DataError(f"{self.path}: no frame could be decoded (empty, truncated or corrupt video)")

    def _settle_times(self, times: list[float | None]) -> None:
        """Choose the decoded frames' timestamps (see the class docstring) and the resulting fps."""
        n = len(times)
        if self._given is not None:
            return
        if self._given_fps:
            self.timestamps = np.arange(n, dtype=np.float64) / self._given_fps
            return
        stamps = np.array([np.nan if t is None else t for t in times], dtype=np.float64)
        usable = (
            n > 1 and not self.clock_problem and np.all(np.isfinite(stamps)) and np.all(np.diff(stamps) > 0)
        )
        rate = (n - 1) / (stamps[-1] - stamps[0]) if usable else None
        if usable and plausible_rate(rate):
            self.timestamps = stamps - stamps[0]
        elif usable:  # a clock that contradicts any camera: neither it nor the header can be trusted
            self.timestamps, self.fps = None, 0.0
            self.problem = (
                f"{self.path}: the container's frame timestamps give an absurd rate of {rate:.4g} fps"
            )
            return
        elif plausible_rate(self.header_fps):
            self.timestamps = np.arange(n, dtype=np.float64) / float(self.header_fps)
        else:
            self.timestamps = None
            self.fps = 0.0
            why = (
                f"the header's clock is broken: {self.clock_problem}"
                if self.clock_problem
                else (f"header says {self.header_fps or 0:g} fps")
            )
            self.problem = (
                f"{self.path}: no usable frame timestamps and no plausible frame rate ({why}); "
                "pass the rate to the dataset loader"
            )
            return
        if n > 1:
            self.fps = float((n - 1) / (self.timestamps[-1] - self.timestamps[0]))


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
        import cv2  # OpenCV loads when images are read, not at start-up

        for path in self.paths:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise DataError(f"{path}: image cannot be read (missing or corrupt)")
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
