"""PhysFormer plugin: parameter count, shapes, TD-MHSA, label-distribution loss, curriculum, learning."""

import math

import numpy as np
import pytest
import torch
from rppgbench_plugins.autohr.tdc import TemporalDifferenceConv3d
from rppgbench_plugins.physformer.losses import (
    LabelDistributionLoss,
    PhysFormerLoss,
    curriculum_weight,
    frequency_loss,
)
from rppgbench_plugins.physformer.method import PhysFormer
from rppgbench_plugins.physformer.network import PhysFormerNet, TDMultiHeadSelfAttention

from rppgbench.errors import ConfigError
from rppgbench.method import FitContext
from rppgbench.plugins import build_registry
from rppgbench.testing import check_method
from rppgbench.testing.clips import make_pulse_clips
from rppgbench.testing.learning import check_learns_pulse

TINY_NET = dict(dim=16, ff_dim=24, heads=2, layers=2, patch=2)
TINY = dict(
    TINY_NET, clip_frames=64, size=16, lr=3e-3, batch_size=4, num_workers=0, val_fraction=0.25,
    device="cpu", dropout=0.0,
)  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors on a shared CPU


def test_parameter_count_matches_the_reference_implementation():
    """7,380,553 at the paper's configuration (D 96, D' 144, 4 heads, 12 blocks, 4x4x4 tubes): the
    authors' model (github.com/ZitongYu/PhysFormer, model/Physformer.py and model/transformer_layer.py,
    built as in train_Physformer_160_VIPL.py) has 7,380,865 parameters by its layer shapes (the
    "7.38M" quoted for PhysFormer), less the 312 biases of its stem (24 + 48 + 96) and upsampling
    (96 + 48) convolutions, which BatchNorm cancels and which ours leaves out."""
    dim, ff, d4, d2 = 96, 144, 24, 48
    stem = (3 * d4 * 25 + d4) + (d4 * d2 * 27 + d2) + (d2 * dim * 27 + dim) + 2 * (d4 + d2 + dim)
    tubes = dim * dim * 4 * 4 * 4 + dim
    attention = 2 * (dim * dim * 27 + 2 * dim) + dim * dim  # CDC-T q, k (+BN); 1x1x1 v
    block = attention + (dim * dim + dim) + 2 * 2 * dim  # + output projection, two LayerNorms
    block += (dim * ff + 2 * ff) + (ff * 27 + 2 * ff) + (ff * dim + 2 * dim)  # ST-FF
    head = (dim * dim * 3 + dim + 2 * dim) + (dim * d2 * 3 + d2 + 2 * d2) + (d2 + 1)
    reference = stem + tubes + 12 * block + head
    assert reference == 7_380_865
    assert sum(p.numel() for p in PhysFormerNet().parameters()) == reference - 312 == 7_380_553


@pytest.mark.parametrize("frames", [4, 16, 36, 64])
def test_output_has_one_value_per_frame(frames):
    net = PhysFormerNet(**TINY_NET).eval()
    with torch.no_grad():
        assert net(torch.randn(2, 3, frames, 16, 16)).shape == (2, frames)


def test_paper_configuration_forward_shape_at_a_small_crop():
    net = PhysFormerNet().eval()  # 32 px: a 1x1 token grid per 4 frames keeps it quick on a CPU
    with torch.no_grad():
        assert net(torch.randn(1, 3, 160, 32, 32)).shape == (1, 160)


def test_shapes_that_do_not_fit_the_tubes_are_rejected():
    with pytest.raises(ConfigError, match="multiple of 4"):
        PhysFormerNet(**TINY_NET)(torch.randn(1, 3, 18, 16, 16))
    with pytest.raises(ConfigError, match="size=20 must be a positive multiple of 8 x patch = 16"):
        PhysFormer(**dict(TINY, size=20))
    with pytest.raises(ConfigError, match="clip_frames"):
        PhysFormer(**dict(TINY, clip_frames=30))


def test_td_mhsa_projections_are_our_tdc_and_theta_zero_is_plain_convolution():
    torch.manual_seed(0)
    attn = TDMultiHeadSelfAttention(dim=8, heads=2, theta=0.0, tau=2.0, dropout=0.0).eval()
    assert isinstance(attn.query[0], TemporalDifferenceConv3d) and attn.query[0].theta == 0.0
    plain = TDMultiHeadSelfAttention(dim=8, heads=2, theta=0.0, tau=2.0, dropout=0.0).eval()
    for proj in ("query", "key"):  # the same weights in ordinary Conv3d projections
        conv = torch.nn.Conv3d(8, 8, 3, padding=1, bias=False)
        conv.weight.data.copy_(getattr(attn, proj)[0].weight.data)
        getattr(plain, proj)[0] = conv
    plain.load_state_dict(attn.state_dict(), strict=False)
    plain.value.weight.data.copy_(attn.value.weight.data)
    tokens = torch.randn(2, 3 * 2 * 2, 8)
    with torch.no_grad():
        torch.testing.assert_close(attn(tokens, (3, 2, 2)), plain(tokens, (3, 2, 2)))
        attn.query[0].theta = attn.key[0].theta = 0.7  # the difference term changes the attention
        assert not torch.allclose(attn(tokens, (3, 2, 2)), plain(tokens, (3, 2, 2)))


def test_td_mhsa_attention_uses_the_temperature():
    """With one token per head the attention returns the values, whatever tau; with several it is a
    softmax over Q K^T / tau: a huge tau averages the values uniformly."""
    torch.manual_seed(1)
    attn = TDMultiHeadSelfAttention(dim=4, heads=1, theta=0.7, tau=1e9, dropout=0.0).eval()
    tokens = torch.randn(1, 4, 4)
    with torch.no_grad():
        v = attn.value(tokens.transpose(1, 2).reshape(1, 4, 4, 1, 1)).flatten(2).transpose(1, 2)
        out = attn(tokens, (4, 1, 1))
    torch.testing.assert_close(out, v.mean(dim=1, keepdim=True).expand_as(out))


def _sines(hr_bpm, fps=30.0, frames=160):
    t = torch.arange(frames) / fps
    return torch.stack([torch.sin(2 * math.pi * hr / 60 * t) for hr in hr_bpm])


def test_label_distribution_target_is_a_normalised_gaussian_centred_on_the_hr():
    ld = LabelDistributionLoss(frequency_loss("log_power"), sigma=1.0)
    p = ld.target_distribution(torch.tensor([75.0, 40.0]))
    assert p.shape == (2, 140)
    torch.testing.assert_close(p.sum(-1), torch.ones(2))
    assert int(p[0].argmax()) == 75 - 40 and int(p[1].argmax()) == 0
    torch.testing.assert_close(p[0, 34] / p[0, 35], torch.tensor(math.exp(-0.5)))  # one sigma away


def test_label_distribution_loss_minimum_is_the_target_itself_and_a_peak_at_the_hr_is_best():
    ld = LabelDistributionLoss(frequency_loss("log_power"), sigma=1.0)
    hr = torch.tensor([72.0, 110.0])
    target = ld.target_distribution(hr)
    assert float(ld.divergence(target.log(), hr)) == pytest.approx(0.0, abs=1e-6)  # KL(p || p) = 0
    uniform = torch.full_like(target, 1 / 140).log()
    assert float(ld.divergence(uniform, hr)) > 1.0
    # a sinusoid at the true HR scores better than one a few bpm off, and far better than a wrong HR
    fps = torch.tensor([30.0, 30.0])
    right = float(ld(_sines([72.0, 110.0]), hr, fps))
    near = float(ld(_sines([76.0, 104.0]), hr, fps))
    wrong = float(ld(_sines([140.0, 50.0]), hr, fps))
    assert right < near < wrong
    assert math.isfinite(right) and right >= 0
    nan = torch.tensor([float("nan"), 110.0])  # samples without an HR label are ignored
    assert float(ld(_sines([30.0, 110.0]), nan, fps)) == pytest.approx(
        float(ld(_sines([110.0]), hr[1:], 30.0))
    )


def test_paper_logits_are_the_sum_normalised_spectrum():
    pred = _sines([80.0]) + 0.1 * torch.randn(1, 160)
    freq = frequency_loss("paper")
    from rppgbench.training.losses import power_spectrum_at

    power = power_spectrum_at(pred, torch.tensor([30.0]), freq.bpm / 60, "hann")
    torch.testing.assert_close(
        freq.logits(pred, 30.0), power / power.sum(-1, keepdim=True), rtol=1e-4, atol=1e-7
    )


def test_curriculum_follows_the_papers_exponential_schedule():
    """beta = beta0 * eta ** ((Epoch_current - 1) / Epoch_total): 1 at the first epoch, 5 ** 0.5 half-way,
    5 at and after the end (beta0 = 1, eta = 5, 25 epochs as for VIPL-HR)."""
    assert curriculum_weight(0) == 1.0
    assert curriculum_weight(1) == pytest.approx(5 ** (1 / 25))
    assert curriculum_weight(12) == pytest.approx(5 ** (12 / 25))
    assert curriculum_weight(25) == pytest.approx(5.0) and curriculum_weight(40) == pytest.approx(5.0)
    betas = [curriculum_weight(e, beta0=2.0, eta=3.0, epochs=10) for e in range(11)]
    np.testing.assert_allclose(betas, [2.0 * 3.0 ** (e / 10) for e in range(11)])
    assert all(b < c for b, c in zip(betas, betas[1:], strict=False))
    with pytest.raises(ConfigError):
        curriculum_weight(0, epochs=0)


def test_overall_loss_weights_time_and_frequency_terms():
    loss = PhysFormerLoss(alpha=0.1, beta0=1.0, eta=5.0, curriculum_epochs=4)
    pred, target = _sines([70.0]) + 0.3 * torch.randn(1, 160), _sines([70.0])
    hr, fps = torch.tensor([70.0]), torch.tensor([30.0])
    time = float(loss.time(pred, target))
    freq = float(loss.freq(pred, hr, fps) + loss.label_distribution(pred, hr, fps))
    for epoch in (0, 2, 4, 9):
        expected = 0.1 * time + 5 ** (min(epoch, 4) / 4) * freq
        assert float(loss(pred, target, hr, fps, epoch)) == pytest.approx(expected, rel=1e-5)
    assert float(PhysFormerLoss(time_only=True)(pred, target, hr, fps, 3)) == pytest.approx(time)


def test_method_follows_the_curriculum_through_the_training_loop(tmp_path):
    method = PhysFormer(**dict(TINY, epochs=3, windows_per_clip=1))
    seen = []
    real = method.compute_loss

    def spy(output, batch):
        if torch.is_grad_enabled():
            seen.append(method.epoch)
        return real(output, batch)

    method.compute_loss = spy
    method.fit(
        make_pulse_clips([60, 80, 100, 120], frames=128, size=16),
        FitContext(tmp_path, seed=0, progress=False),
    )
    assert sorted(set(seen)) == [0, 1, 2] and method.curriculum_epochs == 3


def test_registered_through_the_entry_point_with_the_papers_defaults(monkeypatch):
    monkeypatch.setenv("RPPGBENCH_PLUGINS", "physformer")
    assert build_registry().method("physformer") is PhysFormer
    c = PhysFormer().config
    assert (c["clip_frames"], c["size"], c["dim"], c["ff_dim"], c["heads"], c["layers"]) == (
        160,
        128,
        96,
        144,
        4,
        12,
    )
    assert (c["theta"], c["tau"], c["alpha"], c["beta0"], c["eta"], c["sigma"]) == (
        0.7,
        2.0,
        0.1,
        1.0,
        5.0,
        1.0,
    )


def test_passes_the_conformance_kit(tmp_path):
    check_method(PhysFormer, dict(TINY, epochs=1), work_dir=tmp_path)


def test_tiny_model_learns_to_beat_a_constant_hr_on_held_out_subjects(tmp_path):
    method = PhysFormer(**dict(TINY, epochs=12, windows_per_clip=4))
    # The training loss grows with beta; validation uses the final beta, so its fall is smaller.
    check_learns_pulse(method, tmp_path, val_loss_ratio=0.9)


def test_paper_recipe_keeps_the_papers_settings():
    from rppgbench.recipes import get_recipe

    p = get_recipe("physformer", "paper").params
    assert (p["clip_frames"], p["size"], p["patch"], p["dim"], p["ff_dim"], p["heads"], p["layers"]) == (
        160, 128, 4, 96, 144, 4, 12,
    )  # fmt: skip
    assert (p["theta"], p["tau"], p["lr"], p["weight_decay"], p["batch_size"], p["epochs"]) == (
        0.7, 2.0, 1e-4, 5e-5, 4, 25,
    )  # fmt: skip
    assert (p["alpha"], p["beta0"], p["eta"], p["curriculum_epochs"], p["sigma"]) == (0.1, 1.0, 5.0, 25, 1.0)
    assert p["loss"] == "paper" and p["freq_logits"] == "paper" and p["input_scaling"] == "paper"
    assert p["flip"] and p["da2"]


def test_augmentations_flip_left_right_and_resample_high_and_low_hr():
    from rppgbench_plugins.autohr.augment import HeartRateResample
    from rppgbench_plugins.physformer.augment import HorizontalFlip

    from rppgbench.training.sampling import Sample

    frames = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    sample = Sample(frames, np.zeros(2, np.float32), 80.0, 30.0, 0, 0)
    flipped = HorizontalFlip(prob=1.0)(sample, np.random.default_rng(0))
    np.testing.assert_array_equal(flipped.frames, frames[:, :, ::-1])
    assert HorizontalFlip(prob=0.0)(sample, np.random.default_rng(0)) is sample
    kinds = [type(a) for a in PhysFormer().sample_augmentations()]
    assert kinds == [HorizontalFlip, HeartRateResample]
    assert PhysFormer(flip=False, da2=False).sample_augmentations() == ()
