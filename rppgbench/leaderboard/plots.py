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
from rppgbench.leaderboard.stats import FriedmanResult, Interval  # noqa: E402
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
        lines = (("ba_lower", "--", "-1.96 SD"), ("ba_bias", "-", "bias"), ("ba_upper", "--", "+1.96 SD"))
        for key, style, _ in lines:
            ba.axhline(metrics[key], color="tab:red", linestyle=style, linewidth=1)
        # Labels sit in the right margin, pushed apart when the lines are close, so they never overlap
        # each other or the points.
        low, high = ba.get_ylim()
        spots = spread_labels([metrics[key] for key, _, _ in lines], 0.07 * (high - low))
        for (key, _, text), y in zip(lines, spots, strict=True):
            ba.annotate(f"{text} {metrics[key]:+.2f}", xy=(1.0, metrics[key]), xycoords=("axes fraction", "data"),
                        xytext=(1.02, y), textcoords=("axes fraction", "data"), ha="left", va="center",
                        fontsize=8, annotation_clip=False,
                        arrowprops={"arrowstyle": "-", "color": "0.6", "linewidth": 0.6})  # fmt: skip
        ba.set_ylim(min(low, min(spots)), max(high, max(spots)))
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


def spread_labels(values: Sequence[float], gap: float) -> list[float]:
    """Label positions near `values` (any order) that are at least `gap` apart, kept centred on them."""
    order = np.argsort(values)
    placed = np.asarray(values, dtype=float)[order].copy()
    for i in range(1, len(placed)):
        placed[i] = max(placed[i], placed[i - 1] + gap)
    placed += (np.asarray(values, dtype=float)[order].mean() - placed.mean()) if len(placed) else 0.0
    out = np.empty_like(placed)
    out[order] = placed
    return out.tolist()


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


def metric_bars(
    table: ComparisonTable,
    metrics: Sequence[str] = ("mae", "rmse"),
    intervals: dict[str, dict[str, Interval]] | None = None,
) -> Figure:
    """Bars of error metrics per method of one protocol table; published rows hatched and marked †.

    `intervals` (run folder -> metric -> bootstrap interval) draws each run's confidence interval as
    an error bar; published rows have none.
    """
    intervals = intervals or {}
    shown = [m for m in metrics if m in table.metrics] or table.metrics[:1]
    rows = table.rows
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(rows) * len(shown) + 2), 4.0))
    width = 0.8 / len(shown)
    x = np.arange(len(rows))
    for k, metric in enumerate(shown):
        values = [row.values.get(metric, math.nan) for row in rows]
        heights = [v if isinstance(v, float) and math.isfinite(v) else 0.0 for v in values]
        centres = x + (k - (len(shown) - 1) / 2) * width
        bars = ax.bar(centres, heights, width=width, label=metric.upper())
        for centre, row in zip(centres, rows, strict=True):
            ci = intervals.get(row.source, {}).get(metric)
            if ci is not None and not row.published:
                ax.errorbar(centre, ci.estimate, yerr=[[ci.estimate - ci.low], [ci.high - ci.estimate]],
                            color="black", capsize=3, linewidth=1)  # fmt: skip
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
    if intervals:
        level = int(round(next(iter(next(iter(intervals.values())).values())).confidence * 100))
        legend += f"; whiskers: {level}% bootstrap CI"
    ax.set(ylabel="bpm", title=f"{table.protocol}{legend}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def cd_cliques(ranks: Sequence[float], cd: float) -> list[tuple[int, int]]:
    """Maximal runs [i, j] of rank-sorted methods whose mean ranks differ by less than `cd`."""
    found: list[tuple[int, int]] = []
    for i in range(len(ranks)):
        j = i
        while j + 1 < len(ranks) and ranks[j + 1] - ranks[i] < cd:
            j += 1
        if j > i and (not found or j > found[-1][1]):
            found.append((i, j))
    return found


def cd_diagram(friedman: FriedmanResult) -> Figure:
    """Critical-difference diagram (Demšar 2006): mean ranks, one label row per method, CD cliques.

    Every label has its own row (best methods on the left, worst on the right) and every clique bar
    its own level, so nothing overlaps however close the ranks are.
    """
    ranks = friedman.mean_ranks.sort_values()
    names, values = list(ranks.index), ranks.to_numpy(float)
    k = len(values)
    cliques = cd_cliques(values, friedman.cd)
    left = list(range((k + 1) // 2))
    right = list(range(k - 1, len(left) - 1, -1))  # worst first: lines do not cross
    step, bar_step = 0.32, 0.18
    first_row = -0.3 - bar_step * len(cliques)
    fig, ax = plt.subplots(figsize=(7.5, 1.1 + step * max(len(left), len(right)) + bar_step * len(cliques)))
    ax.plot([1, k], [0, 0], color="black", linewidth=1)
    for tick in range(1, k + 1):
        ax.plot([tick, tick], [0, 0.06], color="black", linewidth=1)
        ax.text(tick, 0.1, str(tick), ha="center", va="bottom", fontsize=8)
    ax.plot([1, 1 + friedman.cd], [0.45, 0.45], color="black", linewidth=2)
    ax.text(1 + friedman.cd / 2, 0.5, f"CD = {friedman.cd:.2f}", ha="center", va="bottom", fontsize=8)
    for level, (i, j) in enumerate(cliques):
        y = -0.15 - bar_step * level
        ax.plot(
            [values[i] - 0.03, values[j] + 0.03], [y, y], color="black", linewidth=3, solid_capstyle="round"
        )
    for side, members, edge, align in (("left", left, 1 - 0.4, "right"), ("right", right, k + 0.4, "left")):
        for row, index in enumerate(members):
            y = first_row - step * row
            ax.plot([values[index], values[index], edge], [0, y, y], color="0.35", linewidth=0.8)
            text = (
                f"{names[index]} ({values[index]:.2f})"
                if side == "left"
                else f"({values[index]:.2f}) {names[index]}"
            )
            ax.text(edge + (-0.05 if side == "left" else 0.05), y, text, ha=align, va="center", fontsize=8)
    ax.set_xlim(1 - 0.45, k + 0.45)
    ax.set_ylim(first_row - step * max(len(left), len(right)), 0.8)
    ax.axis("off")
    ax.set_title(f"Mean rank of |error| (1 = best); CD = {friedman.cd:.2f} (Nemenyi, alpha {friedman.alpha}), "
                 f"n = {friedman.n}; a bar joins methods that do not differ significantly", fontsize=8)  # fmt: skip
    return fig


def loss_curves(run: RunResult) -> Figure | None:
    """Training and validation loss per epoch of each fold of a neural run (None without training.json)."""
    from rppgbench.leaderboard.results import training_histories

    histories = training_histories(run.path)
    if not histories:
        return None
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    for k, (fold, history) in enumerate(sorted(histories.items())):
        colour = f"C{k % 10}"
        epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
        for key, style in (("train_loss", "-"), ("val_loss", "--")):
            values = [h.get(key) for h in history]
            if any(v is not None for v in values):
                ax.plot(epochs, [math.nan if v is None else v for v in values], style, color=colour,
                        label=f"fold {fold} {key.split('_')[0]}")  # fmt: skip
    ax.set(xlabel="epoch", ylabel="loss", title=f"{run.label}: training (solid) and validation (dashed) loss")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
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
