"""AutoHR search space and search: mixed edges, channel shuffle, supernet, derivation, genotype JSON, bi-level."""

import json

import numpy as np
import pytest
import torch
from rppgbench_plugins.autohr.cells import (
    MixedEdge,
    SearchCell,
    cell_edges,
    channel_shuffle,
    edge_normalisation,
)
from rppgbench_plugins.autohr.genotype import Genotype, default_genotype, derive_cell, draw_genotype
from rppgbench_plugins.autohr.ops import DEFAULT_OPS, build_op, resolve_ops
from rppgbench_plugins.autohr.search import run_search, search_config
from rppgbench_plugins.autohr.supernet import SuperNet

from rppgbench.data import Clip, Record, Reference
from rppgbench.errors import ConfigError
from rppgbench.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors on a shared CPU


SMALL_OPS = "none,skip_connect,conv_3x1x1,TDC_3x3x3_0.2"


def pulsing_clips(n_subjects=4, frames=32, size=16, fps=10.0, seed=0):
    """Tiny face-like clips whose mean colour pulses at a known HR, with a matching PPG reference."""
    rng = np.random.default_rng(seed)
    clips = []
    for s in range(n_subjects):
        hr = 60 + 15 * s
        t = np.arange(frames) / fps
        pulse = np.sin(2 * np.pi * hr / 60 * t)
        base = rng.uniform(80, 160, size=(1, size, size, 3))
        video = base + 3 * pulse[:, None, None, None] + rng.normal(0, 1, (frames, size, size, 3))
        record = Record("toy", f"s{s}", "v1", location=__import__("pathlib").Path("/none"), fps=fps)
        ref = Reference("ppg", pulse.astype(np.float64), t)
        clips.append(Clip(record, np.clip(video, 0, 255).astype(np.uint8), t, ref))
    return clips


def test_cell_has_six_edges_and_edge_normalisation_is_per_node():
    assert cell_edges(3) == [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]
    w = edge_normalisation(torch.tensor([5.0, 0.0, 1.0, 0.0, 2.0, 3.0]), 3)
    assert w[0] == pytest.approx(1.0)  # B1 has a single incoming edge
    assert float(w[1:3].sum()) == pytest.approx(1.0) and float(w[3:].sum()) == pytest.approx(1.0)


def test_channel_shuffle_interleaves_groups():
    x = torch.arange(8.0).view(1, 8, 1, 1, 1)
    assert channel_shuffle(x, 4).flatten().tolist() == [0, 2, 4, 6, 1, 3, 5, 7]
    assert channel_shuffle(channel_shuffle(x, 2), 4).shape == x.shape


def test_partial_channel_edge_only_transforms_one_kth_of_the_channels():
    torch.manual_seed(0)
    edge = MixedEdge(8, ("none", "skip_connect", "conv_1x3x3"), partial=4)
    x = torch.randn(2, 8, 4, 6, 6)
    weights = torch.tensor([0.0, 0.0, 1.0])  # only the convolution
    out = edge(x, weights)
    assert out.shape == x.shape
    assert edge.ops["2"][0].in_channels == 2  # C/K channels go through the operations
    # after the shuffle with K=4 groups the bypassed channels 2..7 sit at the positions below, unchanged
    shuffled_back = out.view(2, 2, 4, 4, 6, 6).transpose(1, 2).reshape(2, 8, 4, 6, 6)
    torch.testing.assert_close(shuffled_back[:, 2:], x[:, 2:])
    assert not torch.allclose(shuffled_back[:, :2], x[:, :2])
    with pytest.raises(ConfigError):
        MixedEdge(6, DEFAULT_OPS, partial=4)


def test_ops_registry_builds_every_default_op_shape_preserving_and_parses_new_names():
    x = torch.randn(1, 4, 5, 7, 7)
    for name in DEFAULT_OPS + ("TDC_5x3x3_0.6", "conv_3x5x5"):
        assert build_op(name, 4)(x).shape == x.shape
    assert "TDC_3x3x3_0.2" not in resolve_ops(None, exclude_tdc=True)
    assert resolve_ops("conv_1x3x3,none") == ("conv_1x3x3", "none")
    for bad in ("conv_2x3x3", "wavelet", "TDC_3x3x3_1.5", "none"):
        with pytest.raises(ConfigError):
            resolve_ops(bad)


def test_search_cell_and_supernet_shapes_shared_and_varied():
    cell = SearchCell(4, 8, DEFAULT_OPS, partial=4)
    alpha, beta = torch.zeros(6, len(DEFAULT_OPS)), torch.zeros(6)
    assert cell(torch.randn(1, 4, 4, 6, 6), alpha, beta).shape == (1, 8, 4, 6, 6)
    for config, sets in (("shared", 1), ("varied", 4)):
        net = SuperNet(DEFAULT_OPS, channels=2, config=config, partial=2)
        assert net.arch.alpha.shape == (sets, 6, len(DEFAULT_OPS))
        assert len(net.genotype().cells) == sets
        assert {id(p) for p in net.arch_parameters()}.isdisjoint({id(p) for p in net.weight_parameters()})
        if config == "varied":
            out = net(torch.randn(1, 3, 8, 16, 16))
            assert out.shape == (1, 8)
            out.sum().backward()
            assert (net.arch.alpha.grad.abs().sum(dim=(1, 2)) > 0).all()  # every block's alpha is used


def test_derivation_picks_best_non_none_op_and_two_strongest_edges():
    ops = ("none", "skip_connect", "conv_3x1x1", "conv_1x5x5")
    alpha = np.zeros((6, 4))
    alpha[:, 0] = 10.0  # `none` dominates everywhere but must never be chosen
    alpha[0, 2] = 3.0  # input->B1: conv_3x1x1
    alpha[1, 3], alpha[2, 1] = 2.0, 1.0  # B2 from input (conv_1x5x5) and B1 (skip)
    alpha[3, 1], alpha[4, 2], alpha[5, 3] = 0.5, 4.0, 5.0  # B3: edges from B1 and B2 are strongest
    cell = derive_cell(alpha, np.zeros(6), ops)
    assert cell[0] == (("conv_3x1x1", 0),)
    assert cell[1] == (("conv_1x5x5", 0), ("skip_connect", 1))
    assert cell[2] == (("conv_3x1x1", 1), ("conv_1x5x5", 2))
    beta = np.zeros(6)
    beta[3] = 10.0  # edge normalisation can promote the input->B3 edge
    assert ("skip_connect", 0) in derive_cell(alpha, beta, ops)[2]


def test_genotype_json_round_trip_and_drawing(tmp_path):
    genotype = Genotype(
        cells=(((("conv_3x1x1", 0),), (("conv_5x1x1", 0), ("TDC_3x3x3_0.2", 1)), (("conv_1x5x5", 2), ("skip_connect", 0))),),
        ops=DEFAULT_OPS, history=[{"epoch": 1, "alpha": [[0.1]]}],
    )  # fmt: skip
    genotype.save(tmp_path / "g.json")
    again = Genotype.load(tmp_path / "g.json")
    assert again.cells == genotype.cells and again.history == genotype.history and again.ops == DEFAULT_OPS
    assert draw_genotype(again, tmp_path / "g.png").stat().st_size > 1000
    (tmp_path / "bad.json").write_text(json.dumps({"format": "x"}))
    with pytest.raises(ConfigError, match="bad.json"):
        Genotype.load(tmp_path / "bad.json")
    with pytest.raises(ConfigError):
        Genotype(cells=(((("none", 0),),),))


def test_default_genotype_is_labelled_reconstructed_and_follows_appendix_c():
    g = default_genotype()
    assert g.source == "reconstructed" and "RECONSTRUCTED" in g.note
    b1, b2, b3 = g.cells[0]
    assert {op for op, _ in b1 + b2} <= {"conv_3x1x1", "conv_5x1x1"}
    assert "conv_1x5x5" in {op for op, _ in b3}


def test_tiny_search_runs_freezes_alpha_during_warmup_then_updates_it(tmp_path):
    settings = dict(channels=2, partial=2, clip_frames=16, size=16, epochs=2, warmup_epochs=1, batch_size=2,
                    arch_lr=0.05, device="cpu", windows_per_clip=1)  # fmt: skip
    genotype = run_search(pulsing_clips(), tmp_path, settings, progress=False)
    history = json.loads((tmp_path / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    a1, a2 = np.array(history[0]["alpha"]), np.array(history[1]["alpha"])
    assert np.abs(a1 - 1.0 / len(DEFAULT_OPS)).max() < 1e-2  # warm-up epoch: still ~uniform (frozen)
    assert np.abs(a2 - a1).max() > 1e-3  # architecture steps moved it
    saved = Genotype.load(tmp_path / "genotype.json")
    assert saved.cells == genotype.cells and saved.source == "searched" and len(saved.history) == 2
    assert saved.search["arch_subjects"] and not set(saved.search["arch_subjects"]) & set(
        saved.search["weight_subjects"]
    )
    assert (tmp_path / "genotype.png").is_file() and (tmp_path / "checkpoints" / "last.pt").is_file()


def test_search_alpha_is_exactly_frozen_during_warmup(tmp_path):
    settings = dict(channels=2, partial=2, clip_frames=16, size=16, epochs=1, warmup_epochs=1, batch_size=2,
                    device="cpu", windows_per_clip=1, seed=3, ops=SMALL_OPS)  # fmt: skip
    run_search(pulsing_clips(), tmp_path, settings, progress=False)
    state = load_checkpoint(tmp_path / "checkpoints" / "last.pt")
    torch.manual_seed(3)  # run_search seeds with `seed` before building the supernet
    fresh = SuperNet(SMALL_OPS.split(","), channels=2, partial=2)
    torch.testing.assert_close(state["model"]["arch.alpha"], fresh.arch.alpha.detach())


def test_search_resumes_from_checkpoint_and_rejects_other_settings(tmp_path):
    settings = dict(channels=2, partial=2, clip_frames=16, size=16, epochs=1, warmup_epochs=0, batch_size=2,
                    device="cpu", windows_per_clip=1, ops=SMALL_OPS)  # fmt: skip
    run_search(pulsing_clips(), tmp_path, settings, progress=False)
    more = run_search(pulsing_clips(), tmp_path, {**settings, "epochs": 2}, progress=False)
    assert [h["epoch"] for h in more.history] == [1, 2]
    with pytest.raises(ConfigError):
        run_search(pulsing_clips(), tmp_path, {**settings, "epochs": 3, "lr": 1e-3}, progress=False)


def test_search_config_defaults_are_the_papers():
    c = search_config()
    assert (c["clip_frames"], c["size"], c["channels"], c["batch_size"], c["epochs"], c["warmup_epochs"]) == (
        128,
        112,
        8,
        2,
        12,
        5,
    )
    assert (c["lr"], c["weight_decay"], c["arch_lr"], c["arch_weight_decay"]) == (1e-4, 5e-5, 6e-4, 1e-3)
    assert len(c["ops"]) == 9
    assert len(search_config({"exclude_tdc": "true"})["ops"]) == 7
    with pytest.raises(ConfigError):
        search_config({"clip_frames": "30"})


class _Reverse(torch.nn.Module):
    """A harmful candidate: plays its input backwards in time (same spectrum, wrong waveform), so any
    weight on it pulls the output away from the reference waveform."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flip(2)


def test_search_picks_the_operation_that_clearly_dominates(tmp_path):
    """One node per cell, so every bit of the pulse must pass through its single searched edge."""
    from rppgbench_plugins.autohr.ops import register_op

    register_op("reverse_test", lambda channels, affine: _Reverse())
    settings = dict(nodes=1, lambda_time=50.0, channels=4, partial=1, clip_frames=48, size=16, epochs=4,
                    warmup_epochs=0, batch_size=2, arch_lr=0.05, device="cpu", windows_per_clip=2, seed=1,
                    ops="none,reverse_test,conv_3x1x1")  # fmt: skip
    genotype = run_search(pulsing_clips(n_subjects=6, frames=96), tmp_path, settings, progress=False)
    assert [op for cell in genotype.cells for node in cell for op, _ in node] == ["conv_3x1x1"]
    reverse = [h["alpha"][0][0][1] for h in genotype.history]  # weight of the harmful op, epoch by epoch
    assert all(later < earlier for earlier, later in zip(reverse, reverse[1:], strict=False))
    assert genotype.history[-1]["alpha"][0][0][2] > reverse[-1] + 0.05
