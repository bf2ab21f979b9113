"""HR-CNN plugin: extractor parameter count and shapes, SNR loss, two-stage training, conformance, learning."""

import json
import math

import numpy as np
import pytest
import torch
from rppgbench_plugins.hrcnn.losses import SNRLoss
from rppgbench_plugins.hrcnn.method import HRCNN
from rppgbench_plugins.hrcnn.network import Estimator, Extractor

from rppgbench.errors import ConfigError
from rppgbench.method import FitContext
from rppgbench.plugins import build_registry
from rppgbench.store.layout import TRAINING_FILE
from rppgbench.testing import check_method
from rppgbench.testing.clips import make_pulse_clips

TINY = dict(
    input_height=24, input_width=16, ext_scale=0.125, ext_width=4, est_layers=3, est_filters=8, est_kernel=5,
    est_pool=2, clip_frames=64, epochs=2, est_epochs=2, batch_size=4, size=24, num_workers=0, device="cpu",
    val_fraction=0.25, lr=1e-3,
)  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors on a shared CPU


def test_extractor_parameter_count_matches_the_authors_extractor():
    """3,839,367 with RGB input: the layer shapes of FaceHRNet09V2ELU (github.com/radimspetlik/hr-cnn):
    input BN 6; conv 15x10 3->64 28,864 + BN 128; conv 15x10 64->64 614,464 + BN 128; conv 15x10 64->128
    1,228,928 + BN 256; conv 12x10 128->128 1,966,208 + BN 256; 1x1 conv 128->1 129."""
    expected = 6 + 28_864 + 128 + 614_464 + 128 + 1_228_928 + 256 + 1_966_208 + 256 + 129
    assert sum(p.numel() for p in Extractor().parameters()) == expected == 3_839_367


def test_extractor_reduces_a_192x128_face_to_one_value_and_the_estimator_one_hr():
    extractor = Extractor(width=2).eval()  # the paper's kernels and poolings; narrow to stay quick
    sizes = []
    extractor.blocks[-1]["bn"].register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[-2:])))
    with torch.no_grad():
        assert extractor(torch.rand(2, 3, 192, 128)).shape == (2,)
    assert sizes == [(1, 1)]
    estimator = Estimator(layers=9, filters=4, kernel=9, pool=3).eval()
    assert estimator.shrink == 78
    with torch.no_grad():
        assert estimator(torch.randn(3, 100)).shape == (3,)


def test_snr_loss_prefers_power_at_the_hr_and_its_harmonic():
    t = torch.arange(300) / 30.0
    loss = SNRLoss()
    fps, hr = torch.tensor([30.0]), torch.tensor([72.0])
    at_hr = torch.sin(2 * math.pi * 1.2 * t)[None]
    elsewhere = torch.sin(2 * math.pi * 2.0 * t)[None]
    assert float(loss(at_hr, hr, fps)) < -10 < 10 < float(loss(elsewhere, hr, fps))
    assert float(loss(3 * at_hr, hr, fps)) == pytest.approx(float(loss(at_hr, hr, fps)), abs=1e-3)
    harmonic = torch.sin(2 * math.pi * 2.4 * t)[None]  # the first harmonic counts as signal
    assert float(loss(harmonic, hr, fps)) < -10
    assert float(loss(at_hr, torch.tensor([math.nan]), fps)) == 0.0


def test_declared_estimator_must_fit_the_training_window():
    with pytest.raises(ConfigError, match="too short for the estimator"):
        HRCNN(**{**TINY, "clip_frames": 12})


def test_registered_and_passes_the_conformance_kit_with_signal_and_hr():
    assert build_registry().method("hrcnn") is HRCNN
    assert HRCNN.estimates_hr and HRCNN.gives_signal
    check_method(HRCNN, TINY)


def test_tiny_hrcnn_trains_both_stages_and_learns(tmp_path):
    """The extractor's SNR loss falls; the estimator then reads unseen HRs better than their mean."""
    train = make_pulse_clips(np.linspace(55, 125, 8), frames=160, size=16, seed=3)
    test = make_pulse_clips([66.0, 94.0, 118.0], frames=160, size=16, seed=9)
    params = dict(TINY, clip_frames=128, epochs=6, est_epochs=12, val_fraction=0.0, lr=3e-3, est_lr=3e-3,
                  windows_per_clip=4)  # fmt: skip
    method = HRCNN(**params)
    method.fit(train, FitContext(work_dir=tmp_path, seed=0, progress=False))
    history = json.loads((tmp_path / TRAINING_FILE).read_text())["history"]
    stages = [h["stage"] for h in history]
    assert stages == ["extractor"] * 6 + ["estimator"] * 12
    assert history[5]["train_loss"] < history[0]["train_loss"] - 3  # dB of SNR gained by the extractor
    truth = np.array([66.0, 94.0, 118.0])
    mae = np.mean([abs(method.predict_hr(c) - hr) for c, hr in zip(test, truth, strict=True)])
    constant = np.mean(np.abs(truth - np.mean(np.linspace(55, 125, 8))))
    assert mae < constant, (mae, constant)
    assert method.predict(test[0]).shape == (160,)
