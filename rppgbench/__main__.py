"""`python -m rppgbench`: the same command line as `rppgbench`."""

from rppgbench.cli import main

main()
