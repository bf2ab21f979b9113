"""I3D plugin: parameter count of the trunk, shapes, registration, recipes, conformance and learning."""

import pytest
import torch
from rppgbench_plugins.i3d.method import I3D
from rppgbench_plugins.i3d.network import MIXED, I3DRegressor, InceptionI3d

from rppgbench.errors import ConfigError
from rppgbench.plugins import build_registry
from rppgbench.testing import check_method
from rppgbench.testing.learning import check_learns_pulse

TINY = dict(
    width=0.125, head_width=16, clip_frames=64, size=16, lr=3e-3, batch_size=4, num_workers=0,
    val_fraction=0.25, device="cpu", input_scaling="ratio",
)  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors on a shared CPU


def _unit(c_in: int, c_out: int, k: int = 1) -> int:
    """A bias-free k x k x k convolution and its batch norm (scale and offset)."""
    return k**3 * c_in * c_out + 2 * c_out


def test_trunk_parameter_count_is_the_published_inception_v1_i3d():
    """12,287,264 parameters from the stem to Mixed_5c, recomputed here from the published layer widths
    (I3D paper, Fig. 3; Inception-V1's module widths). The I3D paper's Table 1 gives 12M parameters for
    one I3D stream (25M for the two-stream network). With the Kinetics-400 classifier (a 1x1x1
    convolution 1024 -> 400 with bias) the network has 12,697,264 (12.7M): a figure of "about 12.3M"
    matches the trunk without its classifier (12.29M). Batch norm counts a scale and an offset per channel here (PyTorch);
    the original Sonnet batch norm had an offset only, 7,280 parameters fewer."""
    stem = _unit(3, 64, 7) + _unit(64, 64) + _unit(64, 192, 3)
    mixed, c_in = 0, 192
    for _, (b0, b1a, b1b, b2a, b2b, b3) in MIXED:
        mixed += _unit(c_in, b0) + _unit(c_in, b1a) + _unit(b1a, b1b, 3) + _unit(c_in, b2a)
        mixed += _unit(b2a, b2b, 3) + _unit(c_in, b3)
        c_in = b0 + b1b + b2b + b3
    assert c_in == 1024
    reference = stem + mixed
    assert reference == 12_287_264
    trunk = InceptionI3d()
    assert sum(p.numel() for p in trunk.parameters()) == reference
    assert reference + 1024 * 400 + 400 == 12_697_264
    # the regression head replacing the classifier: 1x1 reduction, three x2 upsamplings, projection
    head = sum(p.numel() for p in I3DRegressor().parameters()) - reference
    assert head == (1024 * 64 + 128) + 3 * (64 * 64 * 4 + 64 + 128) + 65 == 115_457


def test_trunk_strides_and_output_has_one_value_per_frame():
    trunk = InceptionI3d(width=0.125).eval()
    with torch.no_grad():
        features = trunk(torch.randn(1, 3, 32, 64, 64))
    assert features.shape[2:] == (4, 2, 2)  # time / 8, space / 32
    net = I3DRegressor(width=0.125, head_width=8).eval()
    for frames in (8, 16, 40):
        with torch.no_grad():
            assert net(torch.randn(2, 3, frames, 16, 16)).shape == (2, frames)
    with pytest.raises(ConfigError, match="multiple of 8"):
        net(torch.randn(1, 3, 12, 16, 16))
    with pytest.raises(ConfigError, match="clip_frames"):
        I3D(**dict(TINY, clip_frames=60))


def test_keep_time_removes_the_temporal_strides_with_the_same_parameters():
    trunk = InceptionI3d(width=0.125, keep_time=True).eval()
    with torch.no_grad():
        assert trunk(torch.randn(1, 3, 12, 64, 64)).shape[2:] == (12, 2, 2)
    assert sum(p.numel() for p in InceptionI3d(keep_time=True).parameters()) == 12_287_264
    net = I3DRegressor(width=0.125, head_width=8, keep_time=True).eval()
    with torch.no_grad():
        assert net(torch.randn(2, 3, 13, 16, 16)).shape == (2, 13)  # any length
    assert I3D(**dict(TINY, keep_time=True, clip_frames=60)).config["clip_frames"] == 60


def test_registered_through_the_entry_point(monkeypatch):
    monkeypatch.setenv("RPPGBENCH_PLUGINS", "i3d")
    assert build_registry().method("i3d") is I3D
    c = I3D().config
    assert (c["width"], c["clip_frames"], c["size"], c["lr"], c["batch_size"]) == (1.0, 160, 112, 1e-4, 4)


def test_recipes():
    from rppgbench.recipes import get_recipe

    paper = get_recipe("i3d", "paper").params
    assert (paper["width"], paper["clip_frames"], paper["size"], paper["lr"], paper["epochs"]) == (
        1.0, 160, 112, 1e-4, 15,
    )  # fmt: skip
    cpu = get_recipe("i3d", "cpu").params
    I3D(**cpu)  # valid
    assert cpu["clip_frames"] % 8 == 0


def test_passes_the_conformance_kit(tmp_path):
    check_method(I3D, dict(TINY, epochs=1), work_dir=tmp_path)


def test_tiny_model_learns_to_beat_a_constant_hr_on_held_out_subjects(tmp_path):
    method = I3D(**dict(TINY, epochs=10, windows_per_clip=4))
    check_learns_pulse(method, tmp_path, val_loss_ratio=0.5)
