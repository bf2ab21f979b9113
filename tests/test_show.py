"""`rppgbench show`: what a method or a protocol is and accepts, and constraints checked before any fold."""

import json

import pytest
from click.testing import CliRunner

from rppgbench.cli import build_cli


def invoke(*args):
    return CliRunner().invoke(build_cli(), [str(a) for a in args])


def test_show_method_lists_parameters_constraints_and_origin():
    result = invoke("show", "autohr")
    assert result.exit_code == 0, result.output
    for text in ("trains: yes", "plugin: autohr (package rppgbench", "clip_frames", '"hybrid" | "time"',
                 "constraints: clip_frames is a positive multiple of 4", "recipes"):  # fmt: skip
        assert text in result.output, text


@pytest.mark.parametrize(("method", "output"), [("pos", "output: an rPPG signal"),
                                                 ("rhythmnet", "output: its own HR per window")])  # fmt: skip
def test_show_method_says_whether_it_gives_a_signal_or_its_own_hr(method, output):
    assert output in invoke("show", method).output


def test_show_protocol_and_unknown_names():
    result = invoke("show", "protocol", "synth-5fold")
    assert (
        result.exit_code == 0 and "kfold, 5 folds by subject" in result.output and '"welch"' in result.output
    )
    assert invoke("show", "nosuch").exit_code == 2
    assert invoke("show", "protocol").exit_code == 2


def test_a_broken_constraint_stops_the_run_before_any_fold_and_names_the_value_to_use(tmp_path):
    result = invoke("run", "--method", "autohr", "--protocol", "synth-mini", "--set", "clip_frames=150",
                    "--out", tmp_path / "run")  # fmt: skip
    assert result.exit_code == 2 and "use clip_frames=152" in result.output
    assert not (tmp_path / "run").exists()


def test_run_json_records_plugin_package_and_version(tmp_path):
    out = tmp_path / "pos"
    assert (
        invoke("run", "--method", "pos", "--protocol", "synth-mini", "--out", out, "--quiet").exit_code == 0
    )
    plugins = json.loads((out / "run.json").read_text())["plugins"]
    assert plugins["method"]["plugin"] == "classical" and plugins["method"]["package"] == "rppgbench"
    assert plugins["datasets"]["data"]["plugin"] == "datasets_synthetic"


@pytest.mark.parametrize("kind", ["plugins"])
def test_list_plugins_shows_package_and_version(kind):
    result = invoke("list", kind)
    assert result.exit_code == 0 and "package" in result.output and "rppgbench" in result.output
