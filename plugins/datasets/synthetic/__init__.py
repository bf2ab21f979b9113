"""The built-in synthetic dataset: physically modelled face videos with reference PPG.

Registers the `synthetic` dataset loader and the `rppgbench synth` command. See docs/synthetic.md.
"""

from __future__ import annotations

from pathlib import Path

import click

from rppgbench.hookspecs import hookimpl

from .loader import SyntheticDataset, cached_dataset
from .presets import PRESETS, Preset, get_preset
from .writer import GENERATOR_VERSION, generate

__all__ = [
    "GENERATOR_VERSION",
    "PRESETS",
    "Preset",
    "SyntheticDataset",
    "cached_dataset",
    "generate",
    "synth_command",
]


@click.command("synth")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="New folder to write.")
@click.option("--preset", default="synth-default", show_default=True, type=click.Choice(list(PRESETS)))
@click.option("--seed", default=0, show_default=True, type=int, help="Generator seed.")
@click.option("--workers", default=0, type=int, help="Processes rendering clips in parallel (0 = all cores).")
def synth_command(out: Path, preset: str, seed: int, workers: int) -> None:
    """Generate a synthetic rPPG dataset (videos, reference PPG, true face boxes) into OUT."""
    chosen = get_preset(preset)
    click.echo(
        f"writing {preset} (seed {seed}): {chosen.n_frames} frames at {chosen.width}x{chosen.height} to {out}"
    )
    generate(out, chosen, seed, workers=workers or None, progress=True)
    click.echo(f"done: {out}")


@hookimpl
def register_datasets(register) -> None:
    """Offer the `synthetic` dataset."""
    register(SyntheticDataset)


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add `rppgbench synth`."""
    cli.add_command(synth_command)
