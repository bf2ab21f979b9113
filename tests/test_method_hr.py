"""Methods that estimate HR themselves (`estimates_hr`): contract, evaluation, stored signals, rescore,
compare and the conformance kit. Signal methods must behave exactly as before."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from rppgbench.cli import build_cli
from rppgbench.declared import MethodDeclaration
from rppgbench.errors import ConfigError
from rppgbench.evaluation import evaluate_video
from rppgbench.method import Method
from rppgbench.params import Param
from rppgbench.plugins import registry
from rppgbench.protocol import WindowingSpec
from rppgbench.signal.hr import HRConfig, estimate_hr
from rppgbench.signals import VideoSignals, read_signals, write_signals
from rppgbench.testing import check_method
from rppgbench.testing.clips import make_pulse_clip

OFFSET = 0.5


def green(clip) -> np.ndarray:
    """Mean green value of each frame (enough to read the pulse of the test clips)."""
    return np.asarray(clip.frames, dtype=np.float64)[..., 1].mean(axis=(1, 2))


class GreenHR(Method):
    """HR only: the shared estimator on the green trace, plus a fixed offset (to tell it apart)."""

    name = "test-green-hr"
    estimates_hr = True
    gives_signal = False
    params = (Param("offset", OFFSET, "added to the HR"),)

    def predict(self, clip):
        raise NotImplementedError("gives no signal")

    def predict_hr(self, clip) -> float:
        return estimate_hr(green(clip), clip.fps, HRConfig()) + float(self.config["offset"])


GREEN_BOTH = MethodDeclaration(
    name="test-green-both", target="tests.test_method_hr:GreenBoth", estimates_hr=True, gives_signal=True
)


class GreenBoth(Method, declaration=GREEN_BOTH):
    """A signal (the green trace) and its own HR (a constant)."""

    def predict(self, clip):
        return green(clip)

    def predict_hr(self, clip) -> float:
        return 77.0


def test_declaration_sets_the_flags_and_describe_records_them_only_when_set():
    assert GreenBoth.estimates_hr and GreenBoth.gives_signal
    assert GreenBoth().describe()["estimates_hr"] is True and "gives_signal" not in GreenBoth().describe()
    assert GreenHR().describe()["gives_signal"] is False
    pos = registry().method("pos")
    assert not pos.estimates_hr and pos.gives_signal
    assert set(pos().describe()) == {"name", "api_version", "trains", "params"}  # results unchanged
    with pytest.raises(ConfigError, match="neither"):
        MethodDeclaration(name="x", target="a:b", gives_signal=False)


def test_evaluation_takes_each_windows_hr_from_the_method():
    clip = make_pulse_clip("s1", 72.0, frames=300, size=16)
    spec = WindowingSpec(mode="clips", clip_seconds=5.0, n_clips=2)
    only = evaluate_video(GreenHR(), clip, spec, HRConfig())
    assert only.method_hr and len(only.window_hr_pred) == 2
    assert only.window_hr_pred[0] == pytest.approx(
        estimate_hr(green(clip.window(0, 150)), clip.fps, HRConfig()) + OFFSET
    )
    assert abs(only.hr_ref - 72.0) < 2 and math.isnan(only.snr_db) and math.isnan(only.macc)
    assert [len(s) for s in only.signals] == [0, 0] and [len(t) for t in only.times] == [150, 150]
    both = evaluate_video(GreenBoth(), clip, spec, HRConfig())
    assert both.window_hr_pred == [77.0, 77.0] and both.hr_pred == 77.0 and math.isfinite(both.snr_db)
    assert [len(s) for s in both.signals] == [150, 150]


def test_stored_signals_keep_method_hr_and_signal_methods_store_what_they_did(tmp_path):
    times = [np.arange(4) / 30.0]
    plain = VideoSignals("a", 30.0, [np.ones(4)], times, None)
    with_hr = VideoSignals("b", 30.0, [np.zeros(0)], times, None, hr=[71.5])
    write_signals(tmp_path / "plain.npz", [plain])
    write_signals(tmp_path / "hr.npz", [with_hr])
    with np.load(tmp_path / "plain.npz") as data:
        assert sorted(data.files) == ["index", "v0_w0_signal", "v0_w0_times"]
    assert read_signals(tmp_path / "plain.npz")[0].hr is None
    back = read_signals(tmp_path / "hr.npz")[0]
    assert back.hr == [71.5] and len(back.signals[0]) == 0


def test_the_conformance_kit_checks_predict_hr():
    assert "check_output" in check_method(GreenHR)
    check_method(GreenBoth)

    class Missing(GreenHR):
        name = "test-missing"
        predict_hr = Method.predict_hr

    with pytest.raises(AssertionError, match="does not implement `predict_hr`"):
        check_method(Missing)

    class Wild(GreenHR):
        name = "test-wild"

        def predict_hr(self, clip) -> float:
            return math.nan

    with pytest.raises(AssertionError, match="predict_hr gave nan"):
        check_method(Wild)


def invoke(*args):
    return CliRunner().invoke(build_cli(), [str(a) for a in args], catch_exceptions=False)


def test_run_rescore_and_compare_an_hr_method(tmp_path, monkeypatch):
    monkeypatch.setitem(registry().methods, GreenHR.name, GreenHR)
    run = tmp_path / "green-hr"
    result = invoke("run", "--method", GreenHR.name, "--protocol", "synth-mini", "--out", run, "--quiet")
    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(run / "predictions.csv")
    assert (predictions["status"] == "ok").all() and predictions["snr_db"].isna().all()
    assert json.loads((run / "run.json").read_text())["config"]["method"]["estimates_hr"] is True
    fold = sorted((run / "folds").iterdir())[0]
    stored = read_signals(fold / "signals.npz")
    windows = pd.read_parquet(fold / "windows.parquet")
    first = windows[windows["video_id"] == stored[0].video_id]["hr_pred"].tolist()
    assert stored[0].hr == pytest.approx(first)

    out = tmp_path / "narrow"
    result = invoke("rescore", run, "--set", "hr.band_bpm=45,150", "--out", out)
    assert result.exit_code == 0, result.output
    after = pd.read_csv(out / "predictions.csv")
    assert np.allclose(after["hr_pred"], predictions["hr_pred"])  # the method's own HRs are kept
    assert json.loads((fold.parents[1] / "metrics.json").read_text())["overall"]["n"] == len(predictions)
    assert json.loads((out / "folds" / fold.name / "metrics.json").read_text())["method_hr_kept"] is True

    same = tmp_path / "same"
    assert invoke("rescore", run, "--out", same).exit_code == 0
    pd.testing.assert_frame_equal(pd.read_csv(same / "predictions.csv"), predictions)
    pos = tmp_path / "pos"
    assert (
        invoke("run", "--method", "pos", "--protocol", "synth-mini", "--out", pos, "--quiet").exit_code == 0
    )
    compared = invoke("compare", run, same, pos, "--metrics", "mae,rmse,snr")
    assert compared.exit_code == 0, compared.output
    assert GreenHR.name in compared.output and "pos" in compared.output
    stats = invoke("compare", run, pos, "--by", "scenario", "--stats")
    assert stats.exit_code == 0, stats.output
