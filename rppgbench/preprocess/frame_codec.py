"""Lossless predictive coding of face-crop chunks: predict each pixel, store the residual compactly.

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

The residual is then packed the way scientific array compressors pack noisy integers: zigzag mapping
(0, -1, 1, -2, ... -> 0, 1, 2, 3, ...) so that small residuals of either sign have zero high bits,
bit shuffling (all first bits together, then all second bits, ...) so that those zero bit planes form
long runs, then zstd, all three but the zigzag inside Blosc2. On the synthetic benchmark's crops this
is about twice as fast as zstd on the plain residual, and about 15% smaller.

A blob is one code byte (predictor, packing) and the packed residual. Codes 0 and 1, zstd over the
plain residual, are what earlier versions wrote; they are still read.
"""

from __future__ import annotations

import numpy as np

PREDICTORS = ("temporal", "planar")
PACKINGS = ("zstd", "zigzag-bitshuffle-zstd")  # code byte = predictor index + len(PREDICTORS) * packing
WRITTEN_PACKING = 1
CLEVEL = 1  # Blosc2 level 1 (zstd underneath); higher levels cost 2-4x the time for <1% smaller blobs


def _differences(x: np.ndarray, axis: int) -> np.ndarray:
    """Each slice along `axis` minus the one before it (modulo 256); the first slice is kept as it is."""
    out = np.empty_like(x)
    before = (slice(None),) * axis
    out[(*before, 0)] = x[(*before, 0)]
    np.subtract(
        x[(*before, slice(1, None))], x[(*before, slice(None, -1))], out=out[(*before, slice(1, None))]
    )
    return out


def _temporal_residual(frames: np.ndarray) -> np.ndarray:
    return _differences(frames, 0)


def _planar_residual(frames: np.ndarray) -> np.ndarray:
    return _differences(_differences(frames, 2), 1)


def _sampled_costs(frames: np.ndarray) -> tuple[int, int]:
    """Sums of absolute residuals (as signed bytes) of both predictors over every 4th row.

    A cheap stand-in for the packed sizes: only the chosen predictor's whole residual is computed.
    """
    rows = frames[:, 1::4]
    above = frames[:, 0::4][:, : rows.shape[1]]
    temporal, planar = _differences(rows, 0), _differences(rows - above, 2)
    return tuple(int(np.abs(r.view(np.int8)).sum(dtype=np.int64)) for r in (temporal, planar))


def _zigzag(residual: np.ndarray) -> np.ndarray:
    """In place: residual r (as a signed byte) -> 2r for r >= 0, -2r - 1 for r < 0."""
    sign = residual.view(np.int8) >> 7  # 0 or -1 (all bits set)
    np.left_shift(residual, 1, out=residual)
    residual ^= sign.view(np.uint8)
    return residual


def _unzigzag(packed: np.ndarray) -> np.ndarray:
    sign = np.negative(packed & 1)  # 0 or 255
    np.right_shift(packed, 1, out=packed)
    packed ^= sign
    return packed


def encode_chunk(frames: np.ndarray) -> np.ndarray:
    """(n, H, W, C) uint8 frames -> a uint8 blob: one code byte, then the packed residual."""
    import blosc2

    if frames.dtype != np.uint8 or frames.ndim != 4:
        raise ValueError(f"expected (n, H, W, C) uint8 frames, got {frames.dtype} {frames.shape}")
    frames = np.ascontiguousarray(frames)
    temporal_cost, planar_cost = _sampled_costs(frames)
    predictor = 0 if temporal_cost <= planar_cost else 1
    residual = (_temporal_residual, _planar_residual)[predictor](frames)
    cparams = blosc2.CParams(
        codec=blosc2.Codec.ZSTD, clevel=CLEVEL, filters=[blosc2.Filter.BITSHUFFLE], typesize=1, nthreads=1
    )
    packed = blosc2.compress2(_zigzag(residual), cparams=cparams)
    return np.frombuffer(bytes([predictor + len(PREDICTORS) * WRITTEN_PACKING]) + packed, dtype=np.uint8)


def _unpack(code: int, data: bytes) -> bytes:
    packing = code // len(PREDICTORS)
    if packing == 0:
        import zstandard

        try:
            return zstandard.ZstdDecompressor().decompress(data)
        except zstandard.ZstdError as exc:
            raise ValueError(f"corrupt compressed frames ({exc})") from exc
    import blosc2

    try:
        return blosc2.decompress2(data, dparams=blosc2.DParams(nthreads=1))
    except (ValueError, RuntimeError) as exc:
        raise ValueError(f"corrupt compressed frames ({exc})") from exc


def decode_chunk(blob: np.ndarray | bytes, frame_shape: tuple[int, ...]) -> np.ndarray:
    """The frames `encode_chunk` packed into `blob`; `frame_shape` is (H, W, C).

    Raises ValueError when the blob is damaged (unknown code, corrupt or wrongly sized data).
    """
    data = bytes(blob)
    if not data or data[0] >= len(PREDICTORS) * len(PACKINGS):
        raise ValueError(f"unknown predictor code {data[:1]!r}")
    raw = _unpack(data[0], data[1:])
    frame_bytes = int(np.prod(frame_shape))
    if not raw or len(raw) % frame_bytes:
        raise ValueError(f"{len(raw)} decoded bytes are not whole frames of shape {tuple(frame_shape)}")
    residual = np.frombuffer(raw, dtype=np.uint8).reshape(-1, *frame_shape).copy()
    if data[0] // len(PREDICTORS):
        _unzigzag(residual)
    if data[0] % len(PREDICTORS) == 0:  # frame by frame: numpy's cumsum along the outer axis is ~100x slower
        for i in range(1, len(residual)):
            np.add(residual[i], residual[i - 1], out=residual[i])
        return residual
    return np.cumsum(np.cumsum(residual, axis=1, dtype=np.uint8), axis=2, dtype=np.uint8)
