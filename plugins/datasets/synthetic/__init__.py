"""The built-in synthetic dataset: physically modelled face videos with reference PPG.

Registers the `synthetic` dataset loader and the `rppgbench synth` command. See docs/synthetic.md.
"""

from __future__ import annotations

from typing import Any

import click

from rppgbench.hookspecs import hookimpl
from rppgbench.lazycli import add_lazy

from .loader import SyntheticDataset, cached_dataset
from .presets import PRESETS, Preset, get_preset

__all__ = [
    "GENERATOR_VERSION",
    "PRESETS",
    "Preset",
    "SyntheticDataset",
    "cached_dataset",
    "get_preset",
    "generate",
    "synth_command",
]


@hookimpl
def register_datasets(register) -> None:
    """Offer the `synthetic` dataset."""
    register(SyntheticDataset)


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add `rppgbench synth` (loaded when it runs)."""
    add_lazy(cli, "synth", "rppgbench_plugins.datasets.synthetic.command:synth_command", SYNTH_HELP)


SYNTH_HELP = "Generate a synthetic rPPG dataset (videos, reference PPG, true face boxes) into OUT."
_LAZY = {
    "GENERATOR_VERSION": ".writer",
    "generate": ".writer",
    "synth_command": ".command",
}


def __getattr__(name: str) -> Any:
    """The generator and the `synth` command, imported on first use (they need OpenCV)."""
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
