"""LGI: local group invariance, projecting out the principal direction of the normalised traces.

Pilz C. S., Zaunseder S., Krajewski J., Blazek V. "Local group invariance for heart rate estimation
from face videos in the wild." IEEE/CVF CVPR Workshops, 1254-1262, 2018. The traces of a window,
normalised by their mean (Cn, 3 x L), have a principal direction u (first left singular vector of
Cn, i.e. top eigenvector of Cn Cn^T) carrying the common intensity and illumination changes; the
projection P = I - u u^T onto its orthogonal complement is invariant to them, and the pulse is the
green row of P Cn. Windows (about 1.6 s, half overlap) are mean-removed, Hann-tapered and
overlap-added; the result is band-passed. The 3 x 3 Gram matrices come from cumulative sums, so the
singular vectors cost one batched 3 x 3 eigendecomposition per window.
"""

from __future__ import annotations

import numpy as np

from rppgbench.traces import TraceMethod

from .common import BAND, check_band, check_traces, finish, window_param
from .windows import hann, overlap_add, window_length, window_moments, window_starts


def lgi_coefficients(mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Per-window coefficients a_w with (P Cn)_green(t) = a_w . C(t)."""
    scale = mean[:, :, None] * mean[:, None, :]
    gram = (cov + scale) / scale  # E[Cn Cn^T] over the window
    _, vectors = np.linalg.eigh(gram)
    u = vectors[:, :, -1]
    proj_green = np.eye(3)[1][None, :] - u[:, 1:2] * u
    return proj_green / mean


class LGI(TraceMethod):
    """Pilz et al. 2018: local group invariance."""

    name = "lgi"
    description = "LGI (Pilz 2018): projection orthogonal to the principal direction, 1.6-s windows"
    params = (*TraceMethod.params, window_param(1.6), BAND)

    def from_traces(self, rgb: np.ndarray, fps: float) -> np.ndarray:
        """The LGI pulse signal of (T, 3) traces, band-passed and oriented to rise with blood volume."""
        length = window_length(fps, self.config["window_s"], even=True)
        x = check_traces(rgb, fps, self.name, min_seconds=max(2.0, length / fps))
        band = check_band(self.config["band_bpm"], self.name)
        starts = window_starts(len(x), length, length // 2)
        mean, cov = window_moments(x, starts, length)
        coefs = lgi_coefficients(mean, cov)
        offsets = np.einsum("wc,wc->w", coefs, mean)
        pulse = overlap_add(x, coefs, offsets, starts, hann(length))
        return finish(pulse, x, fps, band, filtered=False)
