"""The method contract (version 1): what every rPPG method plugin implements.

A method declares its `name`, whether it `trains`, and its `params`; `fit` learns from training clips
(a no-op for unsupervised methods) and `predict` turns a clip into an rPPG signal with one value per
frame. HR estimation is not the method's job: the shared estimator (`rppgbench.signal.hr`) does it,
so every method is scored the same way.
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

    def save(self, path: Path) -> None:
        """Write learned state (trained methods override; the runner calls it after `fit`)."""
        raise NotImplementedError(f"method {self.name!r} has no learned state to save")

    def load(self, path: Path) -> None:
        """Read learned state written by `save` (raise ConfigError if it belongs to another method)."""
        raise NotImplementedError(f"method {self.name!r} has no learned state to load")

    def describe(self) -> dict[str, Any]:
        """Name, API version, training flag and resolved parameters, as recorded in results."""
        return {
            "name": self.name,
            "api_version": self.api_version,
            "trains": self.trains,
            "params": self.config,
        }
