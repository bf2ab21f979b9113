"""The dataset loader contract: list a dataset's records and open each one's frames and reference.

Listing reads only the directory tree; pixels and reference files are opened per record, so a bad
file becomes that record's failure (a DataError naming the file) instead of stopping the whole run.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from rppgbench.data import Record, Reference
from rppgbench.errors import ConfigError
from rppgbench.params import Param, resolve
from rppgbench.video import FrameSource

if TYPE_CHECKING:
    from rppgbench.vitals import VitalsReference


class DatasetLoader(ABC):
    """Base class of dataset loader plugins. `root` is the dataset's folder as its owners distribute it."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    needs_root: ClassVar[bool] = True

    def __init__(self, root: Path | None, **options: Any) -> None:
        if root is None and self.needs_root:
            raise ConfigError(f"dataset {self.name!r} needs --data-root pointing at its folder")
        self.root = Path(root) if root is not None else None
        self.options: dict[str, Any] = resolve(self.params, options, f"dataset {self.name!r}")

    @abstractmethod
    def records(self) -> list[Record]:
        """Every usable record in the tree; raise DataError if the tree as a whole is not this dataset."""

    @abstractmethod
    def open_frames(self, record: Record) -> FrameSource:
        """The record's frames as a stream (raise DataError naming the file on failure)."""

    @abstractmethod
    def load_reference(self, record: Record) -> Reference:
        """The record's reference signal at its native rate (raise DataError naming the file on failure)."""

    def frame_timestamps(self, record: Record, n_frames: int, fps: float) -> np.ndarray:
        """Per-frame times in seconds; loaders with real timestamps override. Default: n / fps."""
        return np.arange(n_frames, dtype=np.float64) / fps

    def face_box(self, record: Record) -> tuple[int, int, int, int] | None:
        """A known face box (x, y, w, h) for the first frame, if the dataset annotates one (else None)."""
        return None

    def face_boxes(self, record: Record) -> np.ndarray | None:
        """Known face boxes (x, y, w, h) of every frame, (T, 4), if the dataset annotates them (else None).

        Used by face="dataset" with redetect_every > 0: the crop follows the annotated face.
        """
        return None

    def vitals_reference(self, record: Record) -> VitalsReference | None:
        """What the dataset knows of the record's beats and breathing beyond its waveform reference.

        None (the default): HRV references are derived from the waveform (ECG R peaks, contact-PPG
        peaks) and there is no respiration reference. Loaders of datasets that know the true beats or
        record respiration (a belt waveform, a known rate) override this (`rppgbench.vitals`).
        """
        return None

    def describe(self) -> dict[str, Any]:
        """Name, root and resolved options, as recorded in results and cache keys."""
        return {"name": self.name, "root": str(self.root) if self.root else None, "options": self.options}
