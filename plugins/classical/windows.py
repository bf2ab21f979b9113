"""Sliding-window statistics and overlap-add for window-wise linear projections, in O(T).

Classical rPPG methods split the traces into short windows, choose a projection per window (from
the window's mean and covariance) and overlap-add the projected windows. Because each window's
output is linear in the traces, `a_w . x(t) - b_w`, the overlap-add equals
`x(t) . A(t) - B(t)` with `A`, `B` the taper-weighted sums of the window coefficients covering t:
impulse trains convolved with the taper. Window means and covariances come from cumulative sums.
Nothing loops over frames or windows in Python.
"""

from __future__ import annotations

import numpy as np


def window_length(fps: float, seconds: float, even: bool = False) -> int:
    """Samples in a window of `seconds` at `fps` (at least 2; rounded up to even when asked)."""
    n = max(2, int(round(seconds * fps)))
    return n + (n % 2) if even else n


def window_starts(n: int, length: int, hop: int) -> np.ndarray:
    """Start indices of windows of `length` every `hop` samples, plus one ending at the last sample."""
    starts = np.arange(0, n - length + 1, hop)
    if starts[-1] != n - length:
        starts = np.append(starts, n - length)
    return starts


def window_moments(x: np.ndarray, starts: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean (W, C) and population covariance (W, C, C) of x[s:s+length] for each start s.

    Uses cumulative sums of the globally centred signal (centring keeps the sums small, so the
    covariance of tiny pulsatile variations on a large DC level stays accurate).
    """
    centre = x.mean(axis=0)
    xc = x - centre
    first = np.zeros((len(x) + 1, x.shape[1]))
    np.cumsum(xc, axis=0, out=first[1:])
    second = np.zeros((len(x) + 1, x.shape[1], x.shape[1]))
    np.cumsum(xc[:, :, None] * xc[:, None, :], axis=0, out=second[1:])
    mean_c = (first[starts + length] - first[starts]) / length
    cov = (second[starts + length] - second[starts]) / length - mean_c[:, :, None] * mean_c[:, None, :]
    return mean_c + centre, cov


def _taper_sum(impulses: np.ndarray, taper: np.ndarray, n: int) -> np.ndarray:
    """Sum over windows of taper(t - start) * value: an impulse train convolved with the taper."""
    if np.all(taper == taper[0]):
        cum = np.cumsum(impulses, axis=0)
        out = cum.copy()
        out[len(taper) :] -= cum[: -len(taper)]
        return out * taper[0]
    from scipy.signal import oaconvolve  # scipy.signal loads when a method runs, not at start-up

    return oaconvolve(impulses, taper[:, None], axes=0)[:n]


def overlap_add(
    x: np.ndarray, coefs: np.ndarray, offsets: np.ndarray, starts: np.ndarray, taper: np.ndarray
) -> np.ndarray:
    """Weighted overlap-add of the window outputs `x[t] . coefs[w] - offsets[w]`, shape (T,).

    Each sample is divided by the sum of the tapers covering it, so the amplitude is the same at the
    first and last windows as inside (inside, this is the plain overlap-add up to a constant factor).
    """
    n, c = x.shape
    impulses = np.zeros((n, c + 2))
    # Starts are unique, so plain fancy assignment places one impulse per window.
    impulses[starts, :c] = coefs
    impulses[starts, c] = offsets
    impulses[starts, c + 1] = 1.0
    summed = _taper_sum(impulses, taper, n)
    weight = summed[:, c + 1]
    out = np.einsum("tc,tc->t", x, summed[:, :c]) - summed[:, c]
    floor = 1e-3 * weight.max()
    return np.where(weight > floor, out / np.maximum(weight, floor), 0.0)


def hann(length: int) -> np.ndarray:
    """Periodic Hann taper: copies shifted by half its length sum to one."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)
