"""AutoHR (Yu et al., IEEE SPL 2020) as an rppgbench plugin: TDC, PC-DARTS search, derived network, ablations.

Registers the `autohr` method and the `rppgbench search` / `rppgbench ablate` commands.
"""

from __future__ import annotations

import click

from rppgbench.hookspecs import hookimpl


@hookimpl
def register_methods(register) -> None:
    """Register the `autohr` method."""
    from .method import AutoHR

    register(AutoHR)


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add `rppgbench search` and `rppgbench ablate`."""
    from .commands import ablate_command, search_command

    cli.add_command(search_command)
    cli.add_command(ablate_command)


@hookimpl
def register_recipe_dirs(register) -> None:  # noqa: ANN001 - pluggy passes the registry's callable
    """Register the folder of AutoHR's training and search recipes."""
    from importlib.resources import files

    register(files("rppgbench_plugins.autohr.recipes"))
