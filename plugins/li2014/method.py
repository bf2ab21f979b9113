"""Li 2014: lower-face green trace, illumination rectification, motion elimination, temporal filters.

Li X., Chen J., Zhao G., Pietikäinen M. "Remote heart rate measurement from face videos under
realistic situations." IEEE Conference on Computer Vision and Pattern Recognition (CVPR), 2014,
4264-4271. The paper's steps and how each is done here:

1. Face ROI. The paper detects the face, places 66 landmarks and takes the lower face (below the eyes,
   between the cheek edges, down to the jaw) from 9 of them, tracked with KLT; g_face(t) is the ROI's
   mean green. Here the preprocessing's face crop is the tracked face, and the ROI is the fixed part
   `LOWER_FACE` of the crop (columns 25-75 %, rows 48-80 %: below the eyes to the chin for a face box
   centred in a crop 1.6 times its size, the preprocessing default), its pixels weighted by the
   clip's skin model (`rppgbench.traces`) so that background or eyes entering the box are left out,
   as the landmark polygon leaves them out.
2. Illumination rectification. Light changes reach the face and the background alike, so the face
   signal is modelled as g_face = s + y with y ~ h g_bg, and a normalised least-mean-squares (NLMS)
   adaptive filter removes y: g_IR(n) = g_face(n) - h(n)^T x(n), h(n+1) = h(n) + mu g_IR(n) x(n) /
   (x(n)^T x(n) + eps), x(n) the last `nlms_taps` background samples (one tap: the paper's scalar h),
   mu = 0.003 (the step reimplementations of the paper use). The paper segments the background with level sets over the full frame;
   the clip cache keeps only the face crop, so g_bg here is the mean green of the lit, non-skin pixels
   of the crop's outer left and right strips (`rppgbench.traces.BACKGROUND_STRIPS`, outside the face
   box at the default enlargement). Difference: the filter starts from h = mean(g_face) / mean(g_bg),
   the value it converges to when the light scales face and background alike, instead of zero: with
   mu = 0.003 it adapts over about 1 / mu = 333 samples, longer than a 10-s test window at 30 fps.
3. Non-rigid motion elimination. g_IR is cut into segments of `segment_s` (one second; the paper
   does not fix the length in seconds) and the segments whose standard deviation lies in the top
   `prune_fraction` (5 %, as in the paper) of the clip's segments are discarded. The paper
   thresholds over all videos of a dataset; here each clip is judged on its own (a classical method
   sees one clip at a time), so at least the most variable segment goes once there are two or more.
   Difference: the paper joins the kept segments and filters the joined signal; here the whole
   rectified signal is filtered and the discarded segments are then set to zero, which keeps one
   value per frame at its own time. Joining puts phase jumps into a 10-s window that the filters
   smear over the neighbouring segments (on stationary synthetic windows it made the heart rate
   several times less accurate).
4. Temporal filters, in the paper's order: smoothness-priors detrending (Tarvainen 2002; lambda = 300
   at MAHNOB-HCI's 61 fps, i.e. the same cut-off frequency as lambda = 73 at 30 fps; `detrend_lambda`
   is given at 30 fps and scaled to the frame rate), a moving average over `average_frames` frames (3,
   a light smoothing; the window length is our choice), and a Hamming-window FIR band-pass of order 128
   over 0.7-4 Hz, applied zero-phase (centred). Lambda, the order and the band are the values
   reimplementations of the paper use.

Green falls as blood volume rises, so the output is the negated filtered signal: it rises with blood
volume like a contact PPG. The heart rate is read from it by the shared estimator, not here (the
paper takes the peak of the Welch power spectrum, as the shared estimator does).
"""

from __future__ import annotations

import warnings

import numpy as np

from rppgbench.data import Clip
from rppgbench.errors import ConfigError, SignalError
from rppgbench.method import Method
from rppgbench.params import Param
from rppgbench.signal.validate import check_signal
from rppgbench.traces import (
    BACKGROUND_STRIPS,
    Region,
    TraceWarning,
    extract_region_traces,
    fill_missing,
)

LOWER_FACE = Region("lower_face", ((0.25, 0.48, 0.75, 0.80),), skin=True)
"""The paper's ROI on the preprocessing's face crop: below the eyes to the chin, cheek to cheek."""
BACKGROUND = Region("background", BACKGROUND_STRIPS, skin=False)
"""The illumination reference: lit non-skin pixels of the crop's outer left and right strips."""
GREEN = 1
PAPER_FPS = 61.0  # MAHNOB-HCI, where the paper's lambda = 300 was set
NLMS_EPS = 1e-9


def nlms_rectify(face: np.ndarray, background: np.ndarray, step: float, taps: int = 1) -> np.ndarray:
    """g_IR = g_face - h^T x: the NLMS filter's error, the face signal without what the background explains.

    `x(n)` holds the last `taps` background samples (the first sample repeated before the start); `h`
    starts at [mean(face) / mean(background), 0, ...] and is updated after every sample.
    """
    f = np.asarray(face, dtype=np.float64)
    b = np.asarray(background, dtype=np.float64)
    if f.shape != b.shape or f.ndim != 1:
        raise SignalError(f"li2014: face {f.shape} and background {b.shape} traces must be equal 1-D")
    if taps < 1:
        raise ConfigError(f"li2014: nlms_taps must be >= 1, got {taps}")
    if not step > 0:
        raise ConfigError(f"li2014: nlms_step must be > 0, got {step}")
    mean_b = float(np.mean(b))
    if not mean_b > 0:
        raise SignalError("li2014: the background trace has no positive mean; cannot rectify")
    h = np.zeros(taps)
    h[0] = float(np.mean(f)) / mean_b
    padded = np.concatenate([np.full(taps - 1, b[0]), b])
    eps = NLMS_EPS * mean_b * mean_b
    out = np.empty_like(f)
    for n in range(len(f)):
        x = padded[n : n + taps][::-1]
        e = f[n] - float(h @ x)
        h += (step * e / (float(x @ x) + eps)) * x
        out[n] = e
    return out


def segment_keep_mask(x: np.ndarray, length: int, fraction: float) -> np.ndarray:
    """True for the samples of the segments kept: those whose standard deviation is not in the top
    `fraction` of the clip's segments (equal `length`, the remainder joining the last one)."""
    n = len(x)
    keep = np.ones(n, dtype=bool)
    m = n // max(int(length), 1)
    if fraction <= 0 or m < 2:
        return keep
    bounds = [i * length for i in range(m)] + [n]
    sd = np.array([np.std(x[bounds[i] : bounds[i + 1]]) for i in range(m)])
    threshold = np.quantile(sd, 1.0 - fraction)
    for i in np.flatnonzero(sd > threshold):
        keep[bounds[i] : bounds[i + 1]] = False
    return keep


def fir_bandpass(x: np.ndarray, fps: float, band_bpm: tuple[float, float], order: int) -> np.ndarray:
    """Hamming-window FIR band-pass of even `order`, applied zero-phase (centred, ends reflected)."""
    from scipy.signal import firwin  # scipy loads when the method runs

    lo, hi = float(band_bpm[0]) / 60.0, float(band_bpm[1]) / 60.0
    if not 0 < lo < hi:
        raise ConfigError(f"li2014: band_bpm must be two increasing positive values, got {band_bpm!r}")
    if hi >= fps / 2:
        raise SignalError(f"li2014: band upper edge {hi:.3g} Hz is at or above Nyquist ({fps / 2:.3g} Hz)")
    if order < 2 or order % 2:
        raise ConfigError(f"li2014: fir_order must be a positive even number, got {order}")
    taps = firwin(order + 1, [lo, hi], pass_zero=False, window="hamming", fs=fps)
    half = order // 2
    return np.convolve(np.pad(x, half, mode="reflect"), taps, mode="valid")


def temporal_filters(
    x: np.ndarray, fps: float, detrend_lambda: float, average: int, order: int, band: tuple[float, float]
) -> np.ndarray:
    """Detrending (lambda at 30 fps, scaled to `fps`), centred moving average, FIR band-pass."""
    from scipy.ndimage import uniform_filter1d

    from rppgbench.signal.hr import detrend, effective_lambda

    y = np.asarray(x, dtype=np.float64)
    if detrend_lambda > 0 and len(y) >= 3:
        y = detrend(y, effective_lambda(detrend_lambda, fps))
    if average > 1:
        y = uniform_filter1d(y, int(average), mode="nearest")
    return fir_bandpass(y, fps, band, order)


class Li2014(Method):
    """Li et al. 2014: rectified lower-face green, motion segments pruned, detrended and band-passed."""

    name = "li2014"
    description = (
        "Li 2014 (CVPR): lower-face green, NLMS illumination rectification against the background, "
        "pruning of the most variable segments, detrend + moving average + FIR band-pass"
    )
    params = (
        Param(
            "skin_mask",
            True,
            "weight the face region's pixels by a per-clip skin-chromaticity model and take the background's "
            "non-skin pixels; false: every pixel of each region",
        ),
        Param("rectify", True, "illumination rectification against the background trace (false: skip)"),
        Param("nlms_step", 0.003, "NLMS step size mu"),
        Param("nlms_taps", 1, "NLMS filter length (1: the paper's scalar h)"),
        Param("segment_s", 1.0, "segment length in seconds for the motion elimination"),
        Param("prune_fraction", 0.05, "share of the most variable segments discarded (0: none)"),
        Param(
            "detrend_lambda", 73.0, "smoothness-priors lambda at 30 fps, scaled to the frame rate (0: none)"
        ),
        Param("average_frames", 3, "moving-average window in frames (1: none)"),
        Param("fir_order", 128, "order of the Hamming-window FIR band-pass (even)"),
        Param("band_bpm", (42.0, 240.0), "FIR pass band in beats per minute (the paper's 0.7-4 Hz)"),
    )
    chunk = 256

    def predict(self, clip: Clip) -> np.ndarray:
        """Lower-face and background traces of the clip, then `from_traces`."""
        traces = extract_region_traces(
            clip.frames,
            (LOWER_FACE, BACKGROUND),
            skin_mask=bool(self.config["skin_mask"]),
            chunk=self.chunk,
        )
        self.last_region_traces = traces
        if not len(traces.rgb):
            raise SignalError(f"{clip.record.id}: the clip has no frames")
        face = fill_missing(traces.rgb[:, 0, GREEN])
        if not np.isfinite(face).any():
            raise SignalError(f"{clip.record.id}: li2014 found no skin pixel in the lower face region")
        background = fill_missing(traces.rgb[:, 1, GREEN])
        if not np.isfinite(background).any():
            warnings.warn(
                f"{clip.record.id}: no background pixel beside the face; li2014 runs without "
                "illumination rectification",
                TraceWarning,
                stacklevel=2,
            )
            background = None
        return self.from_traces(face, background, clip.fps)

    def from_traces(
        self, face_green: np.ndarray, background_green: np.ndarray | None, fps: float
    ) -> np.ndarray:
        """The pulse (T,) from the lower-face green trace and the background green trace (None: no
        rectification), rising with blood volume; zero on the discarded segments."""
        cfg = self.config
        face = check_signal(face_green, fps, min_seconds=2.0, name="li2014 face green trace", min_samples=8)
        signal = face
        if cfg["rectify"] and background_green is not None:
            background = np.asarray(background_green, dtype=np.float64)
            if background.shape != face.shape or not np.isfinite(background).all():
                raise SignalError(
                    f"li2014: background trace {background.shape} must be finite, like the face's"
                )
            signal = nlms_rectify(face, background, float(cfg["nlms_step"]), int(cfg["nlms_taps"]))
        length = max(2, int(round(float(cfg["segment_s"]) * fps)))
        keep = segment_keep_mask(signal, length, float(cfg["prune_fraction"]))
        filtered = temporal_filters(
            signal, fps, float(cfg["detrend_lambda"]), int(cfg["average_frames"]),
            int(cfg["fir_order"]), tuple(cfg["band_bpm"]),
        )  # fmt: skip
        return np.where(keep, -filtered, 0.0)  # green falls as blood volume rises
