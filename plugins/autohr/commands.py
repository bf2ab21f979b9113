"""`rppgbench search` and `rppgbench ablate`: AutoHR's architecture search and the paper's ablations."""

from __future__ import annotations

from pathlib import Path

import click

from rppgbench.cli_options import workers_option
from rppgbench.params import parse_assignments
from rppgbench.recipes import get_recipe

_COMMON = [
    click.option("--protocol", "-p", required=True, help="Protocol name or path to a protocol .toml file."),
    click.option("--fold", default="1", show_default=True, help="Fold whose training videos are used."),
    click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder."),
    click.option("--data-root", "data_roots", multiple=True, help="Dataset folder, or NAME=DIR per dataset."),
    click.option("--recipe", default=None, help="AutoHR training recipe (its [search] and [params] tables)."),
    click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Override a setting."),
    click.option("--seed", default=0, show_default=True, help="Random seed."),
    workers_option,
    click.option("--split-file", type=click.Path(path_type=Path), help="Subject lists per fold."),
    click.option("--cache-dir", type=click.Path(path_type=Path), help="Preprocessed-clip cache."),
    click.option("--quiet", is_flag=True, help="No progress bars."),
]


def _common(fn):
    for option in reversed(_COMMON):
        fn = option(fn)
    return fn


@click.command("search")
@_common
@click.option(
    "--device", default=None, help="Torch device (default: CUDA if present; same as --set device=)."
)
def search_command(
    protocol, fold, out, data_roots, recipe, assignments, seed, workers, split_file, cache_dir, quiet, device
) -> None:
    """Search an AutoHR cell (PC-DARTS) on the training videos of one fold; writes genotype.json/.png.

    Settings (--set KEY=VALUE): the paper's by default (12 epochs, 5 frozen, batch 2, 3x128x112x112,
    8 channels, Adam 1e-4/5e-5 weights, 6e-4/1e-3 architecture); see docs/autohr.md. Re-running with the
    same --out resumes from the last checkpoint.
    """
    from rppgbench.cli import parse_data_roots

    from .data import fold_training_clips
    from .search import run_search

    chosen = get_recipe("autohr", recipe) if recipe else None
    values = {
        **(chosen.search if chosen else {}),
        "seed": str(seed),
        **({"device": device} if device else {}),
        **parse_assignments(assignments),
    }
    clips, info = fold_training_clips(
        protocol, fold, out, parse_data_roots(data_roots), cache_root=cache_dir, workers=workers,
        split_file=split_file, progress=not quiet, seed=seed,
    )  # fmt: skip
    record = {"data": info, **({"recipe": chosen.record()} if chosen else {})}
    genotype = run_search(clips, out, values, progress=not quiet, provenance=record)
    for index, cell in enumerate(genotype.cells):
        label = "shared cell" if genotype.config == "shared" else f"block {index + 1}"
        nodes = "; ".join(
            f"B{j} = " + " + ".join(f"{op}(node {src})" for op, src in inputs)
            for j, inputs in enumerate(cell, 1)
        )
        click.echo(f"{label}: {nodes}")
    click.echo(f"genotype: {Path(out) / 'genotype.json'}  drawing: {Path(out) / 'genotype.png'}")


@click.command("ablate")
@_common
@click.option("--study", required=True, type=click.Choice(["loss", "theta", "nas", "augment"]),
              help="Which ablation of the paper's Fig. 4 to run.")  # fmt: skip
@click.option("--device", default=None, help="Torch device (default: CUDA if present).")
def ablate_command(protocol, fold, out, data_roots, recipe, assignments, seed, workers, split_file, cache_dir, quiet,
                   study, device) -> None:  # fmt: skip
    """Train the variants of one AutoHR ablation (the paper's Figure 4) on one fold; writes a table (md, csv) and a chart.

    --set KEY=VALUE applies to every variant's training; --set search.KEY=VALUE to the searches of the
    nas study. Finished variants are skipped on re-run.
    """
    from rppgbench.cli import parse_data_roots

    from .ablate import AblationOptions, run_ablation

    pairs = parse_assignments(assignments)
    chosen = get_recipe("autohr", recipe) if recipe else None
    options = AblationOptions(
        protocol=protocol, fold=str(fold), out=Path(out), study=study, data_roots=parse_data_roots(data_roots),
        train_params={**(chosen.params if chosen else {}),
                      **{k: v for k, v in pairs.items() if not k.startswith("search.")}},
        search_params={**(chosen.search if chosen else {}),
                       **{k.removeprefix("search."): v for k, v in pairs.items() if k.startswith("search.")}},
        seed=seed, workers=workers, split_file=split_file, cache_root=cache_dir, device=device, progress=not quiet,
    )  # fmt: skip
    table = run_ablation(options)
    click.echo(table)
