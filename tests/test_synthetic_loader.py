"""Tests of the synthetic dataset loader (round trip, cached generation) and of the face-box ground truth."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rppgbench_plugins.datasets import synthetic
from rppgbench_plugins.datasets.synthetic import PRESETS, SyntheticDataset, generate
from rppgbench_plugins.datasets.synthetic.render import render_clip
from rppgbench_plugins.datasets.synthetic.writer import clip_spec

from rppgbench.errors import DataError
from rppgbench.plugins import registry

TINY = replace(PRESETS["synth-mini"], name="tiny", n_subjects=2, duration_s=2.0, width=96, height=72)
MODEL = (
    Path(__file__).resolve().parents[1]
    / "rppgbench"
    / "preprocess"
    / "models"
    / "face_detection_short_range.tflite"
)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("synth") / "tiny", TINY, seed=2, workers=1)


def test_loader_is_registered():
    assert registry().dataset("synthetic") is SyntheticDataset
    assert SyntheticDataset.needs_root is False


def test_loader_round_trip(tiny_root):
    loader = SyntheticDataset(tiny_root)
    records = loader.records()
    assert [(r.subject, r.session, r.scenario) for r in records] == [
        ("p001", "v1", "stationary"), ("p001", "v3", "motion"), ("p002", "v1", "stationary"), ("p002", "v3", "motion")
    ]  # fmt: skip
    record = records[1]
    assert record.id == "synthetic/p001/v3" and 45 <= record.meta["hr_bpm"] <= 150
    from rppgbench_plugins.datasets.synthetic.writer import GENERATOR_VERSION

    assert loader.describe()["generator_version"] == GENERATOR_VERSION  # in the clip cache key
    source = loader.open_frames(record)
    frames = list(source)
    assert len(frames) == 60 and frames[0].shape == (72, 96, 3) and frames[0].dtype == np.uint8
    stamps = loader.frame_timestamps(record, len(frames), source.fps)
    table = pd.read_csv(record.files["frames"])
    np.testing.assert_array_equal(stamps, table["time_s"].to_numpy())
    np.testing.assert_array_equal(source.timestamps, stamps)
    assert loader.face_box(record) == tuple(table.loc[0, ["x", "y", "w", "h"]].astype(int))
    reference = loader.load_reference(record)
    assert reference.kind == "ppg" and reference.rate == pytest.approx(60.0, rel=1e-3)
    # The stored frames are the rendered frames, losslessly: same pixels as rendering the spec again.
    rendered = render_clip(clip_spec(TINY, 2, 0, "motion"))
    np.testing.assert_array_equal(np.stack(frames), np.stack(list(rendered.frames())))
    np.testing.assert_allclose(reference.values, rendered.ppg, atol=1e-6)


def test_loader_rejects_a_folder_that_is_not_synthetic(tmp_path):
    with pytest.raises(DataError, match="meta.json"):
        SyntheticDataset(tmp_path)


def test_loader_generates_into_the_cache_once(tmp_path, monkeypatch):
    monkeypatch.setenv("RPPGBENCH_CACHE", str(tmp_path))
    monkeypatch.setitem(PRESETS, "synth-mini", replace(TINY, n_subjects=1, scenarios=("stationary",)))
    loader = SyntheticDataset(None, preset="synth-mini", seed=3)
    assert loader.folder == tmp_path / "synthetic" / "synth-mini-seed3"
    assert len(loader.records()) == 1
    monkeypatch.setattr(synthetic.writer, "generate", lambda *a, **k: pytest.fail("regenerated"))
    assert SyntheticDataset(None, preset="synth-mini", seed=3).records() == loader.records()
    assert [p.name for p in (tmp_path / "synthetic").iterdir()] == [
        "synth-mini-seed3"
    ]  # no temp folders left


def test_the_cached_tree_renders_the_frames_its_videos_would_hold(tmp_path, monkeypatch):
    monkeypatch.setenv("RPPGBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(PRESETS, "synth-mini", replace(TINY, name="synth-mini", scenarios=("motion",)))
    cached = SyntheticDataset(None, preset="synth-mini", seed=1)
    assert not list(cached.folder.rglob("*.avi"))  # nothing but references, frame tables and metadata
    exported = SyntheticDataset(generate(tmp_path / "export", PRESETS["synth-mini"], 1, workers=1))
    for a, b in zip(cached.records(), exported.records(), strict=True):
        frames_a, frames_b = cached.open_frames(a), exported.open_frames(b)
        np.testing.assert_array_equal(frames_a.timestamps, frames_b.timestamps)
        np.testing.assert_array_equal(np.stack(list(frames_a)), np.stack(list(frames_b)))


@pytest.mark.skipif(not MODEL.is_file(), reason="BlazeFace model file not shipped")
@pytest.mark.parametrize("size", [(160, 120), (320, 240)])
def test_blazeface_finds_the_photo_identities(size):
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    preset = replace(TINY, width=size[0], height=size[1], n_subjects=7)
    options = vision.FaceDetectorOptions(base_options=BaseOptions(model_asset_path=str(MODEL)))
    detector = vision.FaceDetector.create_from_options(options)
    try:
        subjects = [s for s in range(preset.n_subjects) if s % preset.photo_every == 0]
        for subject in subjects:
            clip = render_clip(clip_spec(preset, 0, subject, "stationary"))
            frame = next(clip.frames())
            found = detector.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=frame)).detections
            assert found, f"subject {subject}: no face found"
            box = found[0].bounding_box
            assert _iou((box.origin_x, box.origin_y, box.width, box.height), clip.boxes[0]) > 0.5
    finally:
        detector.close()


def _iou(a, b) -> float:
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    iw = max(0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    ih = max(0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    return iw * ih / (aw * ah + bw * bh - iw * ih)
