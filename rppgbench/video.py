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
        for frame in self._decode():
            yield frame_to_rgb(frame)

    def decoded(self) -> Iterator[DecodedFrame]:
        """The frames as `DecodedFrame`s, converted to RGB only as far as asked (whole, or a crop of it).

        Pixels, timestamps and errors are those of iterating the file; a pipeline that needs a face
        crop of most frames saves converting the rest of each frame.
        """
        converter = _RegionConverter()
        for frame in self._decode():
            yield DecodedFrame(frame, converter)

    def _decode(self) -> Iterator[Any]:
        """PyAV's decoded frames, recording each one's time; the timestamps are settled at the end."""
        import av

        times: list[float | None] = []
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                try:
                    for frame in container.decode(stream):
                        times.append(frame.time)
                        yield frame
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


def frame_to_rgb(frame: Any) -> np.ndarray:
    """A PyAV video frame as an (H, W, 3) uint8 RGB array, converted by swscale in this thread only.

    PyAV's default lets swscale split a frame over threads that meet at a barrier after each slice; on
    a busy machine (parallel workers, training beside it) every barrier waits for a descheduled
    thread, and a 640x480 conversion took 4x longer in wall clock than on one thread, for the same
    pixels. Parallelism comes from the preprocessing workers instead.
    """
    return frame.reformat(format="rgb24", threads=1).to_ndarray()


# Pixel formats whose conversion to RGB is the same for a region as for the whole frame, when the
# region keeps the chroma alignment (see DecodedFrame.region): 8-bit planar YUV (sub-sampling of the
# chroma planes; the frame's size must be a multiple of it) and 8-bit packed RGB (bytes per pixel).
# tests/test_video_regions.py checks each on random regions.
_PLANAR_YUV = {
    f"yuv{j}{s}p": sub for j in ("", "j") for s, sub in (("420", (2, 2)), ("422", (2, 1)), ("444", (1, 1)))
}
_PACKED_RGB = {"rgb24": 3, "bgr24": 3, "rgba": 4, "bgra": 4, "argb": 4, "abgr": 4, "rgb0": 4, "bgr0": 4}
_REGION_MARGIN = 16  # pixels converted around a region, so chroma interpolation sees the same neighbours
_REGION_ALIGN = (16, 32)  # the region starts at a multiple of these (rows, columns)
_WHOLE_FRACTION = 0.5  # a region larger than this part of the frame is cut from the whole frame instead


class DecodedFrame:
    """One decoded video frame: `rgb()` converts it whole, `region(x, y, w, h)` only around a crop.

    `region` gives exactly the pixels of `rgb()[y : y + h, x : x + w]`: it converts a slightly larger
    block (a margin for chroma interpolation, its corner aligned to the chroma sub-sampling) with the
    same swscale conversion and cuts the crop out of it. Pixel formats not known to allow this are
    converted whole.
    """

    def __init__(self, frame: Any, converter: _RegionConverter | None = None) -> None:
        self._frame = frame
        self._converter = converter or _RegionConverter()
        self._rgb: np.ndarray | None = None
        self.shape = (int(frame.height), int(frame.width), 3)

    def rgb(self) -> np.ndarray:
        """The whole frame as an (H, W, 3) uint8 RGB array (converted once)."""
        if self._rgb is None:
            self._rgb = frame_to_rgb(self._frame)
        return self._rgb

    @property
    def converted(self) -> bool:
        """True once the whole frame was converted (then `region` cuts from it)."""
        return self._rgb is not None

    def region(self, x: int, y: int, w: int, h: int) -> np.ndarray:
        """`rgb()[y : y + h, x : x + w]`, converting only a block around it when the format allows."""
        if self._rgb is None:
            part = self._convert_region(x, y, w, h)
            if part is not None:
                return part
        return self.rgb()[y : y + h, x : x + w]

    def region_is_exact(self, x: int, y: int, w: int, h: int) -> bool:
        """Whether converting around the region gives the very pixels of the whole frame's conversion."""
        part = self._convert_region(x, y, w, h)
        return part is None or np.array_equal(part, self.rgb()[y : y + h, x : x + w])

    def _convert_region(self, x: int, y: int, w: int, h: int) -> np.ndarray | None:
        """The region converted from a block around it; None when the whole frame must be converted."""
        name = self._frame.format.name
        height, width = self.shape[:2]
        if (name not in _PLANAR_YUV and name not in _PACKED_RGB) or w * h > _WHOLE_FRACTION * width * height:
            return None
        fx, fy = _PLANAR_YUV.get(name, (1, 1))
        if width % fx or height % fy:  # chroma planes not exactly a half: their filter phases drift
            return None
        y0 = max(0, (y - _REGION_MARGIN) // _REGION_ALIGN[0] * _REGION_ALIGN[0])
        x0 = max(0, (x - _REGION_MARGIN) // _REGION_ALIGN[1] * _REGION_ALIGN[1])
        y1, x1 = min(height, y + h + _REGION_MARGIN), min(width, x + w + _REGION_MARGIN)
        y1 += (y1 - y0) % 2 if y1 < height else 0  # even sizes keep the chroma grid (but at the edge)
        x1 += (x1 - x0) % 2 if x1 < width else 0
        rgb = self._converter.convert(self._frame, name, x0, y0, x1 - x0, y1 - y0)
        return rgb[y - y0 : y - y0 + h, x - x0 : x - x0 + w]


class _RegionConverter:
    """Converts blocks of a video's frames to RGB, reusing one block frame and swscale context while the
    block keeps its size (it changes only when the face box moves)."""

    def __init__(self) -> None:
        from av.video.reformatter import VideoReformatter

        self._reformatter = VideoReformatter()
        self._key: tuple[str, int, int] | None = None
        self._block: Any = None
        self._planes: list[np.ndarray] = []

    def convert(self, frame: Any, name: str, x0: int, y0: int, w: int, h: int) -> np.ndarray:
        """Block (x0, y0, w, h) of `frame` (pixel format `name`) as an (h, w, 3) RGB array of its own."""
        if self._key != (name, w, h):
            import av

            self._block = av.VideoFrame(w, h, name)
            self._planes = [
                np.frombuffer(p, np.uint8).reshape(p.height, p.line_size) for p in self._block.planes
            ]
            self._key = (name, w, h)
        block = self._block
        for index, (src, out) in enumerate(zip(frame.planes, self._planes, strict=True)):
            if name in _PLANAR_YUV:
                (fx, fy), step = _PLANAR_YUV[name] if index else (1, 1), 1
            else:
                fx, fy, step = 1, 1, _PACKED_RGB[name]
            pixels = np.frombuffer(src, np.uint8).reshape(src.height, src.line_size)
            left, top, width = x0 // fx * step, y0 // fy, block.planes[index].width * step
            out[:, :width] = pixels[top : top + out.shape[0], left : left + width]
        block.colorspace = frame.colorspace
        block.color_range = frame.color_range
        converted = self._reformatter.reformat(block, format="rgb24", threads=1)
        rgb = converted.to_ndarray()
        return rgb.copy() if converted is block else rgb  # rgb24 needs no conversion: not the reused block


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
