"""SAMC: chrominance signals of many face patches, completed by self-adaptive low-rank matrix completion.

Tulyakov S., Alameda-Pineda X., Ricci E., Yin L., Cohn J. F., Sebe N. "Self-adaptive matrix
completion for heart rate estimation from face videos under realistic conditions." IEEE Conference
on Computer Vision and Pattern Recognition (CVPR), 2016, 2396-2404.

The paper's idea: instead of averaging every skin pixel of one fixed region, split the face into many
small regions, compute chrominance (CHROM) features of each, and let a matrix completion find, at the
same time, the regions and the moments that can be trusted and the pulse they share; faces move and
make expressions, so which regions are reliable changes over time and has to be found per video. How
it is done here:

1. Regions. The paper's regions come from tracked facial landmarks. Here they are a `grid` x `grid`
   grid of patches over the face box of the preprocessing's crop (`FACE_BOX`: the central 62.5 % of
   the crop, the face box at the default enlargement of 1.6), each patch's pixels weighted by the
   clip's skin model (`rppgbench.traces.extract_region_traces`). A patch is observed in a frame when
   its skin weight covers at least `min_skin` of it; frames where it is not are missing entries.
   Patches observed in fewer than half the frames are left out.
2. Chrominance features. Each patch's RGB trace (missing frames interpolated) gives its CHROM pulse
   (de Haan & Jeanne 2013; the shared implementation in `rppgbench_plugins.classical.chrom`):
   normalised Xs = 3Rn - 2Gn, Ys = 1.5Rn + Gn - 1.5Bn, band-passed, S = Xf - alpha Yf, oriented to
   rise with blood volume. Each row of the data matrix D (patches x frames) is a patch's pulse.
3. Self-adaptive matrix completion. The pulse is one waveform seen by every reliable patch (up to
   gain and a small delay), so the reliable part of D is low-rank; motion, expressions and highlights
   corrupt some patches and some frames. With Omega the observed entries, u the selected patches and
   v the selected frames (mask M = Omega * u v^T), and each row measured in units of its own noise
   (W = diag(1 / sigma_r), sigma_r the row's residual RMS, re-estimated every round: a weighted
   low-rank fit in which no patch counts more for being larger or noisier), we minimise
       J(Z, u, v) = tau ||Z||_* + 1/2 ||M o (Z - W D)||_F^2 + (price of the dropped entries)
   by block-coordinate descent. The Z-step completes the entries M selects by proximal-gradient
   iterations: singular value soft-thresholding of M o WD + (1 - M) o Z ("soft-impute", Mazumder,
   Hastie & Tibshirani, JMLR 11, 2010). The u- and v-steps are exact given Z when dropping an entry
   costs a squared residual of kappa^2 times the median: a patch is kept when the mean squared residual
   (in D's units) of its selected frames is at most kappa^2 (kappa = `keep_factor`) times the median
   over patches, then a frame when that of its selected patches is at most kappa^2 times the median
   over frames. The selection adapts to each video through these medians and through tau: `shrink` x
   the Gavish-Donoho threshold omega(beta) x the median singular value of the selected data (Gavish &
   Donoho, IEEE Trans. Inf. Theory 60(8), 2014: singular values above it stand out of the noise).
4. Output. The pulse is the mean of the completed rows of the selected patches (in noise units, so an
   inverse-noise weighting of the patches), band-passed and oriented to rise with blood volume like
   every classical method's. A dropped frame has no observed entry, so the completion leaves it near
   zero. If nothing stands out of the noise, the selected data are averaged as they are. The heart
   rate is read by the shared estimator.

Differences from the paper: its regions follow facial landmarks, here they are fixed patches of the
crop (with the preprocessing's fixed crop box a moving head moves across them, which the whole-face
trace methods average out better); the objective above, its weights (tau, kappa, `shrink` and
`keep_factor` chosen on synthetic clips), the noise weighting of the rows and the selection of whole
patches and whole frames are our reading of "matrix completion that selects the reliable regions and
frames at the same time", written from the paper's description without its equations at hand; the
heart rate comes from the shared estimator.
"""

from __future__ import annotations

import warnings

import numpy as np
from rppgbench_plugins.classical.chrom import CHROM
from rppgbench_plugins.classical.common import BAND, check_band, finish

from rppgbench.data import Clip
from rppgbench.errors import ConfigError, SignalError
from rppgbench.method import Method
from rppgbench.params import Param
from rppgbench.signal.validate import check_signal
from rppgbench.traces import FACE_BOX, Region, extract_region_traces, fill_missing

WHOLE_FACE = Region("face", ((0.0, 0.0, 1.0, 1.0),), skin=True)
"""The whole crop's skin, for the orientation of the output (as the trace methods see it)."""
MIN_OBSERVED = 0.5
"""A patch observed in fewer than this share of the frames is left out."""


def patch_regions(grid: int, box: tuple[float, float, float, float] = FACE_BOX) -> tuple[Region, ...]:
    """`grid` x `grid` skin patches tiling `box`, row by row."""
    if grid < 1:
        raise ConfigError(f"samc: grid must be >= 1, got {grid}")
    x0, y0, x1, y1 = box
    xs, ys = np.linspace(x0, x1, grid + 1), np.linspace(y0, y1, grid + 1)
    return tuple(
        Region(f"patch_{i}_{j}", ((float(xs[j]), float(ys[i]), float(xs[j + 1]), float(ys[i + 1])),))
        for i in range(grid)
        for j in range(grid)
    )


def gavish_donoho_omega(beta: float) -> float:
    """omega(beta) of Gavish & Donoho 2014 (unknown noise level): threshold / median singular value."""
    return 0.56 * beta**3 - 0.95 * beta**2 + 1.82 * beta + 1.43


def singular_value_threshold(a: np.ndarray, tau: float) -> np.ndarray:
    """The proximal operator of tau ||.||_*: `a` with its singular values s replaced by max(s - tau, 0).

    Computed from the eigen-decomposition of the smaller Gram matrix (a has few rows, many columns):
    with a a^T = U diag(s^2) U^T, the result is U diag(max(s - tau, 0) / s) U^T a.
    """
    if a.shape[0] > a.shape[1]:
        return singular_value_threshold(a.T, tau).T
    eigval, eigvec = np.linalg.eigh(a @ a.T)  # ascending
    s = np.sqrt(np.maximum(eigval, 0.0))
    keep = s > tau
    if not keep.any():
        return np.zeros_like(a)
    u = eigvec[:, keep]
    return (u * ((s[keep] - tau) / s[keep])) @ (u.T @ a)


def soft_impute(
    data: np.ndarray,
    mask: np.ndarray,
    tau: float,
    start: np.ndarray,
    iterations: int,
    tol: float,
) -> np.ndarray:
    """argmin_Z tau ||Z||_* + 1/2 ||mask o (Z - data)||^2 by proximal gradient (step 1) from `start`."""
    z = start
    for _ in range(iterations):
        new = singular_value_threshold(np.where(mask, data, z), tau)
        change = np.linalg.norm(new - z)
        z = new
        if change <= tol * max(np.linalg.norm(z), 1e-12):
            break
    return z


def noise_threshold(a: np.ndarray) -> float:
    """omega(beta) x the median singular value of `a`: the singular values above it stand out of noise."""
    r, t = a.shape
    if min(r, t) == 0:
        return 0.0
    return gavish_donoho_omega(min(r, t) / max(r, t)) * float(np.median(np.linalg.svd(a, compute_uv=False)))


def samc(
    data: np.ndarray,
    observed: np.ndarray,
    shrink: float = 0.5,
    keep_factor: float = 3.0,
    rounds: int = 5,
    iterations: int = 100,
    tol: float = 1e-4,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Self-adaptive matrix completion of (R, T) `data` observed where `observed` (see the module doc).

    Returns the completed matrix in units of each row's noise (the whitened Z), the selected rows
    u (R,) and the selected columns v (T,).
    """
    d = np.where(observed, np.asarray(data, dtype=np.float64), 0.0)
    r, t = d.shape
    if not observed.any():
        raise SignalError("samc: no observed entry to complete")
    rows, cols = np.ones(r, dtype=bool), np.ones(t, dtype=bool)
    scale = _positive(np.sqrt((d**2).sum(axis=1) / np.maximum(observed.sum(axis=1), 1)), 1.0)
    zw = np.zeros_like(d)
    for _ in range(rounds):
        mask = observed & rows[:, None] & cols[None, :]
        dw = d / scale[:, None]
        tau = shrink * noise_threshold(np.where(mask, dw, 0.0)[rows][:, cols])
        zw = soft_impute(dw, mask, tau, zw, iterations, tol)
        residual = np.where(observed, (zw * scale[:, None] - d) ** 2, np.nan)
        with warnings.catch_warnings():  # all-NaN rows or columns (nothing observed) are dropped
            warnings.simplefilter("ignore", RuntimeWarning)
            row_cost = np.nan_to_num(np.nanmean(residual[:, cols], axis=1), nan=np.inf)
            new_rows = row_cost <= keep_factor**2 * np.median(row_cost[np.isfinite(row_cost)])
            col_cost = np.nan_to_num(np.nanmean(residual[new_rows], axis=0), nan=np.inf)
            new_cols = col_cost <= keep_factor**2 * np.median(col_cost[np.isfinite(col_cost)])
        noise = _positive(np.sqrt(row_cost), scale)  # each row's noise: its residual RMS
        zw *= (scale / noise)[:, None]
        scale = noise
        if new_rows.sum() < 2 or not new_cols.any():
            break
        if (new_rows == rows).all() and (new_cols == cols).all():
            break
        rows, cols = new_rows, new_cols
    if not zw[rows].any():  # nothing stood out of the noise: the selected data as they are
        zw = np.where(observed & rows[:, None] & cols[None, :], d / scale[:, None], 0.0)
    return zw, rows, cols


def _positive(values: np.ndarray, fallback: np.ndarray | float) -> np.ndarray:
    """`values` where finite and > 0, else `fallback`."""
    ok = np.isfinite(values) & (values > 0)
    return np.where(ok, values, fallback)


class SAMC(Method):
    """Tulyakov et al. 2016: self-adaptive matrix completion of face-patch chrominance signals."""

    name = "samc"
    description = (
        "SAMC (Tulyakov 2016): CHROM signals of a grid of face patches, low-rank completion that selects "
        "reliable patches and frames"
    )
    params = (
        Param(
            "skin_mask",
            True,
            "weight each patch's pixels by a per-clip skin-chromaticity model; false: every pixel of each patch",
        ),
        Param("grid", 6, "patches per side of the grid over the face box"),
        Param("min_skin", 0.25, "share of a patch's pixels that must be skin for it to count in a frame"),
        Param("window_s", 1.6, "CHROM window length in seconds"),
        BAND,
        Param("shrink", 0.5, "nuclear-norm weight tau as a multiple of the Gavish-Donoho noise threshold"),
        Param(
            "keep_factor", 3.0, "a patch or frame is dropped when its RMS residual exceeds this x the median"
        ),
        Param("rounds", 5, "alternations between completion and selection"),
        Param("iterations", 100, "proximal-gradient iterations per completion"),
    )
    chunk = 256

    def predict(self, clip: Clip) -> np.ndarray:
        """Patch and whole-face traces of the clip, then `from_region_traces`."""
        regions = (WHOLE_FACE, *patch_regions(int(self.config["grid"])))
        traces = extract_region_traces(
            clip.frames,
            regions,
            skin_mask=bool(self.config["skin_mask"]),
            chunk=self.chunk,
        )
        self.last_region_traces = traces
        if not len(traces.rgb):
            raise SignalError(f"{clip.record.id}: the clip has no frames")
        face = fill_missing(traces.rgb[:, 0])
        observed = traces.weight[:, 1:] >= float(self.config["min_skin"]) * traces.pixels[None, 1:]
        return self.from_region_traces(traces.rgb[:, 1:], observed, face, clip.fps)

    def from_region_traces(
        self, patches: np.ndarray, observed: np.ndarray, face: np.ndarray, fps: float
    ) -> np.ndarray:
        """The pulse (T,) from (T, R, 3) patch traces observed where `observed` (T, R) and the (T, 3)
        whole-face trace (for the orientation)."""
        band = check_band(self.config["band_bpm"], self.name)
        face = check_signal(face, fps, min_seconds=2.0, name="samc face trace", channels=True, min_samples=8)
        observed = np.asarray(observed, dtype=bool) & np.isfinite(patches).all(axis=2)
        chrom = CHROM(window_s=self.config["window_s"], band_bpm=band)
        rows, keep = [], []
        for k in np.flatnonzero(observed.mean(axis=0) >= MIN_OBSERVED):
            trace = fill_missing(patches[:, k])
            if np.any(trace.mean(axis=0) <= 0) or np.ptp(trace, axis=0).max() == 0:
                continue
            signal = chrom.from_traces(trace, fps)
            if np.any(signal[observed[:, k]]):
                rows.append(signal)
                keep.append(k)
        if len(rows) < 2:
            raise SignalError(f"samc: {len(rows)} face patch(es) with enough skin; needs at least 2")
        data = np.stack(rows)
        z, selected, _ = samc(
            data,
            observed[:, keep].T,
            shrink=float(self.config["shrink"]),
            keep_factor=float(self.config["keep_factor"]),
            rounds=int(self.config["rounds"]),
            iterations=int(self.config["iterations"]),
        )
        pulse = z[selected].mean(axis=0)  # inverse-noise weighted: z is in units of each row's noise
        return finish(pulse, face, fps, band, filtered=False)
