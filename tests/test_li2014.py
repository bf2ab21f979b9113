"""Li 2014: region traces, NLMS rectification, segment pruning, known answers, conformance, registration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rppgbench_plugins.li2014 import Li2014
from rppgbench_plugins.li2014.method import BACKGROUND, LOWER_FACE, nlms_rectify, segment_keep_mask

from rppgbench.data import Clip, Record
from rppgbench.plugins import build_registry
from rppgbench.signal.hr import estimate_hr
from rppgbench.testing import check_method
from rppgbench.traces import Region, extract_region_traces

FPS = 30.0
SKIN = np.array([180.0, 120.0, 90.0])
WALL = np.array([70.0, 90.0, 120.0])
PULSE_DIRECTION = np.array([0.33, 0.77, 0.53])


def face_scene_clip(
    hr: float, flicker: float = 0.0, seconds: float = 20.0, size: int = 64, seed: int = 0
) -> Clip:
    """A face crop: a skin oval in the middle, a blue wall around it. Blood volume darkens the skin
    along PULSE_DIRECTION; the lamp (1 + flicker at 1.7 Hz, inside the pulse band) lights both."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FPS)
    t = np.arange(n) / FPS
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size
    oval = (((yy - 0.5) / 0.33) ** 2 + ((xx - 0.5) / 0.27) ** 2) < 1.0
    texture = 1 + rng.normal(0, 0.03, (size, size, 1))
    base = np.where(oval[..., None], SKIN, WALL) * texture
    bv = np.sin(2 * np.pi * hr / 60 * t)
    light = 1 + flicker * np.sin(2 * np.pi * 1.7 * t + 0.4)
    skin_gain = 1 - 0.004 * bv[:, None] * PULSE_DIRECTION  # (T, 3)
    gain = np.where(oval[None, :, :, None], skin_gain[:, None, None, :], 1.0)
    video = base[None] * gain * light[:, None, None, None] + rng.normal(0, 0.8, (n, size, size, 3))
    record = Record(dataset="toy", subject="s", session="1", location=Path("toy"), fps=FPS)
    return Clip(record, np.clip(video, 0, 255).astype(np.uint8), t, None)


def test_region_traces_average_the_skin_or_the_background_of_their_boxes():
    clip = face_scene_clip(72.0, seconds=2.0)
    traces = extract_region_traces(clip.frames, (LOWER_FACE, BACKGROUND), chunk=16)
    assert traces.rgb.shape == (len(clip), 2, 3)
    face, wall = traces.rgb[:, 0].mean(axis=0), traces.rgb[:, 1].mean(axis=0)
    np.testing.assert_allclose(face, SKIN, rtol=0.03)  # the oval's skin only
    np.testing.assert_allclose(wall, WALL, rtol=0.03)  # the wall beside the face only
    plain = extract_region_traces(clip.frames, (Region("all", ((0.0, 0.0, 1.0, 1.0),)),), skin_mask=False)
    np.testing.assert_allclose(plain.rgb[:, 0], clip.frames.reshape(len(clip), -1, 3).mean(axis=1), rtol=1e-5)
    assert plain.pixels[0] == 64 * 64


def test_nlms_removes_what_the_background_explains():
    rng = np.random.default_rng(1)
    t = np.arange(600) / FPS
    light = 1 + 0.05 * np.sin(2 * np.pi * 1.3 * t) + 0.03 * rng.standard_normal(600).cumsum() / 30
    pulse = 0.3 * np.sin(2 * np.pi * 1.2 * t)
    rectified = nlms_rectify(150 * light + pulse, 90 * light, step=0.003)
    np.testing.assert_allclose(rectified, pulse, atol=0.05)


def test_the_most_variable_segments_are_pruned():
    x = np.random.default_rng(2).normal(size=600)
    x[300:330] *= 20  # a burst of motion in the eleventh one-second segment
    keep = segment_keep_mask(x, 30, 0.05)
    assert not keep[300:330].any() and keep[:300].all() and keep[330:].all()
    assert segment_keep_mask(x, 30, 0.0).all()


def test_li2014_reads_72_bpm():
    out = Li2014().predict(face_scene_clip(72.0))
    assert out.shape == (600,) and out.dtype == np.float64
    assert abs(estimate_hr(out, FPS) - 72.0) < 1.0


def test_rectification_removes_a_flicker_shared_with_the_background():
    """In-band lamp flicker (102 bpm) three times the pulse: the background reference removes it."""
    clip = face_scene_clip(72.0, flicker=0.01, seed=3)
    bv = np.sin(2 * np.pi * 72.0 / 60 * clip.timestamps)
    rectified, plain = Li2014().predict(clip), Li2014(rectify=False).predict(clip)
    assert abs(estimate_hr(rectified, FPS) - 72.0) < 1.0
    assert abs(estimate_hr(plain, FPS) - 72.0) > abs(estimate_hr(rectified, FPS) - 72.0)
    kept = rectified != 0
    assert np.corrcoef(rectified[kept], bv[kept])[0, 1] > 0.8  # rises with blood volume
    assert np.corrcoef(rectified[kept], bv[kept])[0, 1] > np.corrcoef(plain[kept], bv[kept])[0, 1] + 0.2


def test_passes_the_conformance_kit():
    check_method(Li2014)


def test_registered_through_the_entry_point(monkeypatch):
    monkeypatch.setenv("RPPGBENCH_PLUGINS", "li2014")
    assert build_registry().method("li2014") is Li2014
