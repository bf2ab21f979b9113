"""RGB traces of a face clip and the base class of every trace-based (classical) rPPG method.

A trace is the spatial mean colour of the skin pixels of each face-crop frame: (T, 3) float64, R G B.
Traces are computed in one pass over the clip, `chunk` frames at a time, so a lazily read clip (an
h5py dataset) is never copied whole into memory.

Skin weighting (`skin_mask=True`): a Gaussian skin-colour model in normalised rg chromaticity
(r = R/(R+G+B), g = G/(R+G+B); Yang & Waibel 1996), fitted to each clip. Chromaticity does not change
when the light gets brighter or dimmer, so pixels do not drift in and out of the skin region as the
illumination changes (a YCrCb box did exactly that, adding in-band noise to the traces). Reference
pixels are taken from the central half of the crop (mostly cheek, nose and forehead in a face crop)
of up to `SAMPLE_FRAMES` frames spread over the clip, restricted to the broad skin range of Chai &
Ngan (1999; Cr 133-173, Cb 77-127); the model is their median rg and robust standard deviation
(1.4826 x MAD, at least `MIN_CHROMA_SD`). Each pixel is weighted by exp(-d^2 / 2), d its
Mahalanobis distance to the model, truncated to zero beyond `CUTOFF_SD` standard deviations (so
background of another colour gets no weight at all) and zero for dark (luma <= `MIN_LUMA`) or
clipped (any channel >= `SATURATED`) pixels, which cannot carry the pulse. A frame whose weights sum
to less than one pixel falls back to the whole crop; such frames are counted and reported (a warning,
and `TraceResult.fallback_frames`).
With `skin_mask=False` the whole crop is averaged.

Methods that need the spread of the skin colours, not only their mean (SSR), ask for the per-frame
colour correlation matrix as well (`correlation=True`): C(t) = sum_p w_p v_p v_p^T / sum_p w_p over
the pixel colours v_p with the same skin weights w_p (the whole crop where the mean does), computed in
the same pass.

Methods that read parts of the crop (a lower-face region, a grid of face patches, the background
beside the face) ask for region traces (`extract_region_traces`): the mean colour of each `Region`
(one or more boxes given as fractions of the crop's width and height) per frame, in one pass. A skin
region weights its pixels by the same skin weights; a background region takes its pixels that are lit
(not dark, not clipped) but carry no skin weight at all, so neither skin nor shadow enters it. The
clip cache keeps only the face crop, so the background a method can see is the margin of the crop
around the face: with the default enlargement (1.6 x the face box, `rppgbench.preprocess.config`) the
face box spans the central 62.5 % of the crop and `BACKGROUND_STRIPS` (the outer 15 % on the left and
right, full height) lie outside it; the skin test removes ears, neck or a face that moves into them.
"""

from __future__ import annotations

import warnings
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from rppgbench.data import Clip
from rppgbench.errors import DataError, SignalError
from rppgbench.method import Method
from rppgbench.params import Param

CHAI_NGAN_CR = (133.0, 173.0)
CHAI_NGAN_CB = (77.0, 127.0)
SAMPLE_FRAMES = 32
MIN_CHROMA_SD = 0.01
CUTOFF_SD = 3.0
MIN_LUMA = 25.0
SATURATED = 250
MIN_REFERENCE_PIXELS = 50

# Standard blood-volume pulse signature of normalised RGB (de Haan & van Leest 2014), unit length.
PBV_SIGNATURE = np.array([0.33, 0.77, 0.53]) / np.linalg.norm([0.33, 0.77, 0.53])


class TraceWarning(UserWarning):
    """Trace extraction had to fall back (e.g. frames without any skin pixel)."""


@dataclass(frozen=True)
class SkinModel:
    """A clip's skin colour: mean and standard deviation of its rg chromaticity, and the pixel limits."""

    mean: tuple[float, float]
    sd: tuple[float, float]
    min_luma: float = MIN_LUMA
    saturated: int = SATURATED


@dataclass(frozen=True)
class TraceResult:
    """Traces plus how they were obtained: per-frame skin fraction and the frames that fell back."""

    rgb: np.ndarray
    skin_fraction: np.ndarray
    fallback_frames: int
    skin_model: SkinModel | None
    correlation: np.ndarray | None = None
    """(T, 3, 3) weighted colour correlation matrices of the skin pixels, when asked for."""


def _frame_count(frames: Any) -> int:
    shape = getattr(frames, "shape", None)
    if shape is None or len(shape) != 4 or shape[-1] != 3:
        raise DataError(f"face frames must be a (T, H, W, 3) RGB array, got shape {shape}")
    return int(shape[0])


def _cv2():
    import cv2  # opencv-contrib-python, installed with mediapipe; imported lazily (heavy)

    return cv2


def _as_image(frames: np.ndarray) -> np.ndarray:
    """(..., H, W, 3) uint8 frames stacked vertically into one contiguous (N*H, W, 3) image for OpenCV."""
    return np.ascontiguousarray(frames).reshape(-1, frames.shape[-2], 3)


def _ycrcb(frames: np.ndarray) -> np.ndarray:
    """Y, Cr, Cb (last axis, uint8, BT.601 full range as in OpenCV) of uint8 RGB frames."""
    cv2 = _cv2()
    return cv2.cvtColor(_as_image(frames), cv2.COLOR_RGB2YCrCb).reshape(frames.shape)


def estimate_skin_model(frames: Any, sample_frames: int = SAMPLE_FRAMES) -> SkinModel:
    """Fit the rg-chromaticity skin model to this clip from the central region of evenly spread frames."""
    n = _frame_count(frames)
    if n == 0:
        raise DataError("cannot estimate a skin model from a clip with no frames")
    idx = np.unique(np.linspace(0, n - 1, min(sample_frames, n)).round().astype(int))
    sample = np.stack([np.asarray(frames[int(i)]) for i in idx])  # few frames; lazy arrays index one by one
    if sample.dtype != np.uint8:
        raise DataError(f"face frames must be uint8 RGB, got dtype {sample.dtype}")
    h, w = sample.shape[1:3]
    centre = np.ascontiguousarray(sample[:, h // 4 : h - h // 4 or None, w // 4 : w - w // 4 or None])
    ycc = _ycrcb(centre).reshape(-1, 3).astype(np.float64)
    centre = centre.reshape(-1, 3).astype(np.float64)
    bright = (ycc[:, 0] > MIN_LUMA) & (centre.max(axis=1) < SATURATED)
    plausible = (
        bright
        & (ycc[:, 1] >= CHAI_NGAN_CR[0])
        & (ycc[:, 1] <= CHAI_NGAN_CR[1])
        & (ycc[:, 2] >= CHAI_NGAN_CB[0])
        & (ycc[:, 2] <= CHAI_NGAN_CB[1])
    )
    chosen = plausible if plausible.sum() >= MIN_REFERENCE_PIXELS else bright
    ref = centre[chosen] if chosen.sum() >= MIN_REFERENCE_PIXELS else centre
    rg = ref[:, :2] / np.maximum(ref.sum(axis=1, keepdims=True), 1.0)
    med = np.median(rg, axis=0)
    sd = np.maximum(1.4826 * np.median(np.abs(rg - med), axis=0), MIN_CHROMA_SD)
    return SkinModel(mean=(float(med[0]), float(med[1])), sd=(float(sd[0]), float(sd[1])))


def skin_weights(frames: np.ndarray, model: SkinModel) -> np.ndarray:
    """Float32 (..., H, W) skin weights in [0, 1] of uint8 RGB `frames` under `model` (see module doc)."""
    return _skin_weights_and_usable(frames, model)[0]


def _skin_weights_and_usable(frames: np.ndarray, model: SkinModel) -> tuple[np.ndarray, np.ndarray]:
    """Skin weights (as `skin_weights`) and the boolean mask of pixels bright enough and not clipped."""
    red, green, blue = np.moveaxis(frames, -1, 0).astype(np.float32)  # contiguous colour planes
    scale = 1.0 / np.maximum(red + green + blue, np.float32(1.0))
    dr = (red * scale - np.float32(model.mean[0])) * np.float32(1.0 / model.sd[0])
    dg = (green * scale - np.float32(model.mean[1])) * np.float32(1.0 / model.sd[1])
    d2 = dr * dr + dg * dg
    luma = np.float32(0.299) * red + np.float32(0.587) * green + np.float32(0.114) * blue
    brightest = np.maximum(np.maximum(red, green), blue)
    lit = (luma > model.min_luma) & (brightest < model.saturated)
    usable = (d2 <= np.float32(CUTOFF_SD**2)) & lit
    weights = np.zeros_like(d2)
    weights[usable] = np.exp(np.float32(-0.5) * d2[usable])
    return weights, lit


def _frame_sums(image: np.ndarray, m: int) -> np.ndarray:
    """Per-frame, per-channel pixel sums (m, 3) of a stacked (m*H, W, 3) image."""
    cv2 = _cv2()
    return cv2.reduce(image.reshape(m, -1, 3), 1, cv2.REDUCE_SUM, dtype=cv2.CV_64F).reshape(m, 3)


def _frame_correlations(pixels: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """(m, 3, 3) sum_p w_p v_p v_p^T / sum_p w_p of (m, P, 3) pixel colours (unweighted if `weights` is None)."""
    if weights is None:
        return np.matmul(pixels.transpose(0, 2, 1), pixels).astype(np.float64) / pixels.shape[1]
    total = weights.sum(axis=1, dtype=np.float64)
    second = np.matmul((pixels * weights[:, :, None]).transpose(0, 2, 1), pixels).astype(np.float64)
    return second / np.maximum(total, 1e-12)[:, None, None]


def extract_traces_info(
    frames: Any,
    skin_mask: bool = True,
    chunk: int = 256,
    skin_model: SkinModel | None = None,
    correlation: bool = False,
) -> TraceResult:
    """Traces with the per-frame skin fraction (summed weight / pixels) and the frames that fell back;
    with `correlation`, also the per-frame colour correlation matrices of the same pixels."""
    n = _frame_count(frames)
    if chunk < 1:
        raise DataError(f"chunk must be a positive number of frames, got {chunk}")
    if skin_mask and skin_model is None and n:
        skin_model = estimate_skin_model(frames)
    rgb = np.empty((n, 3), dtype=np.float64)
    fraction = np.ones(n, dtype=np.float64)
    corr = np.empty((n, 3, 3), dtype=np.float64) if correlation else None
    fallback = 0
    for start in range(0, n, chunk):
        block = np.asarray(frames[start : start + chunk])
        if block.dtype != np.uint8:
            raise DataError(f"face frames must be uint8 RGB, got dtype {block.dtype}")
        m, h, w, _ = block.shape
        if not skin_mask:
            rgb[start : start + m] = _frame_sums(_as_image(block), m) / (h * w)
            if corr is not None:
                corr[start : start + m] = _frame_correlations(
                    block.reshape(m, -1, 3).astype(np.float32), None
                )
            continue
        weights = skin_weights(block, skin_model).reshape(m, -1)
        total = weights.sum(axis=1, dtype=np.float64)
        pixels = block.reshape(m, -1, 3).astype(np.float32)
        sums = np.matmul(weights[:, None, :], pixels)[:, 0, :]
        empty = total < 1.0
        means = sums / np.maximum(total, 1e-12)[:, None]
        if empty.any():
            means[empty] = _frame_sums(_as_image(block[empty]), int(empty.sum())) / (h * w)
        rgb[start : start + m] = means
        if corr is not None:
            block_corr = _frame_correlations(pixels, weights)
            if empty.any():
                block_corr[empty] = _frame_correlations(pixels[empty], None)
            corr[start : start + m] = block_corr
        fraction[start : start + m] = np.where(empty, 0.0, total / float(h * w))
        fallback += int(empty.sum())
    if fallback:
        warnings.warn(
            f"{fallback} of {n} frames had (almost) no skin pixel; the whole crop was used for them",
            TraceWarning,
            stacklevel=2,
        )
    return TraceResult(rgb, fraction, fallback, skin_model if skin_mask else None, corr)


def extract_traces(frames: Any, skin_mask: bool = True, chunk: int = 256) -> np.ndarray:
    """(T, 3) float64 mean RGB of the skin pixels (or the whole crop) of each (T, H, W, 3) uint8 frame."""
    return extract_traces_info(frames, skin_mask=skin_mask, chunk=chunk).rgb


Box = tuple[float, float, float, float]
"""(x0, y0, x1, y1) as fractions of the crop's width and height, x to the right and y down."""

FACE_BOX: Box = (0.1875, 0.1875, 0.8125, 0.8125)
"""The face box inside the crop at the default enlargement of 1.6: the central (1 / 1.6) of each side."""

BACKGROUND_STRIPS: tuple[Box, ...] = ((0.0, 0.0, 0.15, 1.0), (0.85, 0.0, 1.0, 1.0))
"""The crop's outer left and right strips: outside the face box at the default enlargement of 1.6."""


@dataclass(frozen=True)
class Region:
    """A part of the face crop: the union of `boxes`; `skin` selects its skin pixels (weighted by the
    clip's skin model), else its lit non-skin pixels (a background reference)."""

    name: str
    boxes: tuple[Box, ...]
    skin: bool = True


@dataclass(frozen=True)
class RegionTraces:
    """Per-frame mean colours of regions: `rgb` (T, R, 3), NaN where a region has less than one pixel's
    weight in a frame; `weight` (T, R) the summed pixel weights; `pixels` (R,) each region's area."""

    regions: tuple[Region, ...]
    rgb: np.ndarray
    weight: np.ndarray
    pixels: np.ndarray
    skin_model: SkinModel | None


def box_slices(box: Box, height: int, width: int) -> tuple[slice, slice]:
    """Row and column slices of a fractional box in a height x width crop (at least one pixel each)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
        raise DataError(f"region box {box} must satisfy 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1")
    top, left = min(int(round(y0 * height)), height - 1), min(int(round(x0 * width)), width - 1)
    bottom, right = max(int(round(y1 * height)), top + 1), max(int(round(x1 * width)), left + 1)
    return slice(top, bottom), slice(left, right)


def extract_region_traces(
    frames: Any,
    regions: tuple[Region, ...],
    skin_mask: bool = True,
    chunk: int = 256,
    skin_model: SkinModel | None = None,
) -> RegionTraces:
    """Mean colour of each region's skin (or background) pixels per frame, in one pass over the clip.

    With `skin_mask=False` every pixel of a region counts, skin or not.
    """
    n = _frame_count(frames)
    if chunk < 1:
        raise DataError(f"chunk must be a positive number of frames, got {chunk}")
    if not regions:
        raise DataError("extract_region_traces needs at least one region")
    if skin_mask and skin_model is None and n:
        skin_model = estimate_skin_model(frames)
    sums = np.zeros((n, len(regions), 3), dtype=np.float64)
    weight = np.zeros((n, len(regions)), dtype=np.float64)
    pixels = np.zeros(len(regions), dtype=np.float64)
    for start in range(0, n, chunk):
        block = np.asarray(frames[start : start + chunk])
        if block.dtype != np.uint8:
            raise DataError(f"face frames must be uint8 RGB, got dtype {block.dtype}")
        m, h, w, _ = block.shape
        if skin_mask:
            skin, lit = _skin_weights_and_usable(block, skin_model)
            background = (lit & (skin == 0)).astype(np.float32)
        else:
            skin = background = np.ones((m, h, w), dtype=np.float32)
        for k, region in enumerate(regions):
            weights = skin if region.skin else background
            pixels[k] = 0.0
            for box in region.boxes:
                rows, cols = box_slices(box, h, w)
                wsub = np.ascontiguousarray(weights[:, rows, cols]).reshape(m, 1, -1)
                psub = block[:, rows, cols].reshape(m, -1, 3).astype(np.float32)
                sums[start : start + m, k] += np.matmul(wsub, psub)[:, 0, :]
                weight[start : start + m, k] += wsub.sum(axis=(1, 2), dtype=np.float64)
                pixels[k] += wsub.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        rgb = np.where(weight[:, :, None] >= 1.0, sums / weight[:, :, None], np.nan)
    return RegionTraces(tuple(regions), rgb, weight, pixels, skin_model if skin_mask else None)


def fill_missing(x: np.ndarray) -> np.ndarray:
    """`x` (T,) or (T, C) with NaN samples linearly interpolated along time from their neighbours (the
    ends held); a column without any finite sample stays NaN."""
    arr = np.array(x, dtype=np.float64)
    columns = arr.reshape(len(arr), -1)
    idx = np.arange(len(arr))
    for column in columns.T:
        bad = ~np.isfinite(column)
        if bad.any() and not bad.all():
            column[bad] = np.interp(idx[bad], idx[~bad], column[~bad])
    return columns.reshape(arr.shape)


def orient_to_blood_volume(
    signal: np.ndarray, rgb: np.ndarray, fps: float, band_bpm: tuple[float, float]
) -> np.ndarray:
    """Flip `signal` if needed so that it rises with blood volume, like a contact PPG waveform.

    More blood absorbs more light, so the reflected colour moves against the blood-volume signature
    (PBV_SIGNATURE) of the normalised traces. The sign is chosen from the correlation with that
    projection, band-passed like the signal; this also fixes ICA's sign ambiguity. The signature's mean
    is removed before projecting: otherwise the projection is mostly overall brightness (flicker,
    motion), which moves all channels alike, and the sign follows the light instead of the pulse.
    """
    from rppgbench.signal.hr import bandpass

    norm = rgb / np.mean(rgb, axis=0)
    colour = PBV_SIGNATURE - PBV_SIGNATURE.mean()  # blind to changes common to the three channels
    reflect = bandpass(norm @ colour, fps, band_bpm)
    return -signal if float(np.dot(signal, reflect)) > 0 else signal


class TraceMethod(Method):
    """Base of classical methods: turns a clip into RGB traces and calls `from_traces(rgb, fps)`.

    Subclasses extend `params` (keeping `skin_mask`) and implement `from_traces`, which gets (T, 3)
    float64 traces and returns a float64 signal of length T.
    """

    params: ClassVar[tuple[Param, ...]] = (
        Param(
            "skin_mask",
            True,
            "weight face-crop pixels by a per-clip skin-chromaticity model; false: whole crop",
        ),
    )
    chunk: ClassVar[int] = 256

    def predict(self, clip: Clip) -> np.ndarray:
        """RGB traces of the clip's frames, then the method's pulse signal (one value per frame)."""
        info = extract_traces_info(
            clip.frames, skin_mask=bool(self.config.get("skin_mask", True)), chunk=self.chunk
        )
        self.last_trace_info = info
        if not len(info.rgb):
            raise SignalError(f"{clip.record.id}: the clip has no frames")
        return self.from_traces(info.rgb, clip.fps)

    @abstractmethod
    def from_traces(self, rgb: np.ndarray, fps: float) -> np.ndarray:
        """The pulse signal (T,) float64 from (T, 3) RGB traces sampled at `fps`."""
