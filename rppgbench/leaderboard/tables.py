"""Paper-style comparison tables: one per protocol, best value bold and second underlined.

Rows come from our runs (`RunResult`) and, on request, from published papers (`PublishedRow`);
published rows carry a dagger and a `published` flag so the two are never confused. Rendered as
markdown (tabulate), LaTeX (booktabs), CSV, JSON or HTML.
"""

from __future__ import annotations

import html
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from tabulate import tabulate

from rppgbench.errors import ConfigError
from rppgbench.leaderboard.published import PublishedRow
from rppgbench.leaderboard.results import RunResult, compute_metrics, extra_metrics
from rppgbench.leaderboard.vitals import expand_metrics, vitals_metrics, wants_vitals
from rppgbench.metrics import METRIC_NAMES, VITAL_METRIC_NAMES, registered_metrics

METRIC_LABELS = {"sd": "SD (bpm)", "mae": "MAE (bpm)", "rmse": "RMSE (bpm)", "mape": "MAPE (%)", "r": "r",
                 "snr": "SNR (dB)", "macc": "MACC"}  # fmt: skip
METRIC_LABELS |= {key: f"{info.label} ({info.unit})" if info.unit else info.label
                  for key, info in VITAL_METRIC_NAMES.items()}  # fmt: skip
DEFAULT_METRICS = ("sd", "mae", "rmse", "r")
HIGHER_IS_BETTER = frozenset(
    k for k, info in (METRIC_NAMES | VITAL_METRIC_NAMES).items() if info.better == "higher"
) | {"snr", "macc"}
BREAKDOWN_COLUMNS = ("scenario", "source", "subject")
DECIMALS = 2
DAGGER = "†"
MISSING = "-"
# Families of the method names rppgbench ships, so our rows group like the paper's.
KNOWN_FAMILIES = {
    "green": "traditional", "ica": "traditional", "chrom": "traditional", "pos": "traditional",
    "pbv": "traditional", "lgi": "traditional", "omit": "traditional", "poh2011": "traditional",
    "li2014": "traditional", "tulyakov2016": "traditional", "ssr": "traditional", "pca": "traditional",
    "rhythmnet": "non-end-to-end learning", "synrhythm": "non-end-to-end learning",
    "physnet": "end-to-end learning", "deepphys": "end-to-end learning", "autohr": "end-to-end learning",
    "i3d": "end-to-end learning", "hr-cnn": "end-to-end learning", "rppgnet": "end-to-end learning",
    "tscan": "end-to-end learning", "efficientphys": "end-to-end learning", "physformer": "end-to-end learning",
    "samc": "traditional",
    "rhythmformer": "end-to-end learning", "factorizephys": "end-to-end learning",
    "hrcnn": "end-to-end learning",
}  # fmt: skip


def default_metrics() -> list[str]:
    """The columns shown unless --metrics says otherwise: sd, mae, rmse, r and every plugin metric."""
    return [*DEFAULT_METRICS, *registered_metrics()]


def higher_is_better(metric: str) -> bool:
    """True for metrics whose highest value is best (r, SNR, MACC, plugin metrics that say so)."""
    info = registered_metrics().get(metric)
    return metric in HIGHER_IS_BETTER or (info is not None and info.better == "higher")


def metric_label(metric: str) -> str:
    """Column heading of a metric: the built-in label, or a plugin metric's label and unit."""
    if metric in METRIC_LABELS:
        return METRIC_LABELS[metric]
    info = registered_metrics().get(metric)
    if info is None:
        return metric
    return f"{info.label} ({info.unit})" if info.unit else info.label


def _short_label(metric: str) -> str:
    """`SNR` for "SNR (dB)"; a plugin metric's label without its unit."""
    if metric in VITAL_METRIC_NAMES:
        return VITAL_METRIC_NAMES[metric].label
    info = registered_metrics().get(metric)
    return info.label if metric not in METRIC_LABELS and info else metric_label(metric).split(" ")[0]


def parse_metrics(text: str | Sequence[str] | None) -> list[str]:
    """`"sd,mae,rmse,r"` -> list of metric keys (None: `default_metrics()`); ConfigError for an empty list."""
    if text is None:
        return default_metrics()
    items = text.split(",") if isinstance(text, str) else list(text)
    metrics = [m.strip().lower() for m in items if m.strip()]
    if not metrics:
        raise ConfigError("--metrics needs at least one metric, e.g. sd,mae,rmse,r")
    return list(dict.fromkeys(metrics))


def family_of(run: RunResult) -> str:
    """The method family of one of our runs: by known method name, else by whether it trains."""
    known = KNOWN_FAMILIES.get(run.method.lower())
    if known:
        return known
    trains = (run.run.get("config", {}).get("method") or {}).get("trains")
    return "learning" if trains else ("traditional" if trains is False else "")


@dataclass
class TableRow:
    """One table line: a method's metric values, whether it is published, and where it comes from."""

    method: str
    family: str
    published: bool
    source: str
    values: dict[str, float]
    n_videos: int | None = None
    n_failed: int | None = None
    group: str = ""

    @property
    def failed_text(self) -> str:
        """`failed/total` for our runs, '-' for published rows."""
        return MISSING if self.n_videos is None else f"{self.n_failed}/{self.n_videos}"

    @property
    def display_name(self) -> str:
        """Method name, with a dagger when the row is a published number."""
        return f"{self.method}{DAGGER}" if self.published else self.method


@dataclass
class ComparisonTable:
    """Rows of one protocol (optionally broken down by scenario/source/subject) and their metrics."""

    protocol: str
    metrics: list[str]
    rows: list[TableRow]
    by: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        """Heading: the protocol, plus the breakdown column if any."""
        return f"{self.protocol} by {self.by}" if self.by else self.protocol

    def marks(self) -> dict[tuple[int, str], str]:
        """(row index, metric) -> "best" | "second", ranked within each group on displayed values."""
        result: dict[tuple[int, str], str] = {}
        groups: dict[str, list[int]] = {}
        for index, row in enumerate(self.rows):
            groups.setdefault(row.group, []).append(index)
        for members in groups.values():
            for metric in self.metrics:
                shown = {
                    i: round(self.rows[i].values.get(metric, math.nan), DECIMALS)
                    for i in members
                    if _finite(self.rows[i].values.get(metric))
                }
                distinct = sorted(set(shown.values()), reverse=higher_is_better(metric))
                if len(shown) < 2:
                    continue  # a single value is neither best nor second of anything
                for i, value in shown.items():
                    if value == distinct[0]:
                        result[(i, metric)] = "best"
                    elif len(distinct) > 1 and value == distinct[1]:
                        result[(i, metric)] = "second"
        return result

    def published_sources(self) -> list[str]:
        """Distinct sources of the published rows, for the dagger footnote."""
        return list(dict.fromkeys(row.source for row in self.rows if row.published))


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def format_value(value: Any) -> str:
    """Metric value with two decimals; '-' when missing."""
    return f"{value:.{DECIMALS}f}" if _finite(value) else MISSING


def _run_row(run: RunResult, metrics: Sequence[str]) -> TableRow:
    overall = run.overall
    if wants_vitals(metrics):
        overall = overall | vitals_metrics(run)
    values = {m: float(overall[m]) if _finite(overall.get(m)) else math.nan for m in metrics}
    return TableRow(run.label, family_of(run), False, str(run.path), values, run.n_videos, run.n_failed)


def _published_row(row: PublishedRow, metrics: Sequence[str]) -> TableRow:
    values = {m: row.values.get(m, math.nan) for m in metrics}
    return TableRow(row.method, row.family, True, row.source, values)


def build_table(
    protocol: str,
    runs: Sequence[RunResult],
    metrics: Sequence[str] | None = None,
    published: Sequence[PublishedRow] = (),
) -> ComparisonTable:
    """The overall table of one protocol: published rows (paper order) first, then our runs."""
    wrong = [run.path for run in runs if run.protocol != protocol]
    if wrong:
        raise ConfigError(f"runs of another protocol cannot go in the {protocol!r} table: {wrong}")
    metrics = default_metrics() if metrics is None else _expanded(metrics, runs)
    rows = [_published_row(p, metrics) for p in published if p.protocol == protocol]
    rows += [_run_row(run, metrics) for run in runs]
    _require_metrics(rows, metrics, protocol)
    return ComparisonTable(protocol, list(metrics), rows)


def _expanded(metrics: Sequence[str], runs: Sequence[RunResult]) -> list[str]:
    """`vitals`, `hrv` and `resp` spelled out (`vitals`: the measures of the protocol's `[vitals]`)."""
    return expand_metrics(metrics, runs[0].protocol_definition if runs else None)


def _require_metrics(rows: Sequence[TableRow], metrics: Sequence[str], protocol: str) -> None:
    known = [*METRIC_LABELS, *registered_metrics()]
    unknown = [m for m in metrics if m not in known and not any(_finite(r.values.get(m)) for r in rows)]
    if unknown and rows:
        raise ConfigError(
            f"metric(s) {', '.join(unknown)} unknown and not stored by any run of {protocol!r}; "
            f"known: {', '.join(known)}"
        )


def build_breakdown(
    protocol: str, runs: Sequence[RunResult], by: str, metrics: Sequence[str] | None = None
) -> ComparisonTable:
    """Per-group table (scenario, source or subject): metrics recomputed on each group's scored videos."""
    if by not in BREAKDOWN_COLUMNS:
        raise ConfigError(f"--by must be one of {', '.join(BREAKDOWN_COLUMNS)}, not {by!r}")
    metrics = default_metrics() if metrics is None else _expanded(metrics, runs)
    rows: list[TableRow] = []
    for run in runs:
        frame = run.predictions.assign(
            _group=run.predictions[by].fillna("").astype(str).replace("", "(none)")
        )
        ok_index = set(run.ok.index)
        for group, members in frame.groupby("_group", sort=True):
            scored = members[members.index.isin(ok_index)]
            computed = compute_metrics(scored) | extra_metrics(scored)
            if wants_vitals(metrics):
                computed |= vitals_metrics(run, scored["video_id"])
            values = {m: float(computed[m]) if _finite(computed.get(m)) else math.nan for m in metrics}
            rows.append(
                TableRow(
                    run.label,
                    family_of(run),
                    False,
                    str(run.path),
                    values,
                    len(members),
                    len(members) - len(scored),
                    group=str(group),
                )  # fmt: skip
            )
    rows.sort(key=lambda r: r.group)  # stable: runs keep their order within a group
    notes = ["published papers report no per-group numbers, so published rows are not shown here"]
    return ComparisonTable(protocol, list(metrics), rows, by=by, notes=notes)


# --- rendering -----------------------------------------------------------------------------------


def _has_runs(table: ComparisonTable) -> bool:
    return any(not row.published for row in table.rows)


def _headers(table: ComparisonTable, style: str) -> list[str]:
    first = [table.by.capitalize()] if table.by else []
    last = ["Failed"] if _has_runs(table) else []
    return [*first, "Method", "Family", *[_metric_label(m, style) for m in table.metrics], *last]


def _alignment(table: ComparisonTable) -> list[str]:
    lead = 3 if table.by else 2
    return ["left"] * lead + ["right"] * (len(table.metrics) + (1 if _has_runs(table) else 0))


def _metric_label(metric: str, style: str) -> str:
    label = metric_label(metric)
    return label.replace("%", r"\%") if style == "latex" else label


def _cells(table: ComparisonTable, decorate) -> list[list[str]]:
    marks = table.marks()
    body = []
    for index, row in enumerate(table.rows):
        values = [decorate(format_value(row.values.get(m)), marks.get((index, m))) for m in table.metrics]
        first = [row.group] if table.by else []
        last = [row.failed_text] if _has_runs(table) else []
        body.append([*first, row.display_name, row.family or MISSING, *values, *last])
    return body


def _footnotes(table: ComparisonTable) -> list[str]:
    notes = []
    if any(r.published for r in table.rows):
        notes.append(
            f"{DAGGER} published result, not reproduced here: " + "; ".join(table.published_sources()) + "."
        )
    highest = ", ".join(["r", *(_short_label(m) for m in table.metrics if m != "r" and higher_is_better(m))])
    notes.append(f"Best in bold, second best underlined (lowest error, highest {highest}).")
    if _has_runs(table):
        notes.append("Failed: videos that could not be scored / test videos of the run.")
    return notes + table.notes


def to_markdown(table: ComparisonTable) -> str:
    """GitHub markdown: bold as **x**, underline as <u>x</u>, published rows with a dagger."""

    def decorate(text: str, mark: str | None) -> str:
        return f"**{text}**" if mark == "best" else f"<u>{text}</u>" if mark == "second" else text

    grid = tabulate(_cells(table, decorate), headers=_headers(table, "markdown"), tablefmt="pipe",
                    disable_numparse=True, colalign=_alignment(table))  # fmt: skip
    return "\n".join([f"### {table.title}", "", grid, "", *_footnotes(table)]) + "\n"


_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}  # fmt: skip


def latex_escape(text: str) -> str:
    """Escape LaTeX special characters in plain text."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)


def to_latex(table: ComparisonTable) -> str:
    """A booktabs table: \\textbf best, \\underline second, $^\\dagger$ on published rows."""
    marks = table.marks()
    n_lead = 3 if table.by else 2
    spec = "l" * n_lead + "r" * (len(table.metrics) + (1 if _has_runs(table) else 0))
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{Results on {latex_escape(table.title)}.}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(latex_escape(h) if "\\" not in h else h for h in _headers(table, "latex")) + r" \\",
        r"\midrule",
    ]
    previous_group = None
    for index, row in enumerate(table.rows):
        if table.by and previous_group is not None and row.group != previous_group:
            lines.append(r"\midrule")
        previous_group = row.group
        name = latex_escape(row.method) + (r"$^\dagger$" if row.published else "")
        cells = [latex_escape(row.group)] if table.by else []
        cells += [name, latex_escape(row.family or MISSING)]
        for metric in table.metrics:
            text = format_value(row.values.get(metric))
            mark = marks.get((index, metric))
            cells.append(
                rf"\textbf{{{text}}}" if mark == "best" else rf"\underline{{{text}}}" if mark else text
            )
        if _has_runs(table):
            cells.append(row.failed_text)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    notes = " ".join(latex_escape(n) for n in _footnotes(table)).replace(DAGGER, r"$^\dagger$")
    lines += [rf"\par\smallskip\footnotesize {notes}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def to_records(table: ComparisonTable) -> list[dict[str, Any]]:
    """Rows as plain dicts (numbers unrounded, NaN as None) with their best/second marks."""
    marks = table.marks()
    records = []
    for index, row in enumerate(table.rows):
        record: dict[str, Any] = {"protocol": table.protocol}
        if table.by:
            record[table.by] = row.group
        record.update(method=row.method, family=row.family, published=row.published, source=row.source)
        for metric in table.metrics:
            value = row.values.get(metric)
            record[metric] = float(value) if _finite(value) else None
        record.update(n_videos=row.n_videos, n_failed=row.n_failed)
        record["best"] = [m for m in table.metrics if marks.get((index, m)) == "best"]
        record["second"] = [m for m in table.metrics if marks.get((index, m)) == "second"]
        records.append(record)
    return records


def to_csv(tables: Sequence[ComparisonTable]) -> str:
    """One CSV for all tables: a protocol column (and breakdown column) keeps them apart."""
    frames = []
    for table in tables:
        frame = pd.DataFrame(to_records(table))
        for column in ("best", "second"):
            frame[column] = frame[column].map(";".join)
        frames.append(frame)
    if not frames:
        return ""
    buffer = io.StringIO()
    pd.concat(frames, ignore_index=True).to_csv(buffer, index=False, float_format="%.4f", lineterminator="\n")
    return buffer.getvalue()


def to_json(tables: Sequence[ComparisonTable]) -> str:
    """Tables as JSON: protocol, breakdown, metrics, rows (with marks) and footnotes."""
    payload = [
        {
            "protocol": t.protocol,
            "by": t.by,
            "metrics": t.metrics,
            "rows": to_records(t),
            "notes": _footnotes(t),
        }
        for t in tables
    ]
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def to_html(table: ComparisonTable) -> str:
    """An HTML <table> with <b>/<u> marks and a dagger plus `published` class on published rows."""
    marks = table.marks()
    head = "".join(f"<th>{html.escape(h)}</th>" for h in _headers(table, "html"))
    body = []
    for index, row in enumerate(table.rows):
        cells = [f"<td>{html.escape(row.group)}</td>"] if table.by else []
        title = html.escape(row.source, quote=True)
        cells.append(f'<td title="{title}">{html.escape(row.display_name)}</td>')
        cells.append(f"<td>{html.escape(row.family or MISSING)}</td>")
        for metric in table.metrics:
            text = html.escape(format_value(row.values.get(metric)))
            mark = marks.get((index, metric))
            text = f"<b>{text}</b>" if mark == "best" else f"<u>{text}</u>" if mark else text
            cells.append(f'<td class="num">{text}</td>')
        if _has_runs(table):
            cells.append(f'<td class="num">{html.escape(row.failed_text)}</td>')
        css = ' class="published"' if row.published else ""
        body.append(f"<tr{css}>{''.join(cells)}</tr>")
    notes = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in _footnotes(table))
    return (
        f"<table class='results'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{notes}"
    )


RENDERERS = {"markdown": to_markdown, "latex": to_latex}


def render(tables: Sequence[ComparisonTable], fmt: str) -> str:
    """All tables in one of markdown, latex, csv, json."""
    if fmt == "csv":
        return to_csv(tables)
    if fmt == "json":
        return to_json(tables)
    if fmt not in RENDERERS:
        raise ConfigError(f"unknown format {fmt!r}; choose markdown, latex, csv or json")
    return "\n".join(RENDERERS[fmt](t) for t in tables)
