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

from .projection import WindowedProjection, WindowStats


def lgi_coefficients(mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Per-window coefficients a_w with (P Cn)_green(t) = a_w . C(t)."""
    scale = mean[:, :, None] * mean[:, None, :]
    gram = (cov + scale) / scale  # E[Cn Cn^T] over the window
    _, vectors = np.linalg.eigh(gram)
    u = vectors[:, :, -1]
    proj_green = np.eye(3)[1][None, :] - u[:, 1:2] * u
    return proj_green / mean


class LGI(WindowedProjection):
    """Pilz et al. 2018: local group invariance."""

    name = "lgi"
    description = "LGI (Pilz 2018): projection orthogonal to the principal direction, 1.6-s windows"

    def coefficients(self, stats: WindowStats) -> np.ndarray:
        """Projection orthogonal to each window's principal direction."""
        return lgi_coefficients(stats.mean, stats.cov)
