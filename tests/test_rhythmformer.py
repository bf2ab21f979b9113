"""RhythmFormer plugin: parameter count, shapes, fusion stem, periodic sparse attention, loss, learning."""

import pytest
import torch
from rppgbench_plugins.autohr.augment import HeartRateResample
from rppgbench_plugins.autohr.tdc import TemporalDifferenceConv3d
from rppgbench_plugins.rhythmformer.method import RhythmFormer, rhythmformer_loss
from rppgbench_plugins.rhythmformer.network import (
    FusionStem,
    PeriodicSparseAttention,
    RhythmFormerNet,
    count_parameters,
)

from rppgbench.errors import ConfigError
from rppgbench.plugins import build_registry
from rppgbench.testing import check_method
from rppgbench.testing.learning import check_learns_pulse
from rppgbench.training.losses import HybridLoss, NegPearsonLoss

TINY_NET = dict(dim=16, heads=2, depth=1, stages=2, topk=4, patch=1, spatial_regions=2)
TINY = dict(
    TINY_NET, clip_frames=48, size=16, lr=3e-3, batch_size=4, num_workers=0, val_fraction=0.25,
    device="cpu", scheduler="none", optimizer="adamw",
)  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors on a shared CPU


def test_parameter_count_matches_the_reference_implementation():
    """3,251,137 at the paper's configuration (D 64, 4 heads of 16, 2 blocks per stage, scales 2, 4, 8,
    128 px, 4 x 4 patches, mlp ratio 1.5, 3x3x3 local convolution). Counted from the layer shapes of the
    authors' model (github.com/zizheng-guo/RhythmFormer, neural_methods/model/RhythmFormer.py and the
    video BRA block it imports): 3,326,017, of which 6 x 12,480 belong to a `qkv_linear` projection its
    forward never calls and which ours leaves out (3.25M: the size quoted for RhythmFormer)."""
    d, hid = 64, 96
    stem = (3 * d * 25 + d + 2 * d) + (12 * d * 25 + d + 2 * d) + 2 * (d * d * 9 + d + 2 * d)
    embed, head = d * d * 16 + d, d + 1
    resample = (2 * d + d * d * 2 + d) + (d * d * 3 + d + 2 * d)  # one halving and one doubling
    attention = 2 * (d * d * 27 + 2 * d) + d * d + (d * 27 + d) + (d * d + d)  # q, k (+BN), v, local, proj
    mlp = (d * hid + hid + 2 * hid) + (hid * hid * 27 + hid + 2 * hid) + (hid * d + d + 2 * d)
    block = 2 * 2 * d + attention + mlp
    reference_forward = stem + embed + head + (1 + 2 + 3) * resample + 6 * block
    unused_qkv = 6 * (d * 3 * d + 3 * d)
    assert reference_forward + unused_qkv == 3_326_017
    assert count_parameters(RhythmFormerNet()) == reference_forward == 3_251_137


@pytest.mark.parametrize("frames", [8, 16, 48])
def test_output_has_one_value_per_frame(frames):
    net = RhythmFormerNet(**TINY_NET).eval()
    with torch.no_grad():
        assert net(torch.randn(2, 3, frames, 16, 16)).shape == (2, frames)


def test_paper_configuration_runs_at_a_short_window():
    net = RhythmFormerNet().eval()
    with torch.no_grad():  # 16 frames at the paper's 128 px: 8 x 8 tokens, 4 x 4 regions of 2 x 2
        assert net(torch.randn(1, 3, 16, 128, 128)).shape == (1, 16)


def test_shapes_that_do_not_fit_are_rejected():
    with pytest.raises(ConfigError, match="multiple of 8"):
        RhythmFormerNet()(torch.randn(1, 3, 12, 128, 128))
    with pytest.raises(ConfigError, match="clip_frames=50 must be a multiple of 4"):
        RhythmFormer(**dict(TINY, clip_frames=50))
    with pytest.raises(ConfigError, match="use size=128"):
        RhythmFormer(size=120)


def test_fusion_stem_differences_are_those_of_the_neighbouring_frames():
    x = torch.arange(5.0).reshape(1, 1, 5, 1, 1).expand(1, 3, 5, 1, 1) ** 2  # frame t holds t^2
    d = FusionStem.differences(x)
    assert d.shape == (1, 12, 5, 1, 1)
    # at t = 2: [x1 - x0, x2 - x1, x3 - x2, x4 - x3] = [1, 3, 5, 7] (each over 3 colour channels)
    torch.testing.assert_close(d[0, ::3, 2, 0, 0], torch.tensor([1.0, 3.0, 5.0, 7.0]))
    # at t = 0 the two frames before are the first frame repeated
    torch.testing.assert_close(d[0, ::3, 0, 0, 0], torch.tensor([0.0, 0.0, 1.0, 3.0]))


def test_periodic_sparse_attention_routes_to_topk_regions_and_attends_within_them():
    torch.manual_seed(0)
    attn = PeriodicSparseAttention(dim=8, heads=2, scale=2, topk=3, spatial_regions=2).eval()
    assert isinstance(attn.query[0], TemporalDifferenceConv3d) and attn.query[0].theta == 0.2
    x = torch.randn(2, 8, 8, 4, 4)  # 8 steps x 4 x 4 tokens: regions of 2 steps x 2 x 2 -> 4 x 2 x 2 = 16
    assert attn.region_size(8, 4, 4) == (2, 2, 2)
    with torch.no_grad():
        out = attn(x)
        from rppgbench_plugins.rhythmformer.network import _from_regions, _to_regions

        q = _to_regions(attn.query(x), 2, (2, 2, 2))
        index = attn.route(q, _to_regions(attn.key(x), 2, (2, 2, 2)))
    assert out.shape == x.shape and index.shape == (2, 16, 3)
    assert torch.equal(_from_regions(q, tuple(x.shape), (2, 2, 2)), attn.query(x))  # exact inverse
    # with topk = every region, routing selects all of them: dense attention over all tokens
    dense = PeriodicSparseAttention(dim=8, heads=2, scale=2, topk=16, spatial_regions=2).eval()
    dense.load_state_dict(attn.state_dict())
    with torch.no_grad():
        q, k = dense.query(x), dense.key(x)
        v = dense.value(x)
        qs = q.flatten(2).reshape(2, 2, 4, -1).transpose(-1, -2)  # (B, h, N, d)
        ks = k.flatten(2).reshape(2, 2, 4, -1).transpose(-1, -2)
        vs = v.flatten(2).reshape(2, 2, 4, -1).transpose(-1, -2)
        full = torch.softmax(qs @ ks.transpose(-1, -2) * 8**-0.5, dim=-1) @ vs
        expected = dense.project(full.transpose(-1, -2).reshape(2, 8, 8, 4, 4) + dense.local(v))
        torch.testing.assert_close(dense(x), expected, rtol=1e-4, atol=1e-5)


def test_loss_is_the_authors_time_plus_frequency_form():
    paper = rhythmformer_loss("paper", 0.2, "paper")
    assert isinstance(paper, HybridLoss) and paper.lambda_time == 0.2
    assert (paper.freq.bpm_min, paper.freq.bpm_max, paper.freq.logits_kind) == (45, 149, "power")
    assert paper.freq.temperature == 105  # softmax over the sum-normalised spectrum, as the authors'
    assert rhythmformer_loss("paper", 0.2, "log_power").freq.logits_kind == "log_power"
    assert isinstance(rhythmformer_loss("time", 0.2, "paper"), NegPearsonLoss)


def test_registered_through_the_entry_point_with_the_papers_defaults(monkeypatch):
    monkeypatch.setenv("RPPGBENCH_PLUGINS", "rhythmformer")
    assert build_registry().method("rhythmformer") is RhythmFormer
    c = RhythmFormer().config
    assert (c["clip_frames"], c["size"], c["dim"], c["heads"], c["depth"], c["stages"], c["topk"]) == (
        160, 128, 64, 4, 2, 3, 40,
    )  # fmt: skip
    assert (c["lr"], c["optimizer"], c["scheduler"], c["epochs"], c["alpha"]) == (
        9e-3,
        "adamw",
        "onecycle",
        30,
        0.2,
    )
    kinds = RhythmFormer().sample_augmentations()
    assert len(kinds) == 1 and isinstance(kinds[0], HeartRateResample) and kinds[0].low_bpm == 75.0


def test_passes_the_conformance_kit(tmp_path):
    check_method(RhythmFormer, dict(TINY, epochs=1), work_dir=tmp_path)


def test_tiny_model_learns_to_beat_a_constant_hr_on_held_out_subjects(tmp_path):
    method = RhythmFormer(**dict(TINY, epochs=8, windows_per_clip=4, da2=False))
    check_learns_pulse(method, tmp_path, val_loss_ratio=0.8)


def test_paper_recipe_keeps_the_papers_settings():
    from rppgbench.recipes import get_recipe

    p = get_recipe("rhythmformer", "paper").params
    assert (p["clip_frames"], p["size"], p["dim"], p["heads"], p["depth"], p["stages"], p["topk"]) == (
        160, 128, 64, 4, 2, 3, 40,
    )  # fmt: skip
    assert (p["lr"], p["optimizer"], p["scheduler"], p["weight_decay"], p["batch_size"], p["epochs"]) == (
        9e-3, "adamw", "onecycle", 0.0, 4, 30,
    )  # fmt: skip
    assert p["loss"] == "paper" and p["freq_logits"] == "paper" and p["alpha"] == 0.2 and p["da2"]
    assert p["val_fraction"] == 0.0 and p["input_scaling"] == "clip"
