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
