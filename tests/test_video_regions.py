"""`DecodedFrame.region` converts only a block around a crop; it must give the whole frame's very pixels.

The frame pipeline crops most frames that way, so a clip prepared today is byte-identical to one
prepared by converting every frame whole. Checked on random regions (odd positions and sizes, at the
frame edges) for each pixel format `region` handles, with odd frame sizes too.
"""

from __future__ import annotations

import numpy as np
import pytest

from rppgbench.video import VideoFile

av = pytest.importorskip("av")

CASES = [  # (codec, pixel format, width, height)
    ("mjpeg", "yuvj420p", 160, 120),
    ("mjpeg", "yuvj422p", 160, 120),
    ("mpeg4", "yuv420p", 176, 144),
    ("libx264", "yuv420p", 160, 120),
    ("ffv1", "yuv420p", 161, 121),
    ("ffv1", "yuv422p", 161, 120),
    ("ffv1", "yuv422p", 160, 120),
    ("ffv1", "yuv444p", 160, 120),
    ("ffv1", "bgr0", 161, 121),
    ("rawvideo", "bgr24", 160, 120),
    ("rawvideo", "rgb24", 160, 120),
]


def _encode(path, codec: str, pix_fmt: str, width: int, height: int, n: int = 3) -> None:
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        for _ in range(n):
            blocks = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
            image = blocks.repeat(8, 0).repeat(8, 1)[:height, :width] // 2
            image += rng.integers(0, 128, image.shape, dtype=np.uint8)  # detail in every chroma sample
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.mark.parametrize(("codec", "pix_fmt", "width", "height"), CASES)
def test_region_is_the_whole_frames_pixels(tmp_path, codec, pix_fmt, width, height):
    path = tmp_path / f"{codec}-{pix_fmt}.{'mp4' if codec == 'libx264' else 'avi'}"
    try:
        _encode(path, codec, pix_fmt, width, height)
    except (av.FFmpegError, ValueError) as exc:
        pytest.skip(f"cannot encode {codec}/{pix_fmt} here: {exc}")
    rng = np.random.default_rng(1)
    whole = list(VideoFile(path))
    video = VideoFile(path)
    for frame, expected in zip(video.decoded(), whole, strict=True):
        assert frame.shape == expected.shape
        for _ in range(60):
            side = int(rng.integers(4, int(0.7 * min(width, height))))
            x, y = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
            w = min(side + int(rng.integers(0, 3)), width - x)  # not always square or even
            assert np.array_equal(frame.region(x, y, w, side), expected[y : y + side, x : x + w]), (
                x,
                y,
                w,
                side,
            )
        assert frame.converted == (pix_fmt in ("yuv420p", "yuv422p") and width % 2 == 1)  # converted whole
        assert np.array_equal(frame.rgb(), expected) and frame.region_is_exact(0, 0, 8, 8)
    reference = VideoFile(path)
    list(reference)
    assert np.array_equal(video.timestamps, reference.timestamps) and video.fps == reference.fps


def test_pipeline_uses_a_subclass_s_own_frames(tmp_path):
    """A loader's VideoFile subclass that changes the frames keeps them: the pipeline does not bypass it."""
    from rppgbench.preprocess import PreprocessConfig
    from rppgbench.preprocess.crop import FaceTracker, crop_resize
    from rppgbench.preprocess.stream import MemorySink, stream_crops

    path = tmp_path / "v.avi"
    _encode(path, "mjpeg", "yuvj420p", 160, 120)

    class Mirrored(VideoFile):
        def __iter__(self):
            for frame in super().__iter__():
                yield np.ascontiguousarray(frame[:, ::-1])

    config = PreprocessConfig(face="full", size=32)
    for source, expected in (
        (VideoFile(path), list(VideoFile(path))),
        (Mirrored(path), list(Mirrored(path))),
    ):
        sink = MemorySink(config.size)
        stream_crops(source, FaceTracker(config, None, lambda frame: None), sink, where=str(path))
        assert np.array_equal(sink.frames, [crop_resize(f, (0, 0, 160, 120), 32) for f in expected])
