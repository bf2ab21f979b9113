"""RGB trace extraction: equals a direct computation, the skin mask drops background, lazy input works."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from rppgbench.data import Clip, Record
from rppgbench.errors import DataError
from rppgbench.traces import (
    TraceMethod,
    TraceWarning,
    estimate_skin_model,
    extract_traces,
    extract_traces_info,
    skin_weights,
)

SKIN = np.array([190.0, 130.0, 105.0])
BACKGROUND = np.array([40.0, 150.0, 70.0])


def face_clip(n: int = 20, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Frames with a skin-coloured centre square on a green background that flickers strongly."""
    rng = np.random.default_rng(seed)
    frames = np.empty((n, size, size, 3), dtype=np.uint8)
    skin = np.zeros((size, size), dtype=bool)
    skin[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = True
    for i in range(n):  # building test data only
        img = BACKGROUND * (1 + 0.5 * np.sin(i)) + rng.normal(0, 3, (size, size, 3))
        img[skin] = SKIN + rng.normal(0, 3, (skin.sum(), 3))
        frames[i] = np.clip(img, 0, 255).round()
    return frames, skin


def test_whole_crop_traces_equal_frame_means():
    frames = np.random.default_rng(1).integers(0, 256, (13, 9, 7, 3), dtype=np.uint8)
    expected = frames.reshape(13, -1, 3).mean(axis=1)
    got = extract_traces(frames, skin_mask=False, chunk=4)
    assert got.dtype == np.float64 and got.shape == (13, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def _reference_weights(frame: np.ndarray, model) -> np.ndarray:
    """The module doc's weighting written out pixel by pixel, in float64."""
    f = frame.astype(np.float64)
    r, g = f[..., 0] / f.sum(-1), f[..., 1] / f.sum(-1)
    d2 = ((r - model.mean[0]) / model.sd[0]) ** 2 + ((g - model.mean[1]) / model.sd[1]) ** 2
    luma = 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
    usable = (d2 <= 9.0) & (luma > model.min_luma) & (frame.max(-1) < model.saturated)
    return np.where(usable, np.exp(-0.5 * d2), 0.0)


def test_skin_traces_equal_per_frame_weighted_mean_reference():
    frames, _ = face_clip()
    model = estimate_skin_model(frames)
    np.testing.assert_allclose(
        skin_weights(frames[0], model), _reference_weights(frames[0], model), atol=1e-5
    )
    expected = np.array(
        [
            (f * w[..., None]).sum((0, 1)) / w.sum()
            for f, w in ((f, _reference_weights(f, model)) for f in frames)
        ]
    )
    for chunk in (1, 3, 256):
        info = extract_traces_info(frames, skin_mask=True, chunk=chunk)
        np.testing.assert_allclose(info.rgb, expected, rtol=1e-6)
        assert info.fallback_frames == 0


def test_skin_model_is_fitted_to_the_skin_colour():
    frames, _ = face_clip()
    model = estimate_skin_model(frames)
    assert model.mean == pytest.approx((SKIN[0] / SKIN.sum(), SKIN[1] / SKIN.sum()), abs=0.005)


def test_skin_weights_do_not_change_with_brightness():
    """Chromaticity ignores the light's intensity: a dimmer frame gets the same weights."""
    frames, skin = face_clip()
    model = estimate_skin_model(frames)
    bright = frames[0].astype(np.float64)
    dim = np.clip(bright * 0.6, 0, 255).round().astype(np.uint8)
    w_bright, w_dim = skin_weights(frames[0], model), skin_weights(dim, model)
    assert np.abs(w_bright[skin] - w_dim[skin]).mean() < 0.05


def test_skin_mask_excludes_background():
    frames, skin = face_clip()
    model = estimate_skin_model(frames)
    mask = skin_weights(frames, model) > 0  # the pixels that get any skin weight
    assert mask[:, ~skin].mean() == 0.0  # no background pixel is kept
    assert mask[:, skin].mean() > 0.95  # nearly every skin pixel is kept
    rgb = extract_traces(frames)
    np.testing.assert_allclose(rgb, np.broadcast_to(SKIN, rgb.shape), atol=1.0)
    # The flickering background does leak into the whole-crop traces.
    assert np.ptp(extract_traces(frames, skin_mask=False)[:, 1]) > 20


def test_frames_without_skin_fall_back_to_whole_crop_and_are_counted():
    frames, skin = face_clip(n=6)
    model = estimate_skin_model(frames)
    frames[2] = frames[2][..., ::-1]  # a frame whose colours are nowhere near skin
    frames[4] = 0  # a black frame
    with pytest.warns(TraceWarning, match="2 of 6 frames"):
        info = extract_traces_info(frames, skin_model=model)
    assert info.fallback_frames == 2
    assert np.isfinite(info.rgb).all()
    np.testing.assert_allclose(info.rgb[2], frames[2].reshape(-1, 3).mean(axis=0))
    weights = _reference_weights(frames[0], model)
    assert info.skin_fraction[2] == 0
    assert info.skin_fraction[0] == pytest.approx(weights.sum() / weights.size, rel=1e-4)


def test_lazy_h5py_frames_read_in_chunks(tmp_path):
    frames, _ = face_clip(n=30)
    with h5py.File(tmp_path / "clip.h5", "w") as f:
        f.create_dataset("frames", data=frames, chunks=(1, 32, 32, 3))
    with h5py.File(tmp_path / "clip.h5", "r") as f:
        lazy = f["frames"]
        np.testing.assert_allclose(extract_traces(lazy, chunk=7), extract_traces(frames), rtol=1e-12)


@pytest.mark.parametrize("bad", [np.zeros((4, 8, 8)), np.zeros((4, 8, 8, 3), dtype=np.float32)])
def test_bad_frames_are_a_data_error(bad):
    with pytest.raises(DataError):
        extract_traces(bad)


class MeanGreen(TraceMethod):
    """A minimal third-party method: the green trace itself."""

    name = "mean-green"

    def from_traces(self, rgb: np.ndarray, fps: float) -> np.ndarray:
        return rgb[:, 1].copy()


def test_trace_method_turns_a_clip_into_traces():
    frames, _ = face_clip(n=10)
    clip = Clip(Record("d", "s", "1", location=None), frames, np.arange(10) / 30.0)
    out = MeanGreen(skin_mask="false").predict(clip)
    np.testing.assert_allclose(out, frames.reshape(10, -1, 3).mean(axis=1)[:, 1])
