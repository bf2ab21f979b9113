"""Face preprocessing and the clip cache, on short MJPG videos of scikit-image's astronaut picture.

The test dataset pastes a 200x200 patch of `astronaut()` (face at (47, 52, 95, 95) in the patch, as
BlazeFace finds it in the full picture) onto a 320x240 background at a known, optionally moving,
position, with a 1.2 Hz sine PPG reference at 100 Hz.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
from skimage.data import astronaut

from rppgbench.data import Record, Reference
from rppgbench.dataset import DatasetLoader
from rppgbench.errors import ConfigError, DataError
from rppgbench.params import Param
from rppgbench.preprocess import (
    CachedFrames,
    PreprocessConfig,
    cache_path,
    clip_attrs,
    load_clip,
    prepare,
)
from rppgbench.preprocess import cache as cache_module
from rppgbench.preprocess.crop import (
    BoxSmoother,
    FaceTracker,
    crop_resize,
    full_frame_box,
    search_window,
    square_crop_box,
)
from rppgbench.preprocess.face import Box, FaceDetector
from rppgbench.video import VideoFile

FPS = 30.0
WIDTH, HEIGHT = 320, 240
PATCH = astronaut()[30:230, 130:330]
FACE_IN_PATCH = (47, 52, 95, 95)
BACKGROUND = np.full((HEIGHT, WIDTH, 3), (40, 90, 60), np.uint8)


def face_truth(dx: float, dy: float) -> tuple[float, float, float, float]:
    """The true face box when the patch's top-left corner is at (dx, dy)."""
    x, y, w, h = FACE_IN_PATCH
    return dx + x, dy + y, w, h


def synth_frame(dx: int, dy: int, face: bool = True) -> np.ndarray:
    """One RGB frame: the astronaut patch at (dx, dy) over a plain background (or the background only)."""
    frame = BACKGROUND.copy()
    if face:
        frame[dy : dy + 200, dx : dx + 200] = PATCH
    return frame


def write_video(
    path: Path, n_frames: int, motion: tuple[float, float] = (0.0, 0.0), face: bool = True
) -> None:
    """An MJPG .avi whose patch starts at (20, 20) and moves `motion` pixels per frame."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (WIDTH, HEIGHT))
    for i in range(n_frames):
        dx, dy = int(round(20 + motion[0] * i)), int(round(20 + motion[1] * i))
        writer.write(cv2.cvtColor(synth_frame(dx, dy, face), cv2.COLOR_RGB2BGR))
    writer.release()


def write_reference(path: Path, seconds: float, rate: float = 100.0, nan: bool = False) -> None:
    times = np.arange(int(seconds * rate)) / rate
    values = np.sin(2 * np.pi * 1.2 * times)
    if nan:
        values[50:60] = np.nan
    np.savez(path, values=values, times=times)


class AstronautLoader(DatasetLoader):
    """Test dataset: every <name>.avi in the root, with the reference in <name>.npz."""

    name = "astro-test"
    description = "astronaut test videos"
    params = (Param("tag", "a", help="changes the loader description"),)
    opened: list[str] = []  # open_frames calls (in-process runs only)

    def records(self) -> list[Record]:
        return [self.record(p.stem) for p in sorted(self.root.glob("*.avi"))]

    def record(self, stem: str, frame_range: tuple[int, int | None] = (0, None)) -> Record:
        video = self.root / f"{stem}.avi"
        return Record(
            "astro-test", stem, "s1", video, fps=FPS, files={"reference": video.with_suffix(".npz")},
            frame_range=frame_range, meta={"motion": stem},
        )  # fmt: skip

    def open_frames(self, record: Record):
        AstronautLoader.opened.append(record.id)
        if record.subject == "crash":
            os._exit(3)  # a worker dying hard (as a segfault or the OOM killer would)
        source = VideoFile(record.location, record.fps)
        if record.subject == "explode":
            return ExplodingSource(source)
        return source

    def load_reference(self, record: Record) -> Reference:
        path = record.files["reference"]
        if not path.is_file():
            raise DataError(f"{path}: reference file not found")
        data = np.load(path)
        return Reference("ppg", data["values"], data["times"])

    def face_box(self, record: Record) -> tuple[int, int, int, int] | None:
        return tuple(int(v) for v in face_truth(20, 20))  # type: ignore[return-value]


class ExplodingSource:
    """Yields 20 frames of a real video, then fails as a decoder error mid-file would."""

    def __init__(self, source: VideoFile) -> None:
        self.source, self.fps, self.timestamps = source, source.fps, None

    def frame_count(self) -> int | None:
        return None

    def __iter__(self):
        for i, frame in enumerate(self.source):
            if i == 20:
                raise RuntimeError("decoder exploded at frame 20")
            yield frame


def make_clip_files(root: Path, name: str, n_frames: int = 45, motion=(0.0, 0.0), face=True, seconds=None):
    write_video(root / f"{name}.avi", n_frames, motion, face)
    write_reference(root / f"{name}.npz", seconds if seconds is not None else n_frames / FPS + 0.5)


@pytest.fixture
def dataset(tmp_path: Path) -> AstronautLoader:
    root = tmp_path / "data"
    root.mkdir()
    make_clip_files(root, "still")
    make_clip_files(root, "moving", n_frames=60, motion=(1.5, 0.25))
    AstronautLoader.opened.clear()
    return AstronautLoader(root)


def decoded(path: Path) -> np.ndarray:
    return np.stack(list(VideoFile(path)))


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / (aw * ah + bw * bh - w * h)


# --- configuration -------------------------------------------------------------------------------------


def test_config_from_dict_converts_strings_and_round_trips():
    config = PreprocessConfig.from_dict({"size": "64", "enlarge": "1.4", "face": "full", "max_frames": 10})
    assert (config.size, config.enlarge, config.face, config.max_frames) == (64, 1.4, "full", 10)
    assert PreprocessConfig.from_dict(config.to_dict()) == config
    assert PreprocessConfig.from_dict({"enlarge": 2}).enlarge == 2.0


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"sise": 64}, "no setting sise"),
        ({"face": "haar"}, "not one of"),
        ({"on_no_face": "skip"}, "not one of"),
        ({"size": "big"}, "cannot read 'big'"),
        ({"size": 4}, "between 8 and 1024"),
        ({"smoothing": 1.0}, "[0, 1)"),
        ({"redetect_every": 1.5}, "must be int"),
        ({"redetect_every": 5, "face": "full"}, "needs face='blazeface' or 'dataset'"),
        ({"max_frames": -1}, ">= 0"),
    ],
)
def test_config_rejects_bad_values(values, fragment):
    with pytest.raises(
        ConfigError, match=fragment.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")
    ):
        PreprocessConfig.from_dict(values)


# --- detection and cropping ----------------------------------------------------------------------------


def test_detector_finds_the_astronaut_face():
    with FaceDetector() as detector:
        box = detector.detect(astronaut())
        assert box is not None and box.score > 0.8
        assert iou((box.x, box.y, box.w, box.h), (177, 82, 95, 95)) > 0.8
        for dx, dy in [(0, 0), (110, 35)]:
            found = detector.detect(synth_frame(dx, dy))
            assert iou((found.x, found.y, found.w, found.h), face_truth(dx, dy)) > 0.5
        assert detector.detect(BACKGROUND) is None


def test_square_crop_box_enlarges_about_the_centre_and_stays_in_frame():
    assert square_crop_box(Box(100, 80, 50, 40), 1.6, (240, 320, 3)) == (85, 60, 80, 80)
    # Near the edge the square is shifted inside, not cut.
    x, y, w, h = square_crop_box(Box(0, 0, 50, 50), 1.6, (240, 320, 3))
    assert (x, y, w, h) == (0, 0, 80, 80)
    x, y, w, h = square_crop_box(Box(280, 200, 40, 40), 2.0, (240, 320, 3))
    assert (x + w, y + h, w, h) == (320, 240, 80, 80)
    # Larger than the frame: shrunk to the frame's shorter side, still square.
    assert square_crop_box(Box(0, 0, 300, 300), 1.6, (240, 320, 3))[2:] == (240, 240)
    assert full_frame_box((240, 320, 3)) == (0, 0, 320, 240)


def test_crop_resize_shapes_and_area_interpolation():
    frame = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    out = crop_resize(frame, (10, 20, 100, 100), 50)
    assert out.shape == (50, 50, 3) and out.dtype == np.uint8
    # Halving with area interpolation is the mean of each 2x2 block.
    block = frame[20:120, 10:110].astype(float).reshape(50, 2, 50, 2, 3).mean(axis=(1, 3))
    assert np.abs(out.astype(float) - block).max() <= 1.0
    assert crop_resize(frame, full_frame_box(frame.shape), 64).shape == (64, 64, 3)
    assert np.array_equal(crop_resize(frame, (0, 0, 32, 32), 32), frame[:32, :32])


def test_box_smoother_blends_centre_and_size():
    smoother = BoxSmoother(0.5)
    smoother.update(Box(0, 0, 10, 10))
    box = smoother.update(Box(20, 0, 30, 10))  # centres 5 -> 35: smoothed 20; width 10 -> 30: 20
    assert box.center == pytest.approx((20.0, 5.0)) and box.w == pytest.approx(20.0)
    assert BoxSmoother(0.0).update(Box(3, 4, 5, 6)) == Box(3, 4, 5, 6)


# --- preparing and the cache ---------------------------------------------------------------------------


def test_cache_round_trip(dataset, tmp_path):
    config = PreprocessConfig(size=64)
    records = dataset.records()
    results = prepare(dataset, records, config, tmp_path / "cache", progress=False)
    assert all(r.ok for r in results.values()), results
    for record in records:
        result = results[record.id]
        assert result.path == cache_path(dataset, record, config, tmp_path / "cache")
        clip = load_clip(result.path, record)
        source = decoded(record.location)
        assert isinstance(clip.frames, CachedFrames) and clip.frames.shape == (len(source), 64, 64, 3)
        assert result.n_frames == len(source)
        expected = np.stack(
            [crop_resize(f, tuple(b), 64) for f, b in zip(source, clip.face_boxes, strict=True)]
        )
        assert np.array_equal(clip.frames[:], expected)
        np.testing.assert_allclose(clip.timestamps, np.arange(len(source)) / FPS)
        reference = dataset.load_reference(record)
        assert clip.reference.kind == "ppg"
        np.testing.assert_array_equal(clip.reference.values, reference.values)
        np.testing.assert_allclose(
            clip.aligned_reference(), np.sin(2 * np.pi * 1.2 * clip.timestamps), atol=2e-3
        )
        with h5py.File(result.path) as f:
            np.testing.assert_allclose(f["aligned_reference"][:], clip.aligned_reference())
            assert "frames" not in f and f.attrs["compression"] == "predictive"  # the default
            assert f["frames_packed"].shape == (-(-len(source) // 16),)  # one blob per 16 frames
    # The fixed crop of the still video contains the true face, enlarged 1.6x about its centre.
    clip = load_clip(results["astro-test/still/s1"].path)
    assert clip.record == records[1]  # rebuilt from the file's attributes
    boxes = clip.face_boxes
    assert np.all(boxes == boxes[0]) and boxes[0][2] == boxes[0][3]
    tx, ty, tw, th = face_truth(20, 20)
    assert abs(boxes[0][2] - 1.6 * tw) < 0.25 * tw
    assert iou(boxes[0], (tx + tw / 2 - 0.8 * tw, ty + th / 2 - 0.8 * th, 1.6 * tw, 1.6 * th)) > 0.7
    attrs = clip_attrs(results["astro-test/still/s1"].path)
    assert attrs["config"] == config.to_dict() and attrs["loader"] == json.loads(
        json.dumps(dataset.describe())
    )
    assert attrs["no_face_fallback"] is False or attrs["no_face_fallback"] == 0
    assert attrs["detection_score"] > 0.8 and attrs["rppgbench_version"]


@pytest.mark.parametrize("codec", ["lzf", "gzip", "predictive"])
def test_compressed_clips_hold_the_same_frames(dataset, tmp_path, codec):
    record = dataset.record("moving")
    plain = prepare(
        dataset, [record], PreprocessConfig(size=32), tmp_path / "plain", progress=False, compression="none"
    )
    packed = prepare(
        dataset, [record], PreprocessConfig(size=32), tmp_path, progress=False, compression=codec
    )
    with h5py.File(packed[record.id].path) as f:
        assert f.attrs["compression"] == codec
        assert codec == "predictive" or f["frames"].compression == codec
    with h5py.File(plain[record.id].path) as f:
        assert f["frames"].compression is None
    stored, expected = load_clip(packed[record.id].path).frames, load_clip(plain[record.id].path).frames
    assert stored.shape == expected.shape
    for key in (slice(3, 40), slice(None), 17, -1, [40, 2, 2, 33], slice(50, 5, -4), (slice(0, 9), 5)):
        assert np.array_equal(stored[key], expected[key]), key
    with pytest.raises(ConfigError, match="compression 'zstd'"):
        prepare(dataset, [record], PreprocessConfig(), tmp_path, progress=False, compression="zstd")


def test_fixed_box_versus_redetection_with_smoothing(dataset, tmp_path):
    record = dataset.record("moving")  # 60 frames, the face moves 1.5 px right and 0.25 px down per frame
    fixed = load_clip(
        prepare(dataset, [record], PreprocessConfig(), tmp_path, progress=False)[record.id].path
    )
    assert np.all(fixed.face_boxes == fixed.face_boxes[0])
    tracked_config = PreprocessConfig(redetect_every=10, smoothing=0.5)
    tracked = load_clip(prepare(dataset, [record], tracked_config, tmp_path, progress=False)[record.id].path)
    boxes = tracked.face_boxes
    changes = np.flatnonzero(np.any(np.diff(boxes, axis=0) != 0, axis=1)) + 1
    assert set(changes) <= {10, 20, 30, 40, 50} and len(changes) >= 4  # moves only on re-detection frames
    centre_x = boxes[:, 0] + boxes[:, 2] / 2
    truth_x = np.array([face_truth(20 + 1.5 * i, 0)[0] + 47.5 for i in range(60)])
    # Smoothing lags behind the truth, but much less than the fixed box does.
    assert abs(centre_x[-1] - truth_x[-1]) < 0.5 * abs(
        fixed.face_boxes[-1][0] + fixed.face_boxes[-1][2] / 2 - truth_x[-1]
    )
    # Half-weight smoothing: the box moves by about half of the 15 px the face moved in the first 10 frames.
    assert 4 <= centre_x[10] - centre_x[9] <= 11
    assert clip_attrs(cache_path(dataset, record, tracked_config, tmp_path))["n_detections"] == 6


def test_second_prepare_reuses_the_cache(dataset, tmp_path):
    config = PreprocessConfig(size=32)
    first = prepare(dataset, dataset.records(), config, tmp_path, progress=False)
    mtimes = {k: r.path.stat().st_mtime_ns for k, r in first.items()}
    opened = len(AstronautLoader.opened)
    second = prepare(dataset, dataset.records(), config, tmp_path, progress=False)
    assert len(AstronautLoader.opened) == opened  # no video was opened again
    assert all(r.ok and r.reused for r in second.values())
    assert {k: r.path.stat().st_mtime_ns for k, r in second.items()} == mtimes
    assert {k: r.n_frames for k, r in second.items()} == {k: r.n_frames for k, r in first.items()}
    damaged = first["astro-test/still/s1"].path
    damaged.write_bytes(b"not hdf5")  # an unreadable cache file is prepared again, not trusted
    third = prepare(dataset, dataset.records(), config, tmp_path, progress=False)
    assert third["astro-test/still/s1"].ok and not third["astro-test/still/s1"].reused
    assert len(load_clip(damaged)) == 45 and third["astro-test/moving/s1"].reused


def test_cache_key_follows_config_loader_and_record(dataset, tmp_path):
    record = dataset.record("still")
    base = cache_path(dataset, record, PreprocessConfig(), tmp_path)
    assert base == cache_path(dataset, record, PreprocessConfig.from_dict({"size": "128"}), tmp_path)
    assert base.parent == tmp_path / "clips" / "astro-test"
    others = {
        cache_path(dataset, record, PreprocessConfig(size=64), tmp_path),
        cache_path(dataset, record, PreprocessConfig(enlarge=1.5), tmp_path),
        cache_path(AstronautLoader(dataset.root, tag="b"), record, PreprocessConfig(), tmp_path),
        cache_path(dataset, dataset.record("moving"), PreprocessConfig(), tmp_path),
        cache_path(dataset, dataset.record("still", (5, 30)), PreprocessConfig(), tmp_path),
    }
    assert base not in others and len(others) == 5


def test_cache_key_of_redetected_clips_follows_the_search_version(dataset, tmp_path, monkeypatch):
    record, tracked = dataset.record("still"), PreprocessConfig(redetect_every=10)
    before = (
        cache_path(dataset, record, tracked, tmp_path),
        cache_path(dataset, record, PreprocessConfig(), tmp_path),
    )
    monkeypatch.setattr(cache_module, "REDETECT_SEARCH_VERSION", cache_module.REDETECT_SEARCH_VERSION + 1)
    after = (
        cache_path(dataset, record, tracked, tmp_path),
        cache_path(dataset, record, PreprocessConfig(), tmp_path),
    )
    assert after[0] != before[0] and after[1] == before[1]  # detect-once clips keep their key


class _ScriptedDetector:
    """Finds the face at a fixed place of the whole frame: in whatever image it is given, if that image
    (a window of the frame at `offsets[i]`) contains it."""

    def __init__(self, face: Box) -> None:
        self.face, self.calls, self.offsets = face, [], []

    def detect(self, image: np.ndarray) -> Box | None:
        x0, y0 = self.offsets[len(self.calls)] if len(self.calls) < len(self.offsets) else (0, 0)
        self.calls.append(image.shape)
        f = self.face
        inside = (
            x0 <= f.x and y0 <= f.y and f.x + f.w <= x0 + image.shape[1] and f.y + f.h <= y0 + image.shape[0]
        )
        return Box(f.x - x0, f.y - y0, f.w, f.h, 0.9) if inside else None


def test_redetection_searches_a_window_around_the_face_then_the_whole_frame():
    shape = (480, 640, 3)
    frame = np.zeros(shape, np.uint8)
    start = Box(300, 200, 60, 60)
    config = PreprocessConfig(redetect_every=5, smoothing=0.0)
    regions = []

    def region(x: int, y: int, w: int, h: int) -> np.ndarray:
        regions.append((x, y, w, h))
        return frame[y : y + h, x : x + w]

    # The face moved 20 px: found inside the window, at its whole-frame place; the frame is never
    # converted whole.
    moved = _ScriptedDetector(Box(320, 210, 60, 60))
    window = search_window(start, shape)
    assert window == (240, 140, 180, 180)
    moved.offsets = [window[:2]]
    tracker = FaceTracker(config, moved, lambda _: start)
    tracker.box_for(0, shape, lambda: frame)
    whole = []
    box = tracker.box_for(5, shape, lambda: whole.append(1) or frame, region)
    assert regions == [window] and not whole and moved.calls == [(180, 180, 3)]
    assert box == square_crop_box(Box(320, 210, 60, 60), config.enlarge, shape)
    # The face jumped across the frame: the window shows none, so the whole frame is searched.
    jumped = _ScriptedDetector(Box(20, 20, 60, 60))
    jumped.offsets = [window[:2], (0, 0)]
    tracker = FaceTracker(config, jumped, lambda _: start)
    tracker.box_for(0, shape, lambda: frame)
    box = tracker.box_for(5, shape, lambda: frame, region)
    assert jumped.calls == [(180, 180, 3), shape] and not tracker.misses
    assert box == square_crop_box(Box(20, 20, 60, 60), config.enlarge, shape)
    # No face anywhere: a miss, and the box stays.
    gone = _ScriptedDetector(Box(-500, -500, 1, 1))
    tracker = FaceTracker(config, gone, lambda _: start)
    first = tracker.box_for(0, shape, lambda: frame)
    assert tracker.box_for(5, shape, lambda: frame) == first and tracker.misses == [5]


def test_default_cache_root_is_rppgbench_cache(dataset, isolated_cache):
    record = dataset.record("still")
    assert cache_path(dataset, record, PreprocessConfig()).is_relative_to(isolated_cache / "clips")


def test_failure_mid_video_leaves_no_file(dataset, tmp_path):
    make_clip_files(dataset.root, "explode")
    record = dataset.record("explode")
    result = prepare(dataset, [record], PreprocessConfig(), tmp_path, progress=False)[record.id]
    assert not result.ok and "decoder exploded at frame 20" in result.error
    assert str(record.location) in result.error
    assert not cache_path(dataset, record, PreprocessConfig(), tmp_path).exists()
    assert list((tmp_path / "clips").rglob("*")) == [tmp_path / "clips" / "astro-test"]  # no temporary left


def test_no_face_fails_naming_the_frame_or_falls_back(dataset, tmp_path):
    make_clip_files(dataset.root, "empty", n_frames=30, face=False)
    record = dataset.record("empty", frame_range=(5, None))
    failed = prepare(dataset, [record], PreprocessConfig(), tmp_path, progress=False)[record.id]
    assert (
        not failed.ok and "no face found on frame 5" in failed.error and str(record.location) in failed.error
    )
    config = PreprocessConfig(on_no_face="full", size=32)
    result = prepare(dataset, [record], config, tmp_path, progress=False)[record.id]
    assert result.ok
    clip = load_clip(result.path)
    assert np.all(clip.face_boxes == [0, 0, WIDTH, HEIGHT]) and len(clip) == 25
    assert clip_attrs(result.path)["no_face_fallback"]


def test_full_frame_and_dataset_box_modes(dataset, tmp_path):
    record = dataset.record("still")
    full = load_clip(
        prepare(dataset, [record], PreprocessConfig(face="full", size=48), tmp_path, progress=False)[
            record.id
        ].path
    )
    frames = decoded(record.location)
    assert np.array_equal(full.frames[3], crop_resize(frames[3], (0, 0, WIDTH, HEIGHT), 48))
    annotated = PreprocessConfig(face="dataset", enlarge=1.0, size=95)
    clip = load_clip(prepare(dataset, [record], annotated, tmp_path, progress=False)[record.id].path)
    assert tuple(clip.face_boxes[0]) == (67, 72, 95, 95)
    assert np.array_equal(clip.frames[0], frames[0][72:167, 67:162])


class TrackedAstronautLoader(AstronautLoader):
    """The test dataset with a face box annotated on every frame (as the synthetic dataset has)."""

    def face_boxes(self, record: Record) -> np.ndarray | None:
        shift = 1.5 if record.subject == "moving" else 0.0
        return np.array([face_truth(20 + shift * i, 20) for i in range(60)]).round()


def test_dataset_boxes_followed_frame_by_frame(dataset, tmp_path):
    tracked = TrackedAstronautLoader(dataset.root)
    record = tracked.record("moving")
    follow = PreprocessConfig(face="dataset", redetect_every=1, smoothing=0.0, enlarge=1.0, size=32)
    clip = load_clip(prepare(tracked, [record], follow, tmp_path, progress=False)[record.id].path)
    annotated = tracked.face_boxes(record)
    frames = decoded(record.location)
    expected = [square_crop_box(Box(*box), 1.0, frames[0].shape) for box in annotated[1 : len(frames)]]
    assert [tuple(b) for b in clip.face_boxes[1:]] == expected
    assert clip.face_boxes[-1][0] - clip.face_boxes[1][0] > 80  # the crop moved with the face
    assert np.array_equal(clip.frames[7], crop_resize(frames[7], expected[6], 32))
    # A dataset without per-frame boxes cannot be followed: the video fails, naming what is missing.
    result = prepare(dataset, [dataset.record("still")], follow, tmp_path, progress=False)
    (failure,) = result.values()
    assert not failure.ok and "annotates no face box per frame" in failure.error


def test_bad_inputs_fail_per_video_while_others_succeed(dataset, tmp_path):
    root = dataset.root
    (root / "corrupt.avi").write_bytes(b"RIFF" + os.urandom(3000))
    write_reference(root / "corrupt.npz", 2.0)
    make_clip_files(root, "truncated", n_frames=60)
    data = (root / "truncated.avi").read_bytes()
    (root / "truncated.avi").write_bytes(data[: len(data) // 2])
    make_clip_files(root, "noref")
    (root / "noref.npz").unlink()
    make_clip_files(root, "nanref")
    write_reference(root / "nanref.npz", 2.0, nan=True)
    make_clip_files(root, "shortref", n_frames=60, seconds=1.0)
    make_clip_files(root, "wrongrate")
    np.savez(root / "wrongrate.npz", values=np.sin(np.arange(200) / 5.0), times=np.arange(200) / 2.0)
    results = prepare(dataset, dataset.records(), PreprocessConfig(size=32), tmp_path, progress=False)
    assert results["astro-test/still/s1"].ok and results["astro-test/moving/s1"].ok
    errors = {k.split("/")[1]: r.error for k, r in results.items() if not r.ok}
    assert set(errors) == {"corrupt", "truncated", "noref", "nanref", "shortref", "wrongrate"}
    assert errors["corrupt"].startswith(str(root / "corrupt.avi"))
    assert "truncated or corrupt" in errors["truncated"] and "of the 60 frames" in errors["truncated"]
    assert errors["noref"] == f"{root / 'noref.npz'}: reference file not found"
    assert errors["nanref"].startswith(str(root / "nanref.npz")) and "10 NaN" in errors["nanref"]
    assert "covers 0.00-0.99 s" in errors["shortref"] and "shorter than the video" in errors["shortref"]
    assert "sampling rate is 2 Hz" in errors["wrongrate"]


def test_frame_range_keeps_record_relative_timestamps(dataset, tmp_path):
    record = dataset.record("moving", frame_range=(10, 40))
    result = prepare(dataset, [record], PreprocessConfig(size=32), tmp_path, progress=False)[record.id]
    clip = load_clip(result.path, record)
    assert len(clip) == 30 == result.n_frames
    np.testing.assert_allclose(clip.timestamps, np.arange(10, 40) / FPS)
    frames = decoded(record.location)[10:40]
    assert np.array_equal(clip.frames[-1], crop_resize(frames[-1], tuple(clip.face_boxes[-1]), 32))
    # The face is detected on the first frame of the range, where the patch is at (35, 22).
    x, y, w, h = clip.face_boxes[0]
    assert abs(x + w / 2 - (face_truth(35, 22)[0] + 47.5)) < 8
    limited = prepare(dataset, [record], PreprocessConfig(size=32, max_frames=12), tmp_path, progress=False)
    assert limited[record.id].n_frames == 12
    beyond = dataset.record("moving", frame_range=(50, 90))
    error = prepare(dataset, [beyond], PreprocessConfig(size=32), tmp_path, progress=False)[beyond.id].error
    assert "runs past the end of the video, which has 60 frames" in error


def test_cached_frames_index_and_pickle(dataset, tmp_path):
    record = dataset.record("moving")
    path = prepare(dataset, [record], PreprocessConfig(size=24), tmp_path, progress=False)[record.id].path
    frames = load_clip(path).frames
    full = np.asarray(frames)
    assert full.shape == frames.shape == (60, 24, 24, 3) and len(frames) == 60 and frames.dtype == np.uint8
    assert np.array_equal(frames[-1], full[59]) and np.array_equal(frames[5:50:7], full[5:50:7])
    assert np.array_equal(frames[::-3], full[::-3])
    picks = np.array([[40, 3], [3, -1]])
    assert np.array_equal(frames[picks], full[picks])
    mask = np.zeros(60, bool)
    mask[[2, 30]] = True
    assert np.array_equal(frames[mask], full[mask]) and np.array_equal(
        frames[10:12, :, 5, 0], full[10:12, :, 5, 0]
    )
    clone = pickle.loads(pickle.dumps(frames))  # after the handle was opened
    assert np.array_equal(clone[17:33], full[17:33])
    window = load_clip(path).window(10, 20)
    assert np.array_equal(window.frames, full[10:20]) and len(window) == 10
    with pytest.raises(IndexError):
        frames[60]


def test_worker_pool_survives_errors_and_crashes(dataset, tmp_path):
    (dataset.root / "corrupt.avi").write_bytes(b"not a video")
    write_reference(dataset.root / "corrupt.npz", 2.0)
    make_clip_files(dataset.root, "crash")
    config = PreprocessConfig(size=32)
    results = prepare(dataset, dataset.records(), config, tmp_path, workers=2, progress=False)
    assert results["astro-test/still/s1"].ok and results["astro-test/moving/s1"].ok
    assert "died" in results["astro-test/crash/s1"].error
    assert results["astro-test/corrupt/s1"].error.startswith(str(dataset.root / "corrupt.avi"))
    serial = prepare(dataset, [dataset.record("still")], config, tmp_path / "serial", progress=False)
    assert np.array_equal(
        load_clip(results["astro-test/still/s1"].path).frames[:],
        load_clip(serial["astro-test/still/s1"].path).frames[:],
    )


def test_prepare_command(dataset, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from rppgbench.plugins import registry
    from rppgbench.preprocess.commands import prepare_command

    monkeypatch.setitem(registry().datasets, "astro-test", AstronautLoader)
    make_clip_files(dataset.root, "noref")
    (dataset.root / "noref.npz").unlink()
    args = ["--dataset", "astro-test", "--data-root", str(dataset.root), "--cache-dir", str(tmp_path)]
    result = CliRunner().invoke(prepare_command, [*args, "--set", "size=40", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "3 videos, 2 ok (0 already cached, 105 frames), 1 failed" in result.output
    assert "failed astro-test/noref/s1:" in result.output and "reference file not found" in result.output
    again = CliRunner().invoke(prepare_command, [*args, "--set", "size=40", "--quiet"])
    assert "2 ok (2 already cached" in again.output
    bad = CliRunner().invoke(prepare_command, [*args, "--set", "size=huge"])
    assert bad.exit_code != 0 and "cannot read 'huge'" in str(bad.exception)
    protocol = tmp_path / "p.toml"
    protocol.write_text(
        'name = "astro"\ndescription = "test"\n[dataset]\nname = "astro-test"\n'
        '[split]\nkind = "kfold"\nfolds = 2\n[preprocess]\nsize = 20\nface = "full"\n'
    )
    by_protocol = CliRunner().invoke(
        prepare_command,
        [
            "--protocol",
            str(protocol),
            "--data-root",
            str(dataset.root),
            "--cache-dir",
            str(tmp_path),
            "--quiet",
        ],
    )
    assert by_protocol.exit_code == 0, by_protocol.output
    path = cache_path(dataset, dataset.record("still"), PreprocessConfig(size=20, face="full"), tmp_path)
    assert load_clip(path).frames.shape[1:] == (20, 20, 3)


def test_frame_codec_round_trips_and_picks_the_cheaper_predictor():
    from rppgbench.preprocess.frame_codec import PREDICTORS, WRITTEN_PACKING, decode_chunk, encode_chunk

    rng = np.random.default_rng(0)
    still = np.repeat(rng.integers(0, 256, (1, 24, 24, 3), dtype=np.uint8), 16, axis=0)  # noise, no motion
    ramp = np.add.outer(np.arange(16), np.add.outer(np.arange(24), 3 * np.arange(24)))  # moving gradient
    moving = np.repeat((ramp * 7 % 256).astype(np.uint8)[..., None], 3, axis=-1)
    for frames, predictor in ((still, 0), (moving, 1), (rng.integers(0, 256, (5, 8, 8, 3), np.uint8), None)):
        blob = encode_chunk(frames)
        assert blob[0] // len(PREDICTORS) == WRITTEN_PACKING
        assert predictor is None or blob[0] % len(PREDICTORS) == predictor
        assert np.array_equal(decode_chunk(blob, frames.shape[1:]), frames)
    assert len(encode_chunk(still)) < still.nbytes / 8
    with pytest.raises(ValueError, match="predictor"):
        decode_chunk(np.array([7, 1, 2], np.uint8), (8, 8, 3))
    damaged = encode_chunk(moving).copy()
    damaged[len(damaged) // 2] ^= 0xFF
    with contextlib.suppress(ValueError):  # refused outright, or decoded to other bytes the checksums catch
        assert not np.array_equal(decode_chunk(damaged, moving.shape[1:]), moving)


def test_frame_codec_keeps_reading_blobs_of_the_earlier_zstd_packing():
    import zstandard

    from rppgbench.preprocess.frame_codec import decode_chunk

    rng = np.random.default_rng(1)
    frames = np.cumsum(rng.integers(0, 3, (6, 10, 12, 3)), axis=0).astype(np.uint8)
    temporal = np.concatenate([frames[:1], frames[1:] - frames[:-1]])  # modulo 256, as uint8
    planar = np.diff(np.diff(frames, axis=2, prepend=0), axis=1, prepend=0).astype(np.uint8)
    for code, residual in ((0, temporal), (1, planar)):
        blob = bytes([code]) + zstandard.ZstdCompressor(level=1).compress(residual.tobytes())
        assert np.array_equal(decode_chunk(blob, frames.shape[1:]), frames)
    with pytest.raises(ValueError, match="corrupt"):
        decode_chunk(bytes([0]) + b"not zstd", frames.shape[1:])


def test_compression_names_for_the_cli_match_the_cache():
    from rppgbench.preprocess.cache import COMPRESSIONS
    from rppgbench.preprocess.config import COMPRESSION_NAMES, DEFAULT_COMPRESSION

    assert tuple(COMPRESSIONS) == COMPRESSION_NAMES and DEFAULT_COMPRESSION in COMPRESSION_NAMES
