"""CLI commands `compare`, `report`, `baseline` and `check`, added through the register_commands hook.

Exit codes: 0 success; 1 `check` found a regression (or a data file is unreadable); 2 a usage
problem (mixed protocols, mismatched baseline, unknown metric).
"""

from __future__ import annotations

import functools
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from rppgbench.errors import ConfigError, RppgbenchError
from rppgbench.leaderboard.tables import BREAKDOWN_COLUMNS, DEFAULT_METRICS

FORMATS = ("markdown", "latex", "csv", "json")


def _reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print an RppgbenchError as one `Error:` line and exit with its code (no traceback)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except RppgbenchError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


def select_runs(result_dirs: tuple[str, ...], protocol: str | None):
    """Load runs; with `protocol`, keep its runs and refuse explicitly named runs of another protocol."""
    from rppgbench.leaderboard.results import load_runs

    runs = load_runs(result_dirs)
    if protocol:
        foreign = [run for run in runs if run.protocol != protocol and run.extra.get("explicit")]
        if foreign:
            listing = ", ".join(f"{run.path} ({run.protocol})" for run in foreign)
            raise ConfigError(
                f"--protocol {protocol} was asked for, but these runs are of other protocols: {listing}; "
                "runs of different protocols are never mixed in one table (drop --protocol to get one "
                "table per protocol)"
            )
        runs = [run for run in runs if run.protocol == protocol]
    return runs


def build_tables(runs, protocol, with_published, metrics, by):
    """Tables per protocol (overall, then breakdown if `by`), with published rows if asked."""
    from rppgbench.leaderboard.published import load_published, published_protocols
    from rppgbench.leaderboard.results import group_by_protocol
    from rppgbench.leaderboard.tables import build_breakdown, build_table

    groups = group_by_protocol(runs)
    protocols = list(groups)
    if protocol and protocol not in protocols:
        protocols.append(protocol)
    if not protocols and with_published:
        protocols = published_protocols()
    if not protocols:
        raise ConfigError(
            "nothing to compare: give result directories (or a leaderboard folder), or "
            "--protocol NAME --with-published for published rows alone"
        )
    tables = []
    for name in protocols:
        members = groups.get(name, [])
        reference = load_published(name) if with_published else []
        if not members and not reference:
            known = ", ".join(published_protocols()) or "none"
            raise ConfigError(
                f"no runs of protocol {name!r} and no published rows for it (published: {known})"
            )
        tables.append(build_table(name, members, metrics, reference))
        if by and members:
            tables.append(build_breakdown(name, members, by, metrics))
    return tables, groups


def shared_table_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options that mean the same, with the same defaults, in `compare` and `report`."""
    options = [
        click.option("--protocol", "-p", help="Only this protocol (explicit runs of another one are an error)."),
        click.option("--with-published/--no-published", default=False, show_default=True,
                     help="Add published reference rows (marked †)."),
        click.option("--by", type=click.Choice(BREAKDOWN_COLUMNS), help="Add a per-group breakdown table."),
        click.option("--metrics", default=None,
                     help=f"Columns, e.g. sd,mae,rmse,r,mape,snr,macc (default: {','.join(DEFAULT_METRICS)} and "
                          "every metric a plugin registers); HRV and respiration errors from the stored "
                          "signals: VITAL_mae, VITAL_rmse, VITAL_r, VITAL_n for VITAL in sdnn, rmssd, pnn50, "
                          "lf, hf, lf_hf, resp_rate, or the words hrv, resp, vitals (docs/vitals.md)."),
        click.option("--stats/--no-stats", "with_stats", default=False, show_default=True,
                     help="Paired statistics (bootstrap CI, Wilcoxon/Friedman; the CD diagram in a report)."),
        click.option("--resamples", default=10_000, show_default=True, help="Bootstrap resamples for --stats."),
        click.option("--seed", default=0, show_default=True, help="Bootstrap seed for --stats."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


@click.command("compare")
@click.argument("result_dirs", nargs=-1)
@shared_table_options
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="markdown", show_default=True,
              help="Output format of the tables.")  # fmt: skip
@click.option("--out", type=click.Path(path_type=Path), help="Write to this file instead of standard output.")
@_reports_errors
def compare_command(
    result_dirs, protocol, with_published, by, metrics, with_stats, resamples, seed, fmt, out
):
    """Compare runs in paper-style tables, one per protocol (best bold, second underlined).

    RESULT_DIRS are run folders, folders of runs, or packaged results named `leaderboard:NAME`.
    """
    from rppgbench.leaderboard.stats import paired_statistics
    from rppgbench.leaderboard.tables import parse_metrics, render, to_records

    if with_stats and fmt in ("csv", "latex"):
        raise ConfigError("--stats prints text or JSON: use --format markdown or --format json with it")
    runs = select_runs(result_dirs, protocol)
    tables, groups = build_tables(runs, protocol, with_published, parse_metrics(metrics), by)
    reports = []
    if with_stats:
        for members in groups.values():
            reports.append(paired_statistics(members, n_resamples=resamples, seed=seed))
    if fmt == "json":
        payload: dict[str, Any] = {
            "tables": [{"protocol": t.protocol, "by": t.by, "metrics": t.metrics, "rows": to_records(t)}
                       for t in tables]
        }  # fmt: skip
        if with_stats:
            payload["statistics"] = [r.to_dict() for r in reports]
        text = json.dumps(_plain(payload), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    else:
        text = render(tables, fmt)
        if reports:
            text += "\n" + "\n".join(r.to_markdown() for r in reports)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}")
    else:
        click.echo(text, nl=False)


def _plain(value: Any) -> Any:
    """Plain JSON data: numpy scalars to Python numbers, NaN and infinities to null."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@click.command("report")
@click.argument("result_dirs", nargs=-1, required=True)
@shared_table_options
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="Folder for index.html and files."
)
@click.option("--title", default="rppgbench results", show_default=True, help="Title of the page.")
@_reports_errors
def report_command(
    result_dirs, protocol, with_published, by, metrics, with_stats, resamples, seed, out, title
):
    """Write a self-contained HTML report (tables, statistics, figures) of RESULT_DIRS to OUT/index.html."""
    from rppgbench.leaderboard.report import write_report
    from rppgbench.leaderboard.tables import parse_metrics

    runs = select_runs(result_dirs, protocol)
    if not runs:
        raise ConfigError(f"no runs of protocol {protocol!r} under {', '.join(result_dirs)}")
    index = write_report(runs, out, with_published=with_published, metrics=parse_metrics(metrics), by=by,
                         title=title, stats=with_stats, resamples=resamples, seed=seed)  # fmt: skip
    click.echo(f"wrote {index}")


def _single_run(result_dir: str):
    from rppgbench.leaderboard.results import find_run_dirs, load_run

    found = find_run_dirs(result_dir)
    if len(found) != 1:
        raise ConfigError(f"{result_dir}: holds {len(found)} runs; name exactly one run directory")
    return load_run(found[0])


@click.command("baseline")
@click.argument("result_dir")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Baseline file to write (.json).")
@_reports_errors
def baseline_command(result_dir, out):
    """Freeze RESULT_DIR's metrics, video counts and provenance into a CI baseline file."""
    from rppgbench.leaderboard.check import write_baseline

    run = _single_run(result_dir)
    baseline = write_baseline(run, out)
    shown = ", ".join(f"{k}={v:.4g}" for k, v in baseline["metrics"].items() if v is not None)
    click.echo(f"wrote {out}: {run.method} on {run.protocol}: {shown}; failed {run.n_failed}/{run.n_videos}")


@click.command("check")
@click.argument("result_dir")
@click.option("--baseline", "baseline_file", type=click.Path(path_type=Path), required=True,
              help="Baseline file written by `rppgbench baseline`.")  # fmt: skip
@click.option(
    "--tolerance",
    default=None,
    help="Allowed worsening per metric: absolute (mae=0.5) or relative (mae=2%%). "
    "Default: sd, mae, rmse, mape 1%%; r 0.01; failed 0.",
)
@_reports_errors
def check_command(result_dir, baseline_file, tolerance):
    """Exit 1 if RESULT_DIR is worse than the baseline beyond tolerance (or lost more videos), else 0."""
    from rppgbench.leaderboard.check import check_run, format_check, parse_tolerances, read_baseline

    run = _single_run(result_dir)
    result = check_run(run, read_baseline(baseline_file), parse_tolerances(tolerance))
    click.echo(format_check(run, baseline_file, result), nl=False)
    if not result.ok:
        sys.exit(1)
