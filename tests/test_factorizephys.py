"""FactorizePhys plugin: parameter count, shapes, diff-normalisation, NMF attention, FSAM, learning."""

import pytest
import torch
from rppgbench_plugins.factorizephys.method import FactorizePhys
from rppgbench_plugins.factorizephys.network import FSAM, FactorizePhysNet, count_parameters, nmf_attention

from rppgbench.errors import ConfigError
from rppgbench.plugins import build_registry
from rppgbench.testing import check_method
from rppgbench.testing.learning import check_learns_pulse

TINY = dict(
    size=16, padding="same", clip_frames=48, lr=3e-3, batch_size=4, num_workers=0, val_fraction=0.25,
    device="cpu", scheduler="none",
)  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors on a shared CPU


def test_parameter_count_matches_the_reference_implementation():
    """52,168: the layer shapes of the authors' model (github.com/PhysiologicAILab/FactorizePhys,
    neural_methods/model/FactorizePhys/FactorizePhys.py with nf = [8, 12, 16], FSAM.py), the paper's
    "52K". Their offset `bias1` is `nn.Parameter(...).to(device)`, a plain unregistered tensor on a GPU
    (a 52,169th parameter only on a CPU); ours is the constant 1. Convolutions have no bias except
    FSAM's first 1x1x1; instance norms have no affine parameters."""
    k = 27
    features = 3 * 8 * k + 8 * 12 * k + 2 * 12 * 12 * k + 12 * 16 * k + 16 * 16 * k
    embed = 3 * 16 * 16 * k
    fsam = (16 * 8 + 8) + 8 * 8 + 8 * 16
    final = 16 * 12 * k + 12 * 8 * k + 8 * 1 * k
    assert features + embed + fsam + final == 52_168
    assert count_parameters(FactorizePhysNet()) == 52_168
    assert count_parameters(FactorizePhysNet(padding="same")) == 52_168  # padding adds no weights
    assert count_parameters(FactorizePhysNet(fsam=False)) == 52_168 - fsam


@pytest.mark.parametrize("frames", [2, 17, 64])
def test_output_has_one_value_per_frame_at_the_papers_72_px(frames):
    net = FactorizePhysNet().eval()
    with torch.no_grad():
        assert net(torch.rand(2, 3, frames, 72, 72)).shape == (2, frames)


def test_small_frames_need_same_padding():
    with pytest.raises(ConfigError, match="at least 71 px"):
        FactorizePhysNet()(torch.rand(1, 3, 8, 36, 36))
    with pytest.raises(ConfigError, match="padding='same'"):
        FactorizePhys(size=36)
    net = FactorizePhysNet(padding="same").eval()
    with torch.no_grad():
        assert net(torch.rand(2, 3, 8, 24, 24)).shape == (2, 8)


def test_input_is_the_instance_normalised_frame_difference():
    net = FactorizePhysNet()
    x = torch.rand(2, 3, 6, 4, 4) * 200
    d = net.diff_normalise(x)
    assert d.shape == x.shape
    diff = torch.cat([x[:, :, 1:] - x[:, :, :-1], torch.zeros_like(x[:, :, :1])], dim=2)
    expected = (diff - diff.mean(dim=(2, 3, 4), keepdim=True)) / torch.sqrt(
        diff.var(dim=(2, 3, 4), unbiased=False, keepdim=True) + 1e-5
    )
    torch.testing.assert_close(d, expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(net.diff_normalise(x * 7 + 3), d, rtol=1e-3, atol=1e-3)  # scale-free


def test_nmf_recovers_a_rank_one_nonnegative_matrix_and_reduces_the_error():
    torch.manual_seed(0)
    w, h = torch.rand(3, 20, 1) + 0.1, torch.rand(3, 50, 1) + 0.1
    v = w @ h.transpose(1, 2)
    torch.testing.assert_close(nmf_attention(v, rank=1, steps=20), v, rtol=1e-3, atol=1e-3)
    noisy = v + 0.3 * torch.rand_like(v)
    errors = [float((nmf_attention(noisy, 1, s) - noisy).norm()) for s in (0, 1, 4)]
    assert errors[2] <= errors[1] <= errors[0]
    approx = nmf_attention(noisy, 2, 4)
    assert approx.shape == noisy.shape and bool((approx >= 0).all())


def test_nmf_gradient_flows_through_the_last_coefficient_update_only():
    v = (torch.rand(1, 5, 7) + 0.1).requires_grad_()
    nmf_attention(v, 1, 4).sum().backward()
    assert v.grad is not None and torch.isfinite(v.grad).all() and float(v.grad.abs().sum()) > 0


def test_fsam_layouts_factorise_time_or_the_authors_memory_view():
    torch.manual_seed(1)
    emb = torch.randn(2, 16, 10, 3, 3)
    time_fsam, view_fsam = FSAM(16, layout="time"), FSAM(16, layout="view")
    view_fsam.load_state_dict(time_fsam.state_dict())
    # a separable temporal x (channel, space) pattern is rank 1 in the time layout, not in the view
    pattern = (torch.rand(2, 1, 10, 1, 1) + 0.05) * (torch.rand(2, 16, 1, 3, 3) + 0.05)
    time_error = float((time_fsam.factorise(pattern) - pattern).norm() / pattern.norm())
    view_error = float((view_fsam.factorise(pattern) - pattern).norm() / pattern.norm())
    assert time_error < 1e-3 < 0.05 < view_error, (time_error, view_error)
    assert time_fsam(emb).shape == emb.shape == view_fsam(emb).shape
    with pytest.raises(ConfigError):
        FSAM(16, layout="columns")


def test_each_window_is_processed_independently_of_its_batch():
    net = FactorizePhysNet(padding="same").eval()
    x = torch.rand(3, 3, 16, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(net(x)[1:2], net(x[1:2]), rtol=1e-4, atol=1e-5)


def test_registered_through_the_entry_point_with_the_papers_defaults(monkeypatch):
    monkeypatch.setenv("RPPGBENCH_PLUGINS", "factorizephys")
    assert build_registry().method("factorizephys") is FactorizePhys
    c = FactorizePhys().config
    assert (c["clip_frames"], c["size"], c["lr"], c["optimizer"], c["scheduler"], c["epochs"]) == (
        160, 72, 1e-3, "adam", "onecycle", 10,
    )  # fmt: skip
    assert (c["rank"], c["nmf_steps"], c["fsam"], c["residual"], c["dropout"]) == (1, 4, True, True, 0.1)


def test_passes_the_conformance_kit(tmp_path):
    check_method(FactorizePhys, dict(TINY, epochs=1), work_dir=tmp_path)


def test_tiny_model_learns_to_beat_a_constant_hr_on_held_out_subjects(tmp_path):
    method = FactorizePhys(**dict(TINY, epochs=8, windows_per_clip=4))
    check_learns_pulse(method, tmp_path, val_loss_ratio=0.5)


def test_paper_recipe_keeps_the_papers_settings():
    from rppgbench.recipes import get_recipe

    p = get_recipe("factorizephys", "paper").params
    assert (p["clip_frames"], p["size"], p["padding"], p["lr"], p["weight_decay"], p["epochs"]) == (
        160, 72, "valid", 1e-3, 0.0, 10,
    )  # fmt: skip
    assert (p["optimizer"], p["scheduler"], p["batch_size"], p["val_fraction"]) == (
        "adam",
        "onecycle",
        4,
        0.0,
    )
    assert (p["rank"], p["nmf_steps"], p["fsam"], p["residual"], p["dropout"]) == (1, 4, True, True, 0.1)
