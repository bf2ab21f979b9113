"""`rppgbench rescore RUN --set hr.KEY=VALUE --out DIR`: new HR settings on a run's stored signals.

Each fold's `signals.npz` holds the method's signal of every evaluated window and the reference, so
HR, SNR, MACC, metrics and the window table are recomputed with other estimator settings without
running the method again. DIR becomes a run folder of its own (compare, report and check read it);
its run.json records the settings, the original run and `rescored_from`.

A method that estimates HR itself (`Method.estimates_hr`: RhythmNet, HR-CNN) stored its own HR of
each window: rescoring keeps those predictions as they are (the HR estimator plays no part in them)
and recomputes the reference HR, errors, metrics and the SNR and MACC of its signal, if it gave one.
Such a fold's metrics say `"method_hr_kept": true`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rppgbench.errors import ConfigError, RppgbenchError
from rppgbench.params import Param, parse_assignments
from rppgbench.signals import WINDOW_FORMATS
from rppgbench.store import FoldStore, RunStore


def hr_settings(base: dict[str, Any], assignments: dict[str, str]) -> dict[str, Any]:
    """The run's HR settings with `hr.KEY=VALUE` assignments applied (values typed like the defaults)."""
    from rppgbench.signal.hr import HRConfig

    defaults = HRConfig().to_dict()
    settings = {**defaults, **base}
    for key, value in assignments.items():
        group, dot, name = key.partition(".")
        if group != "hr" or not dot:
            raise ConfigError(f"rescore --set takes hr.KEY=VALUE, got {key}={value}")
        if name not in defaults:
            raise ConfigError(f"unknown hr setting {name!r}; valid: {', '.join(defaults)}")
        default = defaults[name]
        settings[name] = Param(name, tuple(default) if isinstance(default, list) else default).convert(value)
    return HRConfig.from_dict(settings).to_dict()


def rescore_fold(source: FoldStore, target: FoldStore, hr: dict[str, Any], window_format: str) -> None:
    """Rescore one finished fold of a run into the fold folder `target` of the new run."""
    from rppgbench.aggregation import summarise
    from rppgbench.evaluation import score_windows
    from rppgbench.signal.hr import HRConfig
    from rppgbench.signals import window_rows

    config = HRConfig.from_dict(hr)
    stored = {video.video_id: video for video in source.read_signals()}
    rows, windows = [], []
    kept_method_hr = False
    for row in source.read_predictions().to_dict("records"):
        video = stored.get(row["video_id"])
        if row["status"] != "ok" or video is None:
            rows.append(row)
            continue
        try:
            estimate = score_windows(video.signals, video.times, video.reference, config, window_hr=video.hr)
            kept_method_hr = kept_method_hr or video.hr is not None
        except (RppgbenchError, ValueError) as exc:
            rows.append({**row, "status": "failed", "error": f"{type(exc).__name__}: {exc}"})
            continue
        rows.append({**row, "hr_pred": estimate.hr_pred, "hr_ref": estimate.hr_ref,
                     "abs_error": abs(estimate.hr_pred - estimate.hr_ref), "snr_db": estimate.snr_db,
                     "macc": estimate.macc, "n_windows": len(estimate.window_hr_pred)})  # fmt: skip
        windows += window_rows(video.video_id, source.name, estimate)
    source.copy_signals_to(target)
    target.write_windows(windows, window_format)
    target.write_predictions(rows)
    before = source.read_metrics()
    extra = {"method_hr_kept": True} if kept_method_hr else {}
    target.write_metrics(summarise(rows) | {"n_train": before.get("n_train"), "rescored": True} | extra)


def rescore_run(
    run_dir: Path, out: Path, assignments: dict[str, str], window_format: str = "parquet"
) -> dict:
    """Rescore every finished fold of `run_dir` into `out`; returns the new run-level metrics."""
    from rppgbench import provenance
    from rppgbench.aggregation import aggregate_folds

    source, target = RunStore(Path(run_dir)), RunStore(Path(out))
    if not source.exists():
        raise ConfigError(f"{source.path}: not a run folder (no {source.manifest_path.name})")
    if target.path.resolve() == source.path.resolve():
        raise ConfigError("rescore writes a new run folder: choose an --out other than the run itself")
    if target.exists():
        raise ConfigError(f"{target.path} already holds a run; choose another --out")
    run = source.read_manifest()
    hr = hr_settings(dict(run.get("config", {}).get("hr") or {}), assignments)
    folds = [fold for fold in source.fold_stores() if fold.finished()]
    if not folds:
        raise ConfigError(f"{source.path}: no finished fold to rescore")
    for fold in folds:
        rescore_fold(fold, target.fold(fold.name), hr, window_format)
    result = aggregate_folds(target, [target.fold(f.name) for f in folds], hr, window_format)
    config = dict(run.get("config", {}))
    config["hr"] = hr
    if isinstance(config.get("protocol"), dict):  # the protocol's [hr] table, with the settings changed
        changed = {key.partition(".")[2]: hr[key.partition(".")[2]] for key in assignments}
        config["protocol"] = {**config["protocol"], "hr": {**config["protocol"].get("hr", {}), **changed}}
    target.write_manifest({**run, "config": config, "status": run.get("status", "complete"),
                           "checksums": target.checksums(),
                           "rescored_from": str(source.path), "rescore_settings": assignments,
                           "updated": provenance.now_iso(), "provenance": provenance.collect()})  # fmt: skip
    return result


@click.command("rescore")
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "--set", "assignments", multiple=True, metavar="hr.KEY=VALUE", help="Change an HR estimator setting."
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="New run folder to write.")
@click.option("--window-format", type=click.Choice(WINDOW_FORMATS), default="parquet", show_default=True,
              help="Format of the window-level HR table.")  # fmt: skip
def rescore_command(run_dir: Path, assignments: tuple[str, ...], out: Path, window_format: str) -> None:
    """Recompute HR, metrics and tables of RUN from its stored signals, without running the method.

    A method that estimates HR itself keeps its stored HRs; its reference HR and metrics are redone.
    """
    from rppgbench.cli import print_summary

    rescore_run(run_dir, out, parse_assignments(assignments), window_format)
    print_summary(out)
