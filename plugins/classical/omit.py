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

from rppgbench.traces import TraceMethod

from .common import BAND, check_band, check_traces, finish, window_param
from .windows import hann, overlap_add, window_length, window_moments, window_starts


def omit_coefficients(x: np.ndarray, starts: np.ndarray, length: int, mean: np.ndarray) -> np.ndarray:
    """Per-window coefficients a_w with (P Cn)_green(t) = a_w . C(t), P from the QR of Cn."""
    windows = sliding_window_view(x, length, axis=0)[starts] / mean[:, :, None]  # (W, 3, L)
    q = np.linalg.qr(windows, mode="reduced").Q[:, :, 0]
    proj_green = np.eye(3)[1][None, :] - q[:, 1:2] * q
    return proj_green / mean


class OMIT(TraceMethod):
    """Álvarez Casado & Bordallo López 2023: orthogonal matrix image transformation."""

    name = "omit"
    description = "OMIT (Álvarez Casado 2023): QR-based projection of the normalised traces, 1.6-s windows"
    params = (*TraceMethod.params, window_param(1.6), BAND)

    def from_traces(self, rgb: np.ndarray, fps: float) -> np.ndarray:
        """The OMIT pulse signal of (T, 3) traces, band-passed and oriented to rise with blood volume."""
        length = window_length(fps, self.config["window_s"], even=True)
        x = check_traces(rgb, fps, self.name, min_seconds=max(2.0, length / fps))
        band = check_band(self.config["band_bpm"], self.name)
        starts = window_starts(len(x), length, length // 2)
        mean, _ = window_moments(x, starts, length)
        coefs = omit_coefficients(x, starts, length, mean)
        offsets = np.einsum("wc,wc->w", coefs, mean)
        pulse = overlap_add(x, coefs, offsets, starts, hann(length))
        return finish(pulse, x, fps, band, filtered=False)
