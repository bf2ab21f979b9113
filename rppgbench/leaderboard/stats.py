"""Paired statistics on per-video errors of methods run on the same videos.

Methods are aligned on the videos every one of them scored (by video_id); the report says how many
videos were used and how many each method lost to the alignment. Bootstrap confidence intervals
(percentile, seeded, vectorised) for MAE and RMSE; Wilcoxon signed-rank for two methods; Friedman
with the Nemenyi post-hoc test and the critical difference of Demšar (2006) for three or more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats
from tabulate import tabulate

from rppgbench.errors import ConfigError
from rppgbench.leaderboard.results import RunResult

N_RESAMPLES = 10_000
CONFIDENCE = 0.95
SEED = 0
ALPHA = 0.05
_CHUNK_VALUES = 4_000_000  # resample matrix entries per chunk: bounds memory on large datasets


@dataclass
class AlignedErrors:
    """Signed errors (pred - ref) of several methods on their common videos (rows) by method (columns)."""

    protocol: str
    signed: pd.DataFrame
    scored: dict[str, int]
    dropped: dict[str, int]
    failed: dict[str, int]

    @property
    def absolute(self) -> pd.DataFrame:
        """Absolute errors on the common videos."""
        return self.signed.abs()

    @property
    def n_used(self) -> int:
        """Number of videos common to every method."""
        return len(self.signed)


def align(runs: Sequence[RunResult]) -> AlignedErrors:
    """Per-video signed errors of `runs` (one protocol) on the videos all of them scored."""
    protocols = {run.protocol for run in runs}
    if len(protocols) > 1:
        raise ConfigError(f"paired statistics need runs of one protocol, got {sorted(protocols)}")
    if len(runs) < 1:
        raise ConfigError("paired statistics need at least one run")
    columns = {}
    for run in runs:
        ok = run.ok
        columns[run.label] = pd.Series(
            ok["hr_pred"].to_numpy(float) - ok["hr_ref"].to_numpy(float), index=ok["video_id"].to_numpy()
        )
    frame = pd.DataFrame(columns)
    common = frame.dropna()
    common = common.sort_index()
    scored = {label: int(series.size) for label, series in columns.items()}
    return AlignedErrors(
        protocol=runs[0].protocol,
        signed=common,
        scored=scored,
        dropped={label: scored[label] - len(common) for label in columns},
        failed={run.label: run.n_failed for run in runs},
    )


def _statistic(samples: np.ndarray, statistic: str) -> np.ndarray:
    if statistic == "mae":
        return np.abs(samples).mean(axis=-1)
    if statistic == "rmse":
        return np.sqrt(np.square(samples).mean(axis=-1))
    raise ConfigError(f"bootstrap statistic must be 'mae' or 'rmse', not {statistic!r}")


def bootstrap_distribution(
    errors: np.ndarray, statistic: str = "mae", n_resamples: int = N_RESAMPLES, seed: int = SEED,
    paired_with: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """Bootstrap replicates of MAE/RMSE of `errors` (minus that of `paired_with` on the same resamples).

    Resample indices come from `numpy.random.default_rng(seed).integers(0, n, (n_resamples, n))`,
    drawn in row chunks (which yields the same stream as one draw) to bound memory.
    """
    errors = np.asarray(errors, dtype=float)
    if errors.ndim != 1 or errors.size < 2:
        raise ConfigError(f"bootstrap needs at least 2 errors, got {errors.size}")
    if paired_with is not None:
        paired_with = np.asarray(paired_with, dtype=float)
        if paired_with.shape != errors.shape:
            raise ConfigError("paired bootstrap needs errors of the same videos (equal lengths)")
    n = errors.size
    rng = np.random.default_rng(seed)
    rows_per_chunk = max(1, _CHUNK_VALUES // n)
    out = np.empty(n_resamples)
    for start in range(0, n_resamples, rows_per_chunk):
        stop = min(n_resamples, start + rows_per_chunk)
        index = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = _statistic(errors[index], statistic)
        if paired_with is not None:
            out[start:stop] -= _statistic(paired_with[index], statistic)
    return out


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile bootstrap confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float

    def __str__(self) -> str:
        return f"{self.estimate:.2f} [{self.low:.2f}, {self.high:.2f}]"


def bootstrap_ci(
    errors: np.ndarray, statistic: str = "mae", n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE, seed: int = SEED, paired_with: np.ndarray | None = None,
) -> Interval:  # fmt: skip
    """Percentile bootstrap CI of MAE or RMSE of signed errors (or of the paired difference)."""
    errors = np.asarray(errors, dtype=float)
    replicates = bootstrap_distribution(errors, statistic, n_resamples, seed, paired_with)
    estimate = float(_statistic(errors, statistic))
    if paired_with is not None:
        estimate -= float(_statistic(np.asarray(paired_with, dtype=float), statistic))
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(replicates, [tail, 100.0 - tail])
    return Interval(estimate, float(low), float(high), confidence)


@dataclass(frozen=True)
class WilcoxonResult:
    """Wilcoxon signed-rank test on paired absolute errors of two methods."""

    first: str
    second: str
    statistic: float
    pvalue: float
    n: int
    median_difference: float


def wilcoxon_test(first: str, a_abs: np.ndarray, second: str, b_abs: np.ndarray) -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test of |error| of `first` against `second` on the same videos."""
    a_abs, b_abs = np.asarray(a_abs, float), np.asarray(b_abs, float)
    difference = a_abs - b_abs
    if not np.any(difference != 0):
        statistic, pvalue = math.nan, 1.0  # identical errors: no evidence of any difference
    else:
        result = scipy_stats.wilcoxon(a_abs, b_abs)
        statistic, pvalue = float(result.statistic), float(result.pvalue)
    return WilcoxonResult(first, second, statistic, pvalue, int(a_abs.size), float(np.median(difference)))


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi critical difference of average ranks (Demšar 2006): q_alpha * sqrt(k(k+1) / (6n))."""
    q_alpha = scipy_stats.studentized_range.ppf(1.0 - alpha, k, np.inf) / math.sqrt(2.0)
    return float(q_alpha * math.sqrt(k * (k + 1) / (6.0 * n)))


@dataclass
class FriedmanResult:
    """Friedman test over several methods, mean ranks (1 = lowest error), Nemenyi p-values and CD."""

    statistic: float
    pvalue: float
    n: int
    mean_ranks: pd.Series
    nemenyi: pd.DataFrame
    cd: float
    alpha: float = ALPHA


def friedman_nemenyi(absolute: pd.DataFrame, alpha: float = ALPHA) -> FriedmanResult:
    """Friedman chi-square on |error| (videos x methods) with Nemenyi post-hoc p-values."""
    import scikit_posthocs

    if absolute.shape[1] < 3:
        raise ConfigError("the Friedman test needs at least three methods; use Wilcoxon for two")
    if absolute.shape[0] < 2:
        raise ConfigError("the Friedman test needs at least two common videos")
    values = absolute.to_numpy(float)
    result = scipy_stats.friedmanchisquare(*values.T)
    ranks = scipy_stats.rankdata(values, axis=1, method="average").mean(axis=0)
    nemenyi = scikit_posthocs.posthoc_nemenyi_friedman(values)
    nemenyi.index = nemenyi.columns = list(absolute.columns)
    return FriedmanResult(
        statistic=float(result.statistic),
        pvalue=float(result.pvalue),
        n=values.shape[0],
        mean_ranks=pd.Series(ranks, index=list(absolute.columns)),
        nemenyi=nemenyi,
        cd=critical_difference(values.shape[1], values.shape[0], alpha),
        alpha=alpha,
    )


@dataclass
class StatsReport:
    """Every paired statistic for the runs of one protocol."""

    aligned: AlignedErrors
    intervals: dict[str, dict[str, Interval]]
    wilcoxon: list[WilcoxonResult] = field(default_factory=list)
    friedman: FriedmanResult | None = None
    n_resamples: int = N_RESAMPLES
    seed: int = SEED

    def to_markdown(self) -> str:
        """The report as markdown text (tables by tabulate)."""
        a = self.aligned
        level = int(round(next(iter(next(iter(self.intervals.values())).values())).confidence * 100))
        lines = [f"### Paired statistics: {a.protocol}", ""]
        lines.append(f"Aligned on {a.n_used} video(s) scored by all {len(a.scored)} method(s) (by video_id).")
        rows = [[label, a.scored[label], a.dropped[label], a.failed[label]] for label in a.scored]
        lines += ["", tabulate(rows, headers=["Method", "Scored", "Dropped (not common)", "Failed"],
                                tablefmt="pipe"), ""]  # fmt: skip
        rows = []
        for label, cis in self.intervals.items():
            rank = f"{self.friedman.mean_ranks[label]:.2f}" if self.friedman else "-"
            rows.append([label, str(cis["mae"]), str(cis["rmse"]), rank])
        lines.append(
            f"MAE and RMSE (bpm) with {level}% percentile bootstrap CI "
            f"({self.n_resamples} resamples, seed {self.seed}) on the common videos:"
        )
        headers = ["Method", "MAE [CI]", "RMSE [CI]", "Mean rank"]
        lines += ["", tabulate(rows, headers=headers, tablefmt="pipe", disable_numparse=True), ""]
        for w in self.wilcoxon:
            lines.append(
                f"Wilcoxon signed-rank on |error|, {w.first} vs {w.second}: W = {w.statistic:.1f}, "
                f"p = {w.pvalue:.4g}, n = {w.n}, median |error| difference = {w.median_difference:+.2f} bpm."
            )
        if self.friedman:
            f = self.friedman
            lines.append(
                f"Friedman test on |error|: chi2 = {f.statistic:.3f}, p = {f.pvalue:.4g}, n = {f.n}; "
                f"Nemenyi critical difference (alpha {f.alpha}) = {f.cd:.3f} mean-rank units."
            )
            table = f.nemenyi.map(lambda p: f"{p:.4f}")
            lines += ["", "Nemenyi post-hoc p-values:", "",
                      tabulate(table, headers="keys", tablefmt="pipe", disable_numparse=True)]  # fmt: skip
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (for JSON output)."""
        a = self.aligned
        out: dict[str, Any] = {
            "protocol": a.protocol, "n_used": a.n_used, "scored": a.scored, "dropped": a.dropped,
            "failed": a.failed, "n_resamples": self.n_resamples, "seed": self.seed,
            "intervals": {m: {s: vars(ci) for s, ci in cis.items()} for m, cis in self.intervals.items()},
            "wilcoxon": [vars(w) for w in self.wilcoxon],
        }  # fmt: skip
        if self.friedman:
            f = self.friedman
            out["friedman"] = {"statistic": f.statistic, "pvalue": f.pvalue, "n": f.n, "cd": f.cd,
                               "alpha": f.alpha, "mean_ranks": f.mean_ranks.to_dict(),
                               "nemenyi": f.nemenyi.to_dict()}  # fmt: skip
        return out


def paired_statistics(
    runs: Sequence[RunResult],
    n_resamples: int = N_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = SEED,
) -> StatsReport:
    """Align `runs` of one protocol and compute bootstrap CIs, Wilcoxon (2 methods) or Friedman (3+)."""
    aligned = align(runs)
    if aligned.n_used < 2:
        raise ConfigError(
            f"protocol {aligned.protocol!r}: only {aligned.n_used} video(s) are scored by every method; "
            "paired statistics need at least 2"
        )
    intervals = {
        label: {s: bootstrap_ci(aligned.signed[label].to_numpy(), s, n_resamples, confidence, seed)
                for s in ("mae", "rmse")}
        for label in aligned.signed.columns
    }  # fmt: skip
    report = StatsReport(aligned, intervals, n_resamples=n_resamples, seed=seed)
    labels = list(aligned.signed.columns)
    absolute = aligned.absolute
    if len(labels) == 2:
        report.wilcoxon.append(wilcoxon_test(labels[0], absolute[labels[0]], labels[1], absolute[labels[1]]))
    elif len(labels) >= 3:
        report.friedman = friedman_nemenyi(absolute)
    return report
