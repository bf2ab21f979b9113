"""Start-up stays light: `--help`, `list` and `show` import no model code, SciPy, pandas or OpenCV."""

import subprocess
import sys

import pytest
from click.testing import CliRunner

from rppgbench.cli import build_cli
from rppgbench.command_index import COMMANDS
from rppgbench.lazycli import LazyGroup, load_command

HEAVY = ("torch", "scipy", "pandas", "cv2", "sklearn", "matplotlib", "h5py", "mediapipe", "pyedflib")
PROBE = """
import sys
from rppgbench.cli import main
sys.argv = ["rppgbench", *{args!r}]
try:
    main()
except SystemExit:
    pass
heavy = sorted(m for m in {heavy!r} if m in sys.modules)
print("HEAVY", heavy, file=sys.stderr)
"""


@pytest.mark.parametrize(
    "args", [["--help"], ["list", "methods"], ["list", "plugins"], ["show", "physnet"], ["show", "autohr"]]
)
def test_light_commands_import_nothing_heavy(args):
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args, heavy=HEAVY)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "HEAVY []" in out.stderr, out.stderr


def test_python_dash_m_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "rppgbench", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "Commands:" in out.stdout


def test_declared_one_line_help_matches_each_lazy_command():
    cli = build_cli()
    assert isinstance(cli, LazyGroup)
    assert set(COMMANDS) <= set(cli.lazy)
    for name, (target, short_help) in cli.lazy.items():
        assert load_command(target).get_short_help_str(500) == short_help, name


def test_a_lazy_command_loads_when_invoked():
    result = CliRunner().invoke(build_cli(), ["compare", "--help"])
    assert result.exit_code == 0 and "--with-published" in result.output


def test_runner_and_cli_import_no_torch():
    """The core plans, prepares and runs without torch; only a training method or torchrun imports it."""
    code = "import sys, rppgbench.runner, rppgbench.cli; print([m for m in sys.modules if m.split('.')[0] == 'torch'])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
