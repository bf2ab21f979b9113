"""The benchmark grid: same per-video predictions on every executor, failures recorded, resume."""

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from rppgbench.cli import build_cli
from rppgbench.executors import LocalExecutor
from rppgbench.method import Method
from rppgbench.plugins import registry
from rppgbench.runner import RunOptions, execute_plans, plan_run


def _grid(tmp_path, executor: str) -> dict[str, pd.DataFrame]:
    out = tmp_path / executor
    args = ["grid", "--methods", "pos,chrom", "--protocols", "synth-mini", "--out-root", str(out),
            "--executor", executor, "--jobs", "2", "--quiet"]  # fmt: skip
    result = CliRunner().invoke(build_cli(), args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "pos" in result.output and "chrom" in result.output  # the compare table closes the grid
    columns = ["video_id", "fold", "status", "hr_pred", "hr_ref"]
    return {m: pd.read_csv(out / "synth-mini" / m / "predictions.csv")[columns].sort_values("video_id")
            for m in ("pos", "chrom")}  # fmt: skip


def test_ray_grid_matches_local_grid(tmp_path):
    local, on_ray = _grid(tmp_path, "local"), _grid(tmp_path, "ray")
    for method in local:
        pd.testing.assert_frame_equal(
            local[method].reset_index(drop=True), on_ray[method].reset_index(drop=True)
        )
        assert (local[method]["status"] == "ok").all()


class ExplodingTrainer(Method):
    """A training method whose training always crashes (to test failure handling)."""

    name = "exploding"
    trains = True

    def fit(self, train, context):
        raise RuntimeError("CUDA out of memory (simulated)")

    def predict(self, clip):  # pragma: no cover - never reached
        raise AssertionError


def test_failing_fold_jobs_are_retried_recorded_and_do_not_stop_the_grid(tmp_path, monkeypatch):
    monkeypatch.setitem(registry().methods, "exploding", ExplodingTrainer)
    plans = [
        plan_run(RunOptions(m, "synth-mini", out=tmp_path / m, progress=False)) for m in ("exploding", "pos")
    ]
    outcomes = execute_plans(plans, LocalExecutor(retries=1))
    assert all(
        not o.ok and o.attempts == 2 and "out of memory" in o.error for o in outcomes[tmp_path / "exploding"]
    )
    assert all(o.ok for o in outcomes[tmp_path / "pos"])
    failed = json.loads((tmp_path / "exploding" / "folds" / "1" / "failed.json").read_text())
    assert "out of memory" in failed["error"]
    run = json.loads((tmp_path / "exploding" / "run.json").read_text())
    assert run["status"] == "incomplete"
    assert json.loads((tmp_path / "pos" / "run.json").read_text())["status"] == "complete"


def test_rerun_resumes_finished_folds(tmp_path):
    options = RunOptions("pos", "synth-mini", out=tmp_path / "pos", progress=False)
    execute_plans([plan_run(options)], LocalExecutor())
    fold_file = tmp_path / "pos" / "folds" / "2" / "metrics.json"
    stamp = fold_file.stat().st_mtime_ns
    (tmp_path / "pos" / "folds" / "3" / "metrics.json").unlink()  # as if interrupted during fold 3
    plan = plan_run(options)
    assert [f.name for f in plan.folds if not plan.fold_done(f)] == ["3"]
    execute_plans([plan], LocalExecutor())
    assert fold_file.stat().st_mtime_ns == stamp
    assert (tmp_path / "pos" / "folds" / "3" / "metrics.json").is_file()


def test_changed_configuration_refuses_to_resume(tmp_path):
    from rppgbench.errors import ConfigError

    execute_plans(
        [plan_run(RunOptions("pos", "synth-mini", out=tmp_path / "r", progress=False))], LocalExecutor()
    )
    with pytest.raises(
        ConfigError, match=r"another configuration \(method\.params\.window_s: 1\.6 -> 2\.0\)"
    ):
        plan_run(RunOptions("pos", "synth-mini", params={"window_s": "2.0"}, out=tmp_path / "r"))
    plan = plan_run(
        RunOptions("pos", "synth-mini", params={"window_s": "2.0"}, out=tmp_path / "r", overwrite=True)
    )
    assert not (tmp_path / "r").exists() and not plan.fold_done(plan.folds[0])


def test_a_run_recorded_before_protocol_defaults_and_elsewhere_still_resumes(tmp_path):
    """run.json of an older rppgbench (no `version`, [reference]/[hr] written out, another checkout's
    protocol path) describes the same configuration: the folder resumes, every fold kept."""
    from rppgbench.store import RunStore

    options = RunOptions("pos", "synth-mini", out=tmp_path / "r", progress=False)
    execute_plans([plan_run(options)], LocalExecutor())
    store = RunStore(tmp_path / "r")
    manifest = store.read_manifest()
    protocol = manifest["config"]["protocol"]
    del protocol["version"]
    protocol |= {"reference": {"source": "waveform"}, "hr": {"method": "welch", "band_bpm": [40, 180]},
                 "_source": "/elsewhere/protocols/synth-mini.toml"}  # fmt: skip
    store.write_manifest(manifest)
    plan = plan_run(options)
    assert all(plan.fold_done(f) for f in plan.folds)
