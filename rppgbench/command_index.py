"""The built-in commands outside `rppgbench.cli`, registered lazily: each module loads when its command runs.

Registered through the `core_commands` entry point like any plugin's commands. The one-line help
shown by `rppgbench --help` is declared here; a test checks it against each command's docstring.
"""

from __future__ import annotations

import click

from rppgbench.hookspecs import hookimpl
from rppgbench.lazycli import add_lazy

COMMANDS: dict[str, tuple[str, str]] = {
    "baseline": (
        "rppgbench.leaderboard.commands:baseline_command",
        "Freeze RESULT_DIR's metrics, video counts and provenance into a CI baseline file.",
    ),
    "check": (
        "rppgbench.leaderboard.commands:check_command",
        "Exit 1 if RESULT_DIR is worse than the baseline beyond tolerance (or lost more videos), else 0.",
    ),
    "compare": (
        "rppgbench.leaderboard.commands:compare_command",
        "Compare runs in paper-style tables, one per protocol (best bold, second underlined).",
    ),
    "predict": (
        "rppgbench.predict.commands:predict_command",
        "Measure heart rate from VIDEO (any file OpenCV decodes) and print the HR and a per-window series.",
    ),
    "prepare": (
        "rppgbench.preprocess.commands:prepare_command",
        "Detect, crop and cache the face frames of every video of a dataset; print what failed and why.",
    ),
    "report": (
        "rppgbench.leaderboard.commands:report_command",
        "Write a self-contained HTML report (tables, statistics, figures) of RESULT_DIRS to OUT/index.html.",
    ),
    "rescore": (
        "rppgbench.rescore:rescore_command",
        "Recompute HR, metrics and tables of RUN from its stored signals, without running the method.",
    ),
    "show": (
        "rppgbench.show:show_command",
        "Explain a method (or `show protocol NAME`, `show weights NAME`): parameters, recipes, weights, plugin.",
    ),
}


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add the built-in commands, each loaded when it runs."""
    for name, (target, short_help) in COMMANDS.items():
        add_lazy(cli, name, target, short_help)
