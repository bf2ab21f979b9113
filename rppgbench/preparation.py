"""Preparation: every record a fold needs made into a cached face-crop clip, before any fold runs.

`PreparedFold` is what a fold job, or a plugin (AutoHR's search, an ablation), gets: the fold's
records with their prepared clips, without the plan behind them. `prepare_fold` makes one from a
protocol name and a fold name; `prepare_plans` prepares what the runner's unfinished folds need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rppgbench.data import Clip, Record
from rppgbench.dataset import DatasetLoader
from rppgbench.errors import RppgbenchError
from rppgbench.executors import Executor, Job, LocalExecutor
from rppgbench.planning import DataPlan, plan_data
from rppgbench.protocol import Fold

if TYPE_CHECKING:
    from rppgbench.planning import RunPlan
    from rppgbench.preprocess import PrepResult, PreprocessConfig

NOT_PREPARED = "not preprocessed"


@dataclass(frozen=True)
class PreparedFold:
    """One fold's training and test records and, by record id, the outcome of preparing each."""

    name: str
    protocol: str
    train: list[Record]
    test: list[Record]
    results: Mapping[str, PrepResult] = field(default_factory=dict)

    @classmethod
    def of(cls, protocol: str, fold: Fold, results: Mapping[str, Any]) -> PreparedFold:
        """The fold with the results of its own records (others in `results` are left out)."""
        own = {r.id: results[r.id] for r in fold.train + fold.test if results.get(r.id) is not None}
        return cls(fold.name, protocol, list(fold.train), list(fold.test), own)

    def error(self, record: Record) -> str | None:
        """Why `record` has no clip (None when it has one)."""
        result = self.results.get(record.id)
        if result is None:
            return NOT_PREPARED
        return None if result.ok else (result.error or NOT_PREPARED)

    def clip(self, record: Record) -> Clip:
        """The prepared clip of `record`, frames read lazily (RppgbenchError when it has none)."""
        from rppgbench.preprocess import load_clip

        reason = self.error(record)
        if reason is not None:
            raise RppgbenchError(reason)
        return load_clip(self.results[record.id].path, record)

    def clip_path(self, record: Record) -> Path | None:
        """The clip file of `record` (None when it has none)."""
        return None if self.error(record) else self.results[record.id].path

    def usable_training(self) -> list[Record]:
        """Training records whose clip was prepared."""
        return [r for r in self.train if self.error(r) is None]

    def failed_training(self) -> dict[str, str]:
        """Training record id -> why it has no clip."""
        return {r.id: reason for r in self.train if (reason := self.error(r)) is not None}

    def training_clips(self) -> list[Clip]:
        """The clips of the usable training records; RppgbenchError when there is none."""
        usable = self.usable_training()
        if not usable:
            raise RppgbenchError(f"fold {self.name}: no usable training video (all {len(self.train)} failed)")
        return [self.clip(r) for r in usable]


def _config(data: DataPlan) -> PreprocessConfig:
    from rppgbench.preprocess import PreprocessConfig

    return PreprocessConfig.from_dict(data.protocol.preprocess)


def prepare_records(
    loader: DatasetLoader,
    records: list[Record],
    config: PreprocessConfig,
    cache_root: Path | None,
    workers: int = 1,
    progress: bool = True,
) -> dict[str, PrepResult]:
    """Preprocess (or reuse from the cache) records of one loader in this process's worker pool."""
    from rppgbench.preprocess import prepare

    return prepare(loader, records, config, cache_root, workers, progress)


def prepare_one(
    loader: DatasetLoader, record: Record, config: PreprocessConfig, cache_root: Path | None
) -> Any:
    """Preprocess one record (an executor job); its failure is part of the returned result."""
    return prepare_records(loader, [record], config, cache_root, workers=1, progress=False)[record.id]


def prepare_fold(
    protocol: str | Path,
    fold: str,
    data_roots: Mapping[str, Path] | None = None,
    *,
    split_file: Path | None = None,
    cache_root: Path | None = None,
    workers: int = 1,
    progress: bool = True,
    test: bool = False,
) -> PreparedFold:
    """Prepare (or reuse from the cache) the training videos of one fold of a protocol, and with
    `test` its test videos too: the public way for a plugin to get a fold's clips."""
    data = plan_data(protocol, data_roots, folds=[str(fold)], split_file=split_file)
    chosen = data.fold(str(fold))
    config = _config(data)
    wanted = [r.id for r in chosen.train + (chosen.test if test else [])]
    results: dict[str, Any] = {}
    for loader, records in data.by_loader(wanted):  # each record by the loader of its dataset role
        results |= prepare_records(loader, records, config, cache_root, workers, progress)
    return PreparedFold.of(data.protocol.name, chosen, results)


def prepare_plans(
    plans: Sequence[RunPlan], pending: Mapping[Path, Sequence[Fold]], executor: Executor
) -> dict[str, Any]:
    """Prepared-clip results by record id for the pending folds: one batch per loader in this process
    (rank 0 first under torchrun, so the others read its cache), per-video jobs on other executors."""
    from rppgbench.preprocess import PrepResult

    prepared: dict[str, Any] = {}
    jobs = []
    for plan in plans:
        options, config = plan.options, _config(plan)
        wanted = [r.id for fold in pending[plan.out] for r in fold.train + fold.test if r.id not in prepared]
        for loader, records in plan.by_loader(wanted):
            if isinstance(executor, LocalExecutor):
                progress = options.progress and executor.is_main
                with executor.main_first():
                    prepared |= prepare_records(
                        loader, records, config, options.cache_root, options.workers, progress
                    )
                continue
            for record in records:
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
