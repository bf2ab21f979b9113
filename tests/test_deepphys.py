"""DeepPhys plugin: paper-size shapes, input representation, attention masks, training, integration."""

import numpy as np
import pytest
import torch
from rppgbench_plugins.neural.deepphys import (
    AttentionMask,
    DeepPhys,
    DeepPhysNet,
    normalised_difference,
    standardised_derivative,
)

from rppgbench.method import FitContext
from rppgbench.plugins import build_registry
from rppgbench.signal.hr import estimate_hr
from rppgbench.testing import check_method
from rppgbench.testing.clips import make_pulse_clips

TRAIN_HR = [55, 65, 75, 85, 95, 105, 115, 125]
TEST_HR = [60, 80, 100, 120, 140, 70]


def test_paper_size_forward_shape_and_registration(monkeypatch):
    monkeypatch.setenv("RPPGBENCH_PLUGINS", "neural")
    model = DeepPhysNet(size=36).eval()
    method = DeepPhys(device="cpu")
    frames = torch.randint(0, 256, (1, 20, 50, 50, 3), dtype=torch.uint8)
    x = method.input_transform(frames)
    assert x.shape == (1, 6, 20, 36, 36)
    with torch.no_grad():
        assert model(x).shape == (1, 20)
    assert build_registry().method("deepphys") is DeepPhys


def test_normalised_difference_known_answer():
    x = torch.full((1, 3, 4, 2, 2), 0.5)
    x[:, :, 1] = 0.6  # (0.6 - 0.5) / (0.6 + 0.5) then (0.5 - 0.6) / 1.1, 0, last repeated
    d = normalised_difference(x, clip_sigma=100.0)
    raw = torch.tensor([0.1 / 1.1, -0.1 / 1.1, 0.0, 0.0])
    expected = raw / torch.cat([raw[:3], raw[2:3]]).repeat(12).std()
    torch.testing.assert_close(d[0, 0, :, 0, 0], expected, rtol=1e-3, atol=1e-4)
    assert normalised_difference(torch.rand(2, 3, 16, 4, 4) + 0.1, clip_sigma=3.0).abs().max() <= 3.0


def test_attention_mask_is_l1_normalised_to_half_the_area():
    mask = AttentionMask(8)(torch.randn(5, 8, 6, 7))
    assert mask.shape == (5, 1, 6, 7)
    torch.testing.assert_close(mask.mean(dim=(1, 2, 3)), torch.full((5,), 0.5))


def test_target_derivative_and_integration_invert_each_other():
    t = np.arange(300) / 30.0
    wave = np.sin(2 * np.pi * 1.5 * t)
    d = standardised_derivative(torch.tensor(wave, dtype=torch.float32)[None])[0].numpy()
    assert abs(d.mean()) < 1e-5 and abs(d.std() - 1) < 1e-2
    pulse = DeepPhys().postprocess(d, 30.0)
    assert np.corrcoef(pulse[10:-10], wave[10:-10])[0, 1] > 0.995


def test_passes_the_conformance_kit(tmp_path):
    torch.set_num_threads(1)
    check_method(
        DeepPhys, dict(epochs=1, clip_frames=32, size=16, num_workers=0, device="cpu"), work_dir=tmp_path
    )


def test_trained_model_beats_constant_hr_on_held_out_subjects(tmp_path):
    torch.set_num_threads(1)
    method = DeepPhys(
        epochs=4, clip_frames=32, size=16, lr=3e-3, num_workers=0, val_fraction=0.25, device="cpu"
    )
    method.fit(make_pulse_clips(TRAIN_HR, frames=192, seed=1), FitContext(tmp_path, seed=0, progress=False))
    history = method.fit_result.history
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    preds = [estimate_hr(method.predict(c), c.fps) for c in make_pulse_clips(TEST_HR, frames=300, seed=2)]
    mae = np.mean(np.abs(np.array(preds) - TEST_HR))
    assert mae < 3.0 < np.mean(np.abs(np.mean(TRAIN_HR) - np.array(TEST_HR)))


@pytest.mark.parametrize("size", [36, 72])
def test_model_builds_for_other_input_sizes(size):
    with torch.no_grad():
        assert DeepPhysNet(size=size)(torch.randn(1, 6, 3, size, size)).shape == (1, 3)


def test_parameter_count_matches_the_reference_implementation():
    """532,899 parameters at 36 x 36 input, as the reference DeepPhys network has."""
    from rppgbench_plugins.neural.deepphys import DeepPhysNet

    assert sum(p.numel() for p in DeepPhysNet(size=36).parameters()) == 532_899
