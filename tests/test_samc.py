"""SAMC: singular value thresholding, self-adaptive completion, known answers, conformance, registration."""

from __future__ import annotations

import numpy as np
import pytest
from rppgbench_plugins.samc import SAMC
from rppgbench_plugins.samc.method import patch_regions, samc, singular_value_threshold

from rppgbench.errors import SignalError
from rppgbench.plugins import build_registry
from rppgbench.signal.hr import estimate_hr
from rppgbench.testing import check_method
from rppgbench.testing.clips import make_pulse_clips

FPS = 30.0


def test_singular_value_threshold_shrinks_the_singular_values():
    a = np.random.default_rng(0).normal(size=(12, 40))
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    tau = float(np.median(s))
    want = (u * np.maximum(s - tau, 0)) @ vt
    np.testing.assert_allclose(singular_value_threshold(a, tau), want, atol=1e-9)
    np.testing.assert_allclose(singular_value_threshold(a.T, tau), want.T, atol=1e-9)
    assert not singular_value_threshold(a, s[0] + 1).any()


def test_completion_recovers_the_shared_pulse_and_drops_corrupted_patches_and_frames():
    """Rank-one pulse seen by 30 patches with different gains, noise, two patches that see only
    motion, a burst of motion in every patch, and missing entries."""
    rng = np.random.default_rng(1)
    t = np.arange(300) / FPS
    pulse = np.sin(2 * np.pi * 1.2 * t)
    gains = rng.uniform(0.5, 1.5, 30)
    data = np.outer(gains, pulse) + 0.5 * rng.normal(size=(30, 300))
    data[[3, 17]] = 4 * rng.normal(size=(2, 300))
    data[:, 150:165] += 5 * rng.normal(size=(30, 15))
    observed = rng.uniform(size=data.shape) > 0.1
    z, rows, cols = samc(data, observed)
    assert not rows[[3, 17]].any() and rows.sum() >= 26
    assert not cols[150:165].any() and cols.sum() >= 270
    estimate = z[rows].mean(axis=0)
    assert np.corrcoef(estimate[cols], pulse[cols])[0, 1] > 0.97
    assert np.abs(estimate[~cols]).max() < 0.1 * np.abs(estimate[cols]).max()  # dropped frames: no data


def test_the_grid_tiles_the_face_box():
    regions = patch_regions(4)
    assert len(regions) == 16
    area = sum((b[2] - b[0]) * (b[3] - b[1]) for r in regions for b in r.boxes)
    assert area == pytest.approx(0.625**2)


@pytest.mark.parametrize("hr", [72.0, 94.0])
def test_samc_reads_the_heart_rate(hr):
    clip = make_pulse_clips([hr], frames=300, size=64, seed=int(hr))[0]
    out = SAMC().predict(clip)
    assert out.shape == (300,) and out.dtype == np.float64
    assert abs(estimate_hr(out, FPS) - hr) < 1.0


def test_too_few_skin_patches_is_a_signal_error():
    clip = make_pulse_clips([72.0], frames=90, size=32)[0]
    with pytest.raises(SignalError, match="patch"):
        SAMC(grid=1, min_skin=1.0).predict(clip)


def test_passes_the_conformance_kit():
    check_method(SAMC)


def test_registered_through_the_entry_point(monkeypatch):
    monkeypatch.setenv("RPPGBENCH_PLUGINS", "samc")
    assert build_registry().method("samc") is SAMC
