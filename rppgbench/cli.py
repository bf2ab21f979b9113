"""The `rppgbench` command line: list what is installed, run a method under a protocol.

Plugins add further commands (synth, prepare, compare, report, check, search, ...) through the
`register_commands` hook. Problems the user can fix are printed as one line, without a traceback.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import click

import rppgbench
from rppgbench.cli_options import workers_option
from rppgbench.errors import ConfigError, RppgbenchError
from rppgbench.executors import EXECUTORS
from rppgbench.lazycli import LazyGroup
from rppgbench.params import parse_assignments
from rppgbench.signals import WINDOW_FORMATS


class RppgbenchGroup(LazyGroup):
    """A click group that reports RppgbenchError as `Error: ...` with the error's exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RppgbenchError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except OSError as exc:  # a fault of the machine (permissions, full disk): one line, never a traceback
            where = exc.filename or "a file"
            click.echo(f"Error: {where}: {exc.strerror or exc}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM; run.json already says `interrupted`
            click.echo("Interrupted: run the same command again to resume.", err=True)
            ctx.exit(getattr(exc, "exit_code", 130))
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # a bug: still one line, the traceback on request
            if os.environ.get("RPPGBENCH_TRACEBACK"):
                raise
            click.echo(
                f"Error: unexpected {type(exc).__name__}: {exc} (set RPPGBENCH_TRACEBACK=1 for the traceback)",
                err=True,
            )
            ctx.exit(1)


@click.group(cls=RppgbenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(rppgbench.__version__, prog_name="rppgbench")
def cli() -> None:
    """Benchmark remote photoplethysmography (rPPG) methods on face-video datasets."""


@cli.command("list")
@click.argument(
    "kind", type=click.Choice(["methods", "datasets", "protocols", "recipes", "weights", "plugins"])
)
def list_command(kind: str) -> None:
    """List installed methods, datasets, protocols, training recipes, shipped weights, or plugins."""
    from tabulate import tabulate

    from rppgbench.plugins import registry

    plugins = registry()
    if kind == "weights":
        from rppgbench.weights import headline, list_weights

        rows = [
            (w.name, w.method, f"{w.size_bytes / 1e6:.2f}", w.licence, headline(w)) for w in list_weights()
        ]
        click.echo(
            tabulate(rows, headers=["weights", "method", "MB", "licence", "training data and held-out error"])
        )
        click.echo(
            "\nTrained only on synthetic faces (they never saw a real face); cards: rppgbench show weights NAME"
        )
    elif kind == "recipes":
        from rppgbench.recipes import list_recipes

        rows = [(r.method, r.name, r.version, r.hardware, r.description) for r in list_recipes()]
        click.echo(tabulate(rows, headers=["method", "recipe", "version", "sized for", "description"]))
    elif kind == "methods":
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
                datasets = ", ".join(f"{role.split(':')[0]}={spec.name}" if role.split(":")[0] != "data" else spec.name
                                     for role, spec in protocol.datasets.items())  # fmt: skip
                rows.append((name, protocol.split_kind, datasets, protocol.description))
            except RppgbenchError as exc:
                rows.append((name, "invalid", "", str(exc)))
        click.echo(tabulate(rows, headers=["protocol", "split", "datasets", "description"]))
    else:

        def package(name: str) -> tuple[str, str]:
            return plugins.packages.get(name, ("", ""))

        rows = [(name, *package(name), "loaded") for name, _ in sorted(plugins.manager.list_name_plugin())]
        rows += [
            (name, *package(name), f"FAILED: {reason}") for name, reason in sorted(plugins.failures.items())
        ]
        click.echo(tabulate(rows, headers=["plugin", "package", "version", "status"]))


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


def executor_options(command):
    """The options that choose where jobs run: --executor, --jobs, --address, --retries."""
    for option in reversed([
        click.option("--executor", type=click.Choice(EXECUTORS), default="local", show_default=True,
                     help="Where fold and preprocessing jobs run."),
        click.option("--jobs", default=2, show_default=True,
                     help="Jobs (folds, grid cells) run at the same time (process pool / local Ray)."),
        click.option("--address", default=None, help="Address of an existing Ray cluster (--executor ray)."),
        click.option("--retries", default=0, show_default=True, help="Retries of a failed job."),
    ]):  # fmt: skip
        command = option(command)
    return command


@contextmanager
def _executor(name: str, jobs: int, address: str | None, retries: int):
    from rppgbench.executors import make_executor

    chosen = make_executor(name, jobs=jobs, address=address, retries=retries)
    try:
        yield chosen
    finally:
        chosen.close()


@cli.command("run")
@click.option("--method", "-m", required=True, help="Method name (see `rppgbench list methods`).")
@click.option("--protocol", "-p", required=True, help="Protocol name or path to a protocol .toml file.")
@click.option("--data-root", "data_roots", multiple=True, help="Dataset folder, or NAME=DIR per dataset.")
@click.option("--out", type=click.Path(path_type=Path), help="Run folder (default results/PROTOCOL/METHOD).")
@click.option("--recipe", default=None, help="Training recipe of the method (see `rppgbench list recipes`).")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="Set a method parameter.")
@click.option("--seed", default=0, show_default=True, help="Random seed (training, sampling).")
@workers_option
@click.option("--fold", "folds", multiple=True, help="Run only these folds (repeatable).")
@click.option(
    "--split-file", type=click.Path(path_type=Path), help="Subject lists per fold (.json/.csv/.mat)."
)
@click.option("--device", default=None, help="Torch device for neural methods (default: CUDA if present).")
@click.option(
    "--cache-dir", type=click.Path(path_type=Path), help="Preprocessed-clip cache (default ~/.cache)."
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option("--overwrite", is_flag=True, help="Replace an existing run in --out instead of resuming it.")
@click.option("--window-format", type=click.Choice(WINDOW_FORMATS), default="parquet", show_default=True,
              help="Format of the window-level HR table (windows.parquet or windows.csv).")  # fmt: skip
@executor_options
def run_command(method, protocol, data_roots, out, recipe, assignments, seed, workers, folds, split_file, device,
                cache_dir, quiet, overwrite, window_format, executor, jobs, address, retries) -> None:  # fmt: skip
    """Run METHOD on every fold of PROTOCOL and write predictions, metrics and provenance."""
    from rppgbench.runner import RunOptions, run

    options = RunOptions(
        method=method, protocol=protocol, params=parse_assignments(assignments),
        data_roots=parse_data_roots(data_roots), out=out, seed=seed, workers=workers,
        cache_root=cache_dir, device=device, folds=list(folds) or None, split_file=split_file,
        progress=not quiet, recipe=recipe, overwrite=overwrite, window_format=window_format,
    )  # fmt: skip
    with _executor(executor, jobs, address, retries) as chosen:
        folder = run(options, chosen)
    if os.environ.get("RANK", "0") != "0":  # under torchrun, rank 0 alone reports
        return
    if not print_summary(folder):
        sys.exit(1)


def print_summary(folder: Path) -> bool:
    """Print a run's summary table and failures; False when a fold failed."""
    from tabulate import tabulate

    from rppgbench.store import RunStore

    metrics = RunStore(folder).read_metrics()
    overall = metrics["overall"]
    headers = ["videos", "ok", "failed", "SD", "MAE", "RMSE", "MAPE %", "r"]
    row = [metrics["n_videos"], metrics["n_ok"], metrics["n_failed"]] + [
        overall.get(k) for k in ("sd", "mae", "rmse", "mape", "r")
    ]
    click.echo(tabulate([row], headers=headers, floatfmt=".2f"))
    for failure in metrics["failures"]:
        click.echo(f"failed: {failure['video_id']}: {failure['error']}")
    for fold, error in metrics.get("failed_folds", {}).items():
        click.echo(f"FOLD {fold} FAILED: {error}", err=True)
    if "accounting" in metrics:
        from rppgbench.accounting import describe

        click.echo(f"videos: {describe(metrics['accounting'])}")
    click.echo(f"results: {folder}")
    return not metrics.get("failed_folds")


@cli.command("grid")
@click.option("--methods", required=True, help="Comma-separated method names.")
@click.option("--protocols", required=True, help="Comma-separated protocol names or files.")
@click.option("--data-root", "data_roots", multiple=True, help="Dataset folder, or NAME=DIR per dataset.")
@click.option("--out-root", type=click.Path(path_type=Path), default=Path("results"), show_default=True,
              help="Runs go to OUT_ROOT/PROTOCOL/METHOD.")  # fmt: skip
@click.option("--recipe", "recipes", multiple=True, metavar="NAME|METHOD=NAME",
              help="Training recipe: NAME for every method that trains, METHOD=NAME for one.")  # fmt: skip
@click.option("--set", "assignments", multiple=True, metavar="METHOD.KEY=VALUE",
              help="Set a parameter of one method of the grid.")  # fmt: skip
@click.option("--seed", default=0, show_default=True, help="Random seed (training, sampling).")
@click.option(
    "--cache-dir", type=click.Path(path_type=Path), help="Preprocessed-clip cache (default ~/.cache)."
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
@click.option(
    "--overwrite", is_flag=True, help="Replace existing runs under --out-root instead of resuming them."
)
@executor_options
@click.pass_context
def grid_command(ctx, methods, protocols, data_roots, out_root, recipes, assignments, seed, cache_dir, quiet, overwrite,
                 executor, jobs, address, retries) -> None:  # fmt: skip
    """Run every METHOD x PROTOCOL x fold as jobs on one executor, then print the compare tables."""
    from rppgbench.plugins import registry
    from rppgbench.recipes import parse_recipe_choices, recipe_for
    from rppgbench.runner import RunOptions, execute_plans, plan_run

    per_method: dict[str, dict[str, str]] = {}
    for key, value in parse_assignments(assignments).items():
        method, dot, name = key.partition(".")
        if not dot:
            raise ConfigError(f"grid --set needs METHOD.KEY=VALUE, got {key}={value}")
        per_method.setdefault(method, {})[name] = value
    method_names = [m.strip() for m in methods.split(",") if m.strip()]
    stray = sorted(set(per_method) - set(method_names))
    if stray:
        raise ConfigError(f"--set names method(s) {stray} that are not in --methods")
    choices = parse_recipe_choices(recipes)
    stray = sorted(set(choices) - set(method_names) - {""})
    if stray:
        raise ConfigError(f"--recipe names method(s) {stray} that are not in --methods")
    chosen_recipes = {m: recipe_for(m, registry().method(m).trains, choices) for m in method_names}
    plans = [
        plan_run(
            RunOptions(
                method=m,
                protocol=p.strip(),
                params=per_method.get(m, {}),
                data_roots=parse_data_roots(data_roots),
                out=out_root / Path(p.strip()).stem / m,
                seed=seed,
                cache_root=cache_dir,
                progress=not quiet,
                recipe=chosen_recipes[m].name if chosen_recipes[m] else None,
                overwrite=overwrite,
            )
        )  # fmt: skip
        for p in protocols.split(",")
        if p.strip()
        for m in method_names
    ]
    with _executor(executor, jobs, address, retries) as chosen:
        outcomes = execute_plans(plans, chosen)
    failed = [(out, o) for out, group in outcomes.items() for o in group if not o.ok]
    for out, outcome in failed:
        click.echo(
            f"JOB FAILED after {outcome.attempts} attempt(s): {outcome.key} ({out}): {outcome.error}",
            err=True,
        )
    compare = ctx.parent.command.get_command(ctx, "compare") if ctx.parent else None
    if compare is not None:
        ctx.invoke(compare, result_dirs=tuple(str(plan.out) for plan in plans))
    if failed:
        sys.exit(1)


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


if __name__ == "__main__":
    main()
