"""The one place HR error metrics are computed: per fold, per run, and for leaderboards.

Conventions (stated once, used everywhere): error = predicted - reference (bpm); SD is the sample
standard deviation of the error (ddof=1), as Bland-Altman analysis uses; MAPE is in percent; the
Bland-Altman limits of agreement are bias +- 1.96 SD; Pearson r comes with its two-sided p-value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from rppgbench.errors import SignalError


class MetricInfo(NamedTuple):
    """How a metric is shown: label, unit ("" if none) and which direction is better."""

    label: str
    unit: str
    better: str  # "lower", "higher", "zero" (closest to zero) or "" (not a score)


METRIC_NAMES: dict[str, MetricInfo] = {
    "n": MetricInfo("N", "", ""),
    "mae": MetricInfo("MAE", "bpm", "lower"),
    "rmse": MetricInfo("RMSE", "bpm", "lower"),
    "mape": MetricInfo("MAPE", "%", "lower"),
    "sd": MetricInfo("SD of error", "bpm", "lower"),
    "r": MetricInfo("Pearson r", "", "higher"),
    "r_p": MetricInfo("p-value of r", "", ""),
    "ba_bias": MetricInfo("Bland-Altman bias", "bpm", "zero"),
    "ba_lower": MetricInfo("Bland-Altman lower 95% limit", "bpm", ""),
    "ba_upper": MetricInfo("Bland-Altman upper 95% limit", "bpm", ""),
}
"""Keys of `hr_metrics`, in display order, with human labels and units."""
BETTER = ("lower", "higher", "zero", "")
RESERVED = frozenset(METRIC_NAMES) | {"snr", "macc"}
"""Names a plugin metric cannot take: hr_metrics' keys and the signal-quality columns."""


def _paired(pred: object, ref: object) -> tuple[np.ndarray, np.ndarray]:
    """Two equal-length finite 1-D float arrays; SignalError naming the problem otherwise."""
    p = np.asarray(pred, dtype=np.float64).reshape(-1) if np.ndim(pred) <= 1 else None
    r = np.asarray(ref, dtype=np.float64).reshape(-1) if np.ndim(ref) <= 1 else None
    if p is None or r is None:
        raise SignalError(f"metrics need 1-D HR arrays, got shapes {np.shape(pred)} and {np.shape(ref)}")
    if p.size != r.size:
        raise SignalError(f"metrics need as many predictions as references, got {p.size} and {r.size}")
    if p.size == 0:
        raise SignalError("metrics need at least one (prediction, reference) pair, got none")
    for name, values in (("predicted", p), ("reference", r)):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise SignalError(
                f"{name} HR has {bad.size} non-finite value(s) (first at index {bad[0]}); "
                "leave failed videos out before computing metrics"
            )
    if np.any(r <= 0):
        raise SignalError(f"reference HR must be positive (MAPE divides by it), got {r[r <= 0][0]:g}")
    return p, r


def hr_metrics(pred: Sequence[float] | np.ndarray, ref: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Error statistics of predicted vs reference HR (bpm), keyed as in `METRIC_NAMES`.

    n; mae, rmse; mape (percent of the reference); sd (ddof=1; nan for n < 2); r and r_p (Pearson r,
    two-sided p-value; nan for n < 3 or a constant input); ba_bias (mean error) and ba_lower/ba_upper
    (bias -+ 1.96 SD). Raises SignalError for NaN, mismatched or empty input.
    """
    from scipy.stats import pearsonr

    p, r = _paired(pred, ref)
    error = p - r
    n = int(error.size)
    sd = float(np.std(error, ddof=1)) if n >= 2 else math.nan
    if n >= 3 and np.ptp(p) > 0 and np.ptp(r) > 0:
        result = pearsonr(p, r)
        corr, p_value = float(result.statistic), float(result.pvalue)
    else:
        corr = p_value = math.nan
    bias = float(error.mean())
    return {
        "n": n,
        "sd": sd,
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mape": float(np.mean(np.abs(error) / r) * 100.0),
        "r": corr,
        "r_p": p_value,
        "ba_bias": bias,
        "ba_lower": bias - 1.96 * sd,
        "ba_upper": bias + 1.96 * sd,
    }


def registered_metrics() -> dict[str, MetricInfo]:
    """Label, unit and direction of every metric that plugins registered (`register_metrics`)."""
    from rppgbench.plugins import registry

    return registry().metric_info


def plugin_metrics(
    pred: Sequence[float] | np.ndarray,
    ref: Sequence[float] | np.ndarray,
    metrics: dict[str, Callable[..., float]] | None = None,
) -> dict[str, float]:
    """Extra metrics registered by plugins (`register_metrics`), evaluated on checked arrays.

    `metrics` defaults to the process-wide registry's; a name that clashes with a built-in is refused.
    `compare` and `report` show them as columns, computed on each run's (or group's) scored videos.
    """
    if metrics is None:
        from rppgbench.plugins import registry

        metrics = registry().metrics
    p, r = _paired(pred, ref)
    clash = sorted(set(metrics) & RESERVED)
    if clash:
        raise SignalError(f"plugin metric name(s) {', '.join(clash)} clash with built-in metrics")
    return {name: float(fn(p.copy(), r.copy())) for name, fn in metrics.items()}


# --- vitals: HRV and respiration rate (computed by `rppgbench.vitals`) ---------------------------

VITAL_INFO: dict[str, tuple[str, str]] = {
    "sdnn": ("SDNN", "ms"),
    "rmssd": ("RMSSD", "ms"),
    "pnn50": ("pNN50", "%"),
    "lf": ("LF power", "ms^2"),
    "hf": ("HF power", "ms^2"),
    "lf_hf": ("LF/HF", ""),
    "resp_rate": ("Respiration rate", "breaths/min"),
}
"""Label and unit of each vital of `rppgbench.vitals.VITALS`."""
VITAL_STATS: dict[str, MetricInfo] = {
    "mae": MetricInfo("MAE", "", "lower"),
    "rmse": MetricInfo("RMSE", "", "lower"),
    "r": MetricInfo("Pearson r", "", "higher"),
    "n": MetricInfo("N", "", ""),
}
"""Error statistics of a vital against its reference; metric keys are `<vital>_<stat>`."""
VITAL_METRIC_NAMES: dict[str, MetricInfo] = {
    f"{vital}_{stat}": MetricInfo(
        f"{label} {info.label}", unit if stat in ("mae", "rmse") else "", info.better
    )
    for vital, (label, unit) in VITAL_INFO.items()
    for stat, info in VITAL_STATS.items()
}
"""Keys of `vital_metrics` (e.g. `sdnn_mae`, `resp_rate_r`) with labels, units and directions."""


def vital_metrics(
    pred: dict[str, Sequence[float]], ref: dict[str, Sequence[float]], vitals: Sequence[str] | None = None
) -> dict[str, float]:
    """MAE, RMSE, Pearson r and N of each vital's per-video predictions against its references.

    `pred` and `ref` map a vital to per-video values (same order); videos where either is NaN (too
    short or too poor a signal, or no reference of that vital) are left out of that vital only.
    Error = predicted - reference, in the vital's unit; r is NaN for N < 3 or a constant input.
    """
    from scipy.stats import pearsonr

    out: dict[str, float] = {}
    for vital in vitals if vitals is not None else VITAL_INFO:
        p = np.asarray(pred.get(vital, []), dtype=np.float64)
        r = np.asarray(ref.get(vital, []), dtype=np.float64)
        if p.shape != r.shape:
            raise SignalError(f"{vital}: {p.size} predictions but {r.size} references")
        keep = np.isfinite(p) & np.isfinite(r)
        p, r = p[keep], r[keep]
        error = p - r
        n = int(error.size)
        corr = float(pearsonr(p, r).statistic) if n >= 3 and np.ptp(p) > 0 and np.ptp(r) > 0 else math.nan
        out |= {f"{vital}_n": n, f"{vital}_mae": float(np.abs(error).mean()) if n else math.nan,
                f"{vital}_rmse": float(np.sqrt(np.mean(error**2))) if n else math.nan, f"{vital}_r": corr}  # fmt: skip
    return out


RESERVED = RESERVED | frozenset(VITAL_METRIC_NAMES)
