"""PhysNet plugin: paper-size shapes, training on known-HR clips, weights files, resume through fit."""

import numpy as np
import pytest
import torch
from rppgbench_plugins.neural.deepphys import DeepPhys
from rppgbench_plugins.neural.physnet import PhysNet, PhysNetED

from rppgbench.errors import ConfigError
from rppgbench.method import FitContext
from rppgbench.plugins import build_registry
from rppgbench.signal.hr import estimate_hr
from rppgbench.testing import check_method
from rppgbench.testing.clips import make_pulse_clips
from rppgbench.training import read_weights_info
from rppgbench.training import trainer as trainer_module

TRAIN_HR = [55, 65, 75, 85, 95, 105, 115, 125]
TEST_HR = [60, 80, 100, 120, 140, 70]
TINY = dict(
    clip_frames=32, size=32, width=8, lr=1e-2, batch_size=4, num_workers=0, val_fraction=0.25, device="cpu"
)


@pytest.mark.slow
def test_paper_size_forward_shape():
    model = PhysNetED().eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 160, 112, 112))
    assert out.shape == (1, 160)


def test_registered_through_the_entry_point(monkeypatch):
    monkeypatch.setenv("RPPGBENCH_PLUGINS", "neural")
    registry = build_registry()
    assert registry.method("physnet") is PhysNet
    assert PhysNet().config["clip_frames"] == 160 and PhysNet().config["size"] == 112


def test_passes_the_conformance_kit(tmp_path):
    torch.set_num_threads(1)
    check_method(PhysNet, dict(TINY, epochs=1), work_dir=tmp_path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    torch.set_num_threads(1)
    method = PhysNet(epochs=12, **TINY)
    work = tmp_path_factory.mktemp("physnet")
    method.fit(make_pulse_clips(TRAIN_HR, frames=192, seed=1), FitContext(work, seed=0, progress=False))
    return method, work


def test_loss_falls_and_trained_model_beats_constant_hr_on_held_out_subjects(trained):
    method, work = trained
    history = method.fit_result.history
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    assert (work / "training.json").is_file() and (work / "checkpoints" / "last.pt").is_file()
    test = make_pulse_clips(TEST_HR, frames=302, seed=2)  # 302: not a multiple of PhysNet's 4
    preds = []
    for clip in test:
        signal = method.predict(clip)
        assert signal.shape == (len(clip),) and np.isfinite(signal).all()
        preds.append(estimate_hr(signal, clip.fps))
    mae = np.mean(np.abs(np.array(preds) - TEST_HR))
    constant_mae = np.mean(np.abs(np.mean(TRAIN_HR) - np.array(TEST_HR)))
    assert mae < 3.0 < constant_mae


def test_save_load_roundtrip_and_foreign_weights_rejected(trained, tmp_path):
    method, _ = trained
    path = tmp_path / "physnet.pt"
    method.save(path)
    info = read_weights_info(path)
    assert info["method"] == "physnet" and info["config"]["width"] == 8
    fresh = PhysNet(device="cpu")  # architecture comes from the file (width 8, not the default 64)
    fresh.load(path)
    clip = make_pulse_clips([90], frames=96, seed=3)[0]
    np.testing.assert_allclose(fresh.predict(clip), method.predict(clip), atol=1e-5)
    with pytest.raises(ConfigError, match="weights of method 'physnet', not 'deepphys'"):
        DeepPhys().load(path)
    with pytest.raises(ConfigError, match="no weights"):
        PhysNet().predict(clip)


def test_fit_resumes_after_interruption_with_identical_result(tmp_path, monkeypatch):
    clips = make_pulse_clips(TRAIN_HR[:5], frames=96, seed=5)
    params = dict(TINY, width=4, epochs=2, windows_per_clip=2)
    uninterrupted = PhysNet(**params)
    uninterrupted.fit(clips, FitContext(tmp_path / "a", seed=1, progress=False))

    real_save = trainer_module.save_checkpoint

    def save_then_die(path, state):
        real_save(path, state)
        raise KeyboardInterrupt  # killed right after the first epoch's checkpoint

    monkeypatch.setattr(trainer_module, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        PhysNet(**params).fit(clips, FitContext(tmp_path / "b", seed=1, progress=False))
    monkeypatch.setattr(trainer_module, "save_checkpoint", real_save)
    resumed = PhysNet(**params)
    resumed.fit(clips, FitContext(tmp_path / "b", seed=1, progress=False))
    assert resumed.fit_result.resumed_from_epoch == 0
    assert [h["train_loss"] for h in resumed.fit_result.history] == [
        h["train_loss"] for h in uninterrupted.fit_result.history
    ]
    for key, value in uninterrupted.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0)
    with pytest.raises(ConfigError, match="different configuration"):
        PhysNet(**dict(params, lr=0.5)).fit(clips, FitContext(tmp_path / "b", seed=1, progress=False))


def test_parameter_count_matches_the_reference_implementation():
    """768,081 at the default width: the reference PhysNet's 768,577 less the 496 biases of its
    3-D convolutions, which are redundant before BatchNorm and which ours leaves out."""
    assert sum(p.numel() for p in PhysNetED().parameters()) == 768_081
