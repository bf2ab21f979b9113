"""Files rppgbench writes get the user's umask, like files any other program creates."""

import os
import stat

import pytest

from rppgbench.store import atomic_write_bytes, write_json


@pytest.fixture
def umask_027():
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_results_and_checkpoints_follow_the_umask(tmp_path, umask_027):
    write_json(tmp_path / "run.json", {"a": 1})
    atomic_write_bytes(tmp_path / "x.bin", b"x")
    assert _mode(tmp_path / "run.json") == 0o640 and _mode(tmp_path / "x.bin") == 0o640
    torch = pytest.importorskip("torch")
    from rppgbench.training.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "model.pt", {"w": torch.zeros(1)})
    assert _mode(tmp_path / "model.pt") == 0o640


def test_a_generated_synthetic_tree_follows_the_umask(tmp_path, umask_027):
    from dataclasses import replace

    from rppgbench_plugins.datasets.synthetic import PRESETS, generate

    tiny = replace(PRESETS["synth-mini"], n_subjects=1, scenarios=("stationary",), duration_s=2.0)
    out = generate(tmp_path / "tree", tiny, 0, workers=1, videos=False)
    assert _mode(out) == 0o750 and _mode(out / "meta.json") == 0o640
