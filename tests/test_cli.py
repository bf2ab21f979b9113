"""The command line: version, listings, unknown names (exit 2), parameter errors, run summary."""

import re

import pytest
from click.testing import CliRunner

import rppgbench
from rppgbench.cli import build_cli


@pytest.fixture(scope="module")
def cli():
    return build_cli()


def invoke(cli, *args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_version(cli):
    result = invoke(cli, "--version")
    assert result.exit_code == 0 and rppgbench.__version__ in result.output


@pytest.mark.parametrize("kind", ["methods", "datasets", "protocols", "plugins"])
def test_list_kinds(cli, kind):
    result = invoke(cli, "list", kind)
    assert result.exit_code == 0, result.output
    assert len(result.output.strip().splitlines()) >= 2


def test_list_unknown_kind_exits_2_with_choices(cli):
    result = invoke(cli, "list", "models")
    assert result.exit_code == 2 and "methods" in result.output


def test_unknown_method_exits_2_and_lists_valid_ones(cli):
    result = invoke(cli, "run", "--method", "nope", "--protocol", "synth-mini", "--out", "unused")
    assert result.exit_code == 2
    assert re.search(r"unknown method 'nope'; valid methods: .*pos", result.output)


def test_unknown_protocol_exits_2(cli):
    result = invoke(cli, "run", "--method", "pos", "--protocol", "nope", "--out", "unused")
    assert result.exit_code == 2 and "unknown protocol 'nope'" in result.output


def test_bad_parameter_is_reported(cli):
    result = invoke(
        cli, "run", "--method", "pos", "--protocol", "synth-mini", "--set", "windowz=3", "--out", "x"
    )
    assert result.exit_code == 2 and "has no parameter windowz" in result.output
