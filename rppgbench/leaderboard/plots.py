"""Figures for leaderboards (matplotlib, Agg backend): Bland-Altman, scatter, error by HR range, bars, CD.

Each function returns a matplotlib Figure; `save_figure` writes it as PNG and SVG and `svg_text`
gives inline SVG for the HTML report.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from rppgbench.leaderboard.results import RunResult, compute_metrics  # noqa: E402
from rppgbench.leaderboard.stats import FriedmanResult  # noqa: E402
from rppgbench.leaderboard.tables import ComparisonTable, format_value  # noqa: E402

HR_BINS = (40.0, 60.0, 80.0, 100.0, 120.0, 180.0)
# Text as paths: inline SVG then looks the same in every browser, whatever fonts it has.
plt.rcParams.update({"svg.fonttype": "path", "figure.dpi": 100, "savefig.bbox": "tight"})


def agreement_figure(run: RunResult) -> Figure:
    """Bland-Altman plot and predicted-vs-reference scatter of one run's scored videos."""
    ok = run.ok
    pred, ref = ok["hr_pred"].to_numpy(float), ok["hr_ref"].to_numpy(float)
    metrics = compute_metrics(ok)
    fig, (ba, sc) = plt.subplots(1, 2, figsize=(9.5, 4.0))
    mean, diff = (pred + ref) / 2.0, pred - ref
    ba.scatter(mean, diff, s=12, alpha=0.7, color="tab:blue", edgecolors="none")
    if metrics.get("n", 0) >= 2:
        for key, style, text in (("ba_bias", "-", "bias"), ("ba_lower", "--", "-1.96 SD"),
                                 ("ba_upper", "--", "+1.96 SD")):  # fmt: skip
            value = metrics[key]
            ba.axhline(value, color="tab:red", linestyle=style, linewidth=1)
            ba.annotate(f"{text} {value:+.2f}", xy=(1.0, value), xycoords=("axes fraction", "data"),
                        xytext=(-4, 3), textcoords="offset points", ha="right", fontsize=8)  # fmt: skip
    ba.set(xlabel="(predicted + reference) / 2 (bpm)", ylabel="predicted - reference (bpm)",
           title=f"Bland-Altman: {run.label}")  # fmt: skip
    sc.scatter(ref, pred, s=12, alpha=0.7, color="tab:green", edgecolors="none")
    if len(ref):
        low, high = float(min(ref.min(), pred.min())) - 5, float(max(ref.max(), pred.max())) + 5
        sc.plot([low, high], [low, high], color="grey", linewidth=1, label="identity")
        sc.set_xlim(low, high)
        sc.set_ylim(low, high)
        sc.legend(loc="upper left", fontsize=8)
    sc.set(xlabel="reference HR (bpm)", ylabel="predicted HR (bpm)",
           title=f"{run.label}: r = {format_value(metrics.get('r'))}, n = {metrics.get('n', 0)}")  # fmt: skip
    sc.set_aspect("equal", adjustable="box")
    fig.tight_layout()
    return fig


def error_by_hr_range(runs: Sequence[RunResult], bins: Sequence[float] = HR_BINS) -> Figure:
    """MAE per reference-HR bin, one bar per method; the bin's video count is printed on each bar."""
    edges = np.asarray(bins, dtype=float)
    labels = [f"{edges[i]:.0f}-{edges[i + 1]:.0f}" for i in range(len(edges) - 1)]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(labels) + 0.6 * len(runs)), 4.0))
    width = 0.8 / max(1, len(runs))
    for k, run in enumerate(runs):
        ok = run.ok
        error = np.abs(ok["hr_pred"].to_numpy(float) - ok["hr_ref"].to_numpy(float))
        which = pd.cut(ok["hr_ref"].to_numpy(float), edges, labels=labels, include_lowest=True)
        grouped = pd.Series(error).groupby(which, observed=False)
        mae, count = grouped.mean().reindex(labels), grouped.size().reindex(labels, fill_value=0)
        x = np.arange(len(labels)) + (k - (len(runs) - 1) / 2) * width
        bars = ax.bar(x, mae.fillna(0).to_numpy(), width=width, label=run.label)
        for bar, n in zip(bars, count.to_numpy(), strict=True):
            if n:
                ax.annotate(str(n), (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                            va="bottom", fontsize=7, xytext=(0, 1), textcoords="offset points")  # fmt: skip
    ax.set_xticks(np.arange(len(labels)), labels)
    protocol = runs[0].protocol if runs else ""
    ax.set(xlabel="reference HR range (bpm); number on a bar: its videos", ylabel="MAE (bpm)",
           title=f"Error by HR range ({protocol})")  # fmt: skip
    ax.margins(y=0.12)
    if runs:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def metric_bars(table: ComparisonTable, metrics: Sequence[str] = ("mae", "rmse")) -> Figure:
    """Bars of error metrics per method of one protocol table; published rows hatched and marked †."""
    shown = [m for m in metrics if m in table.metrics] or table.metrics[:1]
    rows = table.rows
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(rows) * len(shown) + 2), 4.0))
    width = 0.8 / len(shown)
    x = np.arange(len(rows))
    for k, metric in enumerate(shown):
        values = [row.values.get(metric, math.nan) for row in rows]
        heights = [v if isinstance(v, float) and math.isfinite(v) else 0.0 for v in values]
        bars = ax.bar(x + (k - (len(shown) - 1) / 2) * width, heights, width=width, label=metric.upper())
        for bar, row, value in zip(bars, rows, values, strict=True):
            if row.published:
                bar.set_hatch("//")
                bar.set_alpha(0.6)
            if not (isinstance(value, float) and math.isfinite(value)):
                ax.annotate(
                    "n/r", (bar.get_x() + bar.get_width() / 2, 0), ha="center", va="bottom", fontsize=7
                )
    ax.set_xticks(x, [row.display_name for row in rows], rotation=30, ha="right")
    legend = ": hatched † = published, n/r = not reported" if any(r.published for r in rows) else ""
    ax.set(ylabel="bpm", title=f"{table.protocol}{legend}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def cd_diagram(friedman: FriedmanResult) -> Figure:
    """Critical-difference diagram (Demšar 2006) of mean ranks with Nemenyi-based crossbars."""
    import scikit_posthocs

    fig, ax = plt.subplots(figsize=(7.0, 0.6 + 0.35 * len(friedman.mean_ranks)))
    scikit_posthocs.critical_difference_diagram(
        friedman.mean_ranks, friedman.nemenyi, ax=ax, alpha=friedman.alpha, cd=friedman.cd,
        label_fmt_left="{label} ({rank:.2f})", label_fmt_right="({rank:.2f}) {label}",
    )  # fmt: skip
    fig.suptitle(
        f"Mean rank of |error| (1 = best); CD = {friedman.cd:.2f}, n = {friedman.n}", fontsize=9, y=1.12
    )
    return fig


def save_figure(fig: Figure, stem: str | Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write `fig` as `stem.png`, `stem.svg` (folders created); returns the written paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        fig.savefig(path, format=fmt, dpi=150 if fmt == "png" else None)
        written.append(path)
    return written


def svg_text(fig: Figure) -> str:
    """The figure as an inline <svg> element (XML prolog and doctype removed)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def close(fig: Figure) -> None:
    """Release a figure's memory."""
    plt.close(fig)
