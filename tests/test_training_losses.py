"""Known-answer tests of the shared losses (negative Pearson, frequency cross-entropy, hybrid)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rppgbench.errors import ConfigError
from rppgbench.training import FrequencyCrossEntropyLoss, HybridLoss, NegPearsonLoss

FPS = 30.0
T = 160


def sine(bpm: float, length: int = T, fps: float = FPS, phase: float = 0.3) -> torch.Tensor:
    t = torch.arange(length, dtype=torch.float32) / fps
    return torch.sin(2 * math.pi * bpm / 60.0 * t + phase)


def test_neg_pearson_known_values():
    loss = NegPearsonLoss()
    x = sine(80)[None]
    assert loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert loss(3 * x + 7, x).item() == pytest.approx(0.0, abs=1e-6)  # affine invariant
    assert loss(-x, x).item() == pytest.approx(2.0, abs=1e-6)
    orth = sine(80, phase=0.3 + math.pi / 2)[None]
    assert loss(orth, x).item() == pytest.approx(1.0, abs=0.05)


def test_neg_pearson_perfect_is_minimum_and_gradient_points_to_target():
    target = sine(72)[None]
    pred = torch.randn(1, T, generator=torch.Generator().manual_seed(0), requires_grad=True)
    opt = torch.optim.Adam([pred], lr=0.1)
    start = NegPearsonLoss()(pred, target).item()
    for _ in range(60):
        opt.zero_grad()
        value = NegPearsonLoss()(pred, target)
        value.backward()
        opt.step()
    assert start > 0.8 and value.item() < 0.05


def test_freq_ce_minimum_at_true_hr_for_each_target():
    """CE = logsumexp(logits) - logits[target]: minimal over targets exactly where the logits peak."""
    loss = FrequencyCrossEntropyLoss()
    true = [50, 75, 110, 160]
    pred = torch.stack([sine(h) for h in true])
    per_target = torch.stack(
        [
            F.cross_entropy(loss.logits(pred, FPS), torch.full((4,), h - 40), reduction="none")
            for h in range(40, 180)
        ]
    )  # (140 targets, 4 predictions)
    assert (per_target.argmin(dim=0) + 40).tolist() == true
    assert loss(pred, torch.tensor(true, dtype=torch.float32), FPS).item() == pytest.approx(
        per_target.min(dim=0).values.mean().item(), rel=1e-5
    )


def test_freq_ce_moves_over_a_range_of_predictions():
    """Unlike softmax over a normalised PSD (range ~1 nat), the loss spans many nats, minimal at the HR."""
    loss = FrequencyCrossEntropyLoss()
    bpms = list(range(40, 180, 2))
    pred = torch.stack([sine(b) for b in bpms])
    values = F.cross_entropy(
        loss.logits(pred, FPS), torch.full((len(bpms),), 90 - 40), reduction="none"
    ).numpy()
    assert bpms[int(np.argmin(values))] == 90
    assert values.max() - values.min() > 5.0
    assert values.min() < 3.0  # well below log(140) = 4.94, the uniform-prediction loss


def test_freq_ce_gradient_non_zero_and_descent_reaches_target():
    loss = FrequencyCrossEntropyLoss()
    pred = torch.randn(2, T, generator=torch.Generator().manual_seed(1), requires_grad=True)
    hr = torch.tensor([70.0, 130.0])
    value = loss(pred, hr, torch.tensor([FPS, FPS]))
    value.backward()
    assert pred.grad is not None and pred.grad.abs().sum().item() > 1e-3
    opt = torch.optim.Adam([pred], lr=0.1)
    start = value.item()
    for _ in range(60):
        opt.zero_grad()
        value = loss(pred, hr, FPS)
        value.backward()
        opt.step()
    assert value.item() < start - 1.0
    logits = loss.logits(pred.detach(), FPS)
    assert (logits.argmax(dim=1) + 40).tolist() == [70, 130]


def test_freq_ce_power_logits_and_per_sample_fps():
    loss = FrequencyCrossEntropyLoss(logits="power", temperature=0.1)
    pred = torch.stack([sine(60, fps=25.0), sine(120, fps=30.0)])
    good = loss(pred, torch.tensor([60.0, 120.0]), torch.tensor([25.0, 30.0])).item()
    bad = loss(pred, torch.tensor([120.0, 60.0]), torch.tensor([25.0, 30.0])).item()
    assert bad - good > 3.0


def test_freq_ce_ignores_unlabelled_samples_and_checks_config():
    loss = FrequencyCrossEntropyLoss()
    pred = torch.stack([sine(80), torch.randn(T)])
    both = loss(pred, torch.tensor([80.0, math.nan]), FPS)
    first = loss(pred[:1], torch.tensor([80.0]), FPS)
    assert both.item() == pytest.approx(first.item(), rel=1e-5)
    assert loss(pred, torch.tensor([math.nan, math.nan]), FPS).item() == 0.0
    with pytest.raises(ConfigError):
        FrequencyCrossEntropyLoss(logits="softmax_of_normalised_psd")
    with pytest.raises(ConfigError):
        FrequencyCrossEntropyLoss(temperature=0)


def test_hybrid_is_weighted_sum():
    pred = torch.randn(3, T, generator=torch.Generator().manual_seed(2))
    target = torch.stack([sine(70), sine(90), sine(110)])
    hr = torch.tensor([70.0, 90.0, 110.0])
    hybrid = HybridLoss(lambda_time=0.2)(pred, target, hr, FPS)
    expected = 0.2 * NegPearsonLoss()(pred, target) + FrequencyCrossEntropyLoss()(pred, hr, FPS)
    assert hybrid.item() == pytest.approx(expected.item(), rel=1e-6)
    assert HybridLoss()(target, target, hr, FPS).item() < hybrid.item()
