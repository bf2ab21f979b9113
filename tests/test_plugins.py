"""The plugin system: entry-point loading, failure isolation, and a real third-party package."""

import os
import shutil
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest

from rppgbench.hookspecs import hookimpl
from rppgbench.method import Method
from rppgbench.plugins import PluginLoadWarning, build_registry

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "rppgbench-example-plugin"


def _module(name: str, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in hooks.items():
        setattr(module, key, value)
    return module


class Dummy(Method):
    name = "dummy"

    def predict(self, clip):
        return clip.timestamps * 0


def test_extra_plugin_registers_method():
    @hookimpl
    def register_methods(register):
        register(Dummy)

    registry = build_registry({"test-dummy": _module("m", register_methods=register_methods)})
    assert registry.method("dummy") is Dummy
    assert registry.origins[("method", "dummy")] == "test-dummy"


def test_broken_plugin_warns_and_others_survive():
    @hookimpl
    def register_methods(register):
        raise RuntimeError("model file missing")

    good = _module("good")
    good.register_methods = hookimpl(lambda register: register(Dummy))
    bad = _module("bad", register_methods=register_methods)
    with pytest.warns(PluginLoadWarning, match="'broken'.*model file missing"):
        registry = build_registry({"broken": bad, "good": good})
    assert "broken" in registry.failures
    assert registry.method("dummy") is Dummy


def test_unknown_method_lists_valid_names():
    from rppgbench.errors import UnknownNameError

    registry = build_registry({})
    with pytest.raises(UnknownNameError, match="valid methods:"):
        registry.method("no-such-method")


def test_a_metric_registers_with_label_and_direction_and_a_clash_is_refused():
    hits = hookimpl(lambda register: register("hits", lambda p, r: 1.0, label="Hits", better="higher"))
    registry = build_registry({"metric-plugin": _module("m", register_metrics=hits)})
    assert registry.metric_info["hits"].better == "higher" and registry.metric_info["hits"].label == "Hits"
    assert registry.origins[("metric", "hits")] == "metric-plugin"
    clash = hookimpl(lambda register: register("mae", lambda p, r: 0.0))
    with pytest.warns(PluginLoadWarning, match="clashes with a built-in metric"):
        registry = build_registry({"bad": _module("b", register_metrics=clash)})
    assert "bad" in registry.failures and "mae" not in registry.metrics


def _install_example(target: Path) -> None:
    source = target.parent / "src"
    shutil.copytree(EXAMPLE, source)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True,
    )  # fmt: skip


def _rppgbench(args: list[str], site: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(site), TQDM_DISABLE="1")
    command = [sys.executable, "-c", "from rppgbench.cli import main; main()", *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_third_party_package_is_listed_and_runs(tmp_path):
    """A separately built and installed package adds a method, a dataset and a protocol that all work."""
    site = tmp_path / "site"
    _install_example(site)
    listed = _rppgbench(["list", "methods"], site, tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "example-gr" in listed.stdout and "example" in listed.stdout
    datasets = _rppgbench(["list", "datasets"], site, tmp_path)
    assert "example-squares" in datasets.stdout
    out = tmp_path / "run"
    ran = _rppgbench(
        ["run", "--method", "example-gr", "--protocol", "example-2fold", "--out", str(out)], site, tmp_path
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    import pandas as pd

    predictions = pd.read_csv(out / "predictions.csv")
    assert len(predictions) == 4 and (predictions["status"] == "ok").all()
    assert (predictions["abs_error"] < 2.0).all(), predictions[["video_id", "hr_pred", "hr_ref"]]


def _lay_out_example(target: Path) -> None:
    """The example package as an installer lays it out: the package, and a dist-info folder holding its
    metadata and entry points (what `importlib.metadata` reads), without building a wheel."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    shutil.copytree(EXAMPLE / "rppgbench_example", target / "rppgbench_example")
    info = target / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in entries.items())
            for group, entries in project["entry-points"].items()
        )
    )


def test_a_third_party_metric_appears_in_compare_and_report(tmp_path):
    """`register_metrics` of an installed package: its metric is a column of compare and of the report."""
    site = tmp_path / "site"
    _lay_out_example(site)
    out = tmp_path / "run"
    ran = _rppgbench(
        ["run", "--method", "example-gr", "--protocol", "example-2fold", "--out", str(out)], site, tmp_path
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    table = _rppgbench(["compare", str(out)], site, tmp_path)
    assert table.returncode == 0, table.stderr
    header, _, row = table.stdout.splitlines()[2:5]
    assert "Within 5 bpm (%)" in header and "100.00" in row  # every example video is within 2 bpm
    by_subject = _rppgbench(
        ["compare", str(out), "--by", "subject", "--metrics", "mae,within5"], site, tmp_path
    )
    assert by_subject.stdout.count("100.00") >= 4, by_subject.stdout
    report = _rppgbench(["report", str(out), "--out", str(tmp_path / "report")], site, tmp_path)
    assert report.returncode == 0, report.stderr
    assert "Within 5 bpm (%)" in (tmp_path / "report" / "index.html").read_text()


def test_the_example_plugins_own_tests_pass_with_the_conformance_kit(tmp_path):
    """What the plugin guide tells authors to do: their tests call rppgbench.testing.check_method."""
    site = tmp_path / "site"
    _lay_out_example(site)
    env = dict(os.environ, PYTHONPATH=str(site))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "2 passed" in done.stdout
