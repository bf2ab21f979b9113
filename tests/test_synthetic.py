"""Tests of the synthetic generator: determinism, known answers of the reflection model, the CLI."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from rppgbench_plugins.datasets.synthetic import PRESETS, generate, synth_command
from rppgbench_plugins.datasets.synthetic.faces import FITZPATRICK_ALBEDO, Identity
from rppgbench_plugins.datasets.synthetic.pulse import PulseParams, PulseTrain
from rppgbench_plugins.datasets.synthetic.render import ClipSpec, render_clip
from rppgbench_plugins.datasets.synthetic.scene import SCENARIOS

from rppgbench.signal.hr import HRConfig, estimate_hr
from rppgbench.video import VideoFile

TINY = replace(PRESETS["synth-mini"], name="tiny", n_subjects=2, duration_s=3.0, width=96, height=72)


def _decoded(path: Path) -> np.ndarray:
    return np.stack(list(VideoFile(path)))


@pytest.fixture(scope="module")
def tiny_pair(tmp_path_factory) -> tuple[Path, Path, Path]:
    """The tiny preset generated twice with seed 0 and once with seed 1."""
    base = tmp_path_factory.mktemp("synth")
    return tuple(
        generate(base / name, TINY, seed, workers=1) for name, seed in (("a", 0), ("b", 0), ("c", 1))
    )


def test_same_seed_gives_identical_files_and_frames(tiny_pair):
    a, b, _ = tiny_pair
    for name in ("ppg.csv", "frames.csv", "clip.json"):
        for clip in ("p001/v1", "p002/v3"):
            assert (a / clip / name).read_bytes() == (b / clip / name).read_bytes()
    assert (a / "meta.json").read_bytes() == (b / "meta.json").read_bytes()
    np.testing.assert_array_equal(_decoded(a / "p001/v3/video.avi"), _decoded(b / "p001/v3/video.avi"))


def test_different_seed_gives_different_data(tiny_pair):
    a, _, c = tiny_pair
    assert (a / "p001/v1/ppg.csv").read_bytes() != (c / "p001/v1/ppg.csv").read_bytes()
    assert not np.array_equal(_decoded(a / "p001/v1/video.avi"), _decoded(c / "p001/v1/video.avi"))


def test_layout_and_reference_rate(tiny_pair):
    a = tiny_pair[0]
    clip = a / "p002" / "v1"
    assert {p.name for p in clip.iterdir()} == {"video.avi", "ppg.csv", "frames.csv", "clip.json"}
    ppg = np.loadtxt(clip / "ppg.csv", delimiter=",", skiprows=1)
    frames = np.loadtxt(clip / "frames.csv", delimiter=",", skiprows=1)
    assert np.allclose(np.diff(ppg[:, 0]), 1 / 60, atol=1e-5)
    assert len(frames) == 90 and np.all(np.diff(frames[:, 1]) > 0)
    assert ppg[0, 0] <= frames[0, 1] + 1 / 60 and ppg[-1, 0] >= frames[-1, 1]
    assert _decoded(clip / "video.avi").shape == (90, 72, 96, 3)


def test_pulse_waveform_has_dicrotic_notch_and_hr():
    train = PulseTrain(PulseParams.fixed(60.0), 0.0, 10.0, np.random.default_rng(0))
    t = np.arange(2.0, 3.0, 0.001)  # one beat at 60 bpm
    beat = train(t)
    d = np.diff(beat)
    peaks = np.flatnonzero((d[:-1] > 0) & (d[1:] <= 0))
    assert len(peaks) == 2, "systolic and diastolic peaks"
    assert beat[peaks[0]] > beat[peaks[1]], "systolic peak is the higher one"
    assert train.mean_hr_bpm == pytest.approx(60.0)
    varied = PulseTrain(PulseParams(hr_bpm=80.0), 0.0, 60.0, np.random.default_rng(1))
    rr = np.diff(varied.onsets)
    assert rr.std() > 0.005 and 70 < varied.mean_hr_bpm < 90


def _fixed_hr_clip(hr: float, scenario: str = "stationary", photo: bool = False, seconds: float = 12.0):
    drawn = Identity.draw("p001", np.random.default_rng(3), photo=photo)
    identity = replace(drawn, fitzpatrick=3, skin=tuple(FITZPATRICK_ALBEDO[2].tolist()), pulse_gain=1.0)
    spec = ClipSpec(identity, SCENARIOS[scenario], PulseParams.fixed(hr), seconds, 128, 96, entropy=(5,))
    return render_clip(spec)


@pytest.mark.parametrize(("hr", "photo"), [(57.0, False), (96.0, True), (131.0, False)])
def test_face_mean_green_peaks_at_the_true_hr(hr, photo):
    clip = _fixed_hr_clip(hr, photo=photo, seconds=16.0)
    x, y, w, h = clip.boxes[0]  # a fixed box, as preprocessing uses
    green = [frame[y : y + h, x : x + w, 1].mean() for frame in clip.frames()]
    fs = 1.0 / np.median(np.diff(clip.times))
    assert estimate_hr(np.asarray(green), fs, HRConfig()) == pytest.approx(hr, abs=1.0)


def test_pulsatile_amplitude_is_physiological():
    clip = _fixed_hr_clip(72.0, seconds=3.0)
    renderer = clip._renderer
    skin = renderer.sprite.skin > 0.9
    frames = range(len(clip.times))
    pulsing = np.array([renderer.sprite_radiance(i)[..., :3][skin].mean(0) for i in frames])
    renderer.pulse = np.zeros_like(renderer.pulse)  # the same frames without blood-volume changes
    still = np.array([renderer.sprite_radiance(i)[..., :3][skin].mean(0) for i in frames])
    relative = np.ptp(pulsing - still, axis=0) / still.mean(0)
    assert 0.001 <= relative[1] <= 0.005
    # The pulse is strongest in green, as the blood-volume signature says; off the skin nothing pulses.
    assert relative[1] > relative[2] > relative[0]
    assert np.all(renderer.sprite.strength[renderer.sprite.skin == 0] == 0)


def test_scenarios_change_the_pictures():
    stationary = _fixed_hr_clip(70.0, seconds=2.0)
    dim = _fixed_hr_clip(70.0, "dim", seconds=2.0)
    moving = _fixed_hr_clip(70.0, "motion", seconds=6.0)
    assert next(dim.frames()).mean() < 0.7 * next(stationary.frames()).mean()
    centres = moving.boxes[:, :2] + moving.boxes[:, 2:] / 2
    assert np.ptp(centres[:, 0]) > 5 and np.ptp(stationary.boxes[:, 0]) <= 2


def test_synth_command_writes_a_dataset(tmp_path, monkeypatch):
    monkeypatch.setitem(PRESETS, "synth-mini", replace(TINY, n_subjects=1, scenarios=("stationary",)))
    out = tmp_path / "ds"
    result = CliRunner().invoke(
        synth_command, ["--out", str(out), "--preset", "synth-mini", "--seed", "4", "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "meta.json").is_file() and (out / "p001" / "v1" / "video.avi").is_file()
    again = CliRunner().invoke(synth_command, ["--out", str(out), "--preset", "synth-mini"])
    assert again.exit_code != 0 and "not empty" in str(again.exception)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 10 * np.log10(255.0**2 / mse)


def test_h264_scenarios_code_the_clip_at_their_bitrate_and_the_same_way_every_time():
    """The H.264 levels degrade the very frames the lossless render gives, more at fewer bits per
    pixel, deterministically; the VIPL-HR presets keep their seven scenarios (their data unchanged)."""
    from rppgbench_plugins.datasets.synthetic.presets import ALL_SCENARIOS

    assert len(ALL_SCENARIOS) == 7 and not any(s.startswith("h264") for s in ALL_SCENARIOS)
    assert PRESETS["synth-h264"].scenarios == ("stationary", "h264-high", "h264-mid", "h264-low", "h264-min")
    assert PRESETS["synth-release"].scenarios[-2:] == ("h264-mid", "h264-low")  # the shipped weights' mix
    quality = {}
    for level in ("h264-high", "h264-min"):
        # A clip's frames are drawn once (its noise generator advances), so each pass gets its own clip.
        lossless = np.stack(list(_fixed_hr_clip(72.0, level, seconds=2.0)._renderer.frames()))
        coded = np.stack(list(_fixed_hr_clip(72.0, level, seconds=2.0).frames()))
        assert coded.shape == lossless.shape and coded.dtype == np.uint8
        assert np.array_equal(coded, np.stack(list(_fixed_hr_clip(72.0, level, seconds=2.0).frames())))
        quality[level] = _psnr(coded, lossless)
    assert 25.0 < quality["h264-min"] < quality["h264-high"] < 60.0


def test_the_pulse_survives_a_good_h264_recording():
    """At the high level the face-mean green still peaks at the true HR (at the lowest it may not)."""
    clip = _fixed_hr_clip(84.0, "h264-high", seconds=12.0)
    x, y, w, h = clip.boxes[0]
    green = [frame[y : y + h, x : x + w, 1].mean() for frame in clip.frames()]
    fs = 1.0 / np.median(np.diff(clip.times))
    assert estimate_hr(np.asarray(green), fs, HRConfig()) == pytest.approx(84.0, abs=1.5)
