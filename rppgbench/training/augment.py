"""Augmentation hooks: host-side per-sample transforms and device-side per-batch transforms.

Sample augmentations run inside loader workers on uint8 windows (they may read other frames of the
same clip through `sample.source`, e.g. to change the apparent heart rate); batch augmentations run
on the device after the transfer. Both receive a random generator derived from (seed, epoch, index)
so augmented training is reproducible and resumes exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import torch

if TYPE_CHECKING:
    from rppgbench.training.sampling import Batch, Sample


@runtime_checkable
class SampleAugmentation(Protocol):
    """A picklable callable on one window and its labels; must keep the window length T."""

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        """Return the augmented sample (update `target` and `hr` if the timing changes)."""
        ...


@runtime_checkable
class BatchAugmentation(Protocol):
    """A callable on a device batch (e.g. masking a spatio-temporal tube)."""

    def __call__(self, batch: Batch, generator: torch.Generator) -> Batch:
        """Return the augmented batch."""
        ...


def apply_sample_augmentations(
    sample: Sample, augmentations: Sequence[SampleAugmentation], rng: np.random.Generator
) -> Sample:
    """Apply sample augmentations in order and check that each one kept the window length."""
    length = len(sample.target)
    for augment in augmentations:
        sample = augment(sample, rng)
        if len(sample.frames) != length or len(sample.target) != length:
            raise ValueError(
                f"augmentation {type(augment).__name__} changed the window length from {length} to "
                f"{len(sample.frames)} frames / {len(sample.target)} targets"
            )
    return sample


def apply_batch_augmentations(
    batch: Batch, augmentations: Sequence[BatchAugmentation], generator: torch.Generator
) -> Batch:
    """Apply batch augmentations in order."""
    for augment in augmentations:
        batch = augment(batch, generator)
    return batch
