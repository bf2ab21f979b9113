"""PhysFormer's training augmentations (Sec. 4.1): random horizontal flips and AutoHR's temporal
up/down-sampling of high- and low-HR windows (`rppgbench_plugins.autohr.augment.HeartRateResample`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from rppgbench.training.sampling import Sample


@dataclass(frozen=True)
class HorizontalFlip:
    """Mirror the whole window left-right with probability `prob` (labels unchanged)."""

    prob: float = 0.5

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        if rng.random() >= self.prob:
            return sample
        return replace(sample, frames=np.ascontiguousarray(sample.frames[:, :, ::-1]))
