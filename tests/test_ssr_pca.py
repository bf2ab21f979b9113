"""SSR and PCA: known answers on constructed skin colours and traces, the conformance kit, registration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rppgbench_plugins.classical import PCA, SSR
from rppgbench_plugins.classical.pca import principal_components
from rppgbench_plugins.classical.ssr import back_projected_rotation, skin_subspaces, ssr_pulse

from rppgbench.data import Clip, Record
from rppgbench.errors import SignalError
from rppgbench.plugins import build_registry
from rppgbench.signal.hr import estimate_hr
from rppgbench.testing import check_method
from rppgbench.testing.clips import make_pulse_clips
from rppgbench.traces import extract_traces_info

FPS = 30.0
TONE = np.array([180.0, 120.0, 90.0])
PULSE_DIRECTION = np.array([0.33, 0.77, 0.53])


def skin_clip(hr: float, seconds: float = 20.0, size: int = 24, flicker: float = 0.0, seed: int = 0) -> Clip:
    """Frames of skin whose pixels differ in shading and tone; blood volume changes every pixel's colour
    along PULSE_DIRECTION (a multiplicative pulse), so the skin subspace rotates at the heart rate."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FPS)
    t = np.arange(n) / FPS
    bv = np.sin(2 * np.pi * hr / 60 * t)
    shading = rng.uniform(0.7, 1.2, (size, size, 1))
    tint = 1 + rng.normal(0, 0.04, (size, size, 3))
    base = shading * tint * TONE  # (H, W, 3), fixed over time
    light = 1 + flicker * np.sin(2 * np.pi * 1.7 * t)
    gain = light[:, None] * (1 - 0.01 * bv[:, None] * PULSE_DIRECTION)  # (T, 3)
    video = base[None] * gain[:, None, None, :] + rng.normal(0, 0.5, (n, size, size, 3))
    record = Record(dataset="toy", subject="s", session="1", location=Path("toy"), fps=FPS)
    return Clip(record, np.clip(video, 0, 255).astype(np.uint8), t, None)


# --- SSR ---


def test_rotation_of_the_skin_vector_is_back_projected_with_the_scale_change():
    """u1(t) turned by theta towards u2 of the reference: SR = sqrt(l1(t) / l2(ref)) sin(theta) u2(ref)."""
    basis = np.linalg.qr(np.array([[0.6, 0.5, 0.4], [0.3, -0.8, 0.2], [0.1, 0.2, -0.9]]).T)[0]
    basis[:, 0] *= np.sign(basis[:, 0].sum())
    u1, u2, u3 = basis.T
    lam_ref, lam_t = np.array([900.0, 16.0, 4.0]), np.array([1000.0, 16.0, 4.0])
    theta = 0.05
    turned = np.stack(
        [np.cos(theta) * u1 + np.sin(theta) * u2, -np.sin(theta) * u1 + np.cos(theta) * u2, u3], 1
    )

    def corr(vectors, lam):
        return vectors @ np.diag(lam) @ vectors.T

    lam, vec = skin_subspaces(np.stack([corr(basis, lam_ref), corr(turned, lam_t)]))
    np.testing.assert_allclose(lam[0], lam_ref, rtol=1e-9)
    sr = back_projected_rotation(lam, vec, np.array([0, 1]), reference=0)
    np.testing.assert_allclose(sr[0], 0.0, atol=1e-9)  # no rotation against itself
    np.testing.assert_allclose(sr[1], np.sqrt(1000.0 / 16.0) * np.sin(theta) * u2, atol=1e-9)
    # eigenvector signs are arbitrary: flipping u2 and u3 of the reference changes nothing
    flipped = vec.copy()
    flipped[0][:, 1:] *= -1
    np.testing.assert_allclose(back_projected_rotation(lam, flipped, np.array([1]), 0)[0], sr[1], atol=1e-12)


def test_first_eigenvector_points_into_the_positive_octant():
    corr = np.tile(np.outer(TONE, TONE) + np.eye(3), (4, 1, 1))
    lam, vec = skin_subspaces(corr)
    assert (vec[:, :, 0] > 0).all() and (np.diff(lam, axis=1) <= 0).all()


def test_ssr_pulse_is_algorithm_1_of_the_paper():
    """The vectorised windows equal the paper's loop over frames k >= l."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 3, 3))
    corr = np.einsum("tij,tkj->tik", a, a) + np.outer(TONE, TONE)[None] / 100
    lam, vec = skin_subspaces(corr)
    length, n = 8, len(corr)
    want = np.zeros(n)
    for k in range(length - 1, n):
        tau = k - length + 1
        sr = np.stack([back_projected_rotation(lam, vec, np.array([t]), tau)[0] for t in range(tau, k + 1)])
        p = sr[:, 0] - sr[:, 0].std() / sr[:, 1].std() * sr[:, 1]
        want[tau : k + 1] += p - p.mean()
    np.testing.assert_allclose(ssr_pulse(corr, length), want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("hr", [66.0, 96.0])
def test_ssr_recovers_the_heart_rate_of_a_rotating_skin_subspace(hr):
    clip = skin_clip(hr, seed=int(hr))
    out = SSR().predict(clip)
    assert out.shape == (len(clip),) and out.dtype == np.float64
    assert abs(estimate_hr(out, FPS) - hr) < 1.5
    bv = np.sin(2 * np.pi * hr / 60 * clip.timestamps)
    assert np.corrcoef(out, bv)[0, 1] > 0.8  # rises with blood volume


def test_ssr_survives_in_band_flicker():
    """Brightness scales every pixel alike: the subspace does not rotate, SSR ignores it."""
    clip = skin_clip(72.0, flicker=0.02, seed=5)
    assert abs(estimate_hr(SSR().predict(clip), FPS) - 72.0) < 1.5


def test_correlations_are_the_weighted_second_moments_of_the_skin_pixels():
    clip = make_pulse_clips([72.0], frames=40, size=16)[0]
    info = extract_traces_info(clip.frames, correlation=True, chunk=16)
    plain = extract_traces_info(clip.frames, skin_mask=False, correlation=True)
    pixels = clip.frames.reshape(len(clip), -1, 3).astype(np.float64)
    np.testing.assert_allclose(
        plain.correlation, np.einsum("tpi,tpj->tij", pixels, pixels) / pixels.shape[1], rtol=1e-5
    )
    assert info.correlation.shape == (40, 3, 3)
    np.testing.assert_allclose(info.correlation, info.correlation.transpose(0, 2, 1), rtol=1e-6)
    assert extract_traces_info(clip.frames).correlation is None


def test_ssr_bad_input_is_a_signal_error():
    with pytest.raises(SignalError, match="correlation"):
        skin_subspaces(np.zeros((10, 3)))
    with pytest.raises(SignalError, match="NaN"):
        skin_subspaces(np.full((10, 3, 3), np.nan))
    rgb = np.tile(TONE, (20, 1)) + np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(SignalError, match="too short"):
        SSR().from_correlations(np.tile(np.eye(3), (20, 1, 1)), rgb, FPS)


# --- PCA ---


def test_principal_components_are_ordered_by_variance_and_orthonormal():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 3)) * [5.0, 2.0, 0.5]
    scores, directions = principal_components(x)
    np.testing.assert_allclose(directions.T @ directions, np.eye(3), atol=1e-12)
    assert np.all(np.diff(scores.var(axis=0)) < 0)
    assert abs(abs(directions[0, 0]) - 1) < 0.05  # the widest axis first


def test_pca_picks_the_pulse_component_not_the_strongest_one():
    """Brightness drift dominates the variance; the pulse is the periodic component."""
    t = np.arange(int(30 * FPS)) / FPS
    bv = np.sin(2 * np.pi * 1.3 * t)
    light = 1 + 0.02 * np.sin(2 * np.pi * 0.4 * t + 1) + 0.02 * np.sin(2 * np.pi * 0.23 * t)
    rgb = light[:, None] * TONE * (1 - 0.002 * np.outer(bv, PULSE_DIRECTION))
    rgb += 0.02 * np.random.default_rng(2).standard_normal(rgb.shape)
    out = PCA(detrend_lambda=0).from_traces(rgb, FPS)
    assert abs(estimate_hr(out, FPS) - 78.0) < 1.5
    assert np.corrcoef(out, bv)[0, 1] > 0.9


@pytest.mark.parametrize("method", [SSR, PCA], ids=lambda m: m.name)
def test_passes_the_conformance_kit(method):
    check_method(method)


def test_registered_through_the_entry_point(monkeypatch):
    monkeypatch.setenv("RPPGBENCH_PLUGINS", "classical")
    registry = build_registry()
    assert registry.method("ssr") is SSR and registry.method("pca") is PCA
