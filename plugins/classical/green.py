"""GREEN: the band-passed green channel of the face traces.

Verkruysse W., Svaasand L. O., Nelson J. S. "Remote plethysmographic imaging using ambient light."
Optics Express 16(26):21434-21445, 2008. The green channel carries the strongest plethysmographic
signal (haemoglobin absorbs green light most); the paper band-passes the spatially averaged green
channel. The trace is divided by its mean first so the amplitude is relative (unit-free).
"""

from __future__ import annotations

import numpy as np

from rppgbench.traces import TraceMethod

from .common import BAND, check_band, check_traces, finish


class Green(TraceMethod):
    """Verkruysse et al. 2008: band-passed, mean-normalised green trace."""

    name = "green"
    description = "GREEN (Verkruysse 2008): band-passed green channel of the skin traces"
    params = (*TraceMethod.params, BAND)

    def from_traces(self, rgb: np.ndarray, fps: float) -> np.ndarray:
        """The normalised green trace, band-passed and oriented to rise with blood volume."""
        x = check_traces(rgb, fps, self.name)
        band = check_band(self.config["band_bpm"], self.name)
        green = x[:, 1] / x[:, 1].mean() - 1.0
        return finish(green, x, fps, band, filtered=False)
