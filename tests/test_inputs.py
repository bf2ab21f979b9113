"""The networks' input scalings: what each one removes and what it keeps."""

from __future__ import annotations

import math

import pytest
import torch

from rppgbench.training.inputs import INPUT_SCALINGS, scale_input

T = 64


def pulse_clip(intensity: torch.Tensor | None = None) -> torch.Tensor:
    """(1, 3, T, 4, 4) skin-coloured pixels whose green channel carries a 1% pulse; optional intensity."""
    t = torch.arange(T, dtype=torch.float32)
    pulse = 0.01 * torch.sin(2 * math.pi * t / 16)
    skin = torch.tensor([0.7, 0.5, 0.4]).view(1, 3, 1, 1, 1)
    gain = torch.tensor([0.4, 1.0, 0.7]).view(1, 3, 1, 1, 1)  # the pulse changes green most
    x = skin * (1 - gain * pulse.view(1, 1, T, 1, 1)) * torch.ones(1, 3, T, 4, 4)
    if intensity is not None:
        x = x * intensity.view(1, 1, T, 1, 1)
    return x


def test_clip_and_paper_scalings():
    x = torch.rand(2, 3, T, 4, 4)
    clip = scale_input(x, "clip")
    assert torch.allclose(clip.mean(dim=(2, 3, 4)), torch.zeros(2, 3), atol=1e-5)
    assert torch.allclose(clip.std(dim=(2, 3, 4)), torch.ones(2, 3), atol=1e-3)
    assert torch.allclose(scale_input(torch.tensor([0.0, 1.0]), "paper"), torch.tensor([-127.5, 127.5]) / 128)


def test_ratio_ignores_each_pixels_brightness():
    x = pulse_clip()
    brighter = x * torch.linspace(0.5, 1.0, 16).view(1, 1, 1, 4, 4)  # a fixed shading pattern

    def ac(y: torch.Tensor) -> torch.Tensor:  # each pixel's change over time
        return y - y.mean(dim=2, keepdim=True)

    same = torch.stack([ac(scale_input(x, "ratio")).flatten(), ac(scale_input(brighter, "ratio")).flatten()])
    assert torch.corrcoef(same)[0, 1] > 0.999


def test_chroma_cancels_intensity_changes_and_keeps_the_pulse():
    t = torch.arange(T, dtype=torch.float32)
    shading = 1.0 + 0.2 * torch.sin(2 * math.pi * t / 10)  # a head turning: 20% brighter and darker
    plain, shaded = scale_input(pulse_clip(), "chroma"), scale_input(pulse_clip(shading), "chroma")
    assert torch.allclose(plain, shaded, atol=5e-2)
    green = plain[0, 1, :, 0, 0]
    expected = -torch.sin(2 * math.pi * t / 16)  # more blood, less green light
    assert torch.corrcoef(torch.stack([green, expected]))[0, 1] > 0.99
    # `ratio` keeps the shading, which here is 20x the pulse
    ratio_green = scale_input(pulse_clip(shading), "ratio")[0, 1, :, 0, 0]
    assert torch.corrcoef(torch.stack([ratio_green, expected]))[0, 1].abs() < 0.5


def test_unknown_scaling_is_an_error():
    assert set(INPUT_SCALINGS) == {"clip", "paper", "ratio", "chroma"}
    with pytest.raises(ValueError, match="not one of"):
        scale_input(torch.zeros(1, 3, 2, 2, 2), "log")
