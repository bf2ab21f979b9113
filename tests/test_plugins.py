"""The plugin system: entry-point loading, failure isolation, and a real third-party package."""

import os
import shutil
import subprocess
import sys
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
