"""SynRhythm plugin: synthetic rhythm clips, the cached pre-training (keyed by its configuration),
fine-tuning from it, and the conformance kit."""

import numpy as np
import pytest
from rppgbench_plugins.synrhythm.method import PRETRAINED_FILE, SynRhythm, pretraining_dir
from rppgbench_plugins.synrhythm.synthetic import synthetic_rhythm_clip

from rppgbench.method import FitContext
from rppgbench.plugins import build_registry
from rppgbench.signal.hr import HRConfig, estimate_hr, reference_hr
from rppgbench.testing import check_method
from rppgbench.testing.clips import make_pulse_clips
from rppgbench.training.checkpoint import load_checkpoint
from rppgbench.training.stmap import stmap_of_clip

TINY = dict(
    rows=2, cols=2, window_frames=48, step_frames=8, seq_len=3, clip_frames=64, width=4, epochs=1,
    batch_size=4, size=16, num_workers=0, device="cpu", val_fraction=0.25, lr=1e-3,
    synth_clips=8, synth_seconds=4.0, synth_epochs=1,
)  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors on a shared CPU


def test_synthetic_clips_carry_their_rhythm_in_the_roi_grid():
    options = dict(frames=300, fps=30.0, rows=3, cols=3, margin=0.1, hr_range=(60.0, 120.0),
                   amplitude=3.0, noise=0.5, seed=4)  # fmt: skip
    clip = synthetic_rhythm_clip(2, **options)
    again = synthetic_rhythm_clip(2, **options)
    assert np.array_equal(clip.frames, again.frames)  # deterministic in (seed, index)
    assert clip.frames.shape == (300, 30, 30, 3) and clip.frames.dtype == np.uint8
    hr = reference_hr(clip.reference, 0.0, 10.0, HRConfig())
    assert 57 <= hr <= 123
    stmap = stmap_of_clip(clip.frames, rows=3, cols=3, margin=0.1, colors=("rgb",))
    readings = [estimate_hr(row.astype(float), 30.0, HRConfig()) for row in stmap[1]]  # green rows
    assert np.mean(np.abs(np.array(readings) - hr) < 3) >= 1 / 3  # most ROIs' traces pulse at the HR


def test_pretraining_is_cached_by_its_configuration_and_reused(tmp_path):
    train = make_pulse_clips([60.0, 75.0, 90.0, 105.0], frames=96, size=16, seed=1)
    first = SynRhythm(**TINY)
    key = first.pretraining_key(0)
    first.fit(train, FitContext(work_dir=tmp_path / "a", seed=0, progress=False))
    weights = pretraining_dir() / key / PRETRAINED_FILE
    assert weights.is_file() and (weights.parent / "config.json").is_file()
    stamp = weights.stat().st_mtime_ns
    second = SynRhythm(**{**TINY, "epochs": 2, "val_fraction": 0.0})  # fine-tuning settings: same key
    assert second.pretraining_key(0) == key
    second.fit(train, FitContext(work_dir=tmp_path / "b", seed=0, progress=False))
    assert weights.stat().st_mtime_ns == stamp  # reused, not trained again
    assert SynRhythm(**{**TINY, "synth_clips": 9}).pretraining_key(0) != key
    assert SynRhythm(**{**TINY, "width": 8}).pretraining_key(0) != key
    assert first.pretraining_key(1) != key
    scratch = SynRhythm(**{**TINY, "pretrain": False})
    scratch.fit(train, FitContext(work_dir=tmp_path / "c", seed=0, progress=False))
    pretrained = load_checkpoint(weights)["state_dict"]
    fine, cold = first.model.state_dict(), scratch.model.state_dict()
    name = "backbone.stem.0.weight"
    assert (fine[name] - pretrained[name]).abs().max() < (cold[name] - pretrained[name]).abs().max()


def test_registered_and_passes_the_conformance_kit():
    assert build_registry().method("synrhythm") is SynRhythm
    assert SynRhythm.estimates_hr and not SynRhythm.gives_signal
    check_method(SynRhythm, TINY)
