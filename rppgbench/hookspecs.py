"""Plugin hook specifications: every method, dataset, protocol folder, metric and CLI command enters here.

Each hook receives a `register` callable; a plugin calls it once per thing it offers. New hooks are
additive, so older plugins keep working.
"""

from collections.abc import Callable
from typing import Any

import click
import pluggy

PROJECT = "rppgbench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_methods(register: Callable[[type], None]) -> None:
    """Register rPPG method classes (subclasses of `rppgbench.method.Method`) or `MethodDeclaration`s.

    A declaration (`rppgbench.declared`) names the class by import path, so a method whose module needs
    heavy imports (PyTorch) is listed, explained and checked without importing it.
    """


@hookspec
def register_datasets(register: Callable[[type], None]) -> None:
    """Register dataset loader classes (subclasses of `rppgbench.dataset.DatasetLoader`)."""


@hookspec
def register_protocol_dirs(register: Callable[[Any], None]) -> None:
    """Register folders (paths or importlib.resources traversables) holding protocol `*.toml` files."""


@hookspec
def register_recipe_dirs(register: Callable[[Any], None]) -> None:
    """Register folders (paths or importlib.resources traversables) holding training recipe `*.toml` files."""


@hookspec
def register_weights_dirs(register: Callable[[Any], None]) -> None:
    """Register folders holding shipped weights: model cards `NAME.toml`, each beside its weights file."""


@hookspec
def register_metrics(register: Callable[..., None]) -> None:
    """Register extra metrics: `register(name, fn, *, label=None, unit="", better="lower")`.

    `fn(predicted_hr, reference_hr) -> float` gets two equal-length arrays of the scored videos' HRs
    (bpm). `compare` and `report` show every registered metric as a column by default, per run and per
    breakdown group; `better` ("lower", "higher", "zero" or "") decides which value is marked best.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the `rppgbench` command group (`rppgbench.lazycli.add_lazy` defers imports)."""
