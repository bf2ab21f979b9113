"""The `rppgbench` command line: list what is installed, run a method under a protocol.

Plugins add further commands (synth, prepare, compare, report, check, search, ...) through the
`register_commands` hook. Problems the user can fix are printed as one line, without a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tabulate import tabulate

import rppgbench
from rppgbench.errors import ConfigError, RppgbenchError
from rppgbench.params import parse_assignments


class RppgbenchGroup(click.Group):
    """A click group that reports RppgbenchError as `Error: ...` with the error's exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RppgbenchError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=RppgbenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(rppgbench.__version__, prog_name="rppgbench")
def cli() -> None:
    """Benchmark remote photoplethysmography (rPPG) methods on face-video datasets."""


@cli.command("list")
@click.argument("kind", type=click.Choice(["methods", "datasets", "protocols", "plugins"]))
def list_command(kind: str) -> None:
    """List installed methods, datasets, protocols, or plugins (with load failures)."""
    from rppgbench.plugins import registry

    plugins = registry()
    if kind == "methods":
        rows = [(name, "yes" if cls.trains else "no", plugins.origins[("method", name)], _first_line(cls))
                for name, cls in sorted(plugins.methods.items())]  # fmt: skip
        click.echo(tabulate(rows, headers=["method", "trains", "plugin", "description"]))
    elif kind == "datasets":
        rows = [
            (name, plugins.origins[("dataset", name)], _first_line(cls))
            for name, cls in sorted(plugins.datasets.items())
        ]
        click.echo(tabulate(rows, headers=["dataset", "plugin", "description"]))
    elif kind == "protocols":
        from rppgbench.protocol import available_protocols, load_protocol

        rows = []
        for name in sorted(available_protocols()):
            try:
                protocol = load_protocol(name)
                datasets = ", ".join(f"{role}={spec.name}" if role != "data" else spec.name
                                     for role, spec in protocol.datasets.items())  # fmt: skip
                rows.append((name, protocol.split_kind, datasets, protocol.description))
            except RppgbenchError as exc:
                rows.append((name, "invalid", "", str(exc)))
        click.echo(tabulate(rows, headers=["protocol", "split", "datasets", "description"]))
    else:
        rows = [(name, "loaded") for name, _ in sorted(plugins.manager.list_name_plugin())]
        rows += [(name, f"FAILED: {reason}") for name, reason in sorted(plugins.failures.items())]
        click.echo(tabulate(rows, headers=["plugin", "status"]))


def _first_line(cls: type) -> str:
    text = getattr(cls, "description", "") or (cls.__doc__ or "")
    return text.strip().splitlines()[0] if text.strip() else ""


def parse_data_roots(values: tuple[str, ...]) -> dict[str, Path]:
    """`--data-root DIR` (one dataset) or repeated `--data-root NAME=DIR` (cross-dataset protocols)."""
    roots: dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if sep and name and not Path(value).exists():
            roots[name] = Path(path).expanduser()
        else:
            roots[""] = Path(value).expanduser()
    return roots


@cli.command("run")
@click.option("--method", "-m", required=True, help="Method name (see `rppgbench list methods`).")
@click.option("--protocol", "-p", required=True, help="Protocol name or path to a protocol .toml file.")
@click.option("--data-root", "data_roots", multiple=True, help="Dataset folder, or NAME=DIR per dataset.")
@click.option("--out", type=click.Path(path_type=Path), help="Run folder (default results/PROTOCOL/METHOD).")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Set a method parameter.")
@click.option("--seed", default=0, show_default=True, help="Random seed (training, sampling).")
@click.option("--workers", default=1, show_default=True, help="Preprocessing worker processes.")
@click.option("--fold", "folds", multiple=True, help="Run only these folds (repeatable).")
@click.option(
    "--split-file", type=click.Path(path_type=Path), help="Subject lists per fold (.json/.csv/.mat)."
)
@click.option("--device", default=None, help="Torch device for neural methods (default: CUDA if present).")
@click.option(
    "--cache-dir", type=click.Path(path_type=Path), help="Preprocessed-clip cache (default ~/.cache)."
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def run_command(method, protocol, data_roots, out, assignments, seed, workers, folds, split_file, device,
                cache_dir, quiet) -> None:  # fmt: skip
    """Run METHOD on every fold of PROTOCOL and write predictions, metrics and provenance."""
    from rppgbench.runner import RunOptions, run

    options = RunOptions(
        method=method, protocol=protocol, params=parse_assignments(assignments),
        data_roots=parse_data_roots(data_roots), out=out, seed=seed, workers=workers,
        cache_root=cache_dir, device=device, folds=list(folds) or None, split_file=split_file,
        progress=not quiet,
    )  # fmt: skip
    folder = run(options)
    _print_summary(folder)


def _print_summary(folder: Path) -> None:
    from rppgbench.store import read_json

    metrics = read_json(folder / "metrics.json")
    overall = metrics["overall"]
    headers = ["videos", "ok", "failed", "SD", "MAE", "RMSE", "MAPE %", "r"]
    row = [metrics["n_videos"], metrics["n_ok"], metrics["n_failed"]] + [
        overall.get(k) for k in ("sd", "mae", "rmse", "mape", "r")
    ]
    click.echo(tabulate([row], headers=headers, floatfmt=".2f"))
    for failure in metrics["failures"]:
        click.echo(f"failed: {failure['video_id']}: {failure['error']}")
    click.echo(f"results: {folder}")


def build_cli() -> click.Group:
    """The command group with every plugin's commands added."""
    from rppgbench.plugins import add_plugin_commands

    add_plugin_commands(cli)
    return cli


def main() -> None:
    """Console entry point."""
    try:
        build_cli()(prog_name="rppgbench")
    except ConfigError as exc:  # raised while plugins add commands
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
