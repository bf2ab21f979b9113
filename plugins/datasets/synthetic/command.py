"""`rppgbench synth`: write a synthetic dataset to a folder."""

from __future__ import annotations

from pathlib import Path

import click

from .presets import PRESETS, get_preset
from .writer import generate


@click.command("synth")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="New folder to write.")
@click.option("--preset", default="synth-default", show_default=True, type=click.Choice(list(PRESETS)),
              help="Dataset size (see docs/synthetic.md).")  # fmt: skip
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
