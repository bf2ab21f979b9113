"""rPPGNet plugin: parameter counts (rPPGNet, STVEN), attention, skin target, compression, losses,
registration, recipes, conformance and learning."""

import numpy as np
import pytest
import torch
from rppgbench_plugins.rppgnet.method import RPPGNetMethod
from rppgbench_plugins.rppgnet.network import (
    QUALITIES,
    STVEN,
    RPPGNet,
    compress,
    intermediate_channels,
    skin_attention,
)
from rppgbench_plugins.rppgnet.skin import skin_mask

from rppgbench.errors import ConfigError
from rppgbench.plugins import build_registry
from rppgbench.testing import check_method
from rppgbench.testing.clips import make_pulse_clip
from rppgbench.testing.learning import check_learns_pulse
from rppgbench.training import Batch

TINY = dict(
    width=16, clip_frames=64, size=16, lr=3e-3, batch_size=4, num_workers=0, val_fraction=0.25,
    device="cpu", input_scaling="ratio",
)  # fmt: skip
TINY_STVEN = dict(TINY, stven=True, stven_width=8, stven_blocks=1)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors on a shared CPU


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _st_conv(c_in: int, c_out: int) -> int:
    """Factorised 3x3x3 conv with biases: 1x3x3 (+ batch norm) then 3x1x1."""
    m = 27 * c_in * c_out // (9 * c_in + 3 * c_out)
    return (9 * c_in * m + m) + 2 * m + (3 * m * c_out + c_out)


def test_rppgnet_parameter_count_matches_the_authors_model():
    """550,331 at width 64. The authors' released rPPGNet (github.com/ZitongYu/STVEN_rPPGNet, by its
    layer shapes) declares 550,779: the same layers plus one 1x3x3 convolution 3 -> 16 (448
    parameters) that its forward never uses. (Its code also declares a first part head it does not
    use, feeding the first quarter to the global head instead; ours has one head per quarter, so the
    counts agree once the unused stem convolution is left out.)"""
    stem = 3 * 16 * 25 + 16 + 2 * 16
    blocks = sum(_st_conv(a, b) + 2 * b for a, b in [(16, 32), (32, 32), (32, 64)] + [(64, 64)] * 4)
    skin = (32 * 16 * 9 + 16 + 32) + (16 * 8 * 9 + 8 + 16) + (32 * 8 + 8 + 16) + (8 * 9 + 1)
    heads = 6 * (64 + 1)  # mid (1/4), global, four parts
    reference = stem + blocks + skin + heads + (3 * 16 * 9 + 16)
    assert reference == 550_779
    assert _count(RPPGNet()) == reference - 448 == 550_331
    assert intermediate_channels(64, 64) == 144 and intermediate_channels(16, 32) == 57


def test_stven_parameter_count_matches_the_authors_generator():
    """10,738,592: the authors' STVEN generator (github.com/ZitongYu/STVEN_rPPGNet, conv_dim 64,
    c_dim 5, repeat_num 4) by its layer shapes: affine instance norms, bias-free convolutions except
    in the factorised bottleneck."""
    enc = (8 * 64 * 3 * 49 + 128) + (64 * 128 * 3 * 16 + 256) + (128 * 256 * 64 + 512)
    bottleneck = 4 * _st_conv(256, 256)
    dec = (256 * 64 * 64 + 128) + (64 * 32 * 16 + 64) + 32 * 3 * 49
    assert enc + bottleneck + dec == 10_738_592
    assert _count(STVEN()) == 10_738_592


def test_outputs_keep_the_temporal_resolution():
    net = RPPGNet(width=16).eval()
    with torch.no_grad():
        out = net(torch.randn(2, 3, 10, 32, 32))
    assert out["signal"].shape == out["mid"].shape == (2, 10)
    assert out["parts"].shape == (2, 4, 10) and out["skin_logits"].shape == (2, 10, 16, 16)
    stven = STVEN(width=8, levels=5, blocks=1).eval()
    video = torch.rand(2, 3, 10, 16, 16) * 2 - 1
    with torch.no_grad():
        assert stven(video, torch.tensor([0, 3])).shape == video.shape


def test_skin_attention_is_a_softmax_over_each_frames_positions():
    features = torch.randn(1, 4, 3, 2, 2)
    skin = torch.zeros(1, 3, 2, 2)
    skin[..., 0, 0] = 50.0  # a certain skin pixel takes all the weight
    out = skin_attention(features, skin)
    torch.testing.assert_close(out[..., 0, 0], features[..., 0, 0], rtol=1e-5, atol=1e-6)
    assert out[..., 1, 1].abs().max() < 1e-6
    weights = skin_attention(torch.ones(1, 1, 3, 2, 2), torch.zeros(1, 3, 2, 2))
    torch.testing.assert_close(weights.sum(dim=(3, 4)), torch.ones(1, 1, 3))


def test_skin_mask_finds_the_skin_of_a_pulse_clip():
    clip = make_pulse_clip("p00", 72.0, frames=4, size=32)
    frames = torch.from_numpy(np.asarray(clip.frames[:4]))[None]
    mask = skin_mask(frames, 32)[0, 0].numpy().astype(bool)
    yy, xx = np.mgrid[0:32, 0:32] / 32
    face = (((yy - 0.5) / 0.42) ** 2 + ((xx - 0.5) / 0.32) ** 2) < 1.0
    assert (mask == face).mean() > 0.95
    assert skin_mask(frames, 16).shape == (1, 4, 16, 16)


def test_compression_keeps_smooth_images_and_loses_more_at_lower_quality():
    torch.manual_seed(0)
    flat = torch.full((1, 3, 2, 16, 16), 0.4)
    torch.testing.assert_close(compress(flat, 50), flat, atol=2 / 255, rtol=0)
    video = torch.rand(1, 3, 2, 20, 20)
    errors = [float((compress(video, q) - video).abs().mean()) for q in QUALITIES]
    assert errors == sorted(errors) and errors[0] > 0
    assert compress(video, 5).shape == video.shape


def test_training_loss_combines_the_papers_terms():
    method = RPPGNetMethod(**TINY)
    t = torch.arange(32) / 30.0
    target = torch.sin(2 * np.pi * 1.2 * t)[None].repeat(2, 1)
    frames = torch.zeros(2, 32, 16, 16, 3, dtype=torch.uint8)
    batch = Batch(
        frames, target, torch.full((2,), 72.0), torch.full((2,), 30.0), torch.zeros(2), torch.zeros(2)
    )
    noisy = target + 0.5 * torch.randn_like(target)
    output = {
        "signal": target.clone(),
        "mid": noisy,
        "parts": torch.stack([noisy, -target, target, target], 1),
        "skin_logits": torch.zeros(2, 32, 8, 8),
    }
    np_ = method.neg_pearson
    expected = 0.0 + 0.5 * (float(np_(noisy, target)) + 2.0 + float(np_(noisy, target))) + 0.1 * np.log(2)
    assert float(method.compute_loss(output, batch)) == pytest.approx(expected, rel=1e-4)
    assert float(method.compute_loss(noisy, batch)) == pytest.approx(float(np_(noisy, target)))  # validation


def test_stven_system_returns_its_training_terms_and_a_signal_in_evaluation():
    method = RPPGNetMethod(**TINY_STVEN)
    model = method.build_model()
    x = torch.rand(2, 3, 8, 16, 16)
    out = model.train()(x)
    assert {"enhanced", "clean", "cycled", "degraded", "signal", "parts", "skin_logits"} <= set(out)
    assert out["enhanced"].shape == x.shape
    with torch.no_grad():
        assert model.eval()(x).shape == (2, 8)
    assert "cycled" not in RPPGNetMethod(**dict(TINY_STVEN, cycle_weight=0.0)).build_model().train()(x)


def test_shapes_that_do_not_fit_are_rejected():
    with pytest.raises(ConfigError, match="size"):
        RPPGNetMethod(**dict(TINY, size=24))
    with pytest.raises(ConfigError, match="clip_frames"):
        RPPGNetMethod(**dict(TINY, clip_frames=63))


def test_registered_through_the_entry_point(monkeypatch):
    monkeypatch.setenv("RPPGBENCH_PLUGINS", "rppgnet")
    assert build_registry().method("rppgnet") is RPPGNetMethod
    c = RPPGNetMethod().config
    assert (c["clip_frames"], c["size"], c["width"], c["skin_weight"], c["part_weight"], c["stven"]) == (
        64, 128, 64, 0.1, 0.5, False,
    )  # fmt: skip


def test_recipes():
    from rppgbench.recipes import get_recipe

    paper = get_recipe("rppgnet", "paper").params
    assert (paper["clip_frames"], paper["size"], paper["width"], paper["lr"], paper["epochs"]) == (
        64, 128, 64, 1e-4, 15,
    )  # fmt: skip
    assert (paper["skin_weight"], paper["part_weight"], paper["stven"]) == (0.1, 0.5, False)
    RPPGNetMethod(**get_recipe("rppgnet", "cpu").params)  # valid


def test_passes_the_conformance_kit(tmp_path):
    check_method(RPPGNetMethod, dict(TINY, epochs=1), work_dir=tmp_path)


def test_passes_the_conformance_kit_with_stven(tmp_path):
    check_method(RPPGNetMethod, dict(TINY_STVEN, epochs=1), work_dir=tmp_path)


def test_tiny_model_learns_to_beat_a_constant_hr_on_held_out_subjects(tmp_path):
    method = RPPGNetMethod(**dict(TINY, epochs=6, windows_per_clip=4))
    check_learns_pulse(method, tmp_path, val_loss_ratio=0.5)
