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
def register_metrics(register: Callable[[str, Callable[..., float]], None]) -> None:
    """Register extra per-run metrics as `register(name, fn(predicted_hr, reference_hr) -> float)`."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the `rppgbench` command group (`rppgbench.lazycli.add_lazy` defers imports)."""
