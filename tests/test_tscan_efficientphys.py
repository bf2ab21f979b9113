"""TS-CAN and EfficientPhys plugins: temporal shift, reference parameter counts, shapes, training."""

import numpy as np
import pytest
import torch
from rppgbench_plugins.neural.deepphys import DeepPhys, DeepPhysNet, TemporalShift
from rppgbench_plugins.neural.efficientphys import EfficientPhys, EfficientPhysNet
from rppgbench_plugins.neural.tscan import TSCAN

from rppgbench.errors import ConfigError
from rppgbench.method import FitContext
from rppgbench.plugins import build_registry
from rppgbench.signal.hr import estimate_hr
from rppgbench.testing import check_method
from rppgbench.testing.clips import make_pulse_clips

TRAIN_HR = [55, 65, 75, 85, 95, 105, 115, 125]
TEST_HR = [60, 80, 100, 120, 140, 70]
TINY = dict(clip_frames=30, frame_depth=10, size=16, num_workers=0, device="cpu")


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_temporal_shift_known_answer():
    """Channels 0-1 come from the next frame, 2-3 from the previous (zeros at the segment ends), 4-5 stay."""
    segment, channels = 4, 6
    x = torch.arange(2 * segment, dtype=torch.float32)[:, None, None, None].repeat(1, channels, 1, 1) + 1
    out = TemporalShift(segment)(x)[:, :, 0, 0]  # frame index + 1 in every channel before the shift
    frame = torch.arange(2 * segment, dtype=torch.float32) + 1
    within = torch.arange(2 * segment) % segment
    nxt = torch.where(within < segment - 1, frame + 1, torch.zeros_like(frame))
    prev = torch.where(within > 0, frame - 1, torch.zeros_like(frame))
    torch.testing.assert_close(out[:, 0], nxt)
    torch.testing.assert_close(out[:, 1], nxt)
    torch.testing.assert_close(out[:, 2], prev)
    torch.testing.assert_close(out[:, 3], prev)
    torch.testing.assert_close(out[:, 4:], frame[:, None].repeat(1, 2))
    with pytest.raises(ValueError, match="multiple of the segment"):
        TemporalShift(3)(torch.zeros(4, 6, 1, 1))


def test_shift_mixes_frames_only_inside_a_segment():
    """With segments of 5, changing frame 7 changes the outputs of frames 5-9 only."""
    torch.manual_seed(0)
    model = DeepPhysNet(size=16, frame_depth=5).eval()
    x = torch.randn(1, 6, 10, 16, 16)
    y = x.clone()
    y[:, :3, 7] += 1.0
    with torch.no_grad():
        changed = (model(x) - model(y)).abs()[0] > 1e-7
    assert changed.tolist() == [False] * 5 + [True] * 5


def test_parameter_counts_match_the_reference_implementations():
    """Counted from the layer definitions of rPPG-Toolbox (ubicomplab/rPPG-Toolbox,
    neural_methods/model/TS_CAN.py class TSCAN and EfficientPhys.py class EfficientPhys, the
    authors' PyTorch re-implementations) at img_size 36 and 72, frame_depth 10: TS-CAN's temporal
    shifts have no parameters, so it has DeepPhys's 532,899 (36) / 2,228,643 (72); EfficientPhys has one
    conv branch, the two 1x1 attention convs, BatchNorm of 3 channels and the dense layers:
    467,337 (36) / 2,163,081 (72)."""
    assert count(DeepPhysNet(size=36, frame_depth=10)) == 532_899
    assert count(DeepPhysNet(size=72, frame_depth=10)) == 2_228_643
    assert count(EfficientPhysNet(size=36, frame_depth=10)) == 467_337
    assert count(EfficientPhysNet(size=72, frame_depth=10)) == 2_163_081


def test_forward_shapes_and_registration(monkeypatch):
    monkeypatch.setenv("RPPGBENCH_PLUGINS", "neural")
    frames = torch.randint(0, 256, (2, 20, 50, 50, 3), dtype=torch.uint8)
    tscan = TSCAN(device="cpu")
    x = tscan.input_transform(frames)
    assert x.shape == (2, 6, 20, 36, 36)
    torch.testing.assert_close(x, DeepPhys(device="cpu").input_transform(frames))  # DeepPhys's inputs
    eff = EfficientPhys(device="cpu")
    raw = eff.input_transform(frames)
    assert raw.shape == (2, 3, 20, 36, 36) and raw.min() >= 0 and raw.max() <= 1
    with torch.no_grad():
        assert tscan.build_model().eval()(x).shape == (2, 20)
        assert eff.build_model().eval()(raw).shape == (2, 20)
    registry = build_registry()
    assert registry.method("tscan") is TSCAN and registry.method("efficientphys") is EfficientPhys


def test_efficientphys_normalisation_module_sees_frame_differences():
    """A constant offset on every frame (a brighter face) does not change the output."""
    torch.manual_seed(0)
    model = EfficientPhysNet(size=16, frame_depth=5).eval()
    x = torch.rand(1, 3, 10, 16, 16) * 0.5
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x + 0.3), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls", [TSCAN, EfficientPhys], ids=["tscan", "efficientphys"])
def test_windows_must_be_whole_segments(cls):
    with pytest.raises(ConfigError, match="clip_frames=64 must be a positive multiple of frame_depth=10"):
        cls(clip_frames=64)
    assert cls(clip_frames=60, frame_depth=20).temporal_multiple == 20


@pytest.mark.parametrize("cls", [TSCAN, EfficientPhys], ids=["tscan", "efficientphys"])
def test_passes_the_conformance_kit(cls, tmp_path):
    torch.set_num_threads(1)
    check_method(cls, dict(TINY, epochs=1), work_dir=tmp_path)


@pytest.mark.parametrize("cls", [TSCAN, EfficientPhys], ids=["tscan", "efficientphys"])
def test_trained_model_beats_constant_hr_on_held_out_subjects(cls, tmp_path):
    torch.set_num_threads(1)
    method = cls(**TINY, epochs=4, lr=3e-3, val_fraction=0.25)
    method.fit(make_pulse_clips(TRAIN_HR, frames=180, seed=1), FitContext(tmp_path, seed=0, progress=False))
    history = method.fit_result.history
    assert history[-1]["train_loss"] < 0.7 * history[0]["train_loss"]
    preds = [estimate_hr(method.predict(c), c.fps) for c in make_pulse_clips(TEST_HR, frames=300, seed=2)]
    mae = np.mean(np.abs(np.array(preds) - TEST_HR))
    assert mae < 3.0 < np.mean(np.abs(np.mean(TRAIN_HR) - np.array(TEST_HR)))
