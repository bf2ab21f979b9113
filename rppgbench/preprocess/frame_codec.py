"""Lossless predictive coding of face-crop chunks: predict each pixel, store the residual with zstd.

General-purpose codecs barely shrink face crops: camera noise makes the raw bytes look random. The
residual of a good prediction is small and compresses well, as in lossless image and video codecs
(PNG's filters, FFV1). Each chunk of frames gets the cheaper of two predictors:

- "temporal": the same pixel in the previous frame (the first frame of a chunk predicts from 0), best
  when the face holds still;
- "planar": left + above - above-left in the same frame (the 2-D gradient of PNG's Paeth family),
  best when the face moves or the crop was enlarged from a small face.

Residuals are computed modulo 256, so decoding (cumulative sums modulo 256) gives back the exact bytes.
Which predictor is cheaper is judged by the sum of absolute residuals, which costs a fraction of
compressing twice and lands within 8% of the better of the two on the synthetic benchmark's clips.
"""

from __future__ import annotations

import numpy as np
import zstandard

PREDICTORS = ("temporal", "planar")
ZSTD_LEVEL = 1  # level 1 writes ~200 MB/s of frames on one core; higher levels gained only 2-5%


def _temporal_residual(frames: np.ndarray) -> np.ndarray:
    out = np.empty_like(frames)
    out[0] = frames[0]
    np.subtract(frames[1:], frames[:-1], out=out[1:])
    return out


def _planar_residual(frames: np.ndarray) -> np.ndarray:
    across = np.empty_like(frames)
    across[:, :, 0] = frames[:, :, 0]
    np.subtract(frames[:, :, 1:], frames[:, :, :-1], out=across[:, :, 1:])
    out = np.empty_like(frames)
    out[:, 0] = across[:, 0]
    np.subtract(across[:, 1:], across[:, :-1], out=out[:, 1:])
    return out


def _cost(residual: np.ndarray) -> int:
    """Sum of absolute residuals (as signed bytes) over every 4th row: a cheap stand-in for the size."""
    return int(np.abs(residual[:, ::4].view(np.int8)).sum(dtype=np.int64))


def encode_chunk(frames: np.ndarray) -> np.ndarray:
    """(n, H, W, C) uint8 frames -> a uint8 blob: one predictor byte, then the zstd-compressed residual."""
    if frames.dtype != np.uint8 or frames.ndim != 4:
        raise ValueError(f"expected (n, H, W, C) uint8 frames, got {frames.dtype} {frames.shape}")
    frames = np.ascontiguousarray(frames)
    temporal, planar = _temporal_residual(frames), _planar_residual(frames)
    code, residual = (0, temporal) if _cost(temporal) <= _cost(planar) else (1, planar)
    packed = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(residual.tobytes())
    return np.frombuffer(bytes([code]) + packed, dtype=np.uint8)


def decode_chunk(blob: np.ndarray | bytes, frame_shape: tuple[int, ...]) -> np.ndarray:
    """The frames `encode_chunk` packed into `blob`; `frame_shape` is (H, W, C).

    Raises ValueError when the blob is damaged (unknown predictor, corrupt or wrongly sized data).
    """
    data = bytes(blob)
    if not data or data[0] >= len(PREDICTORS):
        raise ValueError(f"unknown predictor code {data[:1]!r}")
    try:
        raw = zstandard.ZstdDecompressor().decompress(data[1:])
    except zstandard.ZstdError as exc:
        raise ValueError(f"corrupt compressed frames ({exc})") from exc
    frame_bytes = int(np.prod(frame_shape))
    if not raw or len(raw) % frame_bytes:
        raise ValueError(f"{len(raw)} decoded bytes are not whole frames of shape {tuple(frame_shape)}")
    residual = np.frombuffer(raw, dtype=np.uint8).reshape(-1, *frame_shape)
    if data[0] == 0:  # frame by frame: numpy's cumsum along the outer axis is ~100x slower
        frames = residual.copy()
        for i in range(1, len(frames)):
            np.add(frames[i], frames[i - 1], out=frames[i])
        return frames
    return np.cumsum(np.cumsum(residual, axis=1, dtype=np.uint8), axis=2, dtype=np.uint8)
