"""ICA: blind source separation of the detrended RGB traces (Poh, McDuff, Picard).

Poh M.-Z., McDuff D. J., Picard R. W. "Non-contact, automated cardiac pulse measurements using video
imaging and blind source separation." Optics Express 18(10):10762-10774, 2010; and "Advancements in
noncontact, multiparameter physiological measurements using a webcam." IEEE Transactions on
Biomedical Engineering 58(1):7-11, 2011. The traces are detrended (smoothness priors, lambda), each
channel normalised to zero mean and unit variance, and separated by FastICA into three sources; the
source whose power spectrum has the highest peak inside the pulse band is the pulse. As in the 2011
paper it is smoothed with a five-point moving average and band-passed (here with the shared
Butterworth band-pass rather than the paper's 128-point Hamming FIR, so every method is filtered the
same way).

ICA recovers sources only up to order, sign and scale: the order is resolved by the spectral-peak
rule, the sign by orienting the output to rise with blood volume (see `orient_to_blood_volume`);
the scale is unit variance. FastICA starts from a fixed `seed`, so results are reproducible.
"""

from __future__ import annotations

import warnings

import numpy as np

from rppgbench.params import Param
from rppgbench.traces import TraceMethod

from .common import BAND, check_band, check_traces, finish


def strongest_peak_component(sources: np.ndarray, fps: float, band: tuple[float, float]) -> int:
    """Index of the (T, K) source whose normalised power spectrum peaks highest inside `band` (bpm)."""
    spectrum = np.abs(np.fft.rfft(sources - sources.mean(axis=0), axis=0)) ** 2
    spectrum /= np.maximum(spectrum.sum(axis=0, keepdims=True), np.finfo(float).tiny)
    freqs_bpm = np.fft.rfftfreq(len(sources), 1.0 / fps) * 60.0
    inside = (freqs_bpm >= band[0]) & (freqs_bpm <= band[1])
    if not inside.any():
        return 0
    return int(np.argmax(spectrum[inside].max(axis=0)))


def normalised_detrended(x: np.ndarray, fps: float, lam: float) -> np.ndarray:
    """(T, C) traces detrended (smoothness priors, `lam` at 30 fps; 0: none), zero mean, unit variance."""
    from rppgbench.signal.hr import detrend, effective_lambda

    work = detrend(x.T, effective_lambda(lam, fps)).T if lam > 0 else x
    std = work.std(axis=0)
    return (work - work.mean(axis=0)) / np.where(std > 0, std, 1.0)


class ICA(TraceMethod):
    """Poh et al. 2010/2011: FastICA of the normalised RGB traces."""

    name = "ica"
    description = "ICA (Poh 2010/2011): FastICA of detrended, normalised traces; strongest in-band peak"
    params = (
        *TraceMethod.params,
        BAND,
        Param(
            "detrend_lambda",
            100.0,
            "smoothness-priors detrending lambda at 30 fps, scaled to the frame rate (0: none)",
        ),
        Param("smooth_points", 5, "moving-average length applied to the chosen source (1: none)"),
        Param("seed", 0, "FastICA random_state"),
    )

    def from_traces(self, rgb: np.ndarray, fps: float) -> np.ndarray:
        """The selected independent source, smoothed, band-passed and oriented to rise with blood volume."""
        x = check_traces(rgb, fps, self.name)
        band = check_band(self.config["band_bpm"], self.name)
        from sklearn.decomposition import FastICA  # heavy: imported when ICA runs
        from sklearn.exceptions import ConvergenceWarning

        work = normalised_detrended(x, fps, float(self.config["detrend_lambda"]))
        ica = FastICA(
            n_components=3, whiten="unit-variance", random_state=int(self.config["seed"]), max_iter=1000
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            sources = ica.fit_transform(work)
        pulse = sources[:, strongest_peak_component(sources, fps, band)]
        points = int(self.config["smooth_points"])
        if points > 1:
            pulse = np.convolve(pulse, np.ones(points) / points, mode="same")
        return finish(pulse, x, fps, band, filtered=False)
