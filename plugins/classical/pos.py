"""POS: plane-orthogonal-to-skin projection with alpha tuning, overlap-added over sliding windows.

Wang W., den Brinker A. C., Stuijk S., de Haan G. "Algorithmic principles of remote PPG."
IEEE Transactions on Biomedical Engineering 64(7):1479-1491, 2017 (Algorithm 1). For every window
of l frames (about 1.6 s, sliding by one frame): temporal normalisation Cn = C / mean(C), projection
S = P Cn with P = [[0, 1, -1], [-2, 1, 1]] onto the plane orthogonal to the skin tone, alpha tuning
h = S1 + (std S1 / std S2) S2, and h - mean(h) is overlap-added into the output.

Every window's h is linear in the traces (coefficients from the window mean and covariance), so
the whole sliding-window algorithm is computed from cumulative sums in O(T) (see `windows`); the
result equals Algorithm 1 divided by the number of windows covering each frame (a constant inside,
which keeps the first and last l frames at full amplitude). The output is then band-passed.
"""

from __future__ import annotations

import numpy as np

from .projection import WindowedProjection, WindowStats

PROJECTION = np.array([[0.0, 1.0, -1.0], [-2.0, 1.0, 1.0]])


def pos_coefficients(mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Per-window coefficients a_w with h_w(t) = a_w . C(t), from window means (W, 3) and covariances."""
    proj = PROJECTION[None, :, :] / mean[:, None, :]  # P applied to C / mean
    var = np.einsum("wki,wij,wkj->wk", proj, cov, proj)
    std = np.sqrt(np.maximum(var, 0.0))
    alpha = np.divide(std[:, 0], std[:, 1], out=np.zeros(len(std)), where=std[:, 1] > 0)
    return proj[:, 0, :] + alpha[:, None] * proj[:, 1, :]


class POS(WindowedProjection):
    """Wang et al. 2017: plane-orthogonal-to-skin rPPG."""

    name = "pos"
    description = "POS (Wang 2017): plane-orthogonal-to-skin projection, 1.6-s sliding windows"

    sliding = True

    def coefficients(self, stats: WindowStats) -> np.ndarray:
        """Projection on the plane orthogonal to the skin tone, alpha-tuned, per window."""
        return pos_coefficients(stats.mean, stats.cov)
