"""OMIT: orthogonal matrix image transformation, a QR-decomposition projection.

Álvarez Casado C., Bordallo López M. "Face2PPG: An unsupervised pipeline for blood volume pulse
extraction from faces." IEEE Journal of Biomedical and Health Informatics 27(11):5530-5541, 2023.
The window's normalised traces Cn (3 x L) are factorised Cn = Q R; the first column q of Q spans the
reference colour direction (skin tone plus illumination); P = I - q q^T removes it and the pulse is
the green row of P Cn. Windows (about 1.6 s, half overlap) are mean-removed, Hann-tapered and
overlap-added; the result is band-passed. The QR factorisations run as one batched LAPACK call.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .projection import WindowedProjection, WindowStats


def omit_coefficients(x: np.ndarray, starts: np.ndarray, length: int, mean: np.ndarray) -> np.ndarray:
    """Per-window coefficients a_w with (P Cn)_green(t) = a_w . C(t), P from the QR of Cn."""
    windows = sliding_window_view(x, length, axis=0)[starts] / mean[:, :, None]  # (W, 3, L)
    q = np.linalg.qr(windows, mode="reduced").Q[:, :, 0]
    proj_green = np.eye(3)[1][None, :] - q[:, 1:2] * q
    return proj_green / mean


class OMIT(WindowedProjection):
    """Álvarez Casado & Bordallo López 2023: orthogonal matrix image transformation."""

    name = "omit"
    description = "OMIT (Álvarez Casado 2023): QR-based projection of the normalised traces, 1.6-s windows"

    def coefficients(self, stats: WindowStats) -> np.ndarray:
        """Projection orthogonal to each window's first QR direction."""
        return omit_coefficients(stats.x, stats.starts, stats.length, stats.mean)
