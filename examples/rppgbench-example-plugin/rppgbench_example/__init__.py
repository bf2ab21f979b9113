"""An example rppgbench plugin: a method, a tiny generated dataset, a protocol that uses both, and a metric."""

from importlib.resources import files
from pathlib import Path

import numpy as np

from rppgbench.data import Clip, Record, Reference
from rppgbench.dataset import DatasetLoader
from rppgbench.hookspecs import hookimpl
from rppgbench.method import Method
from rppgbench.params import Param
from rppgbench.video import FrameSource


class GreenRedRatio(Method):
    """Mean green over mean red per frame, minus its mean: a toy rPPG signal that still tracks the pulse."""

    name = "example-gr"
    description = "Green/red ratio of the face crop (example plugin)."
    params = (Param("eps", 1e-6, "Added to red to avoid division by zero."),)

    def predict(self, clip: Clip) -> np.ndarray:
        means = np.asarray(clip.frames, dtype=np.float64).mean(axis=(1, 2))
        ratio = means[:, 1] / (means[:, 0] + self.config["eps"])
        return ratio - ratio.mean()


class _Frames(FrameSource):
    def __init__(self, frames: np.ndarray, fps: float):
        self.frames, self.fps = frames, fps

    def __iter__(self):
        yield from self.frames


class PulseSquares(DatasetLoader):
    """Flat skin-coloured squares whose green channel follows a pulse; subject k beats at 60 + 8k bpm."""

    name = "example-squares"
    needs_root = False
    params = (Param("subjects", 4, "Number of subjects."), Param("seconds", 8.0, "Video length."))
    fps = 30.0

    def records(self) -> list[Record]:
        return [
            Record(
                self.name, f"s{k}", "1", location=Path("generated"), fps=self.fps, meta={"bpm": 60 + 8 * k}
            )
            for k in range(self.options["subjects"])
        ]

    def _pulse(self, record: Record, times: np.ndarray) -> np.ndarray:
        return np.sin(2 * np.pi * record.meta["bpm"] / 60.0 * times)

    def open_frames(self, record: Record) -> FrameSource:
        times = np.arange(int(self.options["seconds"] * self.fps)) / self.fps
        rng = np.random.default_rng(int(record.subject[1:]))
        base = np.array([180.0, 120.0, 100.0])
        colour = base + np.outer(self._pulse(record, times), [0.0, 1.5, 0.3])
        frames = colour[:, None, None, :] + rng.normal(0, 2.0, (len(times), 32, 32, 3))
        return _Frames(np.clip(frames, 0, 255).astype(np.uint8), self.fps)

    def load_reference(self, record: Record) -> Reference:
        times = np.arange(int(self.options["seconds"] * 60)) / 60.0
        return Reference("ppg", self._pulse(record, times), times)


def within_5bpm(predicted: np.ndarray, reference: np.ndarray) -> float:
    """Share of the scored videos whose HR is within 5 bpm of the reference, in percent."""
    return float(np.mean(np.abs(predicted - reference) <= 5.0) * 100.0)


@hookimpl
def register_methods(register):
    register(GreenRedRatio)


@hookimpl
def register_datasets(register):
    register(PulseSquares)


@hookimpl
def register_protocol_dirs(register):
    register(files("rppgbench_example.protocols"))


@hookimpl
def register_metrics(register):
    register("within5", within_5bpm, label="Within 5 bpm", unit="%", better="higher")
