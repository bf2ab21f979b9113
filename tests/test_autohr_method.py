"""AutoHR derived network, method (training through the shared harness), hybrid loss, DA1/DA2."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from rppgbench_plugins.autohr.augment import HeartRateResample, TubeCutout, stretch_frames, tube_masks
from rppgbench_plugins.autohr.genotype import default_genotype
from rppgbench_plugins.autohr.method import AutoHR
from rppgbench_plugins.autohr.network import AutoHRNet, physnet_tdc

from rppgbench.data import Clip, Record, Reference
from rppgbench.errors import ConfigError
from rppgbench.method import FitContext
from rppgbench.training.sampling import Batch, ClipSource, Sample

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors on a shared CPU


def pulsing_clip(subject="s0", hr=72.0, frames=64, size=16, fps=10.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    pulse = np.sin(2 * np.pi * hr / 60 * t)
    video = rng.uniform(80, 160, (1, size, size, 3)) + 3 * pulse[:, None, None, None]
    record = Record("toy", subject, "v1", location=Path("/none"), fps=fps)
    return Clip(record, np.clip(video, 0, 255).astype(np.uint8), t, Reference("ppg", pulse, t))


def test_derived_network_forward_backward_tiny_and_length_t_at_paper_frames():
    net = AutoHRNet(default_genotype(), channels=4)
    out = net(torch.randn(2, 3, 16, 16, 16))
    assert out.shape == (2, 16)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)
    # the paper's 160 frames (a 32x32 crop keeps this fast on a CPU; the width does not change T)
    paper = AutoHRNet(default_genotype(), channels=16).eval()
    with torch.no_grad():
        assert paper(torch.randn(1, 3, 160, 32, 32)).shape == (1, 160)


def test_physnet_tdc_backbone_output_length():
    with torch.no_grad():
        assert physnet_tdc(theta=0.2, width=8).eval()(torch.randn(1, 3, 16, 16, 16)).shape == (1, 16)


def test_method_defaults_are_the_papers_and_record_the_genotype():
    method = AutoHR()
    c = method.config
    assert (c["clip_frames"], c["size"], c["epochs"], c["batch_size"], c["lr"], c["weight_decay"]) == (
        160,
        112,
        15,
        4,
        1e-4,
        5e-5,
    )
    assert (c["channels"], c["lambda_time"], c["loss"], c["da1"], c["da2"]) == (16, 0.2, "hybrid", True, True)
    assert method.genotype().source == "reconstructed"
    with pytest.raises(ConfigError):
        AutoHR(genotype="/does/not/exist.json")
    with pytest.raises(ConfigError):
        AutoHR(clip_frames=30)


def test_hybrid_loss_is_minimal_for_a_perfect_prediction_and_freq_gradient_is_nonzero():
    method = AutoHR()
    fps, t = 30.0, torch.arange(160) / 30.0
    target = torch.sin(2 * math.pi * 1.2 * t)[None]  # 72 bpm
    batch = Batch(frames=torch.zeros(1), target=target, hr=torch.tensor([72.0]), fps=torch.tensor([fps]),
                  clip_index=torch.zeros(1, dtype=torch.long), start=torch.zeros(1, dtype=torch.long))  # fmt: skip
    perfect = method.compute_loss(target.clone(), batch)
    wrong = method.compute_loss(torch.sin(2 * math.pi * 2.0 * t)[None], batch)
    noisy = method.compute_loss(target + 0.5 * torch.randn_like(target), batch)
    assert float(perfect) < float(noisy) < float(wrong)
    freq = AutoHR(loss="freq")
    pred = torch.sin(2 * math.pi * 2.0 * t)[None].requires_grad_(True)
    freq.compute_loss(pred, batch).backward()
    assert pred.grad.abs().sum() > 0
    time_only = AutoHR(loss="time")
    assert float(time_only.compute_loss(target * 3 + 1, batch)) == pytest.approx(0.0, abs=1e-6)


def test_tube_masks_respect_bounds():
    g = torch.Generator().manual_seed(0)
    mt, mh, mw = tube_masks(200, 50, 40, 30, g, 0.2, 0.2, prob=1.0)
    spans, areas = mt.sum(1), mh.sum(1) * mw.sum(1)
    assert spans.min() >= 1 and spans.max() <= 10
    assert areas.min() >= 1 and areas.max() <= 0.2 * 40 * 30
    # contiguous ranges
    for m in (mt, mh, mw):
        idx = [torch.nonzero(row).flatten() for row in m]
        assert all((i[-1] - i[0] + 1) == len(i) for i in idx)
    mt, _, _ = tube_masks(100, 50, 40, 30, g, prob=0.0)
    assert not mt.any()


def test_tube_cutout_zeroes_exactly_one_tube():
    frames = torch.full((3, 20, 10, 10, 3), 200, dtype=torch.uint8)
    batch = Batch(frames, torch.zeros(3, 20), torch.zeros(3), torch.ones(3), torch.zeros(3), torch.zeros(3))
    out = TubeCutout(prob=1.0)(batch, torch.Generator().manual_seed(1))
    erased = out.frames == 0
    assert erased.any(dim=(1, 2, 3, 4)).all()
    per_clip = erased.sum(dim=(1, 2, 3, 4)) / 3
    assert (per_clip <= 4 * 20).all()  # <= 20% of 20 frames x 20% of 100 pixels


def _sample(clip, start, frames, hr):
    source = ClipSource(clip, clip.aligned_reference())
    f, t = source.read(start, start + frames)
    return Sample(f, t, hr, clip.fps, 0, start, source)


def test_da2_halves_high_hr_and_doubles_low_hr_keeping_length():
    always = HeartRateResample(prob=1.0)
    rng = np.random.default_rng(0)
    fast = pulsing_clip(hr=120, frames=64)
    s = always(_sample(fast, 10, 20, 120.0), rng)
    assert len(s.frames) == 20 and len(s.target) == 20 and s.hr == 60.0
    ref = fast.aligned_reference()
    np.testing.assert_allclose(s.target[::2], ref[10:20], atol=1e-6)  # even outputs are the original frames
    slow = pulsing_clip(hr=50, frames=64)
    s = always(_sample(slow, 5, 20, 50.0), rng)
    assert len(s.frames) == 20 and s.hr == pytest.approx(100.0, abs=3.0)
    np.testing.assert_allclose(s.target, slow.aligned_reference()[5:44:2], atol=1e-6)
    normal = _sample(pulsing_clip(hr=80), 0, 20, 80.0)
    assert always(normal, rng) is normal
    short = pulsing_clip(hr=50, frames=30)
    low = _sample(short, 0, 20, 50.0)
    assert always(low, rng) is low  # 2T - 1 frames are not available: unchanged


def test_stretch_frames_interpolates_midpoints():
    frames = np.stack([np.full((2, 2, 3), v, np.uint8) for v in (0, 100, 200)])
    out, wave = stretch_frames(frames, np.array([0.0, 1.0, 2.0], np.float32), 5)
    assert out[:, 0, 0, 0].tolist() == [0, 50, 100, 150, 200]
    assert wave.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_passes_the_conformance_kit(tmp_path):
    from rppgbench.testing import check_method

    params = dict(channels=2, clip_frames=48, size=16, epochs=1, batch_size=2, num_workers=0, device="cpu",
                  infer_batch=2)  # fmt: skip
    check_method(AutoHR, params, work_dir=tmp_path)


def test_fit_predict_save_load_round_trip(tmp_path):
    clips = [pulsing_clip(f"s{i}", hr=60 + 20 * i, seed=i) for i in range(3)]
    params = dict(channels=2, clip_frames=16, size=16, epochs=1, batch_size=2, num_workers=0, device="cpu",
                  infer_batch=2)  # fmt: skip
    method = AutoHR(**params)
    method.fit(clips, FitContext(work_dir=tmp_path / "work", progress=False))
    signal = method.predict(clips[0])
    assert signal.shape == (len(clips[0]),) and np.isfinite(signal).all()
    method.save(tmp_path / "model.pt")
    again = AutoHR(**params)
    again.load(tmp_path / "model.pt")
    np.testing.assert_allclose(again.predict(clips[0]), signal, atol=1e-5)
    assert again.genotype().cells == method.genotype().cells


def test_tiny_derived_network_learns_to_beat_a_constant_hr_predictor(tmp_path):
    """The searched-cell network (shipped genotype, 2 channels) trained through the harness on tiny
    synthetic clips reads held-out subjects' heart rates far better than their mean does."""
    from rppgbench.signal.hr import estimate_hr
    from rppgbench.testing.clips import make_pulse_clips

    train_hr, test_hr = [55, 65, 75, 85, 95, 105, 115, 125], [60, 80, 100, 120, 70]
    method = AutoHR(channels=2, clip_frames=64, size=16, epochs=16, windows_per_clip=6, batch_size=4, lr=1e-2,
                    num_workers=0, val_fraction=0.0, device="cpu", da1=False, da2=False,
                    input_scaling="ratio")  # fmt: skip
    method.fit(make_pulse_clips(train_hr, frames=192, size=16, seed=1), FitContext(tmp_path, progress=False))
    test = make_pulse_clips(test_hr, frames=300, size=16, seed=2)
    predicted = np.array([estimate_hr(method.predict(clip), clip.fps) for clip in test])
    mae = np.mean(np.abs(predicted - test_hr))
    constant_mae = np.mean(np.abs(np.mean(train_hr) - np.array(test_hr)))
    assert mae < 2.0 and mae < 0.1 * constant_mae, (predicted, mae, constant_mae)
