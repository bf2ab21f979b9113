"""CHROM: chrominance-based rPPG with alpha tuning in Hann-windowed, half-overlapping windows.

de Haan G., Jeanne V. "Robust pulse rate from chrominance-based rPPG." IEEE Transactions on
Biomedical Engineering 60(10):2878-2886, 2013. In windows of about 1.6 s (50 % overlap): the colour
channels are normalised by their window mean, the chrominance signals Xs = 3Rn - 2Gn and
Ys = 1.5Rn + Gn - 1.5Bn are band-passed to Xf, Yf, alpha = std(Xf) / std(Yf), and the window's
pulse S = Xf - alpha Yf is Hann-windowed and overlap-added.

Band-passing is linear and the window means are constants within a window, so Xf, Yf are formed
from the band-passed traces of the whole signal divided by the window means: the same signals as
filtering every window separately, without the filter's edge transients at every window border.
"""

from __future__ import annotations

import numpy as np

from .projection import WindowedProjection, WindowStats

X_CHROMINANCE = np.array([3.0, -2.0, 0.0])
Y_CHROMINANCE = np.array([1.5, 1.0, -1.5])


def chrom_coefficients(mean: np.ndarray, cov_filtered: np.ndarray) -> np.ndarray:
    """Per-window coefficients of S = Xf - alpha Yf applied to the band-passed traces."""
    xs = X_CHROMINANCE[None, :] / mean
    ys = Y_CHROMINANCE[None, :] / mean
    var_x = np.einsum("wi,wij,wj->w", xs, cov_filtered, xs)
    var_y = np.einsum("wi,wij,wj->w", ys, cov_filtered, ys)
    alpha = np.sqrt(np.divide(var_x, var_y, out=np.zeros(len(var_x)), where=var_y > 0))
    return xs - alpha[:, None] * ys


class CHROM(WindowedProjection):
    """de Haan & Jeanne 2013: chrominance-based rPPG."""

    name = "chrom"
    description = "CHROM (de Haan 2013): chrominance signals with alpha tuning, 1.6-s Hann overlap-add"

    filter_first = True

    def coefficients(self, stats: WindowStats) -> np.ndarray:
        """S = Xf - alpha Yf per window."""
        return chrom_coefficients(stats.mean, stats.source_cov)
