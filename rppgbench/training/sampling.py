"""Training windows from cached clips: random T-frame windows with their aligned reference.

Frames stay uint8 on the host (4x less memory traffic than float32) and only the frames of a window
are read from a clip's lazy array; resizing and normalisation happen on the device (see
`NeuralMethod.input_transform`). When the model's input is smaller than the cached crops and the
resized clips fit in `host_cache_mb`, every clip is instead read once and resized once (area
averaging, kept as float16 so the sub-level pulse survives the averaging): no per-batch re-reads of
the cache and no per-batch resizing, which is what makes small CPU recipes fast. Window positions and augmentation randomness depend only on
(seed, epoch, index), so a resumed run sees exactly the windows an uninterrupted run would.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from rppgbench.data import Clip
from rppgbench.errors import ConfigError, DataError
from rppgbench.training.augment import SampleAugmentation, apply_sample_augmentations

LOADER_DEFAULTS: dict[str, Any] = {
    "clip_frames": 160,
    "batch_size": 4,
    "val_fraction": 0.2,
    "num_workers": 0,
    "seed": 0,
    "windows_per_clip": 0,
    "device": "auto",
    "size": 0,
    "host_cache_mb": 2048,
}


def resize_on_host(frames: np.ndarray, size: int, chunk: int = 256) -> np.ndarray:
    """uint8 (T, H, W, 3) -> float16 (T, size, size, 3) on the 0-255 scale, by area averaging.

    The same interpolation `resize_frames` applies on the device, done once per clip.
    """
    import torch.nn.functional as F

    out = np.empty((len(frames), size, size, 3), dtype=np.float16)
    for start in range(0, len(frames), chunk):
        block = torch.from_numpy(np.ascontiguousarray(frames[start : start + chunk]))
        x = block.permute(0, 3, 1, 2).float()
        x = F.interpolate(x, size=(size, size), mode="area")
        out[start : start + len(block)] = x.permute(0, 2, 3, 1).numpy().astype(np.float16)
    return out


def _host_resize_size(clips: Sequence[Clip], size: int, budget_mb: float) -> int | None:
    """The side to pre-resize clips to, or None when that would not shrink them or not fit the budget."""
    if size <= 0 or not clips:
        return None
    height, width = np.asarray(clips[0].frames[:1]).shape[1:3]
    if size >= min(height, width):
        return None
    total = sum(len(c) for c in clips) * size * size * 3 * 2
    return size if total <= budget_mb * 2**20 else None


class ClipSource:
    """One clip as augmentations see it: lazy frames, the frame-aligned reference, fps and HR lookup."""

    def __init__(
        self, clip: Clip, target: np.ndarray, hr_config: Any = None, host_size: int | None = None
    ) -> None:
        self.clip = clip
        self.frames = clip.frames if host_size is None else resize_on_host(np.asarray(clip.frames), host_size)
        self.target = target
        self.fps = clip.fps
        self.length = len(clip)
        self.hr_config = hr_config

    @property
    def id(self) -> str:
        """The record id of the clip."""
        return self.clip.record.id

    def read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Frames [start, stop) (n, H, W, 3), uint8 or host-resized float16, and their reference (n,)."""
        start, stop = max(0, start), min(self.length, stop)
        frames = self.frames[start:stop]
        return (frames if isinstance(frames, np.ndarray) else np.asarray(frames, np.uint8)), self.target[
            start:stop
        ]

    def hr(self, start: int, stop: int) -> float:
        """Ground-truth HR (bpm) of frames [start, stop) by the shared estimator on the reference."""
        from rppgbench.signal.hr import HRConfig, reference_hr

        times = self.clip.timestamps
        t0 = float(times[start])
        t1 = float(times[min(stop, self.length) - 1]) + 1.0 / self.fps
        return float(reference_hr(self.clip.reference, t0, t1, self.hr_config or HRConfig()))


@dataclass
class Sample:
    """One window before collation: uint8 frames (T, H, W, 3), reference (T,), HR label, fps, origin."""

    frames: np.ndarray
    target: np.ndarray
    hr: float
    fps: float
    clip_index: int
    start: int
    source: ClipSource | None = field(default=None, repr=False)


@dataclass
class Batch:
    """A collated batch; `frames` stay uint8 until the method's input transform runs on the device."""

    frames: torch.Tensor
    target: torch.Tensor
    hr: torch.Tensor
    fps: torch.Tensor
    clip_index: torch.Tensor
    start: torch.Tensor

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def to(self, device: torch.device | str) -> Batch:
        """Every tensor on `device` (non-blocking, which overlaps copies from pinned memory)."""
        return Batch(**{f.name: getattr(self, f.name).to(device, non_blocking=True) for f in fields(self)})

    def pin_memory(self) -> Batch:
        """Page-locked copies, used by DataLoader(pin_memory=True) for fast host-to-GPU transfers."""
        return Batch(**{f.name: getattr(self, f.name).pin_memory() for f in fields(self)})


def collate_samples(samples: Sequence[Sample]) -> Batch:
    """Stack samples into a Batch (frames stay uint8)."""
    return Batch(
        frames=torch.from_numpy(np.stack([s.frames for s in samples])),
        target=torch.from_numpy(np.stack([s.target for s in samples]).astype(np.float32)),
        hr=torch.tensor([s.hr for s in samples], dtype=torch.float32),
        fps=torch.tensor([s.fps for s in samples], dtype=torch.float32),
        clip_index=torch.tensor([s.clip_index for s in samples], dtype=torch.int64),
        start=torch.tensor([s.start for s in samples], dtype=torch.int64),
    )


class ClipWindowDataset(Dataset):
    """T-frame windows of clips with their aligned reference; random (train) or consecutive (validation).

    Items are addressed by an int or an `(epoch, index)` pair (what `EpochSampler` yields), so worker
    processes need no shared epoch counter.
    """

    def __init__(
        self,
        clips: Sequence[Clip],
        frames: int,
        *,
        train: bool,
        seed: int = 0,
        windows_per_clip: int = 0,
        stride: int | None = None,
        with_hr: bool = False,
        hr_config: Any = None,
        augment: Sequence[SampleAugmentation] = (),
        host_size: int | None = None,
    ) -> None:
        if frames < 1:
            raise DataError(f"window length must be at least 1 frame, got {frames}")
        self.frames, self.train, self.seed = int(frames), train, int(seed)
        self.with_hr, self.augment, self.epoch = with_hr, tuple(augment), 0
        self.sources: list[ClipSource] = []
        skipped: list[str] = []
        for clip in clips:
            target = clip.aligned_reference()
            if target is None:
                skipped.append(f"{clip.record.id} (no waveform reference)")
            elif len(clip) < self.frames:
                skipped.append(f"{clip.record.id} ({len(clip)} frames < window of {self.frames})")
            else:
                target = np.asarray(target, dtype=np.float32)
                self.sources.append(ClipSource(clip, target, hr_config, host_size))
        if skipped:
            warnings.warn(f"{len(skipped)} clip(s) not used for training: {'; '.join(skipped)}", stacklevel=2)
        if not self.sources:
            raise DataError(
                f"no clip can provide a {self.frames}-frame window with a waveform reference "
                f"({len(clips)} given; {'; '.join(skipped) or 'none'})"
            )
        if with_hr:
            self._check_hr_windows(hr_config)
        if train:
            counts = [windows_per_clip or max(1, s.length // self.frames) for s in self.sources]
            self._owner = np.repeat(np.arange(len(self.sources)), counts)
            self._starts = None
        else:
            step = int(stride or self.frames)
            owner, starts = [], []
            for i, s in enumerate(self.sources):
                positions = list(range(0, s.length - self.frames + 1, step))
                owner += [i] * len(positions)
                starts += positions
            self._owner, self._starts = np.asarray(owner), np.asarray(starts)

    def _check_hr_windows(self, hr_config: Any) -> None:
        """Fail before training, not mid-epoch, when windows are too short to carry an HR label."""
        from rppgbench.signal.hr import HRConfig, min_seconds

        needed = min_seconds(hr_config or HRConfig())
        fps = max(s.clip.fps for s in self.sources)
        if self.frames / fps < needed:
            raise ConfigError(
                f"training windows of {self.frames} frames last {self.frames / fps:.2f} s at {fps:.0f} fps, "
                f"but a heart-rate label (used by the frequency loss) needs at least {needed:.2f} s: "
                f"set clip_frames to {int(np.ceil(needed * fps))} or more"
            )

    def __len__(self) -> int:
        return len(self._owner)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random windows plain integer indices refer to."""
        self.epoch = int(epoch)

    def __getitem__(self, item: int | tuple[int, int]) -> Sample:
        epoch, index = item if isinstance(item, tuple) else (self.epoch, item)
        rng = np.random.default_rng([self.seed, epoch, index])
        clip_index = int(self._owner[index])
        source = self.sources[clip_index]
        if self._starts is None:
            start = int(rng.integers(0, source.length - self.frames + 1))
        else:
            start = int(self._starts[index])
        frames, target = source.read(start, start + self.frames)
        hr = source.hr(start, start + self.frames) if self.with_hr else math.nan
        sample = Sample(frames, target, hr, source.fps, clip_index, start, source)
        if self.augment and self.train:
            sample = apply_sample_augmentations(sample, self.augment, rng)
        return replace(sample, source=None)


class EpochSampler(Sampler):
    """Yields `(epoch, index)` pairs: shuffled per epoch from (seed, epoch) when `shuffle`, else in order."""

    def __init__(self, length: int, seed: int = 0, shuffle: bool = True) -> None:
        self.length, self.seed, self.shuffle, self.epoch = length, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch (the TrainingLoop calls this before each epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = np.arange(self.length)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch, 7919]).permutation(self.length)
        return iter([(self.epoch, int(i)) for i in order])


def split_by_subject(
    clips: Sequence[Clip], val_fraction: float, seed: int = 0
) -> tuple[list[Clip], list[Clip]]:
    """Subject-disjoint train/validation split of clips by subject (subjects shuffled by seed).

    A subject is (dataset, subject id): merged training sets keep subject "1" of two datasets apart.
    Within one dataset this orders, and so splits, exactly as the bare subject ids do.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")
    subjects = sorted({(c.record.dataset, c.record.subject) for c in clips})
    if val_fraction == 0 or len(subjects) < 2:
        if val_fraction > 0:
            warnings.warn(
                f"only {len(subjects)} subject(s) in the training clips: no validation split, "
                "the last epoch's weights are kept",
                stacklevel=2,
            )
        return list(clips), []
    order = np.random.default_rng([seed, 104729]).permutation(len(subjects))
    n_val = min(len(subjects) - 1, max(1, round(val_fraction * len(subjects))))
    val_subjects = {subjects[i] for i in order[:n_val]}
    return [c for c in clips if (c.record.dataset, c.record.subject) not in val_subjects], [
        c for c in clips if (c.record.dataset, c.record.subject) in val_subjects
    ]


def subject_names(clips: Sequence[Clip]) -> list[str]:
    """The clips' subjects, sorted: bare ids from one dataset, `dataset/subject` from several."""
    pairs = {(c.record.dataset, c.record.subject) for c in clips}
    if len({dataset for dataset, _ in pairs}) <= 1:
        return sorted(subject for _, subject in pairs)
    return sorted(f"{dataset}/{subject}" for dataset, subject in pairs)


def make_loaders(
    train_clips: Sequence[Clip],
    config: Mapping[str, Any],
    *,
    augment: Sequence[SampleAugmentation] = (),
    with_hr: bool = False,
    hr_config: Any = None,
) -> tuple[DataLoader, DataLoader | None]:
    """Split the clips by subject and build (train_loader, val_loader or None) yielding `Batch`es."""
    cfg = {**LOADER_DEFAULTS, **{k: v for k, v in config.items() if k in LOADER_DEFAULTS}}
    seed = int(cfg["seed"])
    train_part, val_part = split_by_subject(train_clips, float(cfg["val_fraction"]), seed)
    host_size = _host_resize_size(train_clips, int(cfg["size"]), float(cfg["host_cache_mb"]))
    device = str(cfg["device"] or "auto")
    pin = torch.cuda.is_available() and device != "cpu"
    workers = int(cfg["num_workers"])
    common = dict(
        collate_fn=collate_samples, pin_memory=pin, num_workers=workers, persistent_workers=workers > 0
    )
    train_set = ClipWindowDataset(
        train_part,
        int(cfg["clip_frames"]),
        train=True,
        seed=seed,
        windows_per_clip=int(cfg["windows_per_clip"]),
        with_hr=with_hr,
        hr_config=hr_config,
        augment=augment,
        host_size=host_size,
    )
    batch_size = int(cfg["batch_size"])
    train_loader = DataLoader(
        train_set,
        batch_size=batch_size,
        sampler=EpochSampler(len(train_set), seed, shuffle=True),
        drop_last=len(train_set) > batch_size,
        **common,
    )
    if not val_part:
        return train_loader, None
    val_set = ClipWindowDataset(
        val_part,
        int(cfg["clip_frames"]),
        train=False,
        seed=seed,
        with_hr=with_hr,
        hr_config=hr_config,
        host_size=host_size,
    )
    val_loader = DataLoader(
        val_set, batch_size=batch_size, sampler=EpochSampler(len(val_set), seed, shuffle=False), **common
    )
    return train_loader, val_loader
