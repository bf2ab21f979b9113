"""RhythmNet plugin and the shared STMap builder: ROI grid, colour spaces, windows, HR resampling,
ResNet-18 parameter count, the loss, the conformance kit and a tiny learning check."""

import numpy as np
import pytest
import torch
from rppgbench_plugins.rhythmnet.method import RhythmNet, rhythm_loss, smoothness
from rppgbench_plugins.rhythmnet.network import ResNet18Trunk, RhythmNetModel

from rppgbench.errors import ConfigError
from rppgbench.method import FitContext
from rppgbench.plugins import build_registry
from rppgbench.signal.hr import HRConfig, estimate_hr
from rppgbench.testing import check_method
from rppgbench.testing.clips import make_pulse_clips
from rppgbench.training.augment import HeartRateScale
from rppgbench.training.sampling import ClipWindowDataset
from rppgbench.training.stmap import (
    minmax_normalise,
    rgb_to_yuv,
    roi_means,
    sliding_windows,
    spatial_temporal_map,
    stmap_of_clip,
    window_starts,
)

TINY = dict(
    rows=2, cols=2, window_frames=48, step_frames=8, seq_len=3, clip_frames=64, width=4, epochs=2,
    batch_size=4, size=16, num_workers=0, device="cpu", val_fraction=0.25, lr=1e-3,
)  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors on a shared CPU


def test_resnet18_trunk_has_torchvisions_count_without_the_classifier():
    """11,176,512: torchvision's resnet18 (11,689,512) less its 512 x 1000 + 1000 fc layer."""
    assert sum(p.numel() for p in ResNet18Trunk(3, 64).parameters()) == 11_689_512 - 513_000 == 11_176_512
    # six STMap channels (RGB + YUV) change only the stem: 3 more input channels of 64 7x7 kernels
    model = RhythmNetModel(in_channels=6, width=64)
    assert sum(p.numel() for p in model.backbone.parameters()) == 11_176_512 + 3 * 64 * 49


def test_roi_means_are_the_grid_blocks_inside_the_margin():
    frame = np.zeros((1, 1, 10, 10, 3), dtype=np.float32)
    frame[..., :5, :5, 0], frame[..., :5, 5:, 0], frame[..., 5:, :5, 0], frame[..., 5:, 5:, 0] = 1, 2, 3, 4
    means = roi_means(torch.from_numpy(frame), rows=2, cols=2, margin=0.0)
    assert means.shape == (1, 1, 4, 3)
    assert means[0, 0, :, 0].tolist() == [1, 2, 3, 4]
    frame[..., 0, :, 0] = 100  # a 10% margin leaves the first row out
    assert roi_means(torch.from_numpy(frame), rows=2, cols=2, margin=0.1)[0, 0, :, 0].tolist() == [1, 2, 3, 4]


def test_yuv_of_grey_has_no_colour_and_maps_are_normalised_per_row():
    grey = torch.full((1, 3), 0.5)
    torch.testing.assert_close(rgb_to_yuv(grey), torch.tensor([[0.5, 0.0, 0.0]]), atol=1e-4, rtol=0)
    frames = torch.rand(2, 40, 12, 12, 3) * 255
    stmap = spatial_temporal_map(frames, rows=3, cols=3, margin=0.0)
    assert stmap.shape == (2, 6, 9, 40)
    assert float(stmap.amin()) == 0.0 and float(stmap.amax()) == pytest.approx(1.0)
    assert spatial_temporal_map(frames, rows=3, cols=3, colors=("yuv",)).shape == (2, 3, 9, 40)
    assert stmap_of_clip(frames[0].numpy().astype(np.uint8), rows=3, cols=3).shape == (6, 9, 40)
    with pytest.raises(ValueError, match="colors"):
        spatial_temporal_map(frames, colors=("hsv",))


def test_windows_cover_the_clip_and_each_is_normalised():
    assert window_starts(100, 40, 25) == [0, 25, 50, 60]
    assert window_starts(30, 40, 25) == [0]
    stmap = torch.rand(1, 6, 4, 100) * 7
    windows = sliding_windows(stmap, 40, 25)
    assert windows.shape == (1, 4, 6, 4, 40)
    torch.testing.assert_close(windows[:, 1], minmax_normalise(stmap[..., 25:65]))


def test_hr_resampling_moves_low_and_high_rates_and_their_labels():
    clips = make_pulse_clips([60.0, 120.0], frames=400, size=8, noise=0.0)
    options = dict(train=True, seed=0, with_hr=True, windows_per_clip=1)
    plain = ClipWindowDataset(clips, 150, **options)
    data = ClipWindowDataset(clips, 150, augment=(HeartRateScale(prob=1.0),), **options)
    for index, factor in ((0, 1.5), (1, 1 / 1.5)):
        sample, out = plain[(0, index)], data[(0, index)]
        assert out.hr == pytest.approx(sample.hr * factor)
        assert out.frames.shape == sample.frames.shape and out.frames.dtype == sample.frames.dtype
        assert estimate_hr(out.target.astype(float), 30.0, HRConfig()) == pytest.approx(out.hr, abs=3)


def test_loss_is_l1_plus_weighted_smoothness():
    pred = torch.tensor([[70.0, 74.0]])
    labels = torch.tensor([[72.0, 72.0]])
    assert float(smoothness(pred)) == 2.0
    assert float(rhythm_loss(pred, labels, 0.0)) == 2.0
    assert float(rhythm_loss(pred, labels, 10.0)) == 22.0


def test_declared_windows_must_fit_the_training_clip():
    with pytest.raises(ConfigError, match="use clip_frames=64"):
        RhythmNet(**{**TINY, "clip_frames": 60})
    with pytest.raises(ConfigError, match="use select_metric=val_loss"):
        RhythmNet(**{**TINY, "select_metric": "val_mae"})


def test_registered_and_passes_the_conformance_kit():
    assert build_registry().method("rhythmnet") is RhythmNet
    assert RhythmNet.estimates_hr and not RhythmNet.gives_signal
    check_method(RhythmNet, TINY)
    with pytest.raises(NotImplementedError, match="gives no rPPG signal"):
        RhythmNet(**TINY).predict(make_pulse_clips([70.0], frames=64, size=16)[0])


def test_tiny_rhythmnet_learns_the_heart_rate(tmp_path):
    """Trained on tiny pulse clips at 50..130 bpm, it reads unseen rates better than their mean."""
    train = make_pulse_clips(np.linspace(50, 130, 12), frames=192, size=16, seed=3)
    test = make_pulse_clips([62.0, 88.0, 114.0], frames=192, size=16, seed=9)
    params = dict(TINY, window_frames=64, step_frames=16, clip_frames=96, width=8, epochs=6,
                  val_fraction=0.0, lr=3e-3, windows_per_clip=4, smooth_weight=1.0, hr_resample=False)  # fmt: skip
    method = RhythmNet(**params)
    method.fit(train, FitContext(work_dir=tmp_path, seed=0, progress=False))
    truth = np.array([62.0, 88.0, 114.0])
    mae = np.mean([abs(method.predict_hr(c) - hr) for c, hr in zip(test, truth, strict=True)])
    constant = np.mean(np.abs(truth - np.mean(np.linspace(50, 130, 12))))
    assert mae < constant, (mae, constant)
