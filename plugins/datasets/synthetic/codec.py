"""Lossy video coding of rendered frames: H.264 (x264) at a target bitrate, encoded and decoded in memory.

Webcams, video calls and dataset releases store faces as H.264 at bitrates where the pulse, a fraction
of a digital number, can fall below the codec's quantisation (McDuff et al., "The impact of video
compression on remote cardiac pulse measurement", CVPRW 2017). The bitrate is given in bits per pixel
per frame, so a level means the same coding effort at every frame size: 0.05 bpp is 460 kbps for
640x480 at 30 fps and 29 kbps for 160x120. One encoder thread and fixed settings make the output
the same on every run, so a clip's frames stay a function of its spec.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

import av
import numpy as np

from rppgbench.video import frame_to_rgb

ENCODER = "libx264"
ENCODER_PRESET = "medium"
KEYFRAME_INTERVAL_S = 2.0  # a key frame every 2 s, as streaming encoders are typically set


def bitrate_bps(bits_per_pixel: float, width: int, height: int, fps: float) -> int:
    """Target bitrate (bits per second) of `bits_per_pixel` per frame at this size and frame rate."""
    return int(round(bits_per_pixel * width * height * fps))


def h264_roundtrip(
    frames: Iterable[np.ndarray], width: int, height: int, fps: float, bits_per_pixel: float
) -> Iterator[np.ndarray]:
    """Encode (H, W, 3) uint8 RGB frames as H.264 at the given rate, then yield the decoded frames.

    The whole clip is encoded first (rate control spans the clip, as in a recording); the compressed
    stream, not the raw frames, is what stays in memory.
    """
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream(ENCODER, rate=round(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = bitrate_bps(bits_per_pixel, width, height, fps)
        stream.codec_context.thread_count = 1
        stream.options = {"preset": ENCODER_PRESET, "g": str(max(1, round(KEYFRAME_INTERVAL_S * fps)))}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    buffer.seek(0)
    with av.open(buffer, mode="r") as container:
        for decoded in container.decode(video=0):
            yield frame_to_rgb(decoded)
