"""PCA: principal component analysis of the normalised RGB traces (Lewandowska et al.).

Lewandowska M., Ruminski J., Kocejko T., Nowak J. "Measuring pulse rate with a webcam - a
non-contact method for evaluating cardiac activity." Federated Conference on Computer Science and
Information Systems (FedCSIS), 405-410, 2011. The paper replaces the ICA of Poh et al. by PCA, which
gives the same pulse rate at a fraction of the cost: the mean R, G, B traces of the face region are
normalised to zero mean and unit variance and decomposed into principal components; the component
with the clearest pulse is read. Here, as for ICA (`ica.py`), the traces are first detrended
(smoothness priors), and the component whose normalised power spectrum has the highest peak inside
the pulse band is the pulse (principal components are ordered by variance, not by pulsatility: under
changing light the first one is the brightness). The output is band-passed and oriented to rise with
blood volume like every method's; a component's sign is arbitrary, the orientation fixes it.
"""

from __future__ import annotations

import numpy as np

from rppgbench.params import Param
from rppgbench.traces import TraceMethod

from .common import BAND, check_band, check_traces, finish
from .ica import normalised_detrended, strongest_peak_component


def principal_components(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores (T, 3) and unit directions (3, 3; column k is component k), by decreasing variance."""
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt.T, vt.T


class PCA(TraceMethod):
    """Lewandowska et al. 2011: principal components of the normalised RGB traces."""

    name = "pca"
    description = "PCA (Lewandowska 2011): principal components of normalised traces; strongest in-band peak"
    params = (
        *TraceMethod.params,
        BAND,
        Param(
            "detrend_lambda",
            100.0,
            "smoothness-priors detrending lambda at 30 fps, scaled to the frame rate (0: none)",
        ),
    )

    def from_traces(self, rgb: np.ndarray, fps: float) -> np.ndarray:
        """The most pulsatile principal component, band-passed and oriented to rise with blood volume."""
        x = check_traces(rgb, fps, self.name)
        band = check_band(self.config["band_bpm"], self.name)
        scores, _ = principal_components(normalised_detrended(x, fps, float(self.config["detrend_lambda"])))
        pulse = scores[:, strongest_peak_component(scores, fps, band)]
        return finish(pulse, x, fps, band, filtered=False)
