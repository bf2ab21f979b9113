"""Every command and option is documented: docs/cli.md matches the command line, and no option lacks help."""

from pathlib import Path

import click

from rppgbench import clidoc
from rppgbench.cli import build_cli

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def _commands():
    cli = build_cli()
    ctx = click.Context(cli)
    return [(name, cli.get_command(ctx, name)) for name in cli.list_commands(ctx)]


def test_every_option_has_help():
    missing = [f"{name} {p.opts[0]}" for name, command in _commands() for p in command.params
               if isinstance(p, click.Option) and not p.help]  # fmt: skip
    assert not missing, f"options without help text: {missing}"


def test_docs_cli_md_is_current():
    expected = clidoc.render(build_cli())
    assert DOC.read_text() == expected, "docs/cli.md is stale: run `python -m rppgbench.clidoc > docs/cli.md`"


def test_every_option_appears_in_its_command_section():
    text = DOC.read_text()
    for name, command in _commands():
        section = text.split(f"## `rppgbench {name}`", 1)[1].split("\n## ", 1)[0]
        for param in command.params:
            if isinstance(param, click.Option):
                assert f"`{param.opts[0]}`" in section, f"{name} {param.opts[0]} is not in docs/cli.md"
