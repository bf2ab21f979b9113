"""SSR: spatial subspace rotation of the skin pixels' colour distribution.

Wang W., Stuijk S., de Haan G. "A novel algorithm for remote photoplethysmography: spatial subspace
rotation." IEEE Transactions on Biomedical Engineering 63(9):1974-1984, 2016 (Algorithm 1).

Unlike the trace methods, SSR looks at the spread of the skin colours in each frame, not only their
mean. For frame t, with V_t the (N, 3) skin pixel colours, the correlation matrix
C_t = V_t^T V_t / N has eigenvalues l1 >= l2 >= l3 and eigenvectors u1 (the skin-tone direction),
u2, u3. The pulse rotates the skin subspace. For every window of l frames starting at tau (sliding by
one frame; the paper sets l to the camera frame rate, i.e. one second), and every t in the window:

- rotation of the skin vector against the reference plane: R'(t) = [u1(t).u2(tau), u1(t).u3(tau)];
- scale change: S'(t) = [sqrt(l1(t) / l2(tau)), sqrt(l1(t) / l3(tau))];
- back-projection into RGB: SR(t) = (S' * R')(t) [u2(tau); u3(tau)] (a 3-vector);
- the window's pulse p = SR_1 - (std(SR_1) / std(SR_2)) SR_2 (the first two back-projected channels),
  and p - mean(p) is overlap-added into the output.

Here the skin pixels are those of the shared per-clip skin model (`rppgbench.traces`), weighted by
their skin weight: C_t = sum w v v^T / sum w (the paper's binary mask is the special case of 0/1
weights). An eigenvector's sign is arbitrary; u1 is made to point into the positive octant (it is the
Perron vector of a positive matrix), and SR does not depend on the signs of u2 and u3. As for every
method here, the output is band-passed and oriented to rise with blood volume.
"""

from __future__ import annotations

import numpy as np

from rppgbench.data import Clip
from rppgbench.errors import SignalError
from rppgbench.method import Method
from rppgbench.traces import TraceMethod, extract_traces_info

from .common import BAND, check_band, check_traces, finish, window_param
from .windows import window_length

EIGEN_FLOOR = 1e-12
"""Smallest eigenvalue, relative to the largest of the frame, used in the scale ratios."""


def skin_subspaces(correlation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (T, 3), descending, and eigenvectors (T, 3, 3; column k for eigenvalue k) of each
    frame's correlation matrix, the first eigenvector pointing into the positive octant."""
    corr = np.asarray(correlation, dtype=np.float64)
    if corr.ndim != 3 or corr.shape[1:] != (3, 3):
        raise SignalError(f"SSR: expected (T, 3, 3) colour correlation matrices, got shape {corr.shape}")
    if not np.isfinite(corr).all():
        raise SignalError("SSR: the colour correlation matrices contain NaN or infinite values")
    lam, vec = np.linalg.eigh((corr + corr.transpose(0, 2, 1)) / 2)
    lam, vec = lam[:, ::-1], vec[:, :, ::-1].copy()
    sign = np.where(vec[:, :, 0].sum(axis=1) < 0, -1.0, 1.0)
    vec[:, :, 0] *= sign[:, None]
    lam = np.maximum(lam, EIGEN_FLOOR * np.maximum(lam[:, :1], np.finfo(float).tiny))
    return lam, vec


def back_projected_rotation(
    lam: np.ndarray, vec: np.ndarray, frames: np.ndarray, reference: int
) -> np.ndarray:
    """SR(t) (len(frames), 3): the rotation of u1(t) against the plane [u2, u3] of the `reference`
    frame, scaled by sqrt(l1(t) / l2,3(reference)) and projected back into RGB."""
    plane = vec[reference][:, 1:]  # (3, 2): u2, u3 of the reference frame
    rotation = vec[frames, :, 0] @ plane  # (n, 2)
    scale = np.sqrt(lam[frames, :1] / lam[reference, 1:][None, :])
    return (scale * rotation) @ plane.T


def ssr_pulse(correlation: np.ndarray, length: int) -> np.ndarray:
    """Algorithm 1 of the paper: overlap-added window pulses of (T, 3, 3) correlation matrices."""
    lam, vec = skin_subspaces(correlation)
    n = len(lam)
    if length < 2 or length > n:
        raise SignalError(f"SSR: a window of {length} frames does not fit {n} frames")
    # every window at once: (W, l) frame indices, reference = the window's first frame
    starts = np.arange(n - length + 1)
    frames = starts[:, None] + np.arange(length)[None, :]
    plane = vec[starts][:, :, 1:]  # (W, 3, 2)
    rotation = np.einsum("wli,wij->wlj", vec[frames, :, 0], plane)
    scale = np.sqrt(lam[frames, 0][:, :, None] / lam[starts, 1:][:, None, :])
    sr = np.einsum("wlj,wij->wli", scale * rotation, plane)  # (W, l, 3)
    first, second = sr[:, :, 0], sr[:, :, 1]
    sd1, sd2 = first.std(axis=1), second.std(axis=1)
    alpha = np.divide(sd1, sd2, out=np.zeros_like(sd1), where=sd2 > 0)
    p = first - alpha[:, None] * second
    p -= p.mean(axis=1, keepdims=True)
    out = np.zeros(n)
    np.add.at(out, frames.ravel(), p.ravel())
    return out


class SSR(Method):
    """Wang, Stuijk & de Haan 2016: spatial subspace rotation of the skin colour distribution."""

    name = "ssr"
    description = "SSR (Wang 2016): rotation of the skin pixels' colour subspace, 1-s sliding windows"
    params = (*TraceMethod.params, window_param(1.0), BAND)
    chunk = 256

    def predict(self, clip: Clip) -> np.ndarray:
        """Per-frame skin colour correlations of the clip, then `from_correlations`."""
        info = extract_traces_info(
            clip.frames, skin_mask=bool(self.config["skin_mask"]), chunk=self.chunk, correlation=True
        )
        self.last_trace_info = info
        if not len(info.rgb):
            raise SignalError(f"{clip.record.id}: the clip has no frames")
        return self.from_correlations(info.correlation, info.rgb, clip.fps)

    def from_correlations(self, correlation: np.ndarray, rgb: np.ndarray, fps: float) -> np.ndarray:
        """The pulse from (T, 3, 3) skin colour correlations and the (T, 3) mean traces (for checks
        and orientation), band-passed and oriented to rise with blood volume."""
        length = window_length(fps, self.config["window_s"])
        x = check_traces(rgb, fps, self.name, min_seconds=max(2.0, length / fps))
        band = check_band(self.config["band_bpm"], self.name)
        if len(correlation) != len(x):
            raise SignalError(f"SSR: {len(correlation)} correlation matrices for {len(x)} frames")
        return finish(ssr_pulse(correlation, length), x, fps, band, filtered=False)
