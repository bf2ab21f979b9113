"""`rppgbench prepare`: fill the clip cache for a dataset (or a protocol's datasets) ahead of runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rppgbench.cli_options import workers_option
from rppgbench.preprocess.config import COMPRESSION_NAMES, DEFAULT_COMPRESSION


@click.command("prepare")
@click.option("--dataset", "-d", "dataset_name", help="Dataset name (see `rppgbench list datasets`).")
@click.option(
    "--data-root", "data_roots", multiple=True, help="Dataset folder, or NAME=DIR per dataset of a protocol."
)
@click.option(
    "--protocol", "-p", help="Take preprocessing settings (and, without --dataset, the datasets) from it."
)
@click.option("--option", "-o", "dataset_options", multiple=True, metavar="KEY=VALUE", help="Dataset option.")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Preprocessing setting.")
@workers_option
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    help="Clip cache root (default RPPGBENCH_CACHE or ~/.cache).",
)
@click.option(
    "--compression",
    type=click.Choice(COMPRESSION_NAMES),
    default=DEFAULT_COMPRESSION,
    show_default=True,
    help="Frame storage: predictive (lossless prediction, bit shuffle + zstd) takes under a third of the space; none is "
    "fastest to read windows from over and over; lzf/gzip are HDF5 filters that save less.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def prepare_command(
    dataset_name: str | None,
    data_roots: tuple[str, ...],
    protocol: str | None,
    dataset_options: tuple[str, ...],
    assignments: tuple[str, ...],
    workers: int,
    cache_dir: Path | None,
    compression: str,
    quiet: bool,
) -> None:
    """Detect, crop and cache the face frames of every video of a dataset; print what failed and why.

    Settings come from the protocol's [preprocess] table (if --protocol), then --set KEY=VALUE
    (face, enlarge, redetect_every, smoothing, size, on_no_face, min_confidence, max_frames).
    Clips already cached with the same settings are reused.
    """
    from rppgbench.cli import parse_data_roots
    from rppgbench.errors import ConfigError
    from rppgbench.params import parse_assignments
    from rppgbench.paths import cache_root
    from rppgbench.plugins import registry
    from rppgbench.preprocess import PreprocessConfig, prepare

    settings: dict[str, Any] = {}
    targets: list[tuple[str, str, dict[str, Any]]] = []  # (role, dataset name, options)
    if protocol:
        from rppgbench.protocol import load_protocol

        loaded = load_protocol(protocol)
        settings.update(loaded.preprocess)
        targets = [(role, spec.name, dict(spec.options)) for role, spec in loaded.datasets.items()]
    if dataset_name:  # one dataset; if the protocol uses it, with the protocol's options
        targets = [t for t in targets if t[1] == dataset_name][:1] or [("data", dataset_name, {})]
    if not targets:
        raise ConfigError("prepare needs --dataset NAME (or --protocol NAME to prepare its datasets)")
    if dataset_options:
        if len(targets) > 1:
            raise ConfigError("--option applies to one dataset; name it with --dataset")
        targets[0][2].update(parse_assignments(dataset_options))
    settings.update(parse_assignments(assignments))
    config = PreprocessConfig.from_dict(settings)
    roots = parse_data_roots(data_roots)

    total_ok = total_failed = 0
    for role, name, options in targets:
        loader_class = registry().dataset(name)
        root = next((roots[key] for key in (name, role, "") if key in roots), None)  # as `rppgbench run` does
        loader = loader_class(root, **options)
        records = loader.records()
        results = prepare(
            loader, records, config, cache_dir, workers=workers, progress=not quiet, compression=compression
        )
        ok = [r for r in results.values() if r.ok]
        failed = [r for r in results.values() if not r.ok]
        reused = sum(r.reused for r in ok)
        frames = sum(r.n_frames for r in ok)
        click.echo(
            f"{name}: {len(results)} videos, {len(ok)} ok ({reused} already cached, {frames} frames), "
            f"{len(failed)} failed"
        )
        for result in failed:
            click.echo(f"  failed {result.record_id}: {result.error}")
        total_ok += len(ok)
        total_failed += len(failed)
    click.echo(f"cache: {(Path(cache_dir) if cache_dir else cache_root()) / 'clips'}")
    if total_failed and not total_ok:
        raise click.exceptions.Exit(1)
