"""Runs a method under a protocol: plan, prepare, execute one job per fold, aggregate.

Each step has its module: `planning` (what to run, and whether a run folder can be resumed),
`preparation` (cached face-crop clips), `execution` (one fold's training and scoring), `aggregation`
(the run's files from the folds'); `rppgbench.store` owns the run folder and `rppgbench.executors`
where jobs run (including torchrun's ranks). A finished fold is skipped on re-run (resume); a video
that fails is recorded with its reason and the run goes on. Importing this module imports no torch.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rppgbench import provenance
from rppgbench.aggregation import aggregate, aggregate_folds, summarise
from rppgbench.execution import run_fold
from rppgbench.executors import Executor, Job, JobOutcome, make_executor
from rppgbench.lifecycle import terminate_as_interrupt
from rppgbench.planning import RESULTS_ROOT, DataPlan, RunOptions, RunPlan, plan_data, plan_run, run_config
from rppgbench.plugins import registry
from rppgbench.preparation import PreparedFold, prepare_fold, prepare_plans
from rppgbench.protocol import Fold

__all__ = [
    "RESULTS_ROOT",
    "DataPlan",
    "PreparedFold",
    "RunOptions",
    "RunPlan",
    "aggregate",
    "aggregate_folds",
    "execute_plans",
    "plan_data",
    "plan_run",
    "prepare_fold",
    "run",
    "run_config",
    "run_fold",
    "summarise",
    "write_run_manifest",
]


def run(options: RunOptions, executor: Executor | None = None) -> Path:
    """Plan the run, execute its jobs (in this process by default), aggregate; returns the run folder."""
    executor = executor or make_executor("local")
    with executor.session():  # torchrun: one process group for the whole run
        with executor.main_first():  # rank 0 lists (or generates) the records first
            plan = plan_run(options, is_main=executor.is_main)
        execute_plans([plan], executor)
    return plan.out


def execute_plans(plans: Sequence[RunPlan], executor: Executor) -> dict[Path, list[JobOutcome]]:
    """Preprocess what the plans' unfinished folds need, run those folds as jobs, then aggregate each run.

    The fold jobs of every plan go to the executor in one batch, so a grid keeps all workers busy.
    A fold job that fails after its retries is recorded in its fold folder; the others go on.
    """
    executor.check_ready()
    main = executor.is_main  # under torchrun only rank 0 writes the run's files
    started = provenance.now_iso()
    pending = {plan.out: [fold for fold in plan.folds if not plan.fold_done(fold)] for plan in plans}
    if main:
        for plan in plans:
            write_run_manifest(plan, status="running", started=started)
            plan.store.clean_temporaries()  # left by a killed run
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
    plans: Sequence[RunPlan], executor: Executor, pending: dict[Path, list[Fold]], started: str, main: bool
) -> dict[Path, list[JobOutcome]]:
    prepared = prepare_plans(plans, pending, executor)
    jobs, owners = [], []
    for plan in plans:
        for fold in pending[plan.out]:
            key = f"{plan.method_class.name} {plan.protocol.name} fold {fold.name}"
            gpus = 1.0 if plan.method_class.trains else 0.0
            job_args = (plan, PreparedFold.of(plan.protocol.name, fold, prepared), main)
            jobs.append(Job(key, run_fold, job_args, num_gpus=gpus))
            owners.append((plan, fold))
    outcomes = executor.run_jobs(jobs)
    by_run: dict[Path, list[JobOutcome]] = {plan.out: [] for plan in plans}
    if not main:  # the other ranks only trained; rank 0 evaluated and writes
        return by_run
    for (plan, fold), outcome in zip(owners, outcomes, strict=True):
        by_run[plan.out].append(outcome)
        if outcome.ok:
            plan.fold_store(fold).clear_failure()
        else:
            plan.fold_store(fold).record_failure(outcome.error, outcome.attempts)
    for plan in plans:
        result = aggregate(plan)
        status = "complete" if not result["failed_folds"] else "incomplete"
        write_run_manifest(plan, status=status, started=started)
    return by_run


def write_run_manifest(plan: RunPlan, status: str, started: str, error: str | None = None) -> None:
    """Write run.json: configuration, provenance, status, the writing process and, once finished, checksums.

    `pid` and `host` let a reader tell a live `running` run from one killed without notice.
    """
    finished = status in ("complete", "incomplete")
    plan.store.write_manifest({
        "status": status,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        **({"error": error} if error else {}),
        **({"checksums": plan.store.checksums()} if finished else {}),
        "config": run_config(plan),
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
