"""Runs a method under a protocol: every fold trains (if the method trains) and predicts its test videos.

The work is expressed as independent jobs, one per fold, so any executor can run them; each job
writes its own files atomically and a finished fold is skipped on re-run (resume). A video that
fails is recorded with its reason and the run goes on.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from rppgbench import provenance
from rppgbench.accounting import account
from rppgbench.data import Record
from rppgbench.dataset import DatasetLoader
from rppgbench.errors import ConfigError, DamagedRunError, RppgbenchError, UnknownNameError
from rppgbench.evaluation import evaluate_video
from rppgbench.executors import Executor, Job, JobOutcome, LocalExecutor
from rppgbench.integrity import clean_stale_temporaries
from rppgbench.lifecycle import terminate_as_interrupt
from rppgbench.method import FitContext, Method
from rppgbench.metrics import hr_metrics
from rppgbench.plugins import registry
from rppgbench.protocol import Fold, Protocol, check_preprocess, excluded_records, load_protocol, make_folds
from rppgbench.recipes import Recipe, get_recipe, layered_params
from rppgbench.run_verify import effective_status, file_checksums, fold_intact
from rppgbench.signals import (
    SIGNALS_FILE,
    VideoSignals,
    combine_windows,
    window_file,
    window_rows,
    write_signals,
    write_windows,
)
from rppgbench.store import atomic_write_bytes, read_json, read_predictions, write_json, write_predictions
from rppgbench.training import distributed
from rppgbench.weights import ShippedWeights, get_weights

RESULTS_ROOT = Path("results")


@dataclass
class RunOptions:
    """What `rppgbench run` was asked to do."""

    method: str
    protocol: str | Path
    params: dict[str, Any] = field(default_factory=dict)
    data_roots: Mapping[str, Path] = field(default_factory=dict)
    out: Path | None = None
    seed: int = 0
    workers: int = 1
    cache_root: Path | None = None
    device: str | None = None
    folds: list[str] | None = None
    split_file: Path | None = None
    progress: bool = True
    recipe: str | None = None
    window_format: str = "parquet"
    """Format of the window-level HR tables: parquet or csv."""
    overwrite: bool = False
    """Replace an existing run folder of another configuration instead of refusing."""


@dataclass
class RunPlan:
    """A run resolved into its protocol, loaders, folds and output folder; `fold_jobs` are independent."""

    options: RunOptions
    protocol: Protocol
    method_class: type[Method]
    method_config: dict[str, Any]
    loaders: dict[str, DatasetLoader]
    records: dict[str, list[Record]]
    folds: list[Fold]
    out: Path
    recipe: Recipe | None = None
    excluded: list[Record] = field(default_factory=list)  # records the split file excludes
    not_selected: list[Record] = field(default_factory=list)  # test records of folds left out by --fold
    weights: ShippedWeights | None = None  # a `pretrained` recipe: evaluate these, train nothing

    def fold_dir(self, fold: Fold) -> Path:
        """Folder of one fold's files."""
        return self.out / "folds" / fold.name

    def fold_done(self, fold: Fold) -> bool:
        """True when the fold finished in an earlier run and its files are intact (else it is redone)."""
        return fold_intact(self.fold_dir(fold))


def resolve_root(data_roots: Mapping[str, Path], role: str, dataset: str) -> Path | None:
    """The data root for a dataset: by dataset name, by role, or the single unnamed root."""
    for key in (dataset, role, ""):
        if key in data_roots:
            return Path(data_roots[key])
    return None


def plan_run(options: RunOptions) -> RunPlan:
    """Resolve names, check the configuration against an existing run folder, and split into folds."""
    protocol = load_protocol(options.protocol, options.split_file)
    check_preprocess(protocol)
    plugins = registry()
    method_class = plugins.method(options.method)
    recipe = get_recipe(options.method, options.recipe) if options.recipe else None
    weights = shipped_weights_of(recipe, options.method) if recipe is not None else None
    if recipe is not None:  # method defaults < (shipped weights' settings) < recipe < --set
        base = weights_params(weights, method_class) if weights is not None else {}
        if weights is not None and options.device:  # no training to pass it to: the method loads onto it
            base["device"] = options.device
        options = replace(options, params={**base, **layered_params(recipe, options.params)})
    method_config = method_class(**options.params).config  # validates parameters before any work
    loaders = {role: _loader(protocol, role, options) for role in protocol.datasets}
    records = {role: loader.records() for role, loader in loaders.items()}
    folds = make_folds(protocol, records)
    excluded = excluded_records(protocol, records)
    not_selected: list[Record] = []
    if options.folds:
        unknown = sorted(set(options.folds) - {f.name for f in folds})
        if unknown:
            raise ConfigError(f"unknown fold(s) {unknown}; this protocol has {[f.name for f in folds]}")
        not_selected = [r for f in folds if f.name not in options.folds for r in f.test]
        folds = [f for f in folds if f.name in options.folds]
    out = options.out or RESULTS_ROOT / protocol.name / options.method
    plan = RunPlan(options, protocol, method_class, method_config, loaders, records, folds, Path(out),
                   recipe=recipe, excluded=excluded, not_selected=not_selected, weights=weights)  # fmt: skip
    _check_resumable(plan)
    return plan


def shipped_weights_of(recipe: Recipe, method: str) -> ShippedWeights | None:
    """The shipped weights a recipe evaluates (None for a recipe that trains), checked to be `method`'s."""
    if not recipe.weights:
        return None
    weights = get_weights(recipe.weights)
    if weights.method != method:
        raise ConfigError(
            f"recipe {recipe.source}: weights {weights.name!r} belong to method {weights.method!r}, not {method!r}"
        )
    return weights


def weights_params(weights: ShippedWeights, method_class: type[Method]) -> dict[str, Any]:
    """The parameters the shipped weights were trained with (those `method_class` knows), read from the
    verified file: a run records the settings the weights really use."""
    from rppgbench.training.neural_method import read_weights_info

    saved = read_weights_info(weights.verify())["config"]
    known = {p.name for p in method_class.params}
    return {key: value for key, value in saved.items() if key in known and key != "device"}


def _loader(protocol: Protocol, role: str, options: RunOptions) -> DatasetLoader:
    """The dataset loader of one role; a wrong name or option names the protocol file and table."""
    spec = protocol.datasets[role]
    table = "[dataset]" if role == "data" else f"[split.{role}]"
    try:
        cls = registry().dataset(spec.name)
        return cls(resolve_root(options.data_roots, role, spec.name), **spec.options)
    except (ConfigError, UnknownNameError) as exc:
        if "--data-root" in str(exc):
            raise
        raise ConfigError(f"{protocol.source or protocol.name}: {table} {exc}") from exc


def run_config(plan: RunPlan) -> dict[str, Any]:
    """The part of run.json that must match for a run folder to be resumed."""
    config = {
        "method": {"name": plan.method_class.name, "api_version": plan.method_class.api_version,
                   "trains": plan.method_class.trains, "params": plan.method_config},
        "protocol": plan.protocol.to_dict(),
        "seed": plan.options.seed,
        "hr": plan.protocol.hr_config().to_dict(),
        "datasets": {role: loader.describe() for role, loader in plan.loaders.items()},
    }  # fmt: skip
    if plan.recipe is not None:
        config["recipe"] = plan.recipe.record()
    if plan.weights is not None:
        config["weights"] = plan.weights.record()
    return config


def _check_resumable(plan: RunPlan) -> None:
    """Resume a run folder of the same configuration; name what differs otherwise (or replace it)."""
    existing = plan.out / "run.json"
    if not existing.is_file():
        return
    if plan.options.overwrite:
        import shutil

        shutil.rmtree(plan.out)
        return
    try:
        manifest = read_json(existing)
        before = manifest.get("config")
    except (ValueError, AttributeError) as exc:
        raise DamagedRunError(
            f"{existing}: damaged run file ({exc}); choose another --out or delete that folder"
        ) from exc
    live = effective_status(manifest) == "running" and manifest.get("host") == socket.gethostname()
    if live and manifest.get("pid") not in (None, os.getpid()) and distributed.is_main_process():
        raise ConfigError(
            f"{plan.out}: another run (process {manifest['pid']} on {manifest.get('host')}) is writing this "
            "folder; wait for it, or choose another --out"
        )
    now = _normalised(run_config(plan))
    if before != now:
        from rppgbench.configdiff import describe, differences

        raise ConfigError(
            f"{plan.out} holds a run with another configuration ({describe(differences(before, now))}); "
            "pass --overwrite to replace it, or choose another --out"
        )


def _normalised(config: dict[str, Any]) -> dict[str, Any]:
    import json

    from rppgbench.store import _jsonable

    return json.loads(json.dumps(_jsonable(config)))


def run(options: RunOptions, executor: Executor | None = None) -> Path:
    """Plan the run, execute its jobs (in this process by default), aggregate; returns the run folder."""
    with distributed.distributed_context():  # torchrun: one process group for the whole run
        with distributed.main_process_first():  # rank 0 lists (or generates) the records first
            plan = plan_run(options)
        execute_plans([plan], executor or LocalExecutor())
    return plan.out


def execute_plans(plans: list[RunPlan], executor: Executor) -> dict[Path, list[JobOutcome]]:
    """Preprocess what the plans' unfinished folds need, run those folds as jobs, then aggregate each run.

    The fold jobs of every plan go to the executor in one batch, so a grid keeps all workers busy.
    A fold job that fails after its retries is recorded in `folds/<fold>/failed.json`; the others go on.
    """
    _check_distributed(executor)
    main = distributed.is_main_process()  # under torchrun only rank 0 writes the run's files
    started = provenance.now_iso()
    pending = {plan.out: [fold for fold in plan.folds if not plan.fold_done(fold)] for plan in plans}
    if main:
        for plan in plans:
            write_run_manifest(plan, status="running", started=started)
            clean_stale_temporaries(plan.out, recursive=True)  # left by a killed run
    try:
        with terminate_as_interrupt():
            return _execute(plans, executor, pending, started, main)
    except BaseException as exc:  # Ctrl-C, SIGTERM, a full disk: run.json must not say `running`
        if main:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            for plan in plans:
                with contextlib.suppress(Exception):
                    write_run_manifest(plan, status=status, started=started, error=str(exc))
        raise


def _execute(
    plans: list[RunPlan], executor: Executor, pending: dict[Path, list[Fold]], started: str, main: bool
) -> dict[Path, list[JobOutcome]]:
    prepared = _prepare_all(plans, pending, executor)
    jobs, owners = [], []
    for plan in plans:
        for fold in pending[plan.out]:
            needed = {r.id: prepared[r.id] for r in fold.train + fold.test if r.id in prepared}
            key = f"{plan.method_class.name} {plan.protocol.name} fold {fold.name}"
            gpus = 1.0 if plan.method_class.trains else 0.0
            jobs.append(Job(key, run_fold, (plan, fold, needed), num_gpus=gpus))
            owners.append((plan, fold))
    outcomes = executor.run_jobs(jobs)
    by_run: dict[Path, list[JobOutcome]] = {plan.out: [] for plan in plans}
    if not main:  # the other ranks only trained; rank 0 evaluated and writes
        return by_run
    for (plan, fold), outcome in zip(owners, outcomes, strict=True):
        by_run[plan.out].append(outcome)
        if outcome.ok:
            (plan.fold_dir(fold) / "failed.json").unlink(missing_ok=True)
        else:
            write_json(
                plan.fold_dir(fold) / "failed.json", {"error": outcome.error, "attempts": outcome.attempts}
            )
    for plan in plans:
        result = aggregate(plan)
        status = "complete" if not result["failed_folds"] else "incomplete"
        write_run_manifest(plan, status=status, started=started)
    return by_run


def _check_distributed(executor: Executor) -> None:
    """Under torchrun, fold jobs must run in these processes (the local executor) with a process group."""
    if distributed.launched_by_torchrun() and not distributed.is_distributed():
        raise ConfigError(
            "launched by torchrun but no process group: use `rppgbench run` for multi-GPU training"
        )
    if distributed.is_distributed() and not isinstance(executor, LocalExecutor):
        raise ConfigError(
            f"multi-GPU data-parallel training runs with the local executor, not {executor.name!r}"
        )


def _prepare_all(plans: list[RunPlan], pending: dict[Path, list[Fold]], executor: Executor) -> dict[str, Any]:
    """Prepared-clip results by record id: one batch per loader locally, per-video jobs elsewhere."""
    from rppgbench.preprocess import PrepResult, PreprocessConfig

    prepared: dict[str, Any] = {}
    jobs = []
    for plan in plans:
        needed = {r.id for fold in pending[plan.out] for r in fold.train + fold.test}
        config = PreprocessConfig.from_dict(plan.protocol.preprocess)
        options = plan.options
        for role, loader in plan.loaders.items():
            wanted = [r for r in plan.records[role] if r.id in needed and r.id not in prepared]
            if isinstance(executor, LocalExecutor) and wanted:
                prepared |= prepare_records(loader, wanted, config, options)
                continue
            for record in wanted:
                prepared[record.id] = None
                jobs.append(
                    Job(f"prepare {record.id}", prepare_one, (loader, record, config, options.cache_root))
                )
    for job, outcome in zip(jobs, executor.run_jobs(jobs), strict=True):
        record_id = job.args[1].id
        prepared[record_id] = (
            outcome.value if outcome.ok else PrepResult(record_id, False, error=outcome.error)
        )
    return prepared


def prepare_records(
    loader: DatasetLoader, records: list[Record], config: Any, options: RunOptions
) -> dict[str, Any]:
    """Preprocess (or reuse from the cache) records of one loader in this process's worker pool."""
    from rppgbench.preprocess import prepare

    progress = options.progress and distributed.is_main_process()
    with distributed.main_process_first():  # torchrun: rank 0 fills the cache, the others then read it
        return prepare(loader, records, config, options.cache_root, options.workers, progress)


def prepare_one(loader: DatasetLoader, record: Record, config: Any, cache_root: Path | None) -> Any:
    """Preprocess one record (an executor job); its failure is part of the returned result."""
    from rppgbench.preprocess import prepare

    return prepare(loader, [record], config, cache_root, workers=1, progress=False)[record.id]


def write_run_manifest(plan: RunPlan, status: str, started: str, error: str | None = None) -> None:
    """Write run.json: configuration, provenance, status, the writing process and, once finished, checksums.

    `pid` and `host` let a reader tell a live `running` run from one killed without notice.
    """
    finished = status in ("complete", "incomplete")
    write_json(plan.out / "run.json", {
        "status": status,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        **({"error": error} if error else {}),
        **({"checksums": file_checksums(plan.out)} if finished else {}),
        "config": _normalised(run_config(plan)),
        "method": plan.method_class.name,
        "protocol": plan.protocol.name,
        "folds": [f.name for f in plan.folds],
        "started": started,
        "updated": provenance.now_iso(),
        "provenance": provenance.collect(),
        "plugins": plugin_origins(plan),
    })  # fmt: skip


def plugin_origins(plan: RunPlan) -> dict[str, Any]:
    """Plugin, package and version that provided the method and each dataset loader of the run."""
    plugins = registry()
    return {
        "method": plugins.package_of("method", plan.method_class.name),
        "datasets": {
            role: plugins.package_of("dataset", type(loader).name) for role, loader in plan.loaders.items()
        },
    }


def _row(record: Record, fold: Fold, **values: Any) -> dict[str, Any]:
    identity = {"video_id": record.id, "dataset": record.dataset, "subject": record.subject}
    where = {
        "session": record.session,
        "scenario": record.scenario,
        "source": record.source,
        "fold": fold.name,
    }
    return identity | where | {"error": ""} | values


def _failed(record: Record, fold: Fold, reason: str) -> dict[str, Any]:
    return _row(record, fold, status="failed", error=reason, n_windows=0)


def run_fold(plan: RunPlan, fold: Fold, prepared: Mapping[str, Any]) -> dict[str, Any]:
    """Train on the fold's training records (if the method trains), predict its test videos, write files."""
    from rppgbench.preprocess import load_clip

    fold_dir = plan.fold_dir(fold)
    timings: dict[str, float] = {}
    method = plan.method_class(**plan.options.params)
    if plan.weights is not None:  # a `pretrained` recipe: the shipped weights, no training
        begin = time.perf_counter()
        method.load(plan.weights.verify())
        timings["load_s"] = time.perf_counter() - begin
    elif method.trains:
        ok_train = [r for r in fold.train if prepared.get(r.id) is not None and prepared[r.id].ok]
        if not ok_train:
            raise RppgbenchError(f"fold {fold.name}: no usable training video (all {len(fold.train)} failed)")
        clips = [load_clip(prepared[r.id].path, r) for r in ok_train]
        begin = time.perf_counter()
        context = FitContext(work_dir=fold_dir / "work", seed=plan.options.seed, device=plan.options.device,
                             fold=fold.name, progress=plan.options.progress)  # fmt: skip
        method.fit(clips, context)
        method.save(fold_dir / "model.pt")
        history = context.work_dir / "training.json"  # per-epoch losses, kept beside the fold's results
        if history.is_file() and distributed.is_main_process():
            atomic_write_bytes(fold_dir / "training.json", history.read_bytes())
        timings["train_s"] = time.perf_counter() - begin
    if not distributed.is_main_process():  # torchrun: rank 0 alone evaluates and writes the fold's files
        return {"timings": timings, "rank": distributed.rank()}
    hr_config = plan.protocol.hr_config()
    rows, windows, kept = [], [], []
    begin = time.perf_counter()
    for record in tqdm(fold.test, desc=f"fold {fold.name}", disable=not plan.options.progress, unit="video"):
        result = prepared.get(record.id)
        if result is None or not result.ok:
            rows.append(_failed(record, fold, getattr(result, "error", "not preprocessed")))
            continue
        try:
            clip = load_clip(result.path, record)
            _check_reference(plan.protocol, clip.reference)
            estimate = evaluate_video(method, clip, plan.protocol.test, hr_config)
        except Exception as exc:  # one bad video never stops the run; its reason is kept
            reason = (
                str(exc) if isinstance(exc, RppgbenchError | ValueError) else traceback.format_exc(limit=3)
            )
            if str(record.location) not in reason and str(result.path) not in reason:
                reason = f"{record.location}: {reason}"  # every reason names the file
            rows.append(_failed(record, fold, f"{type(exc).__name__}: {reason}".strip()))
            continue
        rows.append(_row(
            record, fold, status="ok", hr_pred=estimate.hr_pred, hr_ref=estimate.hr_ref,
            abs_error=abs(estimate.hr_pred - estimate.hr_ref), snr_db=estimate.snr_db,
            n_windows=len(estimate.window_hr_pred),
            macc=estimate.macc,
        ))  # fmt: skip
        windows += window_rows(record.id, fold.name, estimate)
        kept.append(VideoSignals(record.id, clip.fps, estimate.signals, estimate.times, clip.reference))
    timings["test_s"] = time.perf_counter() - begin
    write_signals(fold_dir / SIGNALS_FILE, kept)
    write_windows(window_file(fold_dir, plan.options.window_format), windows)
    write_predictions(fold_dir / "predictions.csv", rows)
    summary = summarise(rows) | {"timings": timings, "n_train": len(fold.train)}
    write_json(fold_dir / "metrics.json", summary)
    return summary


def _check_reference(protocol: Protocol, reference: Any) -> None:
    if reference is None:
        raise RppgbenchError("the dataset gives no reference for this video")
    wanted_hr = protocol.reference_source == "dataset_hr"
    if wanted_hr != (reference.kind == "hr"):
        raise ConfigError(
            f"protocol {protocol.name!r} scores against {protocol.reference_source!r} "
            f"but the dataset's reference is of kind {reference.kind!r}"
        )


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Metrics over the ok rows plus counts and the list of failures with their reasons."""
    ok = [r for r in rows if r["status"] == "ok"]
    metrics = (
        hr_metrics(np.array([r["hr_pred"] for r in ok]), np.array([r["hr_ref"] for r in ok]))
        if ok
        else {"n": 0}
    )
    failures = [{"video_id": r["video_id"], "error": r["error"]} for r in rows if r["status"] != "ok"]
    return {"metrics": metrics, "n_videos": len(rows), "n_ok": len(ok), "n_failed": len(failures),
            "failures": failures}  # fmt: skip


def _fold_error(path: Path) -> str:
    try:
        return str(read_json(path)["error"])
    except (ValueError, KeyError, TypeError, OSError):
        return f"{path}: the fold failed (its error file is damaged)"


def aggregate(plan: RunPlan) -> dict[str, Any]:
    """Combine the finished folds' predictions into the run's predictions.csv and metrics.json."""
    failed_rows = []
    for fold in plan.folds:  # the test videos of a fold that failed as a whole are failed videos
        error_file = plan.fold_dir(fold) / "failed.json"
        if not plan.fold_done(fold) and error_file.is_file():
            reason = f"fold {fold.name} failed: {_fold_error(error_file).strip().splitlines()[-1]}"
            failed_rows += [_failed(record, fold, reason) for record in fold.test]
    return aggregate_folds(
        plan.out,
        [plan.fold_dir(f) for f in plan.folds],
        plan.protocol.hr_config().to_dict(),
        plan.options.window_format,
        failed_rows=failed_rows,
        accounting=lambda rows: account(plan, rows),
    )


def aggregate_folds(
    out: Path,
    fold_dirs: list[Path],
    hr_estimator: dict[str, Any],
    window_format: str,
    *,
    failed_rows: Sequence[dict[str, Any]] = (),
    accounting: Callable[[list[dict[str, Any]]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Combine fold folders (finished: with metrics.json) into `out`'s predictions, metrics and windows.

    `failed_rows` (videos of folds that failed as a whole) join the predictions; `accounting` maps the
    rows to the found = scored + failed + excluded record stored in metrics.json.
    """
    done = [d for d in fold_dirs if (d / "metrics.json").is_file()]
    failed_folds = {
        d.name: _fold_error(d / "failed.json")
        for d in fold_dirs
        if d not in done and (d / "failed.json").is_file()
    }
    frames = [read_predictions(d / "predictions.csv") for d in done]
    rows = [row for frame in frames for row in frame.to_dict("records")]
    rows += list(failed_rows)
    write_predictions(out / "predictions.csv", rows)
    per_fold = {d.name: read_json(d / "metrics.json")["metrics"] for d in done}
    summary = summarise(rows)
    result = {"overall": summary.pop("metrics"), "folds": per_fold, **summary, "failed_folds": failed_folds,
              "hr_estimator": hr_estimator}  # fmt: skip
    if accounting is not None:
        result["accounting"] = accounting(rows)
    write_json(out / "metrics.json", result)
    combine_windows(done, window_file(out, window_format))
    return result
