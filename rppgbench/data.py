"""The data model: a Record is one video of a dataset; a Clip is its preprocessed face frames.

Subject identity is first-class so protocols can split by subject. References are kept at their
native rate (`Reference`) and resampled onto frame timestamps on demand, so ECG keeps the resolution
R-peak detection needs and PPG can still be used as a frame-aligned training target.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

ReferenceKind = Literal["ppg", "ecg", "hr", "resp"]


@dataclass(frozen=True)
class Reference:
    """A reference signal as the dataset stores it: values at their own times (seconds).

    kind "ppg": a blood-volume waveform; "ecg": an electrocardiogram; "hr": a heart-rate series in bpm;
    "resp": a respiration waveform (a belt), used only as a vitals reference (`rppgbench.vitals`).
    """

    kind: ReferenceKind
    values: np.ndarray
    times: np.ndarray

    def __post_init__(self) -> None:
        if self.values.shape != self.times.shape or self.values.ndim != 1:
            raise ValueError(
                f"reference values {self.values.shape} and times {self.times.shape} must be equal 1-D"
            )

    @property
    def rate(self) -> float:
        """Mean sampling rate in Hz."""
        return float((len(self.times) - 1) / (self.times[-1] - self.times[0])) if len(self.times) > 1 else 0.0

    def between(self, start: float, stop: float) -> Reference:
        """The part of the reference with start <= time < stop."""
        keep = (self.times >= start) & (self.times < stop)
        return Reference(self.kind, self.values[keep], self.times[keep])

    def resampled_to(self, times: np.ndarray) -> np.ndarray:
        """Linear interpolation onto `times` (e.g. frame timestamps), holding the end values outside."""
        return np.interp(times, self.times, self.values).astype(np.float32)


@dataclass(frozen=True)
class Record:
    """One video of a dataset, with what identifies it and where its files are; holds no pixels.

    `location` is the video file or frame folder; `files` names any other file the loader needs
    (reference, timestamps). `frame_range` selects frames [start, stop) as some protocols require.
    """

    dataset: str
    subject: str
    session: str
    location: Path
    scenario: str = ""
    source: str = ""
    fps: float | None = None
    files: dict[str, Path] = field(default_factory=dict)
    frame_range: tuple[int, int | None] = (0, None)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Stable unique identifier within a dataset, used as the key in caches and results."""
        parts = [self.dataset, self.subject, self.session] + ([self.source] if self.source else [])
        return "/".join(parts)


@dataclass
class Clip:
    """Preprocessed face frames of one record (or a window of it), with timestamps and the reference.

    `frames` is (T, H, W, 3) uint8 RGB: a numpy array or a lazily read array (e.g. an h5py dataset).
    `timestamps` are seconds from the first frame of the record.
    """

    record: Record
    frames: Any
    timestamps: np.ndarray
    reference: Reference | None = None
    face_boxes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.timestamps)

    @property
    def fps(self) -> float:
        """Mean frame rate over the timestamps (right for jittered and variable-frame-rate video alike)."""
        if len(self.timestamps) < 2 or self.timestamps[-1] <= self.timestamps[0]:
            return float(self.record.fps or 0.0)
        return float((len(self.timestamps) - 1) / (self.timestamps[-1] - self.timestamps[0]))

    @property
    def duration(self) -> float:
        """Seconds covered by the clip's frames."""
        return float(len(self) / self.fps) if len(self) else 0.0

    def aligned_reference(self) -> np.ndarray | None:
        """The reference waveform resampled onto the frame timestamps (None if the dataset gives none)."""
        if self.reference is None or self.reference.kind == "hr":
            return None
        return self.reference.resampled_to(self.timestamps)

    def window(self, start: int, stop: int) -> Clip:
        """Frames [start, stop) as a clip; the reference is kept whole (HR code selects by time)."""
        boxes = None if self.face_boxes is None else self.face_boxes[start:stop]
        return replace(
            self, frames=self.frames[start:stop], timestamps=self.timestamps[start:stop], face_boxes=boxes
        )

    def load(self) -> Clip:
        """A copy with frames read into memory (for lazily stored clips)."""
        return replace(self, frames=np.asarray(self.frames[:]))
