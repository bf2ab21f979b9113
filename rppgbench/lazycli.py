"""Lazy click commands: a command's module is imported when the command runs, not at start-up.

`rppgbench --help` lists every command from its name and one-line help, declared with the command
(`add_lazy_command`); the module defining the command loads only when it is invoked or asked for its
own `--help`. `tests/test_cli_docs.py` checks that each declared line matches the command's docstring.
"""

from __future__ import annotations

from importlib import import_module

import click


def load_command(target: str) -> click.Command:
    """Import `package.module:attribute` and return the click command it names."""
    module_name, _, attr = target.partition(":")
    return getattr(import_module(module_name), attr)


class LazyGroup(click.Group):
    """A click group whose commands may be registered by import path and loaded on first use."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - click's own signature
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, tuple[str, str]] = {}

    def add_lazy_command(self, name: str, target: str, short_help: str) -> None:
        """Offer command `name`, defined at `target` (`module:attr`), with its one-line help."""
        self.lazy[name] = (target, short_help)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(load_command(self.lazy[cmd_name][0]), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands section of `--help`, without importing lazily registered commands."""
        limit = formatter.width - 6 - max((len(n) for n in self.list_commands(ctx)), default=0)
        rows = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is not None and command.hidden:
                continue
            text = command.get_short_help_str(limit) if command is not None else self.lazy[name][1]
            rows.append((name, text))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def add_lazy(cli: click.Group, name: str, target: str, short_help: str) -> None:
    """Register a lazy command on `cli` (loaded at once when `cli` is a plain click group)."""
    if isinstance(cli, LazyGroup):
        cli.add_lazy_command(name, target, short_help)
    else:
        cli.add_command(load_command(target), name)
