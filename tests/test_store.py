"""Result-store writes are atomic and round-trip."""

import math

import numpy as np
import pytest

from rppgbench.errors import StorageError
from rppgbench.store import atomic_write_bytes, read_json, read_predictions, write_json, write_predictions


def test_json_round_trip_converts_numpy_and_nan(tmp_path):
    write_json(tmp_path / "m.json", {"a": np.float32(1.5), "b": np.arange(3), "c": math.nan})
    assert read_json(tmp_path / "m.json") == {"a": 1.5, "b": [0, 1, 2], "c": None}


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "x.json"
    write_json(target, {"v": 1})

    class Boom:
        def __iter__(self):
            raise RuntimeError("disk full")

    with pytest.raises(TypeError):
        write_json(target, {"v": Boom()})
    assert read_json(target) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_atomic_write_cleans_up_on_error(tmp_path, monkeypatch):
    import os

    def fail(*_):
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(StorageError, match="y.bin: cannot write"):
        atomic_write_bytes(tmp_path / "y.bin", b"data")
    assert list(tmp_path.iterdir()) == []


def test_predictions_keep_ids_as_strings(tmp_path):
    rows = [{"video_id": "d/007/1", "subject": "007", "status": "ok", "hr_pred": 70.0, "hr_ref": 71.0},
            {"video_id": "d/008/1", "subject": "008", "status": "failed", "error": "x.avi: corrupt"}]  # fmt: skip
    write_predictions(tmp_path / "p.csv", rows)
    frame = read_predictions(tmp_path / "p.csv")
    assert list(frame["subject"]) == ["007", "008"]
    assert frame.loc[1, "error"] == "x.avi: corrupt" and math.isnan(frame.loc[1, "hr_pred"])


# ----------------------------------------------------------------------------- the run-folder layout
def test_fold_store_writes_results_last_metrics_and_reads_them_back(tmp_path):
    from rppgbench.signals import VideoSignals
    from rppgbench.store import RunStore
    from rppgbench.store.verify import fold_intact

    run = RunStore(tmp_path / "run")
    fold = run.fold("1")
    assert not fold.finished() and fold.failure() is None and run.fold_stores() == []
    rows = [{"video_id": "d/1/1", "status": "ok", "hr_pred": 70.0, "hr_ref": 71.0}]
    signals = [VideoSignals("d/1/1", 30.0, [np.zeros(4)], [np.arange(4) / 30.0], None)]
    windows = [{"video_id": "d/1/1", "fold": "1", "window": 0, "start_s": 0.0, "stop_s": 1.0,
                "hr_pred": 70.0, "hr_ref": 71.0, "snr_db": 1.0, "macc": 0.5}]  # fmt: skip
    fold.write_results(rows, {"metrics": {"n": 1}, "n_videos": 1}, signals, windows, "csv")
    assert fold.finished() and fold_intact(fold)
    assert fold.read_metrics()["n_videos"] == 1 and list(fold.read_predictions()["video_id"]) == ["d/1/1"]
    assert fold.find_windows() == fold.windows_path("csv") and fold.read_signals()[0].video_id == "d/1/1"
    assert [f.name for f in run.fold_stores()] == ["1"]
    fold.record_failure("boom", 2)
    assert fold.failure() == "boom"
    fold.failed_path.write_text("{not json")
    assert "damaged" in fold.failure()
    fold.clear_failure()
    assert fold.failure() is None


def test_run_store_manifest_checksums_and_finding_runs(tmp_path):
    from rppgbench.store import RunStore, find_runs

    run = RunStore(tmp_path / "a" / "run")
    assert not run.exists() and find_runs(tmp_path) == []
    run.write_metrics({"n_videos": 0})
    run.write_manifest({"status": "complete", "checksums": run.checksums()})
    assert run.exists() and set(run.read_manifest()["checksums"]) == {run.metrics_path.name}
    run.fold("1").write_metrics({})  # a fold folder is no run of its own
    assert find_runs(tmp_path) == [run.path] and find_runs(run.path) == [run.path]
    run.remove()
    assert not run.path.exists()


def _string_literals(path):
    """String constants of a module that are not documentation."""
    import ast

    tree = ast.parse(path.read_text())
    docstrings = {  # a string standing alone as a statement documents what precedes or encloses it
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_no_module_outside_the_store_spells_a_run_folder_file_name():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    name = re.compile(r"\b(run|metrics|failed|training)\.json\b|predictions\.csv|model\.pt|signals\.npz")
    offenders = []
    for path in sorted([*root.joinpath("rppgbench").rglob("*.py"), *root.joinpath("plugins").rglob("*.py")]):
        relative = path.relative_to(root).as_posix()
        if relative.startswith("rppgbench/store/"):
            continue
        offenders += [f"{relative}: {text!r}" for text in _string_literals(path) if name.search(text)]
    assert not offenders, offenders


def test_results_record_the_command_without_the_path_to_the_program(monkeypatch):
    from rppgbench.provenance import command_line

    monkeypatch.setattr("sys.argv", ["/opt/envs/lab/bin/rppgbench", "run", "--method", "pos"])
    assert command_line() == ["rppgbench", "run", "--method", "pos"]
