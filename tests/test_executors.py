"""Executors: the same outcomes in-process, in a process pool and on Ray; retries; recorded failures."""

import sys
from pathlib import Path

import pytest

from rppgbench.executors import Job, LocalExecutor, ProcessExecutor, make_executor


def square(x: int) -> int:
    return x * x


def always_fails(message: str) -> None:
    raise RuntimeError(message)


def fails_first_time(marker: str) -> str:
    """Fails on the first call for a marker file, succeeds on the next (retry test)."""
    path = Path(marker)
    if not path.exists():
        path.write_text("seen")
        raise RuntimeError("transient failure")
    return "recovered"


def _jobs(tmp_path: Path) -> list[Job]:
    return [
        Job("a", square, (3,)),
        Job("boom", always_fails, ("bad video",)),
        Job("flaky", fails_first_time, (str(tmp_path / "marker"),)),
        Job("b", square, (4,)),
    ]


def _check(outcomes) -> None:
    by_key = {o.key: o for o in outcomes}
    assert [o.key for o in outcomes] == ["a", "boom", "flaky", "b"]
    assert by_key["a"].value == 9 and by_key["b"].value == 16
    assert not by_key["boom"].ok and "bad video" in by_key["boom"].error and by_key["boom"].attempts == 2
    assert by_key["flaky"].ok and by_key["flaky"].value == "recovered" and by_key["flaky"].attempts == 2


def test_local_executor_retries_then_records_failure(tmp_path):
    _check(LocalExecutor(retries=1).run_jobs(_jobs(tmp_path)))


def test_without_retries_a_transient_failure_is_recorded(tmp_path):
    outcomes = LocalExecutor(retries=0).run_jobs(_jobs(tmp_path))
    assert not outcomes[2].ok and outcomes[2].attempts == 1


def test_process_executor_retries_then_records_failure(tmp_path):
    executor = ProcessExecutor(jobs=2, retries=1)
    try:
        _check(executor.run_jobs(_jobs(tmp_path)))
    finally:
        executor.close()


@pytest.fixture(scope="module")
def ray_executor():
    import ray

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    executor = make_executor("ray", jobs=2, retries=1)
    yield executor
    executor.close()


def test_ray_executor_retries_then_records_failure(tmp_path, ray_executor):
    _check(ray_executor.run_jobs(_jobs(tmp_path)))


def test_gpu_jobs_run_on_a_cluster_without_gpus(ray_executor):
    (outcome,) = ray_executor.run_jobs([Job("gpu", square, (5,), num_gpus=1.0)])
    assert outcome.ok and outcome.value == 25


def test_unknown_executor():
    from rppgbench.errors import ConfigError

    with pytest.raises(ConfigError, match="valid: local, process, ray"):
        make_executor("slurm")


def test_under_torchrun_local_is_the_rank_aware_executor(monkeypatch):
    from rppgbench.errors import ConfigError
    from rppgbench.executors import TorchrunExecutor

    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    executor = make_executor("local")
    assert isinstance(executor, TorchrunExecutor) and executor.name == "local"
    with pytest.raises(ConfigError, match="no process group"):  # jobs need the session's process group
        executor.check_ready()
    with pytest.raises(ConfigError, match="with the local executor, not 'process'"):
        make_executor("process")
    monkeypatch.delenv("RANK")
    plain = make_executor("local")
    assert type(plain) is LocalExecutor and plain.is_main
