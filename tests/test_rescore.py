"""Kept signals: a run stores each test video's signal and a window table; rescore recomputes from them."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from rppgbench.cli import build_cli
from rppgbench.signals import read_signals


def invoke(*args):
    return CliRunner().invoke(build_cli(), [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "pos"
    result = invoke("run", "--method", "pos", "--protocol", "synth-mini", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    return out


def test_run_keeps_signals_and_a_long_window_table(run_dir):
    predictions = pd.read_csv(run_dir / "predictions.csv")
    assert "window_hr_pred" not in predictions.columns and "macc" in predictions.columns
    windows = pd.read_parquet(run_dir / "windows.parquet")
    assert len(windows) == predictions["n_windows"].sum()
    assert list(windows.columns[:3]) == ["video_id", "fold", "window"]
    fold = sorted((run_dir / "folds").iterdir())[0]
    videos = read_signals(fold / "signals.npz")
    assert {v.video_id for v in videos} == set(pd.read_csv(fold / "predictions.csv")["video_id"])
    first = videos[0]
    assert len(first.signals[0]) == len(first.times[0]) and np.all(np.diff(first.times[0]) > 0)
    assert first.reference is not None and first.reference.kind == "ppg"


def test_rescore_with_the_same_settings_reproduces_the_run(run_dir, tmp_path):
    result = invoke("rescore", run_dir, "--out", tmp_path / "same")
    assert result.exit_code == 0, result.output
    before = pd.read_csv(run_dir / "predictions.csv").sort_values("video_id").reset_index(drop=True)
    after = pd.read_csv(tmp_path / "same" / "predictions.csv").sort_values("video_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)
    compared = invoke("compare", run_dir, tmp_path / "same", "--metrics", "mae,snr,macc")
    assert compared.exit_code == 0 and "MACC" in compared.output and "SNR (dB)" in compared.output


def test_rescore_with_other_hr_settings_records_them(run_dir, tmp_path):
    out = tmp_path / "peaks"
    result = invoke("rescore", run_dir, "--set", "hr.method=periodogram", "--set", "hr.band_bpm=45,150",
                    "--out", out, "--window-format", "csv")  # fmt: skip
    assert result.exit_code == 0, result.output
    import json

    run = json.loads((out / "run.json").read_text())
    assert run["config"]["hr"]["method"] == "periodogram" and run["config"]["hr"]["band_bpm"] == [45.0, 150.0]
    assert run["rescored_from"] == str(run_dir)
    assert (out / "windows.csv").is_file() and (out / "folds" / "1" / "signals.npz").is_file()


@pytest.mark.parametrize("setting", ["method=welch", "hr.nope=1", "hr.method=bogus"])
def test_rescore_rejects_bad_settings(run_dir, tmp_path, setting):
    result = invoke("rescore", run_dir, "--set", setting, "--out", tmp_path / "bad")
    assert result.exit_code == 2 and "Error" in result.output
