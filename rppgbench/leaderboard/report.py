"""A static HTML report: tables, statistics and figures of result directories in one `index.html`.

The page has no external assets (styles inline, figures inline SVG), so it opens from disk with no
server. The same tables (markdown, LaTeX, CSV, JSON) and figures (PNG, SVG) are written beside it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path

import rppgbench
from rppgbench.errors import RppgbenchError
from rppgbench.leaderboard import plots
from rppgbench.leaderboard.published import PublishedRow, load_published
from rppgbench.leaderboard.results import RunResult, group_by_protocol
from rppgbench.leaderboard.stats import Interval, StatsReport, bootstrap_ci, paired_statistics
from rppgbench.leaderboard.tables import (
    ComparisonTable,
    build_breakdown,
    build_table,
    default_metrics,
    render,
    to_html,
)
from rppgbench.provenance import now_iso
from rppgbench.store import atomic_write_bytes

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{margin-top:2.5rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}
table.results,table.plain{border-collapse:collapse;margin:1rem 0;font-size:.92rem}
table.results th,table.results td,table.plain th,table.plain td{padding:.25rem .7rem;text-align:left}
table.results thead th,table.plain thead th{border-top:2px solid #222;border-bottom:1px solid #222}
table.results tbody tr:last-child td,table.plain tbody tr:last-child td{border-bottom:2px solid #222}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.published td{color:#555;font-style:italic;background:#f6f6f6}
p.note{font-size:.85rem;color:#555;margin:.2rem 0}
figure{margin:1rem 0}figure svg{max-width:100%;height:auto}
figcaption{font-size:.85rem;color:#555}
pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;font-size:.85rem}
.meta{font-size:.85rem;color:#555}
"""


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)


def _figure_html(fig, stem: Path, caption: str) -> str:
    plots.save_figure(fig, stem)
    svg = plots.svg_text(fig)
    plots.close(fig)
    return f"<figure>{svg}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _runs_html(runs: Sequence[RunResult]) -> str:
    rows = []
    for run in runs:
        prov = run.provenance
        git = prov.get("git") or {}
        commit = (git.get("commit") or "-")[:10] + (" (dirty)" if git.get("dirty") else "")
        cells = [
            run.label, run.method, json.dumps(run.params, sort_keys=True), str(run.path),
            run.run.get("status", "-"), commit, prov.get("rppgbench", "-"), prov.get("host", "-"),
        ]  # fmt: skip
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    head = "".join(
        f"<th>{h}</th>"
        for h in ("Run", "Method", "Parameters", "Folder", "Status", "Commit", "Version", "Host")
    )
    return f"<table class='plain'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def write_report(
    runs: Sequence[RunResult],
    out: str | Path,
    with_published: bool = True,
    metrics: Sequence[str] | None = None,
    by: str | None = None,
    title: str = "rppgbench results",
    stats: bool = True,
    published: Sequence[PublishedRow] | None = None,
    resamples: int = 10_000,
    seed: int = 0,
) -> Path:
    """Write `out/index.html` plus `out/tables/*` and `out/figures/*`; returns the index path."""
    out = Path(out)
    metrics = default_metrics() if metrics is None else metrics
    groups = group_by_protocol(runs)
    sections, all_tables = [], []
    for protocol, members in groups.items():
        reference = (
            (
                load_published(protocol)
                if published is None
                else [p for p in published if p.protocol == protocol]
            )
            if with_published
            else []
        )
        table = build_table(protocol, members, metrics, reference)
        tables: list[ComparisonTable] = [table]
        if by:
            tables.append(build_breakdown(protocol, members, by, metrics))
        all_tables += tables
        slug = _slug(protocol)
        for fmt, suffix in (("markdown", "md"), ("latex", "tex"), ("csv", "csv"), ("json", "json")):
            atomic_write_bytes(out / "tables" / f"{slug}.{suffix}", render(tables, fmt).encode())
        parts = [f"<h2 id='{html.escape(slug)}'>Protocol {html.escape(protocol)}</h2>"]
        parts += [f"<h3>{html.escape(t.title)}</h3>{to_html(t)}" for t in tables]
        intervals = _run_intervals(members, resamples, seed)
        parts.append(_figure_html(plots.metric_bars(table, intervals=intervals), out / "figures" / f"{slug}-bars",
                                  f"{protocol}: MAE and RMSE per method, with 95% bootstrap intervals "
                                  f"({resamples} resamples of each run's videos)."))  # fmt: skip
        parts.append(_figure_html(plots.error_by_hr_range(members), out / "figures" / f"{slug}-hr-range",
                                  f"{protocol}: MAE by reference HR range."))  # fmt: skip
        if stats and len(members) >= 2:
            parts.append(_stats_html(members, out / "figures" / f"{slug}-cd", resamples, seed))
        for run in members:
            parts.append(_figure_html(
                plots.agreement_figure(run), out / "figures" / f"{slug}-{_slug(run.label)}-agreement",
                f"{protocol}, {run.label}: Bland-Altman (bias and 95% limits of agreement) and scatter.",
            ))  # fmt: skip
            curves = plots.loss_curves(run)
            if curves is not None:
                parts.append(_figure_html(curves, out / "figures" / f"{slug}-{_slug(run.label)}-loss",
                                          f"{protocol}, {run.label}: loss per epoch of each fold."))  # fmt: skip
        sections.append("\n".join(parts))
    if not sections:
        raise RppgbenchError("nothing to report: no run directories were given")
    contents = "".join(f"<li><a href='#{html.escape(_slug(p))}'>{html.escape(p)}</a></li>" for p in groups)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body><h1>{html.escape(title)}</h1>
<p class="meta">Generated {now_iso()} by rppgbench {html.escape(rppgbench.__version__)}.
Rows marked † are published numbers copied from papers, shown for reference and not reproduced here.</p>
<ul>{contents}</ul>
{"".join(sections)}
<h2>Runs</h2>{_runs_html(runs)}
</body></html>
"""
    index = out / "index.html"
    atomic_write_bytes(index, page.encode("utf-8"))  # with the user's umask, like every file we write
    return index


def _run_intervals(runs: Sequence[RunResult], resamples: int, seed: int) -> dict[str, dict[str, Interval]]:
    """Bootstrap intervals of MAE and RMSE of each run over its own scored videos, by run folder."""
    out = {}
    for run in runs:
        errors = (run.ok["hr_pred"] - run.ok["hr_ref"]).to_numpy(float)
        if errors.size >= 2:
            out[str(run.path)] = {m: bootstrap_ci(errors, m, resamples, seed=seed) for m in ("mae", "rmse")}
    return out


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[object]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td{' class=num' if i >= numeric_from else ''}>{html.escape(str(c))}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )  # fmt: skip
    return f"<table class='plain'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def stats_tables_html(report: StatsReport) -> str:
    """The paired statistics as HTML tables: coverage, bootstrap intervals and ranks, tests."""
    a = report.aligned
    level = int(round(next(iter(next(iter(report.intervals.values())).values())).confidence * 100))
    parts = [
        f"<p class='note'>Aligned on {a.n_used} video(s) scored by all {len(a.scored)} method(s).</p>",
        _html_table(["Method", "Scored", "Dropped (not common)", "Failed"],
                    [[m, a.scored[m], a.dropped[m], a.failed[m]] for m in a.scored]),
        f"<p class='note'>MAE and RMSE (bpm) with {level}% percentile bootstrap intervals "
        f"({report.n_resamples} resamples, seed {report.seed}) on the common videos.</p>",
        _html_table(["Method", "MAE", f"MAE {level}% CI", "RMSE", f"RMSE {level}% CI", "Mean rank"], [
            [m, f"{c['mae'].estimate:.2f}", f"[{c['mae'].low:.2f}, {c['mae'].high:.2f}]", f"{c['rmse'].estimate:.2f}",
             f"[{c['rmse'].low:.2f}, {c['rmse'].high:.2f}]",
             f"{report.friedman.mean_ranks[m]:.2f}" if report.friedman else "-"]
            for m, c in report.intervals.items()
        ]),
    ]  # fmt: skip
    if report.wilcoxon:
        parts.append("<p class='note'>Wilcoxon signed-rank test on |error|.</p>")
        parts.append(_html_table(["First", "Second", "W", "p", "n", "Median |error| difference (bpm)"], [
            [w.first, w.second, f"{w.statistic:.1f}", f"{w.pvalue:.4g}", w.n, f"{w.median_difference:+.2f}"]
            for w in report.wilcoxon
        ], numeric_from=2))  # fmt: skip
    if report.friedman:
        f = report.friedman
        parts.append(f"<p class='note'>Friedman test on |error|: chi2 = {f.statistic:.3f}, p = {f.pvalue:.4g}, "
                     f"n = {f.n}; Nemenyi critical difference (alpha {f.alpha}) = {f.cd:.3f} mean-rank units. "
                     "Nemenyi post-hoc p-values:</p>")  # fmt: skip
        labels = list(f.nemenyi.columns)
        parts.append(_html_table(["", *labels], [[r, *(f"{f.nemenyi.loc[r, c]:.4f}" for c in labels)]
                                                 for r in f.nemenyi.index]))  # fmt: skip
    return "\n".join(parts)


def _stats_html(members: Sequence[RunResult], cd_stem: Path, resamples: int = 10_000, seed: int = 0) -> str:
    try:
        report = paired_statistics(members, n_resamples=resamples, seed=seed)
    except RppgbenchError as exc:  # e.g. fewer than two common videos: say so in the page
        return f"<h3>Paired statistics</h3><p class='note'>{html.escape(str(exc))}</p>"
    parts = ["<h3>Paired statistics</h3>", stats_tables_html(report)]
    if report.friedman is not None:
        parts.append(_figure_html(plots.cd_diagram(report.friedman), cd_stem,
                                  "Critical-difference diagram (Nemenyi); joined methods do not differ "
                                  f"significantly at alpha {report.friedman.alpha}."))  # fmt: skip
    return "\n".join(parts)
