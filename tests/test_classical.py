"""Classical methods: known answers on synthetic RGB traces, exact window algebra, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from rppgbench_plugins.classical import CHROM, ICA, LGI, METHODS, OMIT, PBV, POS, Green
from rppgbench_plugins.classical.chrom import chrom_coefficients
from rppgbench_plugins.classical.ica import strongest_peak_component
from rppgbench_plugins.classical.lgi import lgi_coefficients
from rppgbench_plugins.classical.omit import omit_coefficients
from rppgbench_plugins.classical.pbv import pbv_coefficients
from rppgbench_plugins.classical.pos import pos_coefficients
from rppgbench_plugins.classical.windows import hann, overlap_add, window_moments, window_starts

from rppgbench.errors import ConfigError, SignalError
from rppgbench.plugins import build_registry
from rppgbench.signal.hr import estimate_hr
from rppgbench.testing import check_method

FPS = 30.0
SKIN_RGB = np.array([180.0, 120.0, 90.0])
PULSE_DIRECTION = np.array([0.33, 0.77, 0.53])


def synthetic_traces(
    hr: float = 72.0,
    seconds: float = 30.0,
    amplitude: float = 0.003,
    flicker: float = 0.0,
    drift: float = 0.0,
    specular: float = 0.0,
    noise: float = 0.05,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """RGB traces of skin: a pulse along the blood-volume direction under changing light.

    Reflected colour = illumination(t) * (skin tone * (1 - amplitude * Pbv * bv(t)) + specular(t) * white)
    + sensor noise; bv(t) is a two-harmonic blood-volume waveform. `drift` is a slow multiplicative
    illumination change, `flicker` an in-band (102 bpm) illumination change, `specular` a changing
    white reflection.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FPS)) / FPS
    f = hr / 60.0
    bv = np.sin(2 * np.pi * f * t) + 0.4 * np.sin(4 * np.pi * f * t + 0.8)
    bv /= bv.std()
    light = 1 + drift * np.sin(2 * np.pi * 0.05 * t) + flicker * np.sin(2 * np.pi * 1.7 * t)
    shine = specular * 20 * (1 + np.sin(2 * np.pi * 1.3 * t + 1.0))
    rgb = light[:, None] * (SKIN_RGB * (1 - amplitude * np.outer(bv, PULSE_DIRECTION)) + shine[:, None])
    return rgb + noise * rng.standard_normal(rgb.shape), bv


HARD = {"flicker": 0.01, "drift": 0.2, "specular": 0.02}


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_every_method_passes_the_conformance_kit(method):
    check_method(method)


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_every_method_recovers_hr_on_clean_traces(method):
    rgb, bv = synthetic_traces(hr=84.0, seed=3)
    out = method().from_traces(rgb, FPS)
    assert out.dtype == np.float64 and out.shape == (len(rgb),)
    assert abs(estimate_hr(out, FPS) - 84.0) < 1.5
    # oriented to rise with blood volume, like a contact PPG (PBV's fixed signature passes a little
    # more noise on these traces: its shape follows the pulse less closely, its sign just as well)
    assert np.corrcoef(out, bv)[0, 1] > (0.85 if method is PBV else 0.9)


ORIENTATION_CONDITIONS = {
    "flicker": {"flicker": 0.03},
    "motion": {"flicker": 0.05, "drift": 0.5, "specular": 0.05},
}


@pytest.mark.parametrize("condition", list(ORIENTATION_CONDITIONS))
@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
def test_output_rises_with_blood_volume_under_flicker_and_motion(method, condition):
    """The sign must follow the pulse, not the light: brightness moves all channels alike."""
    pulsed = 0
    for seed in range(4):
        rgb, bv = synthetic_traces(hr=72.0 + 6 * seed, seed=seed, **ORIENTATION_CONDITIONS[condition])
        r = np.corrcoef(method().from_traces(rgb, FPS), bv)[0, 1]
        if abs(r) > 0.3:  # the method found the pulse: its sign must be right
            pulsed += 1
            assert r > 0, f"{method.name} seed {seed}: output falls with blood volume (r = {r:.2f})"
    if method in (POS, CHROM, LGI, OMIT):  # these find the pulse in every case, so the check bites
        assert pulsed == 4


@pytest.mark.parametrize("method", [POS, CHROM], ids=lambda m: m.name)
def test_pos_and_chrom_within_one_bpm_clean_and_three_under_strong_light_changes(method):
    clean, _ = synthetic_traces(hr=66.0, seed=1)
    hard, _ = synthetic_traces(hr=66.0, seed=1, **HARD)
    assert abs(estimate_hr(method().from_traces(clean, FPS), FPS) - 66.0) < 1.0
    assert abs(estimate_hr(method().from_traces(hard, FPS), FPS) - 66.0) < 3.0


def test_green_is_measurably_worse_than_pos_and_chrom_under_light_changes():
    hard, bv = synthetic_traces(hr=66.0, seed=1, **HARD)
    green = Green().from_traces(hard, FPS)
    assert abs(estimate_hr(green, FPS) - 66.0) > 10.0  # locks onto the 102-bpm flicker
    for method in (POS, CHROM):
        assert np.corrcoef(method().from_traces(hard, FPS), bv)[0, 1] > np.corrcoef(green, bv)[0, 1] + 0.3


@pytest.mark.parametrize("method", [LGI, OMIT], ids=lambda m: m.name)
def test_projection_methods_survive_light_changes(method):
    hard, _ = synthetic_traces(hr=66.0, seed=2, **HARD)
    assert abs(estimate_hr(method().from_traces(hard, FPS), FPS) - 66.0) < 3.0


def test_pbv_fixed_signature_survives_light_changes():
    hard, _ = synthetic_traces(hr=66.0, seed=2, **HARD)
    assert abs(estimate_hr(PBV(signature="fixed").from_traces(hard, FPS), FPS) - 66.0) < 3.0


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
@pytest.mark.parametrize("n", [61, 301, 457])
def test_output_length_equals_input_length(method, n):
    rgb, _ = synthetic_traces(seconds=20.0, seed=n)
    out = method().from_traces(rgb[:n], FPS)
    assert out.shape == (n,) and np.isfinite(out).all()


def _constant():
    return np.tile(SKIN_RGB, (300, 1))


def _with_nan():
    rgb, _ = synthetic_traces(seconds=10.0)
    rgb[17, 1] = np.nan
    return rgb


def _too_short():
    return synthetic_traces(seconds=10.0)[0][:20]


@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.name)
@pytest.mark.parametrize(
    ("make", "message"), [(_constant, "constant"), (_with_nan, "NaN"), (_too_short, "too short")]
)
def test_bad_input_is_a_signal_error(method, make, message):
    with pytest.raises(SignalError, match=message):
        method().from_traces(make(), FPS)


def test_wrong_channel_count_is_a_signal_error():
    with pytest.raises(SignalError, match="3 colour channels"):
        POS().from_traces(np.random.default_rng(0).random((300, 2)) + 1, FPS)


def test_params_are_declared_and_settable_from_strings():
    pos = POS(window_s="3.2", band_bpm="45,150", skin_mask="false")
    assert pos.config == {"skin_mask": False, "window_s": 3.2, "band_bpm": (45.0, 150.0)}
    with pytest.raises(ConfigError):
        PBV(signature="nonsense")
    with pytest.raises(ConfigError):
        CHROM(band_bpm="150,45").from_traces(synthetic_traces()[0], FPS)


def test_registered_through_the_entry_point(monkeypatch):
    monkeypatch.setenv("RPPGBENCH_PLUGINS", "classical")
    registry = build_registry()
    assert {"green", "ica", "chrom", "pos", "lgi", "pbv", "omit"} <= set(registry.methods)


# --- the O(T) window algebra equals the straightforward per-window loops of the papers ---


def _naive_overlap_add(x, coefs, offsets, starts, taper):
    out, weight = np.zeros(len(x)), np.zeros(len(x))
    for a, b, s in zip(coefs, offsets, starts, strict=True):
        out[s : s + len(taper)] += taper * (x[s : s + len(taper)] @ a - b)
        weight[s : s + len(taper)] += taper
    return np.where(weight > 1e-3 * weight.max(), out / np.maximum(weight, 1e-3 * weight.max()), 0.0)


def test_window_moments_equal_direct_mean_and_covariance():
    rgb, _ = synthetic_traces(seconds=10.0, drift=0.3)
    starts = window_starts(len(rgb), 48, 24)
    assert starts[-1] == len(rgb) - 48
    mean, cov = window_moments(rgb, starts, 48)
    for w, s in enumerate(starts):
        np.testing.assert_allclose(mean[w], rgb[s : s + 48].mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(cov[w], np.cov(rgb[s : s + 48].T, bias=True), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("taper", [np.ones(10), hann(10)], ids=["rect", "hann"])
@pytest.mark.parametrize("hop", [1, 5])
def test_overlap_add_equals_loop(taper, hop):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(103, 3))
    starts = window_starts(len(x), 10, hop)
    coefs, offsets = rng.normal(size=(len(starts), 3)), rng.normal(size=len(starts))
    np.testing.assert_allclose(
        overlap_add(x, coefs, offsets, starts, taper),
        _naive_overlap_add(x, coefs, offsets, starts, taper),
        atol=1e-10,
    )


def test_pos_equals_algorithm_1_of_the_paper():
    rgb, _ = synthetic_traces(seconds=8.0, **HARD)
    length = 48
    expected, count = np.zeros(len(rgb)), np.zeros(len(rgb))
    projection = np.array([[0, 1, -1], [-2, 1, 1]])
    for m in range(len(rgb) - length + 1):
        cn = rgb[m : m + length] / rgb[m : m + length].mean(axis=0)
        s = cn @ projection.T
        h = s[:, 0] + s[:, 0].std() / s[:, 1].std() * s[:, 1]
        expected[m : m + length] += h - h.mean()
        count[m : m + length] += 1
    starts = window_starts(len(rgb), length, 1)
    mean, cov = window_moments(rgb, starts, length)
    coefs = pos_coefficients(mean, cov)
    got = overlap_add(rgb, coefs, np.einsum("wc,wc->w", coefs, mean), starts, np.ones(length))
    np.testing.assert_allclose(got, expected / count, atol=1e-9)


def test_chrom_equals_per_window_chrominance_with_alpha_tuning():
    rgb, _ = synthetic_traces(seconds=8.0, **HARD)
    filtered = (
        rgb - rgb.mean(axis=0) + np.random.default_rng(0).normal(size=rgb.shape)
    )  # any band-passed traces
    length, starts = 48, window_starts(len(rgb), 48, 24)
    taper = hann(length)
    expected, weight = np.zeros(len(rgb)), np.zeros(len(rgb))
    for s in starts:
        mu = rgb[s : s + length].mean(axis=0)
        cf = filtered[s : s + length] / mu
        xf = 3 * cf[:, 0] - 2 * cf[:, 1]
        yf = 1.5 * cf[:, 0] + cf[:, 1] - 1.5 * cf[:, 2]
        pulse = xf - xf.std() / yf.std() * yf
        expected[s : s + length] += taper * (pulse - pulse.mean())
        weight[s : s + length] += taper
    mean, _ = window_moments(rgb, starts, length)
    mean_f, cov_f = window_moments(filtered, starts, length)
    coefs = chrom_coefficients(mean, cov_f)
    got = overlap_add(filtered, coefs, np.einsum("wc,wc->w", coefs, mean_f), starts, taper)
    inside = weight > 1e-3 * weight.max()
    np.testing.assert_allclose(got[inside], expected[inside] / weight[inside], atol=1e-9)


def test_lgi_projection_uses_the_first_singular_vector():
    rgb, _ = synthetic_traces(seconds=4.0, **HARD)
    starts = window_starts(len(rgb), 48, 24)
    mean, cov = window_moments(rgb, starts, 48)
    coefs = lgi_coefficients(mean, cov)
    for w, s in enumerate(starts):
        cn = (rgb[s : s + 48] / mean[w]).T
        u = np.linalg.svd(cn)[0][:, :1]
        projection = np.eye(3) - u @ u.T
        np.testing.assert_allclose(coefs[w] * mean[w], projection[1], atol=1e-9)


def test_omit_projection_removes_the_qr_reference_direction():
    rgb, _ = synthetic_traces(seconds=4.0, **HARD)
    starts = window_starts(len(rgb), 48, 24)
    mean, _ = window_moments(rgb, starts, 48)
    coefs = omit_coefficients(rgb, starts, 48, mean)
    for w, s in enumerate(starts):
        q = np.linalg.qr((rgb[s : s + 48] / mean[w]).T)[0][:, :1]
        np.testing.assert_allclose(coefs[w] * mean[w], (np.eye(3) - q @ q.T)[1], atol=1e-9)


@pytest.mark.parametrize("signature", ["adaptive", "fixed"])
def test_pbv_weights_pass_the_signature_with_unit_gain_at_minimum_variance(signature):
    rgb, _ = synthetic_traces(seconds=4.0, **HARD)
    filtered = rgb - rgb.mean(axis=0)
    starts = window_starts(len(rgb), 48, 24)
    mean, _ = window_moments(rgb, starts, 48)
    _, cov = window_moments(filtered, starts, 48)
    weights = pbv_coefficients(mean, cov, signature) * mean  # W acting on normalised traces
    q = cov / (mean[:, :, None] * mean[:, None, :])
    sig = (
        np.sqrt(np.einsum("wii->wi", q)) if signature == "adaptive" else np.tile(PULSE_DIRECTION, (len(q), 1))
    )
    sig /= np.linalg.norm(sig, axis=1, keepdims=True)
    np.testing.assert_allclose(np.einsum("wi,wi->w", weights, sig), 1.0, atol=1e-9)
    closed = np.linalg.solve(q, sig[:, :, None])[:, :, 0]
    closed /= np.einsum("wi,wi->w", closed, sig)[:, None]
    np.testing.assert_allclose(weights, closed, rtol=1e-4)


def test_ica_picks_the_periodic_source_and_is_reproducible():
    rng = np.random.default_rng(0)
    t = np.arange(900) / FPS
    sources = np.stack([rng.normal(size=900), np.sin(2 * np.pi * 1.2 * t), rng.normal(size=900)], axis=1)
    assert strongest_peak_component(sources, FPS, (40.0, 180.0)) == 1
    rgb, _ = synthetic_traces(seed=5)
    np.testing.assert_array_equal(ICA().from_traces(rgb, FPS), ICA().from_traces(rgb, FPS))
