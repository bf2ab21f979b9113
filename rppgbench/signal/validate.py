"""Input checks shared by every signal function, so bad input fails early with a specific message."""

from __future__ import annotations

import math

import numpy as np

from rppgbench.errors import SignalError


def check_rate(fs: float, name: str = "signal") -> float:
    """The sampling rate as a positive finite float; SignalError otherwise."""
    try:
        rate = float(fs)
    except (TypeError, ValueError):
        raise SignalError(f"{name}: sampling rate {fs!r} is not a number") from None
    if not math.isfinite(rate) or rate <= 0:
        raise SignalError(f"{name}: sampling rate must be a positive finite number of Hz, got {fs!r}")
    return rate


def check_signal(
    x: object,
    fs: float,
    min_seconds: float = 0.0,
    name: str = "signal",
    channels: bool = False,
    min_samples: int = 2,
) -> np.ndarray:
    """A float64 copy of `x` after checking it can be processed; SignalError naming the problem otherwise.

    `x` must be 1-D, or (T, C) with `channels=True` (e.g. RGB traces, time along axis 0). It must be
    finite, not constant (for (T, C): not constant in every channel), hold at least `min_samples`
    samples and last at least `min_seconds` at rate `fs`.
    """
    rate = check_rate(fs, name)
    try:
        arr = np.array(x, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise SignalError(f"{name}: cannot be read as numbers ({exc})") from None
    if channels:
        if arr.ndim != 2:
            raise SignalError(f"{name}: expected a (time, channels) array, got shape {arr.shape}")
    elif arr.ndim != 1:
        raise SignalError(f"{name}: expected a 1-D signal, got shape {arr.shape}")
    n = arr.shape[0]
    needed = max(int(min_samples), math.ceil(min_seconds * rate - 1e-9))
    if n < needed:
        raise SignalError(
            f"{name}: too short: {n} samples ({n / rate:.2f} s at {rate:g} Hz); "
            f"needs at least {needed} samples ({needed / rate:.2f} s)"
        )
    finite = np.isfinite(arr)
    if not finite.all():
        bad = np.flatnonzero(~finite.reshape(n, -1).all(axis=1))
        kind = "NaN" if np.isnan(arr).any() else "infinite"
        raise SignalError(
            f"{name}: contains {kind} values at {bad.size} of {n} samples (first at index {bad[0]})"
        )
    spread = np.ptp(arr, axis=0)
    if np.all(spread == 0):
        raise SignalError(f"{name}: is constant ({arr.flat[0]:g}); there is no pulse to measure")
    return arr
