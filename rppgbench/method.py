"""The method contract (version 1): what every rPPG method plugin implements.

A method declares its `name`, whether it `trains`, and its `params`; `fit` learns from training clips
(a no-op for unsupervised methods) and `predict` turns a clip into an rPPG signal with one value per
frame. HR estimation is not the method's job: the shared estimator (`rppgbench.signal.hr`) does it,
so every method is scored the same way.

The one exception is a method that regresses HR itself (RhythmNet, HR-CNN): it declares
`estimates_hr = True` and implements `predict_hr(clip) -> bpm`, which the evaluation calls once per
protocol evaluation window (the clip it gets IS that window), in place of the shared estimator's
reading of the signal. Such a method may still give a signal (`gives_signal = True`, e.g. HR-CNN's
extractor output): it is stored, and SNR and MACC are computed from it. One that gives none
(`gives_signal = False`) implements `predict` by raising NotImplementedError; the evaluation never
calls it, and its SNR and MACC are NaN. `rppgbench rescore` keeps such a method's HRs as they were
(the HR settings do not enter them) and recomputes the reference HR and the signal's SNR and MACC.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from rppgbench.data import Clip
from rppgbench.errors import ConfigError
from rppgbench.params import Param, resolve

METHOD_API_VERSION = 1


@dataclass
class FitContext:
    """What the runner gives a training method: where to write, which seed, which device, and the fold."""

    work_dir: Path
    seed: int = 0
    device: str | None = None
    fold: str = ""
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


class Method(ABC):
    """Base class of every rPPG method. Subclasses set the class attributes and implement `predict`."""

    api_version: ClassVar[int] = METHOD_API_VERSION
    name: ClassVar[str]
    description: ClassVar[str] = ""
    trains: ClassVar[bool] = False
    params: ClassVar[tuple[Param, ...]] = ()
    estimates_hr: ClassVar[bool] = False
    """True for a method that regresses HR itself: `predict_hr` gives each evaluation window's HR."""
    gives_signal: ClassVar[bool] = True
    """False for a method whose `predict` gives no rPPG signal (it must then `estimates_hr`)."""
    declaration: ClassVar[Any] = None
    """The `MethodDeclaration` the class was declared with, if any (its constraints are checked)."""

    def __init_subclass__(cls, declaration: Any = None, **kwargs: Any) -> None:
        """`class M(Method, declaration=DECL)` takes name, description, trains and params from DECL."""
        super().__init_subclass__(**kwargs)
        if declaration is not None:
            cls.name = declaration.name
            cls.description = declaration.description
            cls.trains = declaration.trains
            cls.params = declaration.params
            cls.estimates_hr = declaration.estimates_hr
            cls.gives_signal = declaration.gives_signal
            cls.declaration = declaration

    def __init__(self, **params: Any) -> None:
        if self.api_version != METHOD_API_VERSION:
            raise ConfigError(
                f"method {self.name!r} implements method API v{self.api_version}; "
                f"this rppgbench speaks v{METHOD_API_VERSION}"
            )
        self.config: dict[str, Any] = resolve(self.params, params, f"method {self.name!r}")
        if self.declaration is not None:
            self.declaration.check(self.config)

    def fit(self, train: Sequence[Clip], context: FitContext) -> None:  # noqa: B027 - optional hook
        """Learn from the training clips. Unsupervised methods keep this no-op."""

    @abstractmethod
    def predict(self, clip: Clip) -> np.ndarray:
        """Return the rPPG signal of `clip`: a 1-D float array with one value per frame."""

    def predict_hr(self, clip: Clip) -> float:
        """HR (bpm) of `clip`, for a method that `estimates_hr`: the evaluation calls it once per
        protocol evaluation window, with that window as the clip."""
        raise NotImplementedError(f"method {self.name!r} does not estimate HR itself")

    def save(self, path: Path) -> None:
        """Write learned state (trained methods override; the runner calls it after `fit`)."""
        raise NotImplementedError(f"method {self.name!r} has no learned state to save")

    def load(self, path: Path) -> None:
        """Read learned state written by `save` (raise ConfigError if it belongs to another method)."""
        raise NotImplementedError(f"method {self.name!r} has no learned state to load")

    def describe(self) -> dict[str, Any]:
        """Name, API version, training flag and resolved parameters, as recorded in results (plus
        `estimates_hr` / `gives_signal` only when they differ from a signal method's)."""
        described: dict[str, Any] = {
            "name": self.name,
            "api_version": self.api_version,
            "trains": self.trains,
            "params": self.config,
        }
        if self.estimates_hr:
            described["estimates_hr"] = True
        if not self.gives_signal:
            described["gives_signal"] = False
        return described
