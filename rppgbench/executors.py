"""Executors run independent jobs (per-video preprocessing, per-fold train+test) and retry failures.

`local` runs them one after another in this process, `process` in a local process pool, `ray` as Ray
tasks with declared CPU/GPU resources on a local or existing Ray cluster. A job that still fails
after its retries becomes a failed `JobOutcome` with the reason; the other jobs go on.

Under torchrun, `local` is a `TorchrunExecutor`: every rank runs the same jobs in one process group
(data-parallel training), rank 0 goes first where files are made and alone writes results. The
executor owns that rank handling, so planning and the runner stay free of torch.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

from rppgbench.errors import ConfigError, RppgbenchError, StorageError

EXECUTORS = ("local", "process", "ray")
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE")
"""Set by torchrun in each process it launches."""


def launched_by_torchrun() -> bool:
    """True when torchrun's variables are in the environment (whether or not a process group exists)."""
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


@dataclass(frozen=True)
class Job:
    """A unit of work: a picklable top-level function and its arguments, with the resources it needs."""

    key: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    num_cpus: float = 1.0
    num_gpus: float = 0.0


@dataclass(frozen=True)
class JobOutcome:
    """What became of a job: its return value, or the error of its last attempt."""

    key: str
    ok: bool
    value: Any = None
    error: str | None = None
    attempts: int = 1


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RppgbenchError):
        return f"{type(exc).__name__}: {exc}"
    return "".join(traceback.format_exception(exc, limit=4)).strip()


class Executor(ABC):
    """Runs a batch of jobs and returns one outcome per job, in the jobs' order."""

    name: str

    def __init__(self, retries: int = 0):
        if retries < 0:
            raise ConfigError("--retries must be >= 0")
        self.retries = retries

    @abstractmethod
    def run_jobs(self, jobs: Sequence[Job]) -> list[JobOutcome]:
        """Run every job, retrying each failure up to `retries` times."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the executor's resources (pools, cluster connections)."""

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """The lifetime of a whole run on this executor (a torchrun process group); nothing by default."""
        yield

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """Let the writing process (rank 0) do the enclosed work before the others (it fills caches)."""
        yield

    @property
    def is_main(self) -> bool:
        """True in the process that writes results and reports (always, except on torchrun's other ranks)."""
        return True

    def check_ready(self) -> None:  # noqa: B027 - optional hook
        """Raise ConfigError when the executor cannot run jobs now (torchrun without its process group)."""


class LocalExecutor(Executor):
    """Runs jobs one after another in this process (the default; easiest to debug)."""

    name = "local"

    def run_jobs(self, jobs: Sequence[Job]) -> list[JobOutcome]:
        outcomes = []
        for job in jobs:
            for attempt in range(1, self.retries + 2):
                try:
                    outcomes.append(JobOutcome(job.key, True, job.fn(*job.args), attempts=attempt))
                    break
                except StorageError:  # a full or read-only disk is not the job's fault: stop the run
                    raise
                except Exception as exc:
                    if attempt > self.retries:
                        outcomes.append(JobOutcome(job.key, False, error=_describe(exc), attempts=attempt))
        return outcomes


class TorchrunExecutor(LocalExecutor):
    """The local executor in a process launched by torchrun: one process group per session, rank 0 writes.

    Every rank runs every job (the fold's training is data-parallel across the ranks); torch is
    imported only here, on first use.
    """

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        from rppgbench.training import distributed

        with distributed.distributed_context():
            yield

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        from rppgbench.training import distributed

        with distributed.main_process_first():
            yield

    @property
    def is_main(self) -> bool:
        from rppgbench.training import distributed

        return distributed.is_main_process()

    def check_ready(self) -> None:
        from rppgbench.training import distributed

        if not distributed.is_distributed():
            raise ConfigError(
                "launched by torchrun but no process group: use `rppgbench run` for multi-GPU training"
            )


class _SubmittingExecutor(Executor):
    """Shared retry bookkeeping for executors that submit jobs and wait on futures."""

    def run_jobs(self, jobs: Sequence[Job]) -> list[JobOutcome]:
        attempts = dict.fromkeys(range(len(jobs)), 0)
        outcomes: dict[int, JobOutcome] = {}
        pending = {index: self._submit(job) for index, job in enumerate(jobs)}
        while pending:
            index, handle = next(iter(pending.items()))
            del pending[index]
            attempts[index] += 1
            try:
                outcomes[index] = JobOutcome(
                    jobs[index].key, True, self._result(handle), attempts=attempts[index]
                )
            except StorageError:
                raise
            except Exception as exc:
                if attempts[index] > self.retries:
                    outcomes[index] = JobOutcome(
                        jobs[index].key, False, error=_describe(exc), attempts=attempts[index]
                    )
                else:
                    pending[index] = self._submit(jobs[index])
        return [outcomes[i] for i in range(len(jobs))]

    @abstractmethod
    def _submit(self, job: Job) -> Any: ...

    @abstractmethod
    def _result(self, handle: Any) -> Any: ...


class ProcessExecutor(_SubmittingExecutor):
    """A local pool of `jobs` spawned processes."""

    name = "process"

    def __init__(self, jobs: int = 2, retries: int = 0):
        super().__init__(retries)
        self.pool = ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=get_context("spawn"))

    def _submit(self, job: Job) -> Future:
        return self.pool.submit(job.fn, *job.args)

    def _result(self, handle: Future) -> Any:
        return handle.result()

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


def _call(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    return fn(*args)


class RayExecutor(_SubmittingExecutor):
    """Ray tasks with declared resources; `address` joins an existing cluster, else a local one starts.

    A job asking for GPUs on a cluster that has none runs on CPU instead of waiting forever.
    """

    name = "ray"

    def __init__(self, address: str | None = None, retries: int = 0, num_cpus: int | None = None):
        super().__init__(retries)
        try:
            import ray
        except ImportError as exc:
            raise ConfigError("the ray executor needs Ray: pip install 'rppgbench[ray]'") from exc
        self.ray = ray
        self._owns_cluster = not ray.is_initialized()
        if self._owns_cluster:
            ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                     log_to_driver=False, configure_logging=False)  # fmt: skip
        self.has_gpus = ray.cluster_resources().get("GPU", 0) > 0
        self._remote = ray.remote(_call)

    def _submit(self, job: Job) -> Any:
        gpus = job.num_gpus if self.has_gpus else 0
        return self._remote.options(num_cpus=job.num_cpus, num_gpus=gpus, max_retries=0).remote(
            job.fn, job.args
        )

    def _result(self, handle: Any) -> Any:
        try:
            return self.ray.get(handle)
        except self.ray.exceptions.RayTaskError as exc:
            cause = exc.as_instanceof_cause()
            raise (cause if isinstance(cause, Exception) else exc) from None

    def close(self) -> None:
        if self._owns_cluster:
            self.ray.shutdown()


def make_executor(name: str, jobs: int = 2, address: str | None = None, retries: int = 0) -> Executor:
    """The executor called `name` (local, process or ray); `local` under torchrun is a TorchrunExecutor."""
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor {name!r}; valid: {', '.join(EXECUTORS)}")
    if launched_by_torchrun() and name != "local":
        raise ConfigError(f"multi-GPU data-parallel training runs with the local executor, not {name!r}")
    if name == "local":
        return TorchrunExecutor(retries) if launched_by_torchrun() else LocalExecutor(retries)
    if name == "process":
        return ProcessExecutor(jobs, retries)
    return RayExecutor(address, retries, num_cpus=jobs if address is None else None)
