"""Tests of the training harness: window sampling, subject split, loop, checkpoints/resume, inference."""

import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from rppgbench.errors import ConfigError, DataError, SignalError
from rppgbench.testing.clips import make_pulse_clip, make_pulse_clips
from rppgbench.training import (
    Batch,
    ClipWindowDataset,
    LoopConfig,
    TrainingDivergedError,
    TrainingLoop,
    build_optimizer,
    load_checkpoint,
    make_loaders,
    predict_signal,
    rng_state,
    save_checkpoint,
    set_rng_state,
    setup_device,
    split_by_subject,
    window_starts,
)

CPU = setup_device("cpu")


def test_setup_device_cpu_and_errors():
    assert CPU.device.type == "cpu" and CPU.amp_dtype is None and not CPU.channels_last
    with CPU.autocast():
        assert torch.ones(2).dtype == torch.float32
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA"):
            setup_device("cuda")
    with pytest.raises(ConfigError):
        setup_device("tpu")


def test_split_by_subject_is_disjoint_complete_and_deterministic():
    clips = make_pulse_clips([60, 70, 80, 90, 100], frames=40, size=8)
    clips += [make_pulse_clip("p01", 75, frames=40, size=8, session="s2")]
    train, val = split_by_subject(clips, 0.4, seed=3)
    assert {c.record.subject for c in train}.isdisjoint({c.record.subject for c in val})
    assert len(train) + len(val) == len(clips) and len({c.record.subject for c in val}) == 2
    again = split_by_subject(clips, 0.4, seed=3)
    assert [c.record.id for c in again[1]] == [c.record.id for c in val]
    with pytest.warns(UserWarning, match="no validation split"):
        assert split_by_subject(clips[:1], 0.2)[1] == []


def test_windows_match_clip_frames_and_reference_and_depend_on_epoch_only():
    clips = make_pulse_clips([60, 90], frames=100, size=8)
    ds = ClipWindowDataset(clips, 32, train=True, seed=5)
    assert len(ds) == 2 * (100 // 32)
    s = ds[(0, 1)]
    clip = clips[s.clip_index]
    np.testing.assert_array_equal(s.frames, clip.frames[s.start : s.start + 32])
    np.testing.assert_allclose(s.target, clip.aligned_reference()[s.start : s.start + 32])
    assert s.frames.dtype == np.uint8 and math.isnan(s.hr)
    assert ds[(0, 1)].start == s.start  # same epoch + index -> same window
    starts = {ds[(e, 1)].start for e in range(8)}
    assert len(starts) > 1  # new random windows each epoch
    val = ClipWindowDataset(clips, 32, train=False, stride=16)
    assert [val[i].start for i in range(len(val))] == [0, 16, 32, 48, 64] * 2


def test_window_hr_labels_come_from_the_reference():
    clips = make_pulse_clips([66.0, 120.0], frames=300, size=8)
    ds = ClipWindowDataset(clips, 256, train=False, with_hr=True)
    assert [round(ds[i].hr) for i in range(len(ds))] == [66, 120]


def test_unusable_clips_are_reported_not_dropped_silently():
    short = make_pulse_clips([60], frames=20, size=8)
    ok = make_pulse_clips([80], frames=64, size=8)
    with pytest.warns(UserWarning, match="20 frames < window of 32"):
        ds = ClipWindowDataset(short + ok, 32, train=True)
    assert len(ds.sources) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match="no clip can provide"):
            ClipWindowDataset(short, 32, train=True)


def test_make_loaders_yields_uint8_batches_and_subject_disjoint_validation():
    clips = make_pulse_clips([60, 70, 80, 90, 100], frames=64, size=8)
    train, val = make_loaders(
        clips, {"clip_frames": 16, "batch_size": 3, "val_fraction": 0.2, "num_workers": 0}
    )
    batch = next(iter(train))
    assert isinstance(batch, Batch) and batch.frames.dtype == torch.uint8
    assert batch.frames.shape == (3, 16, 8, 8, 3) and batch.target.shape == (3, 16)
    train_subjects = {train.dataset.sources[i].clip.record.subject for i in range(len(train.dataset.sources))}
    val_subjects = {s.clip.record.subject for s in val.dataset.sources}
    assert len(val_subjects) == 1 and train_subjects.isdisjoint(val_subjects)


class FlipSign:
    """A sample augmentation: invert the window and its reference."""

    def __call__(self, sample, rng):
        sample.frames = 255 - sample.frames
        sample.target = -sample.target
        return sample


class Truncate:
    def __call__(self, sample, rng):
        sample.frames = sample.frames[:-1]
        return sample


def test_sample_augmentations_apply_in_training_only_and_keep_length():
    clips = make_pulse_clips([60], frames=64, size=8)
    plain = ClipWindowDataset(clips, 16, train=True)[(0, 0)]
    flipped = ClipWindowDataset(clips, 16, train=True, augment=[FlipSign()])[(0, 0)]
    np.testing.assert_array_equal(flipped.frames, 255 - plain.frames)
    with pytest.raises(ValueError, match="changed the window length"):
        ClipWindowDataset(clips, 16, train=True, augment=[Truncate()])[(0, 0)]


def test_checkpoint_roundtrip_is_atomic_and_weights_only(tmp_path):
    path = tmp_path / "ck" / "x.pt"
    torch.manual_seed(3)
    state = {"w": torch.randn(3), "rng": rng_state(), "n": 4, "nested": {"a": [1.0, "b"]}}
    save_checkpoint(path, state)
    assert [p.name for p in path.parent.iterdir()] == ["x.pt"]  # no temporary file left
    loaded = load_checkpoint(path)
    torch.testing.assert_close(loaded["w"], state["w"])
    expected = (torch.rand(2), np.random.rand(), __import__("random").random())
    set_rng_state(loaded["rng"])
    got = (torch.rand(2), np.random.rand(), __import__("random").random())
    torch.testing.assert_close(got[0], expected[0])
    assert got[1:] == expected[1:]
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="bad.pt"):
        load_checkpoint(tmp_path / "bad.pt")


class MeanGreen(nn.Module):
    """A tiny model: per-frame spatial mean of the colour channels, mixed by learnable weights."""

    def __init__(self):
        super().__init__()
        self.mix = nn.Linear(3, 1)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):  # x: (B, T, H, W, 3) float
        return self.mix(self.drop(x.mean(dim=(2, 3)))).squeeze(-1)


def _loop(tmp_path, epochs, hooks=(), fingerprint=None, eval_fn=None, loss_fn=None):
    from rppgbench.training import NegPearsonLoss

    torch.manual_seed(0)
    model = MeanGreen()
    opt = build_optimizer(model, "adam", 0.05, 0.0)
    loss = NegPearsonLoss()
    return TrainingLoop(
        model,
        opt,
        loss_fn or (lambda out, batch: loss(out, batch.target)),
        LoopConfig(epochs=epochs, progress=False, seed=0),
        CPU,
        input_fn=lambda batch: batch.frames.float() / 255,
        work_dir=tmp_path,
        hooks=hooks,
        eval_fn=eval_fn,
        fingerprint=fingerprint or {"m": "mean-green"},
    )


def _loaders():
    clips = make_pulse_clips([60, 75, 90, 105, 120], frames=96, size=8, seed=4)
    return make_loaders(clips, {"clip_frames": 32, "batch_size": 2, "val_fraction": 0.2, "num_workers": 0})


class InterruptAfter:
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, loop, epoch, metrics):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def test_resume_after_interruption_matches_uninterrupted_run(tmp_path):
    full = _loop(tmp_path / "full", 3).run(*_loaders())
    with pytest.raises(KeyboardInterrupt):
        _loop(tmp_path / "cut", 3, hooks=[InterruptAfter(0)]).run(*_loaders())
    assert load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt")["epoch"] == 0
    resumed = _loop(tmp_path / "cut", 3).run(*_loaders())
    assert resumed.resumed_from_epoch == 0
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in full.history]
    for key, value in full.best_state.items():
        torch.testing.assert_close(resumed.best_state[key], value, rtol=0, atol=0)
    assert not torch.equal(full.best_state["mix.weight"], _loop(tmp_path / "fresh", 0).model.mix.weight)
    with pytest.raises(ConfigError, match="different configuration"):
        _loop(tmp_path / "cut", 3, fingerprint={"m": "other"}).run(*_loaders())


def test_best_epoch_selected_on_validation_metric(tmp_path):
    scores = iter([3.0, 1.0, 2.0])
    snapshots = []

    class Snapshot:
        def on_epoch_end(self, loop, epoch, metrics):
            snapshots.append({k: v.clone() for k, v in loop.model.state_dict().items()})

    loop = _loop(tmp_path, 3, hooks=[Snapshot()], eval_fn=lambda loop, loader: {"val_loss": next(scores)})
    result = loop.run(*_loaders())
    assert result.best_epoch == 1 and result.best_metric == 1.0
    for key, value in loop.model.state_dict().items():
        torch.testing.assert_close(value, snapshots[1][key])


def test_custom_step_and_extra_state_are_used_and_checkpointed(tmp_path):
    class Counter:
        def __init__(self):
            self.n = 0

        def state_dict(self):
            return {"n": self.n}

        def load_state_dict(self, state):
            self.n = state["n"]

    counter = Counter()

    def step(loop, batch):
        counter.n += 1
        return loop.default_step(batch)

    train, val = _loaders()
    loop = _loop(tmp_path, 2)
    loop.step_fn, loop.extra_state = step, {"counter": counter}
    loop.run(train, val)
    assert counter.n == 2 * len(train)
    assert load_checkpoint(tmp_path / "checkpoints" / "last.pt")["extra"]["counter"]["n"] == counter.n


def test_nan_loss_raises_a_clear_error(tmp_path):
    loop = _loop(tmp_path, 1, loss_fn=lambda out, batch: out.sum() * float("nan"))
    with pytest.raises(TrainingDivergedError, match="epoch 1"):
        loop.run(*_loaders())


class CountingFrames:
    """A lazy frame array that records the largest slice read."""

    def __init__(self, frames):
        self.frames, self.largest = frames, 0

    def __len__(self):
        return len(self.frames)

    def __getitem__(self, item):
        out = self.frames[item]
        self.largest = max(self.largest, len(out))
        return out


def test_window_starts_cover_every_frame():
    assert window_starts(100, 32, 16) == [0, 16, 32, 48, 64, 68]
    assert window_starts(20, 32, 0) == [0]
    with pytest.raises(SignalError):
        window_starts(100, 32, 32)


def test_predict_signal_chunks_with_bounded_reads_and_smooth_blend():
    n = 1000
    t = np.arange(n) / 30.0
    wave = np.sin(2 * np.pi * 1.3 * t)
    frames = np.repeat((128 + 50 * wave).astype(np.uint8)[:, None, None, None], 3, axis=3)
    lazy = CountingFrames(frames)

    def run_chunk(x):  # scale and offset differ per window: blending must standardise
        return x.float().mean(dim=(2, 3, 4)) * 3.0 + 10.0

    out = predict_signal(run_chunk, lazy, chunk=64, overlap=32, batch_size=2)
    assert out.shape == (n,) and lazy.largest <= 64
    assert np.corrcoef(out, wave)[0, 1] > 0.995
    short = predict_signal(lambda x: x.float().mean(dim=(2, 3, 4)), frames[:30], chunk=64, multiple=8)
    assert short.shape == (30,) and np.corrcoef(short, wave[:30])[0, 1] > 0.999
    with pytest.raises(SignalError, match="at least 8"):
        predict_signal(run_chunk, frames[:5], chunk=64, min_frames=8)


def test_windows_too_short_for_an_hr_label_fail_before_training():
    from rppgbench.training.sampling import ClipWindowDataset

    clip = make_pulse_clip("s1", hr_bpm=72.0)
    with pytest.raises(ConfigError, match=r"set clip_frames to \d+ or more"):
        ClipWindowDataset([clip], 16, train=True, with_hr=True)
    assert len(ClipWindowDataset([clip], 64, train=True, with_hr=True)) > 0


def test_clips_are_resized_once_on_the_host_and_match_the_device_resize():
    """With a model input smaller than the cached crops, each clip is read and resized once (float16,
    0-255) and the windows equal what resizing on the device gives."""
    from rppgbench.training.neural_method import resize_frames
    from rppgbench.training.sampling import resize_on_host

    clips = make_pulse_clips([60, 80, 100, 120], frames=96, size=32, seed=4)
    train, _ = make_loaders(clips, {"clip_frames": 32, "batch_size": 2, "val_fraction": 0.0, "size": 8})
    source = train.dataset.sources[0]
    assert source.frames.dtype == np.float16 and source.frames.shape == (96, 8, 8, 3)
    batch = next(iter(train))
    assert batch.frames.dtype == torch.float16 and batch.frames.shape[2:] == (8, 8, 3)
    on_host = resize_frames(torch.from_numpy(resize_on_host(clips[0].frames, 8))[None], 8)
    on_device = resize_frames(torch.from_numpy(clips[0].frames)[None], 8)
    torch.testing.assert_close(
        on_host, on_device, atol=2.5e-4, rtol=0
    )  # half a float16 step at 255 (0.0625 / 255) + rounding
    lazy, _ = make_loaders(clips, {"clip_frames": 32, "batch_size": 2, "val_fraction": 0.0, "size": 8,
                                   "host_cache_mb": 0})  # fmt: skip
    assert lazy.dataset.sources[0].frames is clips[0].frames  # no budget: windows are read as they are
