"""Options shared by several commands, defined once so that each means the same everywhere.

`--workers`: processes inside one job that prepare (or generate) videos in parallel; `--jobs`: jobs
(folds, grid cells) an executor runs at the same time.
"""

from __future__ import annotations

import click

workers_option = click.option(
    "--workers",
    default=0,
    show_default=True,
    help="Processes preparing videos in parallel inside a job (0 = all cores).",
)
