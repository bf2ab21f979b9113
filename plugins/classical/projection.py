"""The framing shared by CHROM, POS, PBV, LGI and OMIT: project each window's traces, taper, overlap-add.

Each of these methods computes, per window, coefficients `a_w` so that the window's pulse is
`a_w . C(t)` minus its mean; only the coefficients differ. The windows, the optional band-pass before
projecting, the taper and the overlap-add are the same and live here once.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from rppgbench.traces import TraceMethod

from .common import BAND, bandpass_channels, check_band, check_traces, finish, window_param
from .windows import hann, overlap_add, window_length, window_moments, window_starts


@dataclass(frozen=True)
class WindowStats:
    """Per-window statistics of the traces `x` (W windows of `length` frames starting at `starts`).

    `mean`/`cov` are of the raw traces; `source_mean`/`source_cov` of the traces that are projected
    (the band-passed ones for methods that filter first, else the same as `mean`/`cov`).
    """

    x: np.ndarray
    starts: np.ndarray
    length: int
    mean: np.ndarray
    cov: np.ndarray
    source_mean: np.ndarray
    source_cov: np.ndarray


class WindowedProjection(TraceMethod):
    """Base of the windowed projection methods; subclasses implement `coefficients`."""

    params = (*TraceMethod.params, window_param(1.6), BAND)
    filter_first: ClassVar[bool] = False
    """Project band-passed traces (CHROM, PBV) instead of band-passing the projected pulse."""
    sliding: ClassVar[bool] = False
    """A window starting at every frame with a flat taper (POS), instead of half-overlapping Hann windows."""

    @abstractmethod
    def coefficients(self, stats: WindowStats) -> np.ndarray:
        """(W, 3) per-window coefficients of the projected traces."""

    def from_traces(self, rgb: np.ndarray, fps: float) -> np.ndarray:
        """The pulse signal of (T, 3) traces, band-passed and oriented to rise with blood volume."""
        length = window_length(fps, self.config["window_s"], even=not self.sliding)
        x = check_traces(rgb, fps, self.name, min_seconds=max(2.0, length / fps))
        band = check_band(self.config["band_bpm"], self.name)
        source = bandpass_channels(x, fps, band) if self.filter_first else x
        starts = window_starts(len(x), length, 1 if self.sliding else length // 2)
        mean, cov = window_moments(x, starts, length)
        source_mean, source_cov = window_moments(source, starts, length) if self.filter_first else (mean, cov)
        coefs = self.coefficients(WindowStats(x, starts, length, mean, cov, source_mean, source_cov))
        offsets = np.einsum("wc,wc->w", coefs, source_mean)
        taper = np.ones(length) if self.sliding else hann(length)
        pulse = overlap_add(source, coefs, offsets, starts, taper)
        return finish(pulse, x, fps, band, filtered=self.filter_first)
